"""Every data-quality check passes on valid data and fails on data built to break it.

The checks are enumerated from the generated definitions, so a new check (a new contract rule, a
new check name) without a breaking case here fails `test_each_check_fails_on_data_built_to_break_it`.
Each case builds on a tiny warehouse made directly in DuckDB (no Spark, no dbt) and undoes its
damage by rolling back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from claims_platform.bronze.landing import LandedFile
from claims_platform.contracts import load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.environment import get_settings
from claims_platform.orchestration.definitions import defs
from claims_platform.orchestration.quality.checks import (
    BATCHES_VALIDATED,
    CHECK_HISTORY_PAGE,
    VALIDATED_IN_RUN,
    build_quality_checks,
    evaluate_gold,
    evaluate_rejects,
    evaluate_silver_table,
    gold_key,
    recorded_suite_results,
    warehouse_version,
)
from claims_platform.orchestration.resources import (
    AFTER_THE_BATCH_NICE,
    AFTER_THE_BATCH_TAG,
    PlatformResource,
)
from claims_platform.orchestration.silver.assets import REJECTS_KEY, silver_key
from claims_platform.quality import names, validate
from claims_platform.quality.pushdown import PUSHDOWN_TYPES
from claims_platform.quality.sql import ident
from claims_platform.quality.suites import TableSuite, table_suites
from claims_platform.quality.validate import ReadSuite, run_suite
from claims_platform.warehouse.duckdb import DuckDBReader, record_changed_files
from claims_platform.warehouse.ledger import Processed
from claims_platform_tests.quality import warehouse
from claims_platform_tests.quality.warehouse import BATCH, PHI_MARKER, PROCESSED_AT
from claims_platform_tests.support.instance import project_instance

CONTRACTS = load_contracts()
SUITES = {s.table.name: s for s in table_suites(CONTRACTS)}
GOLD = {gold_key(c): c for c in CONTRACTS.values() if gold_key(c) is not None}
CHECKS = build_quality_checks(CONTRACTS, warehouse.gold_keys(CONTRACTS))
CHECK_KEYS = sorted(
    (k for c in CHECKS for k in c.check_keys), key=lambda k: (k.asset_key.to_user_string(), k.name)
)
BLOCKING = {k for c in CHECKS for k in c.check_keys if c.get_spec_for_check_key(k).blocking}
GOLD_BUILT = PROCESSED_AT + dt.timedelta(minutes=1)


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("quality") / "warehouse.duckdb"
    connection = duckdb.connect(str(path))
    warehouse.build(connection, CONTRACTS)
    yield connection
    connection.close()


@pytest.fixture
def tx(con: duckdb.DuckDBPyConnection):
    """The warehouse inside a transaction that is rolled back after the test."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    finally:
        con.execute("ROLLBACK")


def evaluate(
    con: duckdb.DuckDBPyConnection, key: dg.AssetCheckKey, gold_built_at: dt.datetime = GOLD_BUILT
) -> dg.AssetCheckResult:
    if key.asset_key == REJECTS_KEY:
        return evaluate_rejects(DuckDBReader(con))
    if key.asset_key.path[0] == "silver":
        results = evaluate_silver_table(
            DuckDBReader(con), SUITES[key.asset_key.path[-1]], {key.name}
        )
    else:
        results = evaluate_gold(DuckDBReader(con), GOLD[key.asset_key], {key.name}, gold_built_at)
    [result] = results
    assert (result.asset_key, result.check_name) == (key.asset_key, key.name)
    return result


# ------------------------------------------------------------------------------------------
# breaking cases, by check name (each generic over the tables the check is generated for)


def _suite(key: dg.AssetCheckKey) -> TableSuite:
    return SUITES[key.asset_key.path[-1]]


def _table(key: dg.AssetCheckKey) -> str:
    return f"silver.{ident(key.asset_key.path[-1])}"


def _set(con: duckdb.DuckDBPyConnection, table: str, column: str, value: object) -> None:
    con.execute(f"UPDATE {table} SET {ident(column)} = ?", [value])


