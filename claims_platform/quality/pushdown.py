"""The blocking checks' expectations as SQL run in the warehouse: milliseconds, no GX import.

Gold waits for the blocking checks (quality/names.BLOCKING), so they are on the path from a landed
file to gold; a Great Expectations import alone costs seconds there. Their expectations are the
four column-map kinds below, which SQL states exactly as GX evaluates them on a pandas frame:
a row is *unexpected* when the condition holds (nulls are unexpected only for not-null; the other
three skip nulls, as GX's column-map expectations do), `rows_checked` counts the rows in the
expectation's domain (with `changes_only`, every row but deletes, as GX's row condition
`_op!="D"` keeps them), and the sample rows are the first unexpected rows in the suite's row
order, named by the suite's sample columns only (never a value of the tested column).
"""

from __future__ import annotations

from typing import Any

from claims_platform.quality.results import SAMPLE_ROWS, jsonable
from claims_platform.quality.sql import ident
from claims_platform.quality.suites import Expectation, TableSuite
from claims_platform.warehouse.base import WarehouseReader

PUSHDOWN_TYPES = frozenset(
    {
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToMatchRegex",
    }
)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def unexpected_sql(e: Expectation) -> str:
    """The condition under which a row fails `e`."""
    column = ident(e.kwargs["column"])
    if e.type == "ExpectColumnValuesToNotBeNull":
        return f"{column} IS NULL"
    if e.type == "ExpectColumnValuesToBeBetween":
        bounds = []
        if e.kwargs.get("min_value") is not None:
            bounds.append(f"{column} < {_literal(e.kwargs['min_value'])}")
        if e.kwargs.get("max_value") is not None:
            bounds.append(f"{column} > {_literal(e.kwargs['max_value'])}")
        return f"{column} IS NOT NULL AND ({' OR '.join(bounds) or 'FALSE'})"
    if e.type == "ExpectColumnValuesToBeInSet":
        values = ", ".join(_literal(v) for v in e.kwargs["value_set"])
        return f"{column} IS NOT NULL AND {column} NOT IN ({values})"
    if e.type == "ExpectColumnValuesToMatchRegex":
        # GX's pandas engine uses re.match: anchored at the start only. A plain group, not
        # `(?:`: Snowflake's POSIX regular expressions have no non-capturing group.
        pattern = _literal("^(" + e.kwargs["regex"] + ")")
        return f"{column} IS NOT NULL AND NOT regexp_matches(CAST({column} AS VARCHAR), {pattern})"
    raise ValueError(f"{e.type} has no SQL form here; it runs in Great Expectations")


def _domain_sql(e: Expectation) -> str:
    return "_op IS DISTINCT FROM 'D'" if e.changes_only else "TRUE"


def evaluate(
    reader: WarehouseReader,
    suite: TableSuite,
    expectations: list[Expectation],
    batch_id: str,
) -> tuple[int, dict[str, tuple[int, int, list[dict[str, Any]]]]]:
    """(rows in the batch, {rule: (unexpected rows, rows checked, sample rows)} of the
    expectations that failed). One query counts every expectation; one more per failure
    locates its first rows."""
    rows = f"WITH batch_rows AS ({suite.rows_sql})"
    counts = ["count(*) AS _qc_rows"]
    for i, e in enumerate(expectations):
        counts.append(
            f"count(*) FILTER (WHERE {_domain_sql(e)} AND ({unexpected_sql(e)})) AS _qc_u{i}"
        )
        counts.append(f"count(*) FILTER (WHERE {_domain_sql(e)}) AS _qc_c{i}")
    [row] = reader.read_rows(f"{rows} SELECT {', '.join(counts)} FROM batch_rows", [batch_id])
    totals = list(row.values())
    failed: dict[str, tuple[int, int, list[dict[str, Any]]]] = {}
    for i, e in enumerate(expectations):
        unexpected, checked = totals[1 + 2 * i], totals[2 + 2 * i]
        if not unexpected:
            continue
        sample_columns = list(suite.sample_columns)
        found = reader.read_rows(
            f"{rows} SELECT {', '.join(ident(c) for c in sample_columns)} FROM batch_rows "
            f"WHERE {_domain_sql(e)} AND ({unexpected_sql(e)}) LIMIT {SAMPLE_ROWS}",
            [batch_id],
        )
        samples = [
            {c: jsonable(v) for c, v in zip(sample_columns, r.values(), strict=True)} for r in found
        ]
        failed[e.rule] = (unexpected, checked, samples)
    return totals[0], failed
