"""The data-quality asset checks, generated from the contracts (no per-table code).

Per silver table one `multi_asset_check` op validates the table's newest batch with its contract
suite (Great Expectations) and reconciles it with the file ledger; one check summarises the
rejects; one op reconciles each contract's gold model with the silver current state and measures
its lag. `evaluate_*` are the plain functions behind the ops, over a WarehouseReader (the
environment's warehouse, warehouse/base.py; the queries run in it), so tests run them on tiny
tables without Dagster or Spark.
"""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import dagster as dg

from claims_platform.contracts import TableContract
from claims_platform.orchestration.quality.freshness import GOLD_MAX_LAG
from claims_platform.orchestration.quality.results import check_result
from claims_platform.orchestration.resources import (
    AFTER_THE_BATCH_TAG,
    PlatformResource,
    give_way_on_cpu,
)
from claims_platform.orchestration.silver.assets import REJECTS_KEY, silver_key
from claims_platform.quality import names, reconcile
from claims_platform.quality.reconcile import Finding
from claims_platform.quality.sql import warehouse_version_sql
from claims_platform.quality.suites import TableSuite, table_suites
from claims_platform.warehouse.base import QueryError, WarehouseReader, reading

QUALITY_TAGS = {"quality": "data-quality"}

# Warn-severity checks protect no model, so a landing batch's run leaves them out (the landing
# sensor's run requests name only the blocking checks) and gold does not wait for them: the
# automation sensor runs them in a run of their own once their asset has changed. Their op takes
# no pool slot: it reads the warehouse under its lock for the moment it reads, and only then.
AFTER_THE_BATCH = dg.AutomationCondition.any_deps_updated() & ~dg.AutomationCondition.in_progress()


def gold_key(contract: TableContract) -> dg.AssetKey | None:
    if contract.gold is None or not contract.gold.model:
        return None
    return dg.AssetKey(["gold", contract.gold.model])


# ------------------------------------------------------------------------------------------
# evaluation (plain functions)


def _from_finding(key: dg.AssetKey, name: str, f: Finding) -> dg.AssetCheckResult:
    return check_result(key, name, passed=f.passed, description=f.description, metadata=f.metadata)


def _guarded(key: dg.AssetKey, name: str, fn, *args) -> dg.AssetCheckResult:
    """A check that cannot read its tables fails with the error's type, not a crashed step."""
    try:
        return _from_finding(key, name, fn(*args))
    except QueryError as e:
        return check_result(
            key,
            name,
            passed=False,
            description=f"could not evaluate: {e} (see the step log)",
            metadata={"error": str(e)},
        )


def suite_check_names(suite: TableSuite) -> list[str]:
    extra = (
        []
        if suite.is_child
        else [names.LEDGER_RECONCILES, names.QUARANTINED_FILES, names.PROCESSED_FILES_UNCHANGED]
    )
    return [*suite.checks, *extra]


def warehouse_version(reader: WarehouseReader) -> str:
    """The state of silver and the audit tables, as one value (see `warehouse_version_sql`)."""
    [row] = reader.read_rows(warehouse_version_sql())
    return f"{row['batches']}:{row['newest'] or 'none'}"


def evaluate_silver_table(
    reader: WarehouseReader,
    suite: TableSuite,
    wanted: set[str] | None = None,
    version: str | None = None,
    after: Sequence[str] = (),
) -> list[dg.AssetCheckResult]:
    """`version`: the `warehouse_version` the caller already read, if it did; `after`: the
    batches the checks last validated (`last_validated_batches`), to validate those since."""
    return read_silver_table(reader, suite, wanted, version, after)()