def _break_rule(con: duckdb.DuckDBPyConnection, suite: TableSuite, rule: str) -> None:
    """Make the table's rows break one generated rule (by its name)."""
    table = f"silver.{ident(suite.table.name)}"
    kind, _, column = rule.partition(":")
    if kind == "not_null":
        _set(con, table, column, None)
    elif kind == "accepted_values":
        _set(con, table, column, "NOT-AN-ACCEPTED-VALUE")
    elif kind == "pattern":
        _set(con, table, column, "!!")
    elif kind == "parent_change_exists":
        _set(con, table, "_change_id", "no-such-change")
    elif kind == "line_balance":
        _set(con, table, "paid_amt", 1)  # allowed 0 ≠ paid 1 + 0 + 0 + 0; billed 0 ≥ allowed 0
    elif kind == "billed_covers_allowed":
        _set(con, table, "billed_amt", -1)  # billed -1 < allowed 0; the balance still holds
    elif kind == "claim_totals_equal_lines":
        _set(con, table, column, 5)
    elif column and kind in warehouse.RULE_SAMPLES:
        _set(con, table, column, "!")  # no contract code rule accepts it
    else:
        raise AssertionError(f"no way to break rule {rule!r}: add one to _break_rule")


def _first_rule(key: dg.AssetCheckKey) -> str:
    return next(e.rule for e in _suite(key).expectations if e.check == key.name)


def _change_keys(con, key):
    suite = _suite(key)
    _set(con, _table(key), suite.key_columns[0], None)


def _change_order(con, key):
    _set(con, _table(key), "_op", "X")


def _contract_types(con, key):
    suite = _suite(key)
    column = next(
        n for n, t in suite.table.columns if not n.startswith("_") and t not in ("string", "json")
    )
    con.execute(f"ALTER TABLE {_table(key)} ALTER {ident(column)} TYPE VARCHAR")


def _contract_values(con, key):
    _break_rule(con, _suite(key), _first_rule(key))


def _payer_rules(con, key):
    _break_rule(con, _suite(key), _first_rule(key))


def _ledger_reconciles(con, key):
    con.execute(
        "UPDATE audit.file_ledger SET row_count = 2, rows_loaded = 2 WHERE table_name = ?",
        [_suite(key).contract.name],
    )


def _quarantined_files(con, key):
    contract = _suite(key).contract
    con.execute(
        "INSERT INTO audit.file_ledger (path, table_name, file_name, status, reason, row_count, "
        "rows_loaded, rows_rejected, _batch_id, processed_at) VALUES (?, ?, ?, 'quarantined', "
        "'empty file: no header row', 0, 0, 0, ?, ?)",
        [
            f"CLAIMS/{contract.name}/20240301-000000000.csv",
            contract.name,
            "x.csv",
            BATCH,
            PROCESSED_AT,
        ],
    )


def _processed_files_unchanged(con, key):
    # A DMS table reload rewrote a processed LOAD file with another size: the real detector.
    contract = _suite(key).contract
    path = f"CLAIMS/{contract.name}/LOAD00000001.csv"
    before = Processed(contract.name, 100, "c1", PROCESSED_AT, BATCH)
    listed = LandedFile(parse_path(path), 120, PROCESSED_AT + dt.timedelta(hours=1))
    assert record_changed_files(con, [(listed, before)])


def _rejects_by_rule(con, key):
    con.execute(
        "INSERT INTO restricted.rejects VALUES ('provider', 'CLAIMS/PROVIDER/LOAD00000001.csv', 2, "
        "'npi', 'CLAIMS/PROVIDER/LOAD00000001.csv row 2: NPI must be 10 digits with a valid "
        "check digit', ?, ?, ?)",
        [f'{{"NPI":"{PHI_MARKER}"}}', BATCH, PROCESSED_AT],
    )


def _reconciles_with_silver(con, key):
    con.execute(f"DELETE FROM gold.{ident(key.asset_key.path[-1])}")


