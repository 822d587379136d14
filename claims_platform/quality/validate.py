"""Running a contract suite with Great Expectations on the rows of one silver batch.

Which rows: those of the batches committed to the table since the ones the checks last
validated (a result names its batches), each validated on its own, oldest first; with no such
record, or nothing committed since, the newest batch. The checks gold waits for run right after
the silver step that committed the batch, in its run; the others run after the batch, in runs
that may come after several batches (orchestration/quality/checks.py): either way every batch is
validated once, and a check costs what its batches cost, not what the table's whole history
costs (DESIGN principle 6). The few facts that need other rows (a change id naming one key, a
landed row loaded once, a parent change present, claim totals against the current lines) are
computed by the warehouse over the table for the batch's keys only, and arrive as `_qc_*` columns.

Where the expectations are evaluated depends on the warehouse (warehouse/base.py
WarehouseReader). Every expectation type the suites generate has a SQL form
(quality/pushdown.py). On Snowflake all of them run there, and no frame of a batch is ever read
out (`read_frame` refuses). On DuckDB the blocking checks' run as SQL (gold waits for them, and a
GX import costs seconds) and the others in GX with an ephemeral context on a pandas DataFrame of
the batch read through Arrow (decimals stay `Decimal`, so money rules compare exactly): locally a
batch costs nothing to read, GX is the reference the SQL forms are tested against on the same
rows (claims_platform_tests/quality/test_pushdown.py), and the warn-only checks are not on the
path to gold. Results keep counts and rule names; a failing row is named by its non-PHI key
columns and its file and row position, never by its values: GX's `partial_unexpected_list`
(values) is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from claims_platform.quality import pushdown
from claims_platform.quality.names import BLOCKING
from claims_platform.quality.results import SAMPLE_ROWS, RuleFailure, jsonable
from claims_platform.quality.sql import batches_after_sql, newest_batch_sql
from claims_platform.quality.suites import TableSuite
from claims_platform.warehouse.base import WarehouseReader

if TYPE_CHECKING:
    import pandas as pd

# Rows of batches read into frames for Great Expectations by one run: checks that come once for
# a backlog of batches (their daemon was down) read it a part at a time, not all into memory.
# The newest batch validated is recorded, so the next run goes on from there.
MAX_FRAME_ROWS = 2_000_000

_CHANGES_ONLY = {"row_condition": '_op!="D"', "condition_parser": "pandas"}
Engine = Literal["auto", "sql", "gx"]
SQL, GX = "warehouse_sql", "great_expectations"


@dataclass
class CheckOutcome:
    check: str
    expectations: int = 0
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def add(self, failure: RuleFailure, batch_id: str) -> None:
        """A rule's failure on one of the batches validated (counts and rows are that batch's)."""
        failure.batch_id = batch_id
        self.failures.append(failure)

    @property
    def failed_rules(self) -> list[str]:
        return list(dict.fromkeys(f.rule for f in self.failures))


@dataclass
class SuiteRun:
    batch_id: str | None  # the newest batch validated
    rows: int
    outcomes: dict[str, CheckOutcome]
    engine: str = SQL  # what evaluated the expectations: SQL, GX, or both (joined by "+")
    batch_ids: list[str] = field(default_factory=list)  # every batch validated, oldest first
    batches_left: int = 0  # later batches left for the next run (MAX_FRAME_ROWS)


class FrameRefused(RuntimeError):
    """A batch frame was asked of a warehouse whose batches are validated in place."""


def newest_batch(reader: WarehouseReader, table: str) -> str | None:
    rows = reader.read_rows(newest_batch_sql(table))
    return rows[0]["_batch_id"] if rows else None


def batches_to_validate(
    reader: WarehouseReader, table: str, after: Sequence[str] = ()
) -> list[str]:
    """The batches a suite validates, oldest first: those committed to `table` after the earliest
    of `after` (the batches its checks last validated); else the newest alone (no record, or
    nothing committed since: validating the newest again gives the recorded result, so a failure
    stays reported until a batch passes)."""
    if after:
        rows = reader.read_rows(batches_after_sql(table, len(after)), list(after))
        if rows:
            return [r["_batch_id"] for r in rows]
    newest = newest_batch(reader, table)
    return [newest] if newest else []


def read_frame(reader: WarehouseReader, suite: TableSuite, batch_id: str) -> pd.DataFrame:
    if reader.kind == "snowflake":
        # Every expectation has a SQL form (pushdown.PUSHDOWN_TYPES); a batch stays in Snowflake.
        raise FrameRefused("batches in Snowflake are validated in Snowflake, never read out")
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
    engine: Engine = "auto",
    after: Sequence[str] = (),
) -> SuiteRun:
    """Validate the suite's table's batches (`batches_to_validate`: the newest, or those
    committed after the batches in `after`) for the selected checks (default: all).

    `engine`: "auto" runs every expectation as SQL in Snowflake, and on DuckDB the blocking
    checks' as SQL and the others in GX; "sql" runs every one as SQL, "gx" every one in GX on
    DuckDB (the two are compared by the tests). Snowflake takes "auto" or "sql" only."""
    return read_suite(reader, suite, checks, engine=engine, after=after).validate()


@dataclass
class ReadSuite:
    """A suite run with all it needed from the warehouse: the SQL expectations evaluated and the
    batch's frame read for the GX ones, which `validate` evaluates without the warehouse (so a
    caller can release the warehouse's lock first: GX takes seconds, the reading milliseconds)."""

    table: str
    run: SuiteRun
    in_gx: list[Any] = field(default_factory=list)
    frames: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # by batch, oldest first
    sample_columns: list[str] = field(default_factory=list)

    def validate(self) -> SuiteRun:
        if not self.frames or not self.in_gx:
            return self.run
        import great_expectations as gx

        batch_definition = _batch_definition()  # creates the context the suite needs
        gx_suite = gx.ExpectationSuite(name=f"silver.{self.table}")
        for e in self.in_gx:
            gx_suite.add_expectation(_gx_expectation(e))
        # One batch at a time: a failure's counts and first rows are its batch's.
        while self.frames:
            batch_id, frame = self.frames.pop(0)
            result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
                gx_suite,
                result_format={
                    "result_format": "SUMMARY",
                    "unexpected_index_column_names": self.sample_columns,
                    "partial_unexpected_count": SAMPLE_ROWS,
                    "include_unexpected_rows": False,
                },
            )
            for r in result.results:
                meta = r.expectation_config.meta or {}
                if r.success:
                    continue
                rule = meta.get("rule", r.expectation_config.type)
                failure = _failure(rule, r, self.sample_columns)
                self.run.outcomes[meta.get("check", "unknown")].add(failure, batch_id)
        return self.run