def read_silver_table(
    reader: WarehouseReader,
    suite: TableSuite,
    wanted: set[str] | None = None,
    version: str | None = None,
    after: Sequence[str] = (),
) -> Callable[[], list[dg.AssetCheckResult]]:
    """What `evaluate_silver_table` reads from the warehouse, read now; the function returned
    finishes the evaluation without it (Great Expectations on the batches read), so the caller
    can release the warehouse first: GX takes seconds, in which a batch could commit."""
    from claims_platform.quality.validate import read_suite

    key = silver_key(suite.table.name)
    wanted = set(suite_check_names(suite)) if wanted is None else wanted
    gx_checks = wanted & set(suite.checks)
    read = None
    error = ""
    if gx_checks:
        try:
            version = version or warehouse_version(reader)
            read = read_suite(reader, suite, gx_checks, after=after)
        except QueryError as e:
            error = str(e)
    ledger: list[dg.AssetCheckResult] = []
    for name, evaluate in (
        (names.LEDGER_RECONCILES, reconcile.ledger_reconciles),
        (names.QUARANTINED_FILES, reconcile.quarantined_files),
        (names.PROCESSED_FILES_UNCHANGED, reconcile.processed_files_unchanged),
    ):
        if name in wanted:
            ledger.append(_guarded(key, name, evaluate, reader, suite.contract))

    def finish() -> list[dg.AssetCheckResult]:
        run = read.validate() if read is not None else None
        results: list[dg.AssetCheckResult] = []
        for name in sorted(gx_checks):
            if run is None:
                results.append(
                    check_result(
                        key,
                        name,
                        passed=False,
                        description=f"could not read silver.{suite.table.name}: {error}",
                        metadata={"error": error},
                    )
                )
                continue
            outcome = run.outcomes[name]
            failed = outcome.failed_rules
            batches = (
                f"batch {run.batch_id or 'none'}"
                if len(run.batch_ids) <= 1
                else f"{len(run.batch_ids)} batches, the newest {run.batch_id}"
            )
            if run.batches_left:
                batches += f" ({run.batches_left} later batches left for the next run)"
            description = (
                f"{len(failed)} of {outcome.expectations} expectations failed on {batches} "
                f"({run.rows} rows): {', '.join(failed)}"
                if failed
                else f"{outcome.expectations} expectations passed on {batches} ({run.rows} rows)"
            )
            results.append(
                check_result(
                    key,
                    name,
                    passed=outcome.passed,
                    description=description,
                    metadata={
                        BATCH_ID: run.batch_id or "none",
                        BATCHES_VALIDATED: run.batch_ids,
                        BATCHES_LEFT: run.batches_left,
                        "rows_validated": run.rows,
                        "expectations": outcome.expectations,
                        "failed_rules": failed,
                        "unexpected_rows": sum(f.unexpected_rows or 0 for f in outcome.failures),
                        "failures": [f.as_metadata() for f in outcome.failures],
                        "engine": run.engine,
                        WAREHOUSE_VERSION: version,
                        SUITE_VERSION: suite.version,
                    },
                )
            )
        return results + ledger

    return finish


# Metadata of a contract-suite result that says what it was computed on, and where.
BATCH_ID = "batch_id"  # the newest batch validated
BATCHES_VALIDATED = "batches_validated"  # every batch validated, oldest first
BATCHES_LEFT = "batches_left"  # later batches the next run validates (a backlog, read in parts)
WAREHOUSE_VERSION = "warehouse_version"
SUITE_VERSION = "suite_version"
VALIDATED_IN_RUN = "validated_in_run"


# Records of a check's history read at a time: the first completed one is usually the first or
# second (a running check's own plan comes first).
CHECK_HISTORY_PAGE = 10


def _latest_completed_evaluation(
    instance: dg.DagsterInstance, key: dg.AssetCheckKey
) -> tuple[dg.AssetCheckEvaluation, str] | None:
    """The newest finished evaluation of a check (passed or failed) and the run that made it.

    Dagster 1.13 has no public read of an asset check's *completed* history:
    `DagsterInstance.get_latest_asset_check_evaluation_record` returns the newest record, which in
    a running check is this run's own planned one; `get_event_records` is deprecated for 2.0; the
    GraphQL API needs a webserver; the storage's history query filters by status only with an
    internal enum. So the history is read newest first, a few records a page, and the first
    record whose event is an evaluation (not the plan of a run still going, or killed) wins.
    """
    cursor = None
    while True:
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=CHECK_HISTORY_PAGE, cursor=cursor
        )
        for record in records:
            event = record.event
            evaluation = (
                event.dagster_event.event_specific_data if event and event.dagster_event else None
            )
            if isinstance(evaluation, dg.AssetCheckEvaluation):
                return evaluation, record.run_id
        if len(records) < CHECK_HISTORY_PAGE:
            return None
        cursor = records[-1].id


Evaluations = Mapping[dg.AssetCheckKey, tuple[dg.AssetCheckEvaluation, str] | None]


def latest_evaluations(
    instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey]
) -> Evaluations:
    """Each check's newest finished evaluation and its run (`_latest_completed_evaluation`), read
    once for both `recorded_suite_results` and `last_validated_batches`."""
    return {key: _latest_completed_evaluation(instance, key) for key in check_keys}


def last_validated_batches(latest: Evaluations) -> list[str]:
    """The newest batch each of these checks last validated: the next run validates the batches
    committed since. A check that runs after the batches (warn severity) may come once for
    several of them; each is validated, none is skipped."""
    batches = set()
    for evaluated in latest.values():
        value = getattr(evaluated[0].metadata.get(BATCH_ID), "value", None) if evaluated else None
        if value and value != "none":
            batches.add(str(value))
    return sorted(batches)