def _lag_behind_landing(con, key):
    # A file processed after gold was last built, with changes 3 hours newer than gold holds.
    contract = GOLD[key.asset_key]
    con.execute(
        "INSERT INTO audit.file_ledger (path, table_name, file_name, status, row_count, "
        "rows_loaded, rows_rejected, last_change_at, _batch_id, processed_at) VALUES "
        "(?, ?, 'late.csv', 'processed', 0, 0, 0, ?, 'batch-0002', ?)",
        [
            f"CLAIMS/{contract.name}/20240301-130000000.csv",
            contract.name,
            warehouse.CHANGED_AT + dt.timedelta(hours=3),
            GOLD_BUILT + dt.timedelta(minutes=5),
        ],
    )


BREAKERS: dict[str, Callable[[duckdb.DuckDBPyConnection, dg.AssetCheckKey], None]] = {
    names.CHANGE_KEYS: _change_keys,
    names.CHANGE_ORDER: _change_order,
    names.CONTRACT_TYPES: _contract_types,
    names.CONTRACT_VALUES: _contract_values,
    names.PAYER_RULES: _payer_rules,
    names.LEDGER_RECONCILES: _ledger_reconciles,
    names.QUARANTINED_FILES: _quarantined_files,
    names.PROCESSED_FILES_UNCHANGED: _processed_files_unchanged,
    names.REJECTS_BY_RULE: _rejects_by_rule,
    names.RECONCILES_WITH_SILVER: _reconciles_with_silver,
    names.LAG_BEHIND_LANDING: _lag_behind_landing,
}


def _no_phi(result: dg.AssetCheckResult) -> None:
    text = repr(result.metadata) + (result.description or "")
    assert PHI_MARKER not in text, f"{result.check_name} shows a PHI value"


# ------------------------------------------------------------------------------------------


def test_every_check_passes_on_valid_data(con):
    results = [
        r for suite in SUITES.values() for r in evaluate_silver_table(DuckDBReader(con), suite)
    ]
    results.append(evaluate_rejects(DuckDBReader(con)))
    every = {names.RECONCILES_WITH_SILVER, names.LAG_BEHIND_LANDING}
    for contract in GOLD.values():
        results.extend(evaluate_gold(DuckDBReader(con), contract, every, GOLD_BUILT))
    assert {dg.AssetCheckKey(r.asset_key, r.check_name) for r in results} == set(CHECK_KEYS)
    failed = [
        f"{r.asset_key.to_user_string()}:{r.check_name}: {r.description}"
        for r in results
        if not r.passed
    ]
    assert failed == []


@pytest.mark.parametrize(
    "key", CHECK_KEYS, ids=lambda k: f"{k.asset_key.to_user_string()}:{k.name}"
)
def test_each_check_fails_on_data_built_to_break_it(tx, key: dg.AssetCheckKey):
    breaker = BREAKERS.get(key.name)
    assert breaker is not None, f"check {key.name!r} has no breaking case: add one to BREAKERS"
    breaker(tx, key)
    result = evaluate(tx, key)
    assert not result.passed, result.description
    expected = dg.AssetCheckSeverity.ERROR if key in BLOCKING else dg.AssetCheckSeverity.WARN
    assert result.severity == expected
    assert result.description
    _no_phi(result)


BLOCKING_SUITE_CHECKS = [k for k in CHECK_KEYS if k in BLOCKING and k.name in names.SUITE_BLOCKING]


@pytest.mark.parametrize(
    "key", BLOCKING_SUITE_CHECKS, ids=lambda k: f"{k.asset_key.to_user_string()}:{k.name}"
)
def test_blocking_checks_in_sql_report_what_great_expectations_reports(tx, key):
    """The blocking checks run as SQL (quality/pushdown.py); on data built to break them, every
    rule, count and sample row is the one Great Expectations reports on the same rows."""
    suite = SUITES[key.asset_key.path[-1]]
    assert {e.type for e in suite.expectations if e.check == key.name} <= PUSHDOWN_TYPES
    BREAKERS[key.name](tx, key)
    in_sql = run_suite(DuckDBReader(tx), suite, {key.name})
    in_gx = run_suite(DuckDBReader(tx), suite, {key.name}, engine="gx")
    assert in_sql.rows == in_gx.rows > 0
    assert in_sql.outcomes[key.name].failures, "the breaking case fails the check"
    # A null key of a sample row reads NaN through GX's pandas index; SQL says None.
    for failure in in_gx.outcomes[key.name].failures:
        failure.sample_rows = [
            {c: None if v != v else v for c, v in row.items()} for row in failure.sample_rows
        ]
    assert in_sql.outcomes == in_gx.outcomes


