"""Expectation suites generated from the table contracts, as plain data (no GX import).

A `TableSuite` says, for one silver table, which rows to validate (SQL over DuckDB, with the few
cross-row facts computed there), which columns may name a failing row, and the expectations, each
tagged with the check it reports under and a rule name. `validate.py` turns them into Great
Expectations objects when a check runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from claims_platform.contracts import Column, TableContract
from claims_platform.contracts.rules import COLUMN_RULES, ROW_RULES
from claims_platform.dms.parse import CHANGE_METADATA
from claims_platform.quality import names
from claims_platform.quality.sql import current_state_sql, ident
from claims_platform.silver.schema import SilverTable, change_table, child_tables

# Value types of each contract type in the pandas frame read from DuckDB through Arrow (see
# validate.read_frame): string columns as Python str, nullable integers as Python int, decimals as
# Decimal, dates as date. GX checks the dtype name, or each value's type on object columns.
PANDAS_TYPES: dict[str, list[str]] = {
    "string": ["str"],
    "json": ["str"],
    "integer": ["int", "int64", "int32"],
    "double": ["float", "float64"],
    "boolean": ["bool"],
    "decimal": ["Decimal"],
    "date": ["date"],
    "timestamp": ["datetime64", "datetime64[us]", "datetime64[ns]", "datetime"],
    "binary": ["bytes"],
}

_CHANGE_SEQ = r"^[0-9]{1,38}$"
_ORDER_COLUMNS = (
    "_op",
    "_dms_timestamp",
    "_is_full_load",
    "_source_file",
    "_source_file_name",
    "_row_number",
    "_batch_id",
)

# Cross-table domain rules of CONTRACT §3 that no single-row rule can express. Keyed by contract
# name, so a contract without such a rule needs nothing here.
# CLAIM: claim totals equal the sum of the claim's current lines.
CLAIM_TOTALS = {
    "CLAIM": (
        "CLAIM_LINE",
        (
            ("total_billed", "billed_amt"),
            ("total_allowed", "allowed_amt"),
            ("total_paid", "paid_amt"),
        ),
    )
}


@dataclass(frozen=True)
class Expectation:
    check: str
    rule: str  # what failed, as a result names it: `<rule>:<column>` — never a value
    type: str  # a GX expectation class name (gx.expectations.* or quality.expectations.*)
    kwargs: dict[str, Any] = field(hash=False)
    changes_only: bool = False  # inserted/updated rows only (silver validates deletes no further)


def _stable_json(value: Any) -> Any:
    """JSON for what json cannot encode, the same in every process (a set's iteration order
    follows the interpreter's string-hash seed)."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


@dataclass(frozen=True)
class TableSuite:
    table: SilverTable
    contract: TableContract
    key_columns: tuple[str, ...]
    sample_columns: tuple[str, ...]  # non-PHI columns that locate a failing row
    rows_sql: str  # one parameter: the batch id
    expectations: tuple[Expectation, ...]
    # The row order of `rows_sql`, restated where a query over it needs its first rows: the
    # rows' position, then every sample column, so rows tied on it sample alike in any engine.
    order_by: tuple[str, ...] = ("_source_file", "_row_number")

    @property
    def version(self) -> str:
        """A digest of what the suite validates and how (rows read, every expectation): a
        result recorded under another version is not this suite's."""
        spec = [self.rows_sql]
        for e in self.expectations:
            spec.append(
                json.dumps(
                    [e.check, e.rule, e.type, e.changes_only, e.kwargs],
                    default=_stable_json,
                    sort_keys=True,
                )
            )
        return hashlib.sha256("\n".join(spec).encode()).hexdigest()[:16]

    @property
    def is_child(self) -> bool:
        return self.table.parent is not None

    @property
    def checks(self) -> list[str]:
        return sorted({e.check for e in self.expectations})


def _e(
    check: str, rule: str, type_: str, changes_only: bool = False, /, **kwargs: Any
) -> Expectation:
    return Expectation(check, rule, type_, kwargs, changes_only)


def _not_null(check: str, column: str, changes_only: bool = False) -> Expectation:
    return _e(
        check, f"not_null:{column}", "ExpectColumnValuesToNotBeNull", changes_only, column=column
    )


def _value_rules(
    check_values: str, column: str, col: Column | Any, changes_only: bool
) -> list[Expectation]:
    out = []
    if col.accepted_values:
        out.append(
            _e(
                check_values,
                f"accepted_values:{column}",
                "ExpectColumnValuesToBeInSet",
                changes_only,
                column=column,
                value_set=list(col.accepted_values),
            )
        )
    if col.pattern:
        out.append(
            _e(
                check_values,
                f"pattern:{column}",
                "ExpectColumnValuesToMatchRegex",
                changes_only,
                column=column,
                regex=col.pattern,
            )
        )
    for rule in col.rules:
        if rule not in COLUMN_RULES:
            raise ValueError(f"contract rule {rule!r} on {column} is not in COLUMN_RULES")
        out.append(
            _e(
                names.PAYER_RULES,
                f"{rule}:{column}",
                "ExpectColumnValuesToSatisfyContractRule",
                changes_only,
                column=column,
                rule=rule,
            )
        )
    return out


def _types(columns: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[Expectation]:
    from claims_platform.contracts import parse_type

    out = [
        _e(
            names.CONTRACT_TYPES,
            "columns_present",
            "ExpectTableColumnsToMatchSet",
            column_set=[n for n, _ in columns],
            exact_match=False,
        )
    ]
    for name, type_name in columns:
        out.append(
            _e(
                names.CONTRACT_TYPES,
                f"type:{name}",
                "ExpectColumnValuesToBeInTypeList",
                column=name,
                type_list=PANDAS_TYPES[parse_type(type_name)[0]],
            )
        )
    return out


def _change_suite(contract: TableContract) -> TableSuite:
    table = change_table(contract)
    keys = tuple(contract.column(k).silver_name for k in contract.primary_key)
    sample = (
        *(
            contract.column(k).silver_name
            for k in contract.primary_key
            if not contract.column(k).phi
        ),
        "_source_file_name",
        "_row_number",
    )
    order = _order(("_source_file", "_row_number", "_change_id"), sample)
    ex: list[Expectation] = []
    for k in (*keys, "_change_id"):
        ex.append(_not_null(names.CHANGE_KEYS, k))
    ex.append(
        _e(
            names.CHANGE_KEYS,
            "one_key_per_change_id",
            "ExpectColumnValuesToBeBetween",
            column="_qc_keys_per_change_id",
            min_value=1,
            max_value=1,
        )
    )
    ex.append(
        _e(
            names.CHANGE_KEYS,
            "landed_row_loaded_once",
            "ExpectColumnValuesToBeBetween",
            column="_qc_loads_of_landed_row",
            min_value=1,
            max_value=1,
        )
    )
    for c in _ORDER_COLUMNS:
        ex.append(_not_null(names.CHANGE_ORDER, c))
    ex.append(
        _e(
            names.CHANGE_ORDER,
            "accepted_values:_op",
            "ExpectColumnValuesToBeInSet",
            column="_op",
            value_set=["I", "U", "D"],
        )
    )
    ex.append(
        _e(
            names.CHANGE_ORDER,
            "pattern:_change_seq",
            "ExpectColumnValuesToMatchRegex",
            column="_change_seq",
            regex=_CHANGE_SEQ,
        )
    )
    ex.append(
        _e(
            names.CHANGE_ORDER,
            "positive:_row_number",
            "ExpectColumnValuesToBeBetween",
            column="_row_number",
            min_value=1,
        )
    )
    ex.extend(_types([*CHANGE_METADATA, *((c.silver_name, c.type) for c in contract.columns)]))
    for c in contract.columns:
        if c.name in contract.primary_key or c.tokenize:
            continue
        if not c.nullable:
            ex.append(_not_null(names.CONTRACT_VALUES, c.silver_name, changes_only=True))
        ex.extend(_value_rules(names.CONTRACT_VALUES, c.silver_name, c, changes_only=True))
    scalar = [c.silver_name for c in contract.columns if c.nested is None and not c.tokenize]
    for rule in contract.rules:
        if rule not in ROW_RULES:
            raise ValueError(f"contract {contract.name}: rule {rule!r} is not in ROW_RULES")
        ex.append(
            _e(
                names.PAYER_RULES,
                rule,
                "ExpectRowsToSatisfyContractRule",
                True,
                column_list=scalar,
                rule=rule,
                ignore_row_if="never",
            )
        )
    extra_sql = ""
    if contract.name in CLAIM_TOTALS:
        _lines_table, pairs = CLAIM_TOTALS[contract.name]
        for total, _line in pairs:
            ex.append(
                _e(
                    names.PAYER_RULES,
                    f"claim_totals_equal_lines:{total}",
                    "ExpectColumnPairValuesToBeEqual",
                    True,
                    column_A=total,
                    column_B=f"_qc_lines_{total}",
                    ignore_row_if="either_value_is_missing",
                )
            )
        extra_sql = _claim_totals_sql(contract, keys)
    return TableSuite(
        table=table,
        contract=contract,
        key_columns=keys,
        sample_columns=tuple(sample),
        rows_sql=_change_rows_sql(contract.silver_table, keys, extra_sql, order),
        expectations=tuple(ex),
        order_by=order,
    )


def _claim_totals_sql(contract: TableContract, keys: tuple[str, ...]) -> str:
    """Joins adding `_qc_lines_<total>` to the batch rows that are their key's current state."""
    from claims_platform.contracts import load_contracts

    lines_name, pairs = CLAIM_TOTALS[contract.name]
    lines = load_contracts()[lines_name]
    line_keys = tuple(lines.column(k).silver_name for k in lines.primary_key)
    sums = ", ".join(
        f"sum({ident(line)}) AS {ident('_qc_lines_' + total)}" for total, line in pairs
    )
    on = " AND ".join(f"l.{ident(k)} = cur.{ident(k)}" for k in keys)
    cols = ", ".join(
        f"coalesce(s.{ident('_qc_lines_' + t)}, 0) AS {ident('_qc_lines_' + t)}" for t, _ in pairs
    )
    key_list = ", ".join(ident(k) for k in keys)
    return f"""
, cur AS (
    {current_state_sql(contract.silver_table, keys, f"({key_list}) IN (SELECT ({key_list}) FROM batch)")}
), line_cur AS (
    {current_state_sql(lines.silver_table, line_keys, f"({key_list}) IN (SELECT ({key_list}) FROM batch)")}
), sums AS (
    SELECT {", ".join(f"cur.{ident(k)}" for k in keys)}, cur._change_id, {sums}
    FROM cur LEFT JOIN line_cur AS l ON {on}
    GROUP BY ALL
), totals AS (
    SELECT s._change_id, {cols} FROM sums AS s
)"""


def _order(first: tuple[str, ...], sample: tuple[str, ...]) -> tuple[str, ...]:
    return (*first, *(c for c in sample if c not in first))


def _change_rows_sql(
    table: str, keys: tuple[str, ...], extra_ctes: str, order: tuple[str, ...]
) -> str:
    t = f"silver.{ident(table)}"
    key_list = ", ".join(ident(k) for k in keys)
    totals_cols = ", totals.* EXCLUDE (_change_id)" if extra_ctes else ""
    totals_join = " LEFT JOIN totals USING (_change_id)" if extra_ctes else ""
    return f"""
WITH batch AS (
    SELECT * FROM {t} WHERE _batch_id = ?
), ids AS (
    SELECT _change_id, count(*) AS _qc_keys_per_change_id FROM (
        SELECT DISTINCT _change_id, {key_list}
        FROM {t} WHERE _change_id IN (SELECT _change_id FROM batch)
    ) AS change_keys GROUP BY _change_id
), loads AS (
    SELECT _source_file, _row_number, count(*) AS _qc_loads_of_landed_row
    FROM {t} WHERE _source_file IN (SELECT _source_file FROM batch)
    GROUP BY _source_file, _row_number
){extra_ctes}
SELECT batch.*, ids._qc_keys_per_change_id, loads._qc_loads_of_landed_row{totals_cols}
FROM batch
LEFT JOIN ids USING (_change_id)
LEFT JOIN loads USING (_source_file, _row_number){totals_join}
ORDER BY {", ".join(ident(c) for c in order)}
"""


def _child_suite(contract: TableContract, child: SilverTable) -> TableSuite:
    source = contract.column(child.source_column or "")
    assert source.nested is not None
    position = source.nested.position
    keys = tuple(contract.column(k).silver_name for k in contract.primary_key)
    sample = (
        *(
            contract.column(k).silver_name
            for k in contract.primary_key
            if not contract.column(k).phi
        ),
        "_change_id",
        position,
    )
    order = _order(("_change_id", position), sample)
    ex: list[Expectation] = [
        _not_null(names.CHANGE_KEYS, c) for c in (*keys, "_change_id", position, "_batch_id")
    ]
    ex.append(
        _e(
            names.CHANGE_KEYS,
            f"positive:{position}",
            "ExpectColumnValuesToBeBetween",
            column=position,
            min_value=1,
        )
    )
    ex.extend(_types(child.columns))
    ex.append(
        _e(
            names.CONTRACT_VALUES,
            "parent_change_exists",
            "ExpectColumnValuesToBeInSet",
            column="_qc_parent_change_exists",
            value_set=[True],
        )
    )
    for f in source.nested.fields:
        if not f.nullable:
            ex.append(_not_null(names.CONTRACT_VALUES, f.column))
        ex.extend(_value_rules(names.CONTRACT_VALUES, f.column, f, changes_only=False))
    parent = f"silver.{ident(contract.silver_table)}"
    rows_sql = f"""
SELECT c.*, c._change_id IN (SELECT _change_id FROM {parent}) AS _qc_parent_change_exists
FROM silver.{ident(child.name)} AS c
WHERE c._batch_id = ?
ORDER BY {", ".join(f"c.{ident(c)}" for c in order)}
"""
    return TableSuite(
        table=child,
        contract=contract,
        key_columns=keys,
        sample_columns=tuple(sample),
        rows_sql=rows_sql,
        expectations=tuple(ex),
        order_by=order,
    )


def table_suites(contracts: dict[str, TableContract]) -> list[TableSuite]:
    """One suite per silver change table and per flattened child table, in contract order."""
    out: list[TableSuite] = []
    for c in contracts.values():
        out.append(_change_suite(c))
        out.extend(_child_suite(c, ch) for ch in child_tables(c))
    return out