def recorded_suite_results(
    instance: dg.DagsterInstance,
    suite: TableSuite,
    check_keys: Sequence[dg.AssetCheckKey],
    version: str,
    latest: Evaluations | None = None,
) -> dict[dg.AssetCheckKey, dg.AssetCheckResult]:
    """The contract-suite results an earlier run recorded for these checks on this very state of
    the warehouse (no batch committed since) with this very suite, as this run's results.

    A suite validates the newest batch against rows that change only when a batch commits, so
    its result on an unchanged warehouse is the recorded one: a run that loads nothing (a manual
    re-run, a run waiting behind another's load) does not validate the same batch again, and does
    not pay for a Great Expectations import (~5 s) to learn nothing new. The result names the run
    that validated. Any other recorded state (a newer batch, an edited suite, no record) is
    validated afresh. `latest`: the checks' `latest_evaluations`, if the caller read them.
    """
    latest = latest_evaluations(instance, check_keys) if latest is None else latest
    out: dict[dg.AssetCheckKey, dg.AssetCheckResult] = {}
    for key in check_keys:
        evaluated = latest[key]
        if evaluated is None:
            continue
        evaluation, run_id = evaluated
        metadata = dict(evaluation.metadata)
        recorded = {
            k: getattr(metadata.get(k), "value", None) for k in (WAREHOUSE_VERSION, SUITE_VERSION)
        }
        if recorded != {WAREHOUSE_VERSION: version, SUITE_VERSION: suite.version}:
            continue
        description = evaluation.description or ""
        if VALIDATED_IN_RUN not in metadata:
            metadata[VALIDATED_IN_RUN] = dg.MetadataValue.text(run_id)
            description += f" (validated by run {run_id[:8]}; no batch committed since)"
        out[key] = dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=evaluation.passed,
            severity=evaluation.severity,
            description=description,
            metadata=metadata,
        )
    return out


def evaluate_rejects(reader: WarehouseReader) -> dg.AssetCheckResult:
    return _guarded(REJECTS_KEY, names.REJECTS_BY_RULE, reconcile.rejects_by_rule, reader)


def evaluate_gold(
    reader: WarehouseReader,
    contract: TableContract,
    wanted: set[str],
    gold_built_at: dt.datetime | None,
    max_lag: dt.timedelta = GOLD_MAX_LAG,
) -> list[dg.AssetCheckResult]:
    key = gold_key(contract)
    assert key is not None
    out = []
    if names.RECONCILES_WITH_SILVER in wanted:
        out.append(
            _guarded(
                key,
                names.RECONCILES_WITH_SILVER,
                reconcile.reconciles_with_silver,
                reader,
                contract,
            )
        )
    if names.LAG_BEHIND_LANDING in wanted:
        out.append(
            _guarded(
                key,
                names.LAG_BEHIND_LANDING,
                reconcile.lag_behind_landing,
                reader,
                contract,
                gold_built_at,
                max_lag,
            )
        )
    return out


T = TypeVar("T")


def _giving_way(context: dg.AssetCheckExecutionContext, work: Callable[[], T]) -> T:
    """`work()`; in a run of the checks after the batch, on a thread that gives way on the CPU
    to landing batches (resources.give_way_on_cpu). Only that thread: the run's own thread keeps
    its priority, so a step that holds the warehouse's writer slot is never slowed."""
    if context.run.tags.get(AFTER_THE_BATCH_TAG) != "true":
        return work()
    with ThreadPoolExecutor(
        1, thread_name_prefix="after_the_batch", initializer=give_way_on_cpu
    ) as t:
        return t.submit(work).result()


# ------------------------------------------------------------------------------------------
# Dagster definitions


@contextmanager
def _reader(platform: PlatformResource) -> Iterator[WarehouseReader | None]:
    """The environment's warehouse, read as one state (no batch commits meanwhile); None when
    it does not exist yet."""
    warehouse = platform.warehouse()
    if not warehouse.exists():
        yield None
        return
    with reading(warehouse) as reader:
        yield reader


def _no_warehouse(keys: Sequence[dg.AssetCheckKey]) -> Iterator[dg.AssetCheckResult]:
    for k in keys:
        yield check_result(
            k.asset_key,
            k.name,
            passed=False,
            description="the warehouse does not exist yet",
            metadata={},
        )


def _spec(key: dg.AssetKey, name: str, detail: str = "") -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name,
        asset=key,
        blocking=name in names.BLOCKING,
        description=names.DESCRIPTIONS[name] + (f" Rules: {detail}." if detail else ""),
        automation_condition=None if name in names.BLOCKING else AFTER_THE_BATCH,
    )