PAYER_RULE_CASES = [
    (suite, e.rule)
    for suite in SUITES.values()
    for e in suite.expectations
    if e.check == names.PAYER_RULES
]


@pytest.mark.parametrize(
    ("suite", "rule"), PAYER_RULE_CASES, ids=[f"{s.table.name}:{r}" for s, r in PAYER_RULE_CASES]
)
def test_each_payer_rule_is_enforced(tx, suite: TableSuite, rule: str):
    _break_rule(tx, suite, rule)
    [result] = evaluate_silver_table(DuckDBReader(tx), suite, {names.PAYER_RULES})
    assert not result.passed
    failed = result.metadata["failed_rules"].value
    assert failed == [rule], failed
    _no_phi(result)


def test_failing_rows_are_named_by_non_phi_keys_and_positions(tx):
    suite = SUITES["claim_line"]
    _break_rule(tx, suite, "cpt_hcpcs:procedure_code")
    [result] = evaluate_silver_table(DuckDBReader(tx), suite, {names.PAYER_RULES})
    [failure] = result.metadata["failures"].value
    assert failure["unexpected_rows"] == 1
    assert failure["sample_rows"] == [
        {
            "claim_id": "K1",
            "line_number": 1,
            "_source_file_name": "LOAD00000001.csv",
            "_row_number": 1,
        }
    ]
    member = SUITES["member"]
    assert "member_id" not in member.sample_columns  # MEMBER_ID is PHI (P)


def test_blocking_checks_are_the_ones_that_guard_gold():
    assert {k.name for k in BLOCKING} == set(names.BLOCKING)
    for k in CHECK_KEYS:
        if k.name in names.BLOCKING:
            assert k in BLOCKING, k


def test_the_definitions_carry_exactly_these_checks_with_freshness():
    from claims_platform.definitions import defs

    defined = {
        k
        for c in defs.asset_checks or []
        if c.node_def.tags.get("quality") == "data-quality"
        for k in c.check_keys
    }
    assert defined == set(CHECK_KEYS)
    graph = defs.resolve_asset_graph()
    for key in (dg.AssetKey(["silver", "claim"]), dg.AssetKey(["gold", "fct_claim"])):
        assert graph.get(key).freshness_policy is not None, key
    rejects = graph.get(REJECTS_KEY)
    assert rejects.tags.get("access") == "phi-restricted"
    assert "PHI-restricted" in (rejects.description or "")


# ------------------------------------------------------------------------------------------
# a batch is validated once: runs that find the warehouse unchanged carry the result over


def _suite_check_run(
    instance: dg.DagsterInstance, table: str, tags: dict[str, str] | None = None
) -> list[dg.AssetCheckEvaluation]:
    [checks] = [c for c in CHECKS if c.node_def.name == f"silver_{table}_quality"]
    result = dg.materialize(
        [dg.AssetSpec(silver_key(table)), checks],
        instance=instance,
        resources={"platform": PlatformResource()},
        selection=dg.AssetSelection.checks(checks),
        tags=tags,
    )
    assert result.success
    return result.get_asset_check_evaluations()


def _built_warehouse() -> Path:
    """The environment's DuckDB file with the platform's schemas and tables; its path."""
    path = get_settings().duckdb_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as built:
        warehouse.build(built, CONTRACTS)
    return path


