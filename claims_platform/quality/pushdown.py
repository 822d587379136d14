"""Every expectation of the contract suites as SQL run in the warehouse: no batch leaves it.

Gold waits for the blocking checks (quality/names.BLOCKING), so they are on the path from a landed
file to gold, where a Great Expectations import alone costs seconds; on Snowflake every check runs
here, so a batch is never pulled into a client (DESIGN principle 6). Each expectation type the
suites generate (quality/suites.py) has one SQL builder below, stating in the warehouse what GX
evaluates on a pandas frame of the suite's rows:

- a row is *unexpected* when the builder's condition holds. Column-map expectations skip nulls
  (only not-null counts them); the contract rules evaluate the predicates of contracts/rules.py:
  the code shapes as their anchored patterns with Python's `$` (which also allows one final
  newline: `\\n?$`, as the silver parser's RE2 rules do), the NPI as the Luhn sum over its ten
  digits with the prefix 80840 folded into a constant computed from rules.py, and the money row
  rules on the warehouse's exact decimals, passing when any operand is null;
- `rows_checked` counts the rows in the expectation's domain (with `changes_only`, every row but
  deletes, as GX's row condition `_op!="D"` keeps them);
- sample rows are the first unexpected rows in the suite's row order, named by the suite's sample
  columns only (never a value of a tested column).

The table-shape expectations read the warehouse catalog (information_schema.columns) instead of
values: a contract column missing from the table fails `columns_present` (and every expectation
on it, as GX fails one on a missing column), and a column whose declared type reads as another
Python type than the contract's (DuckDB DECIMAL as Decimal, Snowflake NUMBER(p,0) as int: what
the GX path's frame would hold) fails its type expectation with every non-null value of the batch
unexpected, which is what GX reports for a column of values of another type. (Where pandas gives
such a column a numeric dtype, GX fails it naming the dtype alone, without counts: the same
verdict, fewer numbers; test_pushdown.py shows both.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from claims_platform.contracts.rules import (
    BILLED_COVERS_ALLOWED,
    LINE_BALANCE,
    NPI_PREFIX,
    RULE_PATTERNS,
    _luhn_terms,
)
from claims_platform.quality.results import SAMPLE_ROWS, RuleFailure, jsonable
from claims_platform.quality.sql import ident
from claims_platform.quality.suites import PANDAS_TYPES, Expectation, TableSuite
from claims_platform.silver.schema import SILVER_SCHEMA
from claims_platform.warehouse.base import WarehouseReader

# The expectation types read from the catalog rather than the rows.
CATALOG_TYPES = frozenset({"ExpectTableColumnsToMatchSet", "ExpectColumnValuesToBeInTypeList"})
RAISED = "the expectation raised an exception"  # what the GX path reports (validate._failure)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _text(column: str) -> str:
    return f"CAST({column} AS VARCHAR)"


def _posix(pattern: str) -> str:
    """A contract pattern for every warehouse's regex engine: Snowflake's POSIX regular
    expressions have no non-capturing group, and a plain group matches the same strings."""
    if "\\(" in pattern or "(?" in pattern.replace("(?:", ""):
        raise ValueError(f"pattern {pattern!r} needs more than plain groups")
    return pattern.replace("(?:", "(")


def _matches_python_re(column: str, pattern: str) -> str:
    """`re.match('^' + pattern + '$', str(value))` in SQL: `$` there also matches before one
    final newline, which RE2's and POSIX's `$` (end of text) do not."""
    return f"regexp_matches({_text(column)}, {_literal('^(' + _posix(pattern) + ')' + chr(92) + 'n?$')})"


def _is_multiple_of_ten(expr: str) -> str:
    # Not `%`: the Snowflake connector's pyformat binding reads it as a placeholder.
    return f"({expr}) = 10 * floor(({expr}) / 10)"


def _npi_ok(column: str) -> str:
    """rules.npi_is_valid: ten ASCII digits, the last the Luhn check digit of the prefix and
    the first nine. Luhn terms are as rules.luhn_check_digit counts them over prefix + nine
    digits (doubling from the rightmost, k = 8, every second one: k = 0, 2, …, 8); the check digit
    is valid when it brings that sum to a multiple of ten."""
    value = _text(column)

    def digit(k: int) -> str:
        # try_cast: evaluated for any string, though only ten-digit strings reach the sum.
        return f"try_cast(substr({value}, {k + 1}, 1) AS INTEGER)"

    terms = [str(sum(_luhn_terms(NPI_PREFIX, 9)))]
    for k in range(9):
        d = digit(k)
        doubled = (8 - k) % 2 == 0
        terms.append(f"(CASE WHEN {d} >= 5 THEN 2 * {d} - 9 ELSE 2 * {d} END)" if doubled else d)
    terms.append(digit(9))
    luhn = _is_multiple_of_ten(" + ".join(terms))
    return f"(regexp_matches({value}, '^[0-9]{{10}}$') AND {luhn})"


def _row_rule_sql(operands: Sequence[str], compare: str) -> Callable[[dict[str, str]], str]:
    """A decimal row rule `first <compare> sum(rest)`: unexpected when every operand is present
    and the comparison fails (the warehouse's decimals are exact, as Python's Decimal)."""

    def unexpected(columns: dict[str, str]) -> str:
        cols = [ident(columns[n]) for n in operands]
        present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        first, *rest = cols
        return f"{present} AND NOT ({first} {compare} ({' + '.join(rest)}))"

    return unexpected


# The contract rules of contracts/rules.py, by name: a condition a valid non-null value meets.
COLUMN_RULE_SQL: dict[str, Callable[[str], str]] = {
    "npi": _npi_ok,
    **{
        name: (lambda column, p=pattern: _matches_python_re(column, p))
        for name, pattern in RULE_PATTERNS.items()
    },
}
ROW_RULE_SQL: dict[str, Callable[[dict[str, str]], str]] = {
    "line_balance": _row_rule_sql(LINE_BALANCE, "="),
    "billed_covers_allowed": _row_rule_sql(BILLED_COVERS_ALLOWED, ">="),
}


def _not_null(e: Expectation) -> str:
    return f"{ident(e.kwargs['column'])} IS NULL"


def _between(e: Expectation) -> str:
    column = ident(e.kwargs["column"])
    bounds = []
    if e.kwargs.get("min_value") is not None:
        bounds.append(f"{column} < {_literal(e.kwargs['min_value'])}")
    if e.kwargs.get("max_value") is not None:
        bounds.append(f"{column} > {_literal(e.kwargs['max_value'])}")
    return f"{column} IS NOT NULL AND ({' OR '.join(bounds) or 'FALSE'})"


def _in_set(e: Expectation) -> str:
    column = ident(e.kwargs["column"])
    values = ", ".join(_literal(v) for v in e.kwargs["value_set"])
    return f"{column} IS NOT NULL AND {column} NOT IN ({values})"


def _match_regex(e: Expectation) -> str:
    # GX's pandas engine searches (`str.contains`); every contract pattern is anchored ^…$, so
    # that is a whole-string match with Python's `$`, as the contract rules have it.
    column = ident(e.kwargs["column"])
    regex = e.kwargs["regex"]
    inner = regex[1:-1]
    if not (regex.startswith("^") and regex.endswith("$")) or "$" in inner.replace("\\$", ""):
        raise ValueError(f"{e.rule}: only a pattern anchored ^…$ has a SQL form here")
    return f"{column} IS NOT NULL AND NOT {_matches_python_re(column, inner)}"


def _column_rule(e: Expectation) -> str:
    column = ident(e.kwargs["column"])
    ok = COLUMN_RULE_SQL[e.kwargs["rule"]](column)
    return f"{column} IS NOT NULL AND NOT coalesce({ok}, FALSE)"


def _row_rule(e: Expectation) -> str:
    if e.kwargs.get("ignore_row_if", "never") != "never":
        raise ValueError(f"{e.rule}: only ignore_row_if='never' has a SQL form here")
    columns = {c.upper(): c for c in e.kwargs["column_list"]}
    return ROW_RULE_SQL[e.kwargs["rule"]](columns)


def _pair_equal(e: Expectation) -> str:
    if e.kwargs.get("ignore_row_if") != "either_value_is_missing":
        raise ValueError(f"{e.rule}: only ignore_row_if='either_value_is_missing' is stated")
    a, b = ident(e.kwargs["column_A"]), ident(e.kwargs["column_B"])
    return f"{a} IS NOT NULL AND {b} IS NOT NULL AND {a} <> {b}"


# Row conditions by expectation type; the catalog types get theirs from the catalog (below).
_UNEXPECTED: dict[str, Callable[[Expectation], str]] = {
    "ExpectColumnValuesToNotBeNull": _not_null,
    "ExpectColumnValuesToBeBetween": _between,
    "ExpectColumnValuesToBeInSet": _in_set,
    "ExpectColumnValuesToMatchRegex": _match_regex,
    "ExpectColumnValuesToSatisfyContractRule": _column_rule,
    "ExpectRowsToSatisfyContractRule": _row_rule,
    "ExpectColumnPairValuesToBeEqual": _pair_equal,
}
PUSHDOWN_TYPES = frozenset(_UNEXPECTED) | CATALOG_TYPES


def unexpected_sql(e: Expectation) -> str:
    """The condition under which a row fails `e` (a row-level expectation)."""
    build = _UNEXPECTED.get(e.type)
    if build is None:
        raise ValueError(f"{e.type} has no row condition; it is evaluated from the catalog")
    return build(e)


def _domain_sql(e: Expectation) -> str:
    return "_op IS DISTINCT FROM 'D'" if e.changes_only else "TRUE"


# ------------------------------------------------------------------------------------------
# the catalog


def reads_as(kind: str, data_type: str, scale: int | None) -> str:
    """The contract base type whose Python values a column of this catalog type reads as
    (DuckDB's or Snowflake's information_schema.columns.data_type); else the type's own name."""
    name = data_type.upper().split("(")[0].strip()
    if name in ("VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER", "CHARACTER VARYING"):
        return "string"
    if name in ("BIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT", "HUGEINT"):
        return "integer"
    if name in ("DECIMAL", "NUMERIC", "NUMBER"):
        # The Snowflake connector returns NUMBER(p,0) as int; DuckDB's Arrow a Decimal.
        return "integer" if kind == "snowflake" and not scale else "decimal"
    if name in ("DOUBLE", "FLOAT", "REAL", "FLOAT8", "DOUBLE PRECISION"):
        return "double"
    if name in ("TIMESTAMP", "TIMESTAMP_NTZ", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE"):
        return "timestamp"
    if name in ("BLOB", "BINARY", "VARBINARY", "BYTEA"):
        return "binary"
    return {"BOOLEAN": "boolean", "DATE": "date"}.get(name, name.lower())


def _contract_bases(type_list: Sequence[str]) -> set[str]:
    """Contract base types with this GX type list (json reads as string)."""
    bases = {b for b, types in PANDAS_TYPES.items() if list(types) == list(type_list)}
    return {"string" if b == "json" else b for b in bases}


def catalog(reader: WarehouseReader, table: str) -> dict[str, str]:
    """The silver table's columns (lower case) and the contract base type each reads as."""
    rows = reader.read_rows(
        "SELECT column_name AS column_name, data_type AS data_type, "
        "numeric_scale AS numeric_scale FROM information_schema.columns "
        "WHERE lower(table_schema) = ? AND lower(table_name) = ?",
        [SILVER_SCHEMA.lower(), table.lower()],
    )
    return {
        r["column_name"].lower(): reads_as(reader.kind, r["data_type"], r["numeric_scale"])
        for r in rows
    }


def _columns_of(e: Expectation) -> list[str]:
    kw = e.kwargs
    found = [kw.get("column"), kw.get("column_A"), kw.get("column_B"), *kw.get("column_list", [])]
    return [c for c in found if c]


# ------------------------------------------------------------------------------------------


def evaluate(
    reader: WarehouseReader,
    suite: TableSuite,
    expectations: list[Expectation],
    batch_id: str,
) -> tuple[int, list[RuleFailure]]:
    """(rows in the batch, the failures among `expectations`). One catalog query, one query
    counting every expectation, one more per failure locating its first rows."""
    failures: dict[str, RuleFailure] = {}
    conditions: list[tuple[Expectation, str]] = []
    if not expectations:
        [row] = reader.read_rows(f"SELECT count(*) AS n FROM ({suite.rows_sql}) AS t", [batch_id])
        return row["n"], []
    columns = catalog(reader, suite.table.name)

    def missing(e: Expectation) -> list[str]:
        return [c for c in _columns_of(e) if not c.startswith("_qc_") and c.lower() not in columns]

    def incomparable(e: Expectation) -> bool:
        """A numeric bound on a column of text (GX's comparison raises on such a column)."""
        if e.type != "ExpectColumnValuesToBeBetween" or e.kwargs["column"].startswith("_qc_"):
            return False
        return columns[e.kwargs["column"].lower()] not in ("integer", "decimal", "double")

    for e in expectations:
        if e.type == "ExpectTableColumnsToMatchSet":
            absent = sorted(c for c in e.kwargs["column_set"] if c.lower() not in columns)
            if absent:
                failures[e.rule] = RuleFailure(
                    e.rule, None, None, error=f"missing columns: {', '.join(absent)}"
                )
        elif missing(e) or incomparable(e):
            failures[e.rule] = RuleFailure(e.rule, None, None, error=RAISED)
        elif e.type == "ExpectColumnValuesToBeInTypeList":
            column = e.kwargs["column"]
            if columns[column.lower()] not in _contract_bases(e.kwargs["type_list"]):
                # A column of another type holds values of another type: each non-null one.
                conditions.append((e, f"{ident(column)} IS NOT NULL"))
            else:
                conditions.append((e, "FALSE"))
        else:
            conditions.append((e, unexpected_sql(e)))

    rows = f"WITH batch_rows AS ({suite.rows_sql})"
    counts = ["count(*) AS _qc_rows"]
    for i, (e, condition) in enumerate(conditions):
        counts.append(f"count(*) FILTER (WHERE {_domain_sql(e)} AND ({condition})) AS _qc_u{i}")
        counts.append(f"count(*) FILTER (WHERE {_domain_sql(e)}) AS _qc_c{i}")
    [row] = reader.read_rows(f"{rows} SELECT {', '.join(counts)} FROM batch_rows", [batch_id])
    totals = list(row.values())
    if not totals[0]:
        return 0, []  # no rows, nothing validated (as GX, which gets no frame)
    sample_columns = [c for c in suite.sample_columns if c.lower() in columns]
    order = ", ".join(ident(c) for c in suite.order_by)
    for i, (e, condition) in enumerate(conditions):
        unexpected, checked = totals[1 + 2 * i], totals[2 + 2 * i]
        if not unexpected:
            continue
        found = reader.read_rows(
            f"{rows} SELECT {', '.join(ident(c) for c in sample_columns)} FROM batch_rows "
            f"WHERE {_domain_sql(e)} AND ({condition}) ORDER BY {order} LIMIT {SAMPLE_ROWS}",
            [batch_id],
        )
        samples = [
            {c: jsonable(v) for c, v in zip(sample_columns, r.values(), strict=True)} for r in found
        ]
        failures[e.rule] = RuleFailure(e.rule, int(unexpected), int(checked), samples)
    return totals[0], [failures[e.rule] for e in expectations if e.rule in failures]