def _silver_table_checks(suite: TableSuite) -> dg.AssetChecksDefinition:
    key = silver_key(suite.table.name)
    specs = []
    for name in suite_check_names(suite):
        rules = [e.rule for e in suite.expectations if e.check == name]
        detail = ", ".join(rules) if name in (names.PAYER_RULES, names.CONTRACT_VALUES) else ""
        specs.append(_spec(key, name, detail))

    @dg.multi_asset_check(
        name=f"silver_{suite.table.name}_quality",
        specs=specs,
        can_subset=True,
        op_tags=QUALITY_TAGS,
        description=f"Contract suite (SQL in the warehouse; Great Expectations locally for the "
        f"warning checks) and ledger reconciliation of "
        f"silver.{suite.table.name}.",
    )
    def _check(context: dg.AssetCheckExecutionContext, platform: PlatformResource):
        selected = list(context.selected_asset_check_keys)
        with _reader(platform) as reader:
            if reader is None:
                yield from _no_warehouse(selected)
                return
            version = None
            recorded: dict[dg.AssetCheckKey, dg.AssetCheckResult] = {}
            suite_keys = [k for k in selected if k.name in suite.checks]
            after: list[str] = []
            try:
                version = warehouse_version(reader)
                latest = latest_evaluations(context.instance, suite_keys)
                recorded = recorded_suite_results(
                    context.instance, suite, suite_keys, version, latest
                )
                after = last_validated_batches(
                    {k: v for k, v in latest.items() if k not in recorded}
                )
            except QueryError:
                pass  # read_silver_table reports the unreadable warehouse
            except Exception as e:  # an instance that cannot list check history: validate
                context.log.warning(
                    f"recorded check results unavailable ({type(e).__name__}); validating"
                )
            todo = {k.name for k in selected if k not in recorded}
            finish = read_silver_table(reader, suite, todo, version, after) if todo else None
        # Locally the warning checks run in Great Expectations (Snowflake evaluates every
        # expectation in SQL): its import and validation take seconds, in which a batch could
        # commit, so they come after the warehouse is released, on the batch rows read above. A
        # run that loads nothing reuses the recorded results and never imports it.
        yield from recorded.values()
        if finish is not None:
            yield from _giving_way(context, finish)

    return _check


def _rejects_check() -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=REJECTS_KEY,
        name=names.REJECTS_BY_RULE,
        description=names.DESCRIPTIONS[names.REJECTS_BY_RULE],
        op_tags=QUALITY_TAGS,
        automation_condition=AFTER_THE_BATCH,
    )
    def _check(platform: PlatformResource) -> dg.AssetCheckResult:
        with _reader(platform) as reader:
            if reader is None:
                return next(_no_warehouse([dg.AssetCheckKey(REJECTS_KEY, names.REJECTS_BY_RULE)]))
            return evaluate_rejects(reader)

    return _check


def _gold_checks(
    contracts: dict[str, TableContract], gold_keys: set[dg.AssetKey]
) -> dg.AssetChecksDefinition | None:
    by_key = {k: c for c in contracts.values() if (k := gold_key(c)) in gold_keys}
    if not by_key:
        return None
    specs = [
        _spec(k, name)
        for k in by_key
        for name in (names.RECONCILES_WITH_SILVER, names.LAG_BEHIND_LANDING)
    ]

    @dg.multi_asset_check(
        name="gold_reconciliation",
        specs=specs,
        can_subset=True,
        op_tags=QUALITY_TAGS,
        description="Gold models of the contracts against the silver current state and the "
        "newest landed change.",
    )
    def _check(context: dg.AssetCheckExecutionContext, platform: PlatformResource):
        selected = list(context.selected_asset_check_keys)
        wanted: dict[dg.AssetKey, set[str]] = {}
        for k in selected:
            wanted.setdefault(k.asset_key, set()).add(k.name)
        with _reader(platform) as reader:
            if reader is None:
                yield from _no_warehouse(selected)
                return
            for key, check_names in sorted(wanted.items(), key=lambda kv: kv[0].to_user_string()):
                event = context.instance.get_latest_materialization_event(key)
                built = (
                    dt.datetime.fromtimestamp(event.timestamp, dt.UTC).replace(tzinfo=None)
                    if event
                    else None
                )
                yield from evaluate_gold(reader, by_key[key], check_names, built)

    return _check


def build_quality_checks(
    contracts: dict[str, TableContract], gold_keys: Sequence[dg.AssetKey] = ()
) -> list[dg.AssetChecksDefinition]:
    """Every data-quality check of the platform, from the contracts."""
    checks = [_silver_table_checks(s) for s in table_suites(contracts)]
    checks.append(_rejects_check())
    gold = _gold_checks(contracts, set(gold_keys))
    if gold is not None:
        checks.append(gold)
    return checks