def test_a_suite_result_is_carried_over_until_a_batch_commits(platform_env):
    path = _built_warehouse()
    table = "claim"
    suite = SUITES[table]
    with project_instance() as instance:
        first = {e.check_name: e for e in _suite_check_run(instance, table)}
        assert set(suite.checks) <= set(first)
        assert all(VALIDATED_IN_RUN not in first[c].metadata for c in suite.checks)
        validated_by = instance.get_run_records()[0].dagster_run.run_id

        # Nothing committed since: every suite result is the first run's, and says so; the
        # ledger checks (cheap, not GX) are evaluated again.
        second = {e.check_name: e for e in _suite_check_run(instance, table)}
        for check in suite.checks:
            assert second[check].metadata[VALIDATED_IN_RUN].value == validated_by
            assert second[check].passed == first[check].passed
            assert f"validated by run {validated_by[:8]}" in (second[check].description or "")
        assert VALIDATED_IN_RUN not in second[names.LEDGER_RECONCILES].metadata
        # A third run still names the run that validated, once.
        third = {e.check_name: e for e in _suite_check_run(instance, table)}
        for check in suite.checks:
            assert third[check].metadata[VALIDATED_IN_RUN].value == validated_by
            assert (third[check].description or "").count("validated by run") == 1

        # Runs created and never finished (killed before their checks ran) leave planned
        # records on top of the history, more than one page of it: the recorded result is still
        # the last completed one.
        [checks] = [c for c in CHECKS if c.node_def.name == f"silver_{table}_quality"]
        job = dg.Definitions(
            assets=[dg.AssetSpec(silver_key(table))],
            asset_checks=[checks],
            resources={"platform": PlatformResource()},
        ).resolve_implicit_global_asset_job_def()
        for _ in range(CHECK_HISTORY_PAGE + 2):
            instance.create_run_for_job(job_def=job)
        with duckdb.connect(str(path), read_only=True) as con:
            version = warehouse_version(DuckDBReader(con))
        keys = [dg.AssetCheckKey(silver_key(table), c) for c in suite.checks]
        newest = instance.event_log_storage.get_asset_check_execution_history(
            keys[0], limit=CHECK_HISTORY_PAGE + 1
        )
        assert len(newest) == CHECK_HISTORY_PAGE + 1
        assert not any(
            isinstance(r.event.dagster_event.event_specific_data, dg.AssetCheckEvaluation)
            for r in newest
            if r.event and r.event.dagster_event
        )
        assert set(recorded_suite_results(instance, suite, keys, version)) == set(keys)
        # An edited suite is not the recorded one.
        edited = dataclasses.replace(suite, expectations=suite.expectations[:-1])
        assert recorded_suite_results(instance, edited, keys, version) == {}

        # A batch commits (the audit row every commit writes): the suite validates again.
        with duckdb.connect(str(path)) as con:
            con.execute(
                "INSERT INTO audit.batches VALUES ('batch-0002', ?, 0, 0, 0, 0)",
                [PROCESSED_AT + dt.timedelta(hours=1)],
            )
        fourth = {e.check_name: e for e in _suite_check_run(instance, table)}
        assert all(VALIDATED_IN_RUN not in fourth[c].metadata for c in suite.checks)
        assert all(fourth[c].passed for c in suite.checks)


def _commit_batch(con: duckdb.DuckDBPyConnection, table: str, batch: str, hours: int) -> None:
    """A copy of the table's first row, from a file of its own, as a batch committed `hours`
    after the first (silver, the file's ledger entry, the batch's audit row)."""
    name = f"{batch.upper()}.csv"
    [(path,)] = con.execute(
        f"SELECT DISTINCT _source_file FROM silver.{ident(table)} WHERE _batch_id = ?", [BATCH]
    ).fetchall()
    new_path = path.rsplit("/", 1)[0] + "/" + name
    con.execute(
        f"INSERT INTO silver.{ident(table)} SELECT * REPLACE (? AS _change_id, ? AS _batch_id, "
        f"? AS _source_file, ? AS _source_file_name) "
        f"FROM silver.{ident(table)} WHERE _batch_id = ?",
        [f"chg-{batch}", batch, new_path, name, BATCH],
    )
    con.execute(
        "INSERT INTO audit.file_ledger SELECT * REPLACE (? AS path, ? AS file_name, "
        "? AS _batch_id) FROM audit.file_ledger WHERE path = ?",
        [new_path, name, batch, path],
    )
    con.execute(
        "INSERT INTO audit.batches VALUES (?, ?, 0, 0, 0, 0)",
        [batch, PROCESSED_AT + dt.timedelta(hours=hours)],
    )