def read_suite(
    reader: WarehouseReader,
    suite: TableSuite,
    checks: set[str] | None = None,
    *,
    engine: Engine = "auto",
    after: Sequence[str] = (),
) -> ReadSuite:
    """The part of `run_suite` that reads the warehouse (see ReadSuite)."""
    wanted = [e for e in suite.expectations if checks is None or e.check in checks]
    outcomes = {c: CheckOutcome(c) for c in sorted({e.check for e in wanted})}
    for e in wanted:
        outcomes[e.check].expectations += 1
    if reader.kind == "snowflake" and engine == "gx":
        raise FrameRefused("batches in Snowflake are validated in Snowflake, never read out")
    everywhere = engine == "sql" or (engine == "auto" and reader.kind == "snowflake")
    in_sql = [
        e
        for e in wanted
        if engine != "gx"
        and (everywhere or e.check in BLOCKING)
        and e.type in pushdown.PUSHDOWN_TYPES
    ]
    in_gx = [e for e in wanted if e not in in_sql]
    if everywhere and in_gx:
        raise ValueError(
            f"no SQL form for {sorted({e.type for e in in_gx})}: add one to quality/pushdown.py"
        )
    used = "+".join(name for name, part in ((SQL, in_sql), (GX, in_gx)) if part) or SQL
    batch_ids = batches_to_validate(reader, suite.table.name, after)
    run = SuiteRun(batch_ids[-1] if batch_ids else None, 0, outcomes, used, batch_ids)
    if not batch_ids or not wanted:
        return ReadSuite(suite.table.name, run)
    check_of = {e.rule: e.check for e in in_sql}
    frames = []
    framed = 0
    for i, batch_id in enumerate(batch_ids):
        rows, failures = pushdown.evaluate(reader, suite, in_sql, batch_id)
        if in_gx and framed and framed + rows > MAX_FRAME_ROWS:
            run.batch_ids, run.batches_left = batch_ids[:i], len(batch_ids) - i
            run.batch_id = batch_ids[i - 1]
            break
        for failure in failures:
            outcomes[check_of[failure.rule]].add(failure, batch_id)
        if not in_gx or rows == 0:
            run.rows += rows
            continue
        frame = read_frame(reader, suite, batch_id)
        run.rows += len(frame)
        framed += len(frame)
        if not frame.empty:
            frames.append((batch_id, frame))
    if not frames:
        return ReadSuite(suite.table.name, run)
    sample_columns = [c for c in suite.sample_columns if c in frames[0][1].columns]
    return ReadSuite(suite.table.name, run, in_gx, frames, sample_columns)


def _failure(rule: str, r: Any, sample_columns: list[str]) -> RuleFailure:
    info = r.exception_info or {}
    # One exception, or one per metric the expectation needed (keyed by metric id).
    raised = info.get("raised_exception") or any(
        isinstance(v, dict) and v.get("raised_exception") for v in info.values()
    )
    if raised:
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
