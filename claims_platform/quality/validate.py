"""Running a contract suite with Great Expectations on the rows of one silver batch.

Which rows: those of the newest batch committed to the table. Checks run right after the silver
step that committed the batch (materialising silver runs its checks), so every batch is validated
once, when it lands, and a check costs what the batch costs, not what the table's whole history
costs (DESIGN principle 6). The few facts that need other rows (a change id naming one key, a
landed row loaded once, a parent change present, claim totals against the current lines) are
computed by DuckDB over the table for the batch's keys only, and arrive as `_qc_*` columns.

Where the rows are read depends on the warehouse (warehouse/base.py WarehouseReader). The
expectations SQL states exactly (quality/pushdown.py) run as SQL in the warehouse: on DuckDB the
blocking checks' (gold waits for them, and a GX import costs seconds), on Snowflake every one of
them, so what Snowflake evaluates stays in Snowflake. The rest (the contract rules, which are
Python predicates, and the table-shape expectations) run in GX with an ephemeral context on a
pandas DataFrame of the batch: from DuckDB through Arrow (decimals stay `Decimal`, so money rules
compare exactly); from Snowflake through the reader's rows, one batch, not the table. Results keep counts and rule names; a failing row
is named by its non-PHI key columns and its file and row position, never by its values: GX's
`partial_unexpected_list` (values) is never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from claims_platform.quality import pushdown
from claims_platform.quality.names import BLOCKING
from claims_platform.quality.results import SAMPLE_ROWS, jsonable
from claims_platform.quality.sql import newest_batch_sql
from claims_platform.quality.suites import TableSuite
from claims_platform.warehouse.base import WarehouseReader

if TYPE_CHECKING:
    import pandas as pd

_CHANGES_ONLY = {"row_condition": '_op!="D"', "condition_parser": "pandas"}


@dataclass
class RuleFailure:
    rule: str
    unexpected_rows: int | None
    rows_checked: int | None
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        if self.unexpected_rows is not None:
            out["unexpected_rows"] = self.unexpected_rows
            out["rows_checked"] = self.rows_checked
        if self.sample_rows:
            out["sample_rows"] = self.sample_rows
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class CheckOutcome:
    check: str
    expectations: int = 0
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class SuiteRun:
    batch_id: str | None
    rows: int
    outcomes: dict[str, CheckOutcome]


def newest_batch(reader: WarehouseReader, table: str) -> str | None:
    rows = reader.read_rows(newest_batch_sql(table))
    return rows[0]["_batch_id"] if rows else None


def read_frame(reader: WarehouseReader, suite: TableSuite, batch_id: str) -> pd.DataFrame:
    read_arrow = getattr(reader, "read_arrow", None)  # DuckDB's reader has it
    if read_arrow is not None:
        frame = read_arrow(suite.rows_sql, [batch_id]).to_pandas(
            integer_object_nulls=True, date_as_object=True
        )
    else:
        import pandas as pd

        frame = pd.DataFrame(reader.read_rows(suite.rows_sql, [batch_id]))
    # pandas 3 reads Arrow strings as the `str` dtype, which GX's type expectations do not know;
    # object columns are checked value by value (`str`).
    strings = [c for c in frame.columns if str(frame[c].dtype) in ("str", "string")]
    return frame.astype({c: object for c in strings}) if strings else frame


@cache
def _batch_definition() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return (
        context.data_sources.add_pandas("silver_batches")
        .add_dataframe_asset("batch_rows")
        .add_batch_definition_whole_dataframe("whole_batch")
    )


def _gx_expectation(spec: Any) -> Any:
    import great_expectations.expectations as gxe

    from claims_platform.quality.expectations import CUSTOM

    cls = CUSTOM.get(spec.type) or getattr(gxe, spec.type)
    kwargs = dict(spec.kwargs)
    if spec.changes_only:
        kwargs.update(_CHANGES_ONLY)
    return cls(**kwargs, meta={"check": spec.check, "rule": spec.rule})


def run_suite(
    reader: WarehouseReader,
    suite: TableSuite,
    checks: set[str] | None = None,
    *,
    pushdown_blocking: bool = True,
) -> SuiteRun:
    """Validate the newest batch of the suite's table for the selected checks (default: all).
    `pushdown_blocking=False` runs the blocking checks in GX too (to compare the two)."""
    wanted = [e for e in suite.expectations if checks is None or e.check in checks]
    outcomes = {c: CheckOutcome(c) for c in sorted({e.check for e in wanted})}
    for e in wanted:
        outcomes[e.check].expectations += 1
    batch_id = newest_batch(reader, suite.table.name)
    if batch_id is None or not wanted:
        return SuiteRun(batch_id, 0, outcomes)
    # SQL in the warehouse where SQL states the expectation (quality/pushdown.py): on DuckDB the
    # blocking checks' (gold waits for them, and a GX import costs seconds), on Snowflake all.
    everywhere = reader.kind == "snowflake"
    in_sql = [
        e
        for e in wanted
        if pushdown_blocking
        and (everywhere or e.check in BLOCKING)
        and e.type in pushdown.PUSHDOWN_TYPES
    ]
    rows, failed = pushdown.evaluate(reader, suite, in_sql, batch_id)
    for e in in_sql:
        if e.rule in failed:
            unexpected, checked, samples = failed[e.rule]
            outcomes[e.check].failures.append(RuleFailure(e.rule, unexpected, checked, samples))
    wanted = [e for e in wanted if e not in in_sql]
    if not wanted or rows == 0:
        return SuiteRun(batch_id, rows, outcomes)
    frame = read_frame(reader, suite, batch_id)
    if frame.empty:
        return SuiteRun(batch_id, 0, outcomes)

    import great_expectations as gx

    batch_definition = _batch_definition()  # creates the context the suite needs
    gx_suite = gx.ExpectationSuite(name=f"silver.{suite.table.name}")
    for e in wanted:
        gx_suite.add_expectation(_gx_expectation(e))
    sample_columns = [c for c in suite.sample_columns if c in frame.columns]
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        gx_suite,
        result_format={
            "result_format": "SUMMARY",
            "unexpected_index_column_names": sample_columns,
            "partial_unexpected_count": SAMPLE_ROWS,
            "include_unexpected_rows": False,
        },
    )
    for r in result.results:
        meta = r.expectation_config.meta or {}
        if r.success:
            continue
        failure = _failure(meta.get("rule", r.expectation_config.type), r, sample_columns)
        outcomes[meta.get("check", "unknown")].failures.append(failure)
    return SuiteRun(batch_id, len(frame), outcomes)


def _failure(rule: str, r: Any, sample_columns: list[str]) -> RuleFailure:
    info = r.exception_info or {}
    if info.get("raised_exception"):
        # Not the exception's message: it may quote a value.
        return RuleFailure(rule, None, None, error="the expectation raised an exception")
    res = r.result or {}
    missing = ((res.get("details") or {}).get("mismatched") or {}).get("missing")
    if missing:  # column names only (ExpectTableColumnsToMatchSet)
        return RuleFailure(rule, None, None, error=f"missing columns: {', '.join(sorted(missing))}")
    samples = []
    for row in (res.get("partial_unexpected_index_list") or [])[:SAMPLE_ROWS]:
        if isinstance(row, dict):
            # GX adds the tested column's value to each index row: keep only the locating columns.
            samples.append({c: jsonable(row.get(c)) for c in sample_columns if c in row})
    return RuleFailure(
        rule,
        res.get("unexpected_count"),
        res.get("element_count"),
        samples,
    )