def _break_in_batch(con: duckdb.DuckDBPyConnection, table: str, batch: str) -> None:
    """The batch's row breaks the table's first accepted-values rule (a warning check's)."""
    rules = (e.rule for e in SUITES[table].expectations if e.check == names.CONTRACT_VALUES)
    column = next(r for r in rules if r.startswith("accepted_values:")).partition(":")[2]
    con.execute(
        f"UPDATE silver.{ident(table)} SET {ident(column)} = 'NOT-AN-ACCEPTED-VALUE' "
        "WHERE _batch_id = ?",
        [batch],
    )


def test_a_suite_validates_every_batch_committed_since_the_last_it_validated(tx):
    """Checks after the batch may come once for several batches: a batch in the middle that
    breaks a rule is reported, not hidden by a clean newest one."""
    table = "member"
    suite = SUITES[table]
    _commit_batch(tx, table, "batch-0002", 1)
    _break_in_batch(tx, table, "batch-0002")
    _commit_batch(tx, table, "batch-0003", 2)
    reader = DuckDBReader(tx)
    values = {names.CONTRACT_VALUES}

    newest_only = run_suite(reader, suite, values)
    assert (
        newest_only.batch_ids == ["batch-0003"]
        and newest_only.outcomes[names.CONTRACT_VALUES].passed
    )

    since_first = run_suite(reader, suite, values, after=[BATCH])
    assert since_first.batch_ids == ["batch-0002", "batch-0003"]
    assert since_first.batch_id == "batch-0003" and since_first.rows == 2
    # The failure names its batch; its counts and rows are that batch's.
    [failure] = since_first.outcomes[names.CONTRACT_VALUES].failures
    assert (failure.rule, failure.batch_id) == ("accepted_values:relationship_code", "batch-0002")
    assert (failure.unexpected_rows, failure.rows_checked) == (1, 1)
    assert failure.sample_rows == [{"_source_file_name": "BATCH-0002.csv", "_row_number": 1}]
    # The same in SQL, and from the earliest of several recorded batches.
    in_sql = run_suite(reader, suite, values, engine="sql", after=["batch-0002", BATCH])
    assert in_sql.batch_ids == ["batch-0002", "batch-0003"]
    assert [f.as_metadata() for f in in_sql.outcomes[names.CONTRACT_VALUES].failures] == [
        failure.as_metadata()
    ]
    # Nothing committed since the last validated batch: the newest again, so the recorded
    # verdict stands until a batch passes.
    assert run_suite(reader, suite, values, after=["batch-0003"]).batch_ids == ["batch-0003"]


def test_a_backlog_of_batches_is_read_a_part_at_a_time(tx, monkeypatch):
    table = "member"
    suite = SUITES[table]
    for n in (2, 3, 4):
        _commit_batch(tx, table, f"batch-000{n}", n)
    reader = DuckDBReader(tx)
    values = {names.CONTRACT_VALUES}
    monkeypatch.setattr(validate, "MAX_FRAME_ROWS", 2)
    part = run_suite(reader, suite, values, after=[BATCH])
    assert (part.batch_ids, part.batch_id, part.batches_left) == (
        ["batch-0002", "batch-0003"],
        "batch-0003",
        1,
    )
    # The next run goes on from the newest batch validated; one batch always fits.
    monkeypatch.setattr(validate, "MAX_FRAME_ROWS", 0)
    rest = run_suite(reader, suite, values, after=[part.batch_id])
    assert (rest.batch_ids, rest.batches_left) == (["batch-0004"], 0)


def test_a_check_run_after_several_batches_validates_each_of_them(platform_env):
    path = _built_warehouse()
    table = "member"
    key = dg.AssetCheckKey(silver_key(table), names.CONTRACT_VALUES)
    with project_instance() as instance:
        first = {e.check_name: e for e in _suite_check_run(instance, table)}
        assert first[key.name].passed
        assert first[key.name].metadata[BATCHES_VALIDATED].value == [BATCH]

        # Two batches commit before the checks after them run: the first breaks a rule.
        with duckdb.connect(str(path)) as con:
            _commit_batch(con, table, "batch-0002", 1)
            _break_in_batch(con, table, "batch-0002")
            _commit_batch(con, table, "batch-0003", 2)
        second = {e.check_name: e for e in _suite_check_run(instance, table)}[key.name]
        assert not second.passed
        assert second.metadata[BATCHES_VALIDATED].value == ["batch-0002", "batch-0003"]
        assert "2 batches, the newest batch-0003 (2 rows)" in (second.description or "")

        # The next run validates what came after those two only.
        with duckdb.connect(str(path)) as con:
            _commit_batch(con, table, "batch-0004", 3)
        third = {e.check_name: e for e in _suite_check_run(instance, table)}[key.name]
        assert third.passed, third.description
        assert third.metadata[BATCHES_VALIDATED].value == ["batch-0004"]


def test_great_expectations_validates_after_the_warehouse_is_released(platform_env, monkeypatch):
    """A contract suite's check reads the batch under the warehouse's lock and releases it before
    Great Expectations is imported and validates (seconds, in which a batch can commit)."""
    from filelock import Timeout

    _built_warehouse()
    free_while_validating: list[bool] = []
    validate = ReadSuite.validate

    def validate_and_look(self: ReadSuite):
        def take() -> None:  # another thread waits for the lock as another process would
            try:
                with PlatformResource().warehouse().lock(timeout_s=0.5):
                    free_while_validating.append(True)
            except Timeout:
                free_while_validating.append(False)

        taker = threading.Thread(target=take)
        taker.start()
        taker.join()
        return validate(self)

    monkeypatch.setattr(ReadSuite, "validate", validate_and_look)
    with project_instance() as instance:
        results = {e.check_name: e for e in _suite_check_run(instance, "claim")}
    assert set(SUITES["claim"].checks) <= set(results)
    assert free_while_validating == [True]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's nice value: Linux")
def test_in_a_run_after_the_batch_great_expectations_gives_way_on_the_cpu(
    platform_env, monkeypatch
):
    """The automation sensors' runs (tag claims/after_the_batch) validate on a thread of lower
    CPU priority; the run's own thread, and a landing batch's run, keep theirs."""
    _built_warehouse()
    seen: list[int] = []
    validate = ReadSuite.validate

    def validate_and_look(self: ReadSuite):
        seen.append(os.getpriority(os.PRIO_PROCESS, 0))  # this thread's, on Linux
        return validate(self)

    monkeypatch.setattr(ReadSuite, "validate", validate_and_look)
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert own < AFTER_THE_BATCH_NICE
    tags = defs.resolve_sensor_def("gold_automation").run_tags
    assert tags[AFTER_THE_BATCH_TAG] == "true"
    for run_tags in (dict(tags), {"claims/new_files": "3"}):
        with project_instance() as instance:  # each validates afresh: no recorded result
            _suite_check_run(instance, "claim", tags=run_tags)
    assert seen == [AFTER_THE_BATCH_NICE, own]
    assert os.getpriority(os.PRIO_PROCESS, 0) == own


def test_a_suite_version_is_the_same_in_another_process():
    """Runs are processes: a version that followed the interpreter (a set's order under another
    hash seed) would never match a recorded result."""
    code = (
        "from claims_platform.contracts import load_contracts\n"
        "from claims_platform.quality.suites import table_suites\n"
        "print(' '.join(s.version for s in table_suites(load_contracts())))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout.split()
    assert other == [s.version for s in SUITES.values()]
    assert len(set(other)) == len(other)
