"""The production configuration end to end (issue 14): `CLAIMS_ENV=prod` against real protocol
servers started by the test (support/prod.py).

What is real: the platform's code, unchanged, in the production configuration; boto3 against
moto's server for S3 (SSE-KMS), KMS, Secrets Manager and CloudWatch Logs; the Glue job created by
the production deploy code; dagster-aws's `PipesGlueClient` with the S3 context injector and the
CloudWatch message reader; the silver script run with the arguments Glue gives it (no CLAIMS_*
variable, the tokenization key read from Secrets Manager); snowflake-connector-python
(dagster-snowflake) and dbt-snowflake against fakesnow's Snowflake server, dbt through the real
`prod` target of dbt/profiles.yml; the code location loads the dbt manifest prepared as the
image prepares it (support/prod.py `image_checkout`).

What is emulated: only the Glue job-run API is stood in for (support/glue_standin.py: StartJobRun
runs the deployed script on this machine's Spark); Snowflake's SQL runs on fakesnow (DuckDB), and
the statements fakesnow cannot run as Snowflake does are taught to it in the test's server
process (support/prod.py lists them); each such statement, and every statement the platform
itself sends, is shown to be Snowflake SQL here.

`test_prod_headless_runs_load_snowflake_exactly_once` (four headless runs: batch 1; batch 2
killed inside its commit transaction; batch 2 again, after the dead writer's lease expired, 6 s
here; a run with nothing new; then a branch deployment's clone and run, ~100 s more) took 244-254 s alone on this 2-core machine and 305 s in a full
clean-clone run of the suite: per run, the Glue step ~20 s (Spark start, and PipesGlueClient
polls every 5 s) and dbt's build on the emulator, which the run with nothing new also pays.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from claims_platform_tests.support import prod
from claims_platform_tests.warehouse.snowflake_sql import problems

pytestmark = pytest.mark.slow


def _taught_statements_are_snowflake_sql(stack: prod.ProdStack) -> dict[str, int]:
    """Every statement the emulator was taught, and every statement the platform sent (dbt's
    are test_snowflake_dbt.py's), is valid Snowflake SQL; the taught ones counted per rule."""
    taught = stack.snowflake.taught()
    found = []
    for number, item in enumerate(taught):
        found += problems(item["sql"], f"taught statement {number} ({item['rule']})")
    for number, sql in enumerate(stack.snowflake.platform_statements()):
        found += [f"{p}: {sql[:300]}" for p in problems(sql, f"platform statement {number}")]
    assert found == [], "\n".join(found)
    counts: dict[str, int] = {}
    for item in taught:
        counts[item["rule"]] = counts.get(item["rule"], 0) + 1
    return counts


def test_each_lesson_taught_to_the_emulator_gives_what_snowflake_gives(tmp_path: Path):
    """support/prod.py's lessons, one statement each, through the connector; every taught
    statement is recorded and is Snowflake SQL."""
    from decimal import Decimal

    with (
        prod.moto_server() as moto,
        prod.snowflake_emulator(moto, tmp_path) as emulator,
        contextlib.closing(emulator.connect("LESSONS")) as connection,
    ):
        cursor = connection.cursor()
        cursor.execute("create schema if not exists LESSONS.S")
        cursor.execute("create or replace temporary table LESSONS.S.T__dbt_tmp as (select 1 as a)")
        cursor.execute("select a from LESSONS.S.T__dbt_tmp")
        assert cursor.fetchall() == [(1,)]
        cursor.execute(
            "create table LESSONS.S.AMOUNTS (changed_at timestamp_ntz, amount number(12,2))"
        )
        cursor.execute(
            "insert into LESSONS.S.AMOUNTS values (null, 0.1), ('2024-01-01 10:00:00', 0.2)"
        )
        cursor.execute(
            "select sum(amount), max(changed_at), min(changed_at) from LESSONS.S.AMOUNTS"
        )
        assert cursor.fetchall() == [
            (Decimal("0.30"), dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 10))
        ]
        cursor.execute("select changed_at from LESSONS.S.AMOUNTS order by amount")
        assert cursor.fetchall() == [(None,), (dt.datetime(2024, 1, 1, 10),)]
        sequence = "20240102192653000000000000000000031"  # a DMS AR_H_CHANGE_SEQ: 35 digits
        cursor.execute(f"select cast('{sequence}' as decimal(38, 0))")
        assert cursor.fetchall() == [(int(sequence),)]
        cursor.execute(
            "create masking policy if not exists LESSONS.S.P as (val varchar) returns varchar"
            " -> case when is_role_in_session('PHI_READER') then val else null end comment = 'x'"
        )
        taught = {item["rule"] for item in emulator.taught()}
        found = [p for item in emulator.taught() for p in problems(item["sql"], item["rule"])]
    assert taught == {
        "temporary-relation",
        "exact-numeric-aggregate",
        "wide-number-cast",
        "no-op",
    }
    assert found == []


def test_the_snowflake_endpoint_variables_render_nothing_when_unset(monkeypatch):
    """dbt/profiles.yml's host, port and protocol: absent (as before they existed) unless set."""
    from claims_platform_tests.warehouse.test_profiles import _credentials

    for name in ("SNOWFLAKE_HOST", "SNOWFLAKE_PORT", "SNOWFLAKE_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    for target in ("branch", "prod"):
        credentials = _credentials(target, {}, monkeypatch)
        assert (credentials.host, credentials.port, credentials.protocol) == (None, None, None)
        assert not {"host", "port", "protocol"} & set(credentials.auth_args())
    endpoint = {
        "SNOWFLAKE_HOST": "127.0.0.1",
        "SNOWFLAKE_PORT": "8123",
        "SNOWFLAKE_PROTOCOL": "http",
    }
    for target in ("branch", "prod"):
        credentials = _credentials(target, endpoint, monkeypatch)
        assert (credentials.host, credentials.port, credentials.protocol) == (
            "127.0.0.1",
            8123,
            "http",
        )


# --- the headless run in prod ------------------------------------------------------------------

KILL_POINT = "silver.commit.ledger_inserted"  # inside the commit transaction, before COMMIT


def _silver_tables(stack: prod.ProdStack) -> dict[str, str]:
    """`<schema>.<table>` of every silver change table and restricted table → its name."""
    rows = stack.query(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('SILVER', 'RESTRICTED') and table_type = 'BASE TABLE'"
    )
    return {f'{r["table_schema"]}."{r["table_name"]}"': r["table_name"] for r in rows}


def _warehouse_state(stack: prod.ProdStack) -> dict[str, object]:
    """Row counts of every silver, restricted and audit table: equal after a run that must
    change nothing."""
    state: dict[str, object] = {}
    names = stack.query(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('SILVER', 'RESTRICTED', 'AUDIT') and table_type = 'BASE TABLE'"
        " and table_name <> 'COMMIT_LOCK'"
    )
    with stack.connect() as connection:
        cursor = connection.cursor()
        for r in names:
            cursor.execute(f'select count(*) from {r["table_schema"]}."{r["table_name"]}"')
            state[f"{r['table_schema']}.{r['table_name']}"] = cursor.fetchone()[0]
    return state


def _exactly_once_problems(stack: prod.ProdStack, landed: list[str]) -> list[str]:
    """support/crash.py's exactly-once invariants, read from Snowflake: every landed file in the
    ledger once and nothing else; every batch once, with ledger rows; no silver row twice; each
    file's silver rows as many as its ledger row says, all from its ledger row's batch."""
    from collections import Counter

    problems: list[str] = []
    ledger = stack.query("select path, _batch_id, status, rows_loaded from AUDIT.FILE_LEDGER")
    counts = Counter(r["path"] for r in ledger)
    problems += [f"{p} is in the ledger {counts[p]} times" for p in landed if counts[p] != 1]
    problems += [f"the ledger holds {p}, never landed" for p in sorted(set(counts) - set(landed))]
    batches = Counter(r["_batch_id"] for r in stack.query("select _batch_id from AUDIT.BATCHES"))
    problems += [f"batch {b} is in AUDIT.BATCHES {n} times" for b, n in batches.items() if n != 1]
    problems += [
        f"ledger rows of batch {b}, which AUDIT.BATCHES does not have"
        for b in sorted({r["_batch_id"] for r in ledger} - set(batches))
    ]
    loaded: Counter[tuple[str, str]] = Counter()
    with stack.connect() as connection:
        cursor = connection.cursor()
        for table in _silver_tables(stack):
            if not table.startswith("SILVER."):
                continue
            cursor.execute(f"select * from {table} limit 0")
            columns = {d[0].lower() for d in cursor.description}
            if not {"_source_file", "_row_number", "_batch_id"} <= columns:
                continue
            cursor.execute(
                f"select _source_file, _row_number, count(*) from {table}"
                " group by _source_file, _row_number having count(*) > 1 limit 5"
            )
            problems += [f"{table}: row {r} of {f} is there {n} times" for f, r, n in cursor]
            cursor.execute(
                f"select _source_file, _batch_id, count(*) from {table}"
                " group by _source_file, _batch_id"
            )
            for file, batch, n in cursor:
                loaded[(file, batch)] += n
    expected = {(r["path"], r["_batch_id"]): r["rows_loaded"] for r in ledger if r["rows_loaded"]}
    if dict(loaded) != expected:
        wrong = sorted(set(loaded.items()) ^ set(expected.items()))[:5]
        problems.append(f"silver rows per (file, batch) differ from the ledger's: {wrong}")
    return problems


def _assert_gold_is_the_reference(stack: prod.ProdStack, truth: Path) -> None:
    from claims_platform_tests.support.gold_compare import assert_surrogate_keys, diff_gold
    from claims_platform_tests.support.reference_model import expected_gold, load_truth

    gold = prod.read_gold(stack)
    expected = expected_gold(load_truth(truth), tokenization_key=prod.TOKENIZATION_KEY)
    differences = diff_gold(expected, gold)
    assert differences == [], "\n".join(differences)
    assert_surrogate_keys(gold)


def _assert_gold_carries_column_schema_and_lineage(stack: prod.ProdStack) -> None:
    """Each built model's column schema, fetched from Snowflake while dbt builds (streamed
    outside local) through the relation the image's manifest names, is on its materialization,
    and so is its column lineage, down to silver (the image's manifest names relations without
    the database the compiled SQL names: governance/dbt_lineage.with_build_manifest)."""
    import dagster as dg

    staging = dg.AssetKey(["gold", "staging", "stg_silver__claim"])
    with dg.DagsterInstance.from_config(stack.env["DAGSTER_HOME"]) as instance:
        events = {
            key: instance.get_latest_materialization_event(key)
            for key in (dg.AssetKey(["gold", "fct_claim"]), staging)
        }
    for key, event in events.items():
        assert event is not None and event.asset_materialization is not None, key
    fact, stage = (events[k].asset_materialization.metadata for k in events)
    assert "dagster/column_schema" in fact, sorted(fact)
    schema = fact["dagster/column_schema"].value
    assert "_source_change_at" in {c.name.lower() for c in schema.columns}, schema

    def deps(metadata: Any, column: str) -> dict[dg.AssetKey, str]:
        lineage = metadata["dagster/column_lineage"].value
        return {d.asset_key: d.column_name for d in lineage.deps_by_column[column]}

    assert deps(fact, "_source_file") == {staging: "_source_file"}
    assert deps(fact, "_source_change_at") == {staging: "_dms_timestamp"}
    assert deps(stage, "_change_id") == {dg.AssetKey(["silver", "claim"]): "_change_id"}


PULL_REQUEST = "42"


def _branch_deployment_builds_in_its_clone_and_leaves_production_alone(
    stack: prod.ProdStack, source: Path, truth: Path, landed: list[str]
) -> None:
    """A Dagster+ branch deployment of a pull request, end to end: CI creates the pull
    request's Snowflake clone with the platform's own command, then a headless run (Dagster+'s
    branch variables, nothing else changed) reads the production landing zone, writes the lake
    only under `branches/<id>/`, and loads and builds gold in `<DB>_CLONE_<id>` alone.

    The clone holds production's tables and its lake stage, as Snowflake's zero-copy clone does
    (support/snowflake.py teaches fakesnow that): the stage still reads production's lake and the
    ledger names every file production loaded. The branch run loads only the files landed since,
    from its own lake, and its gold equals the reference model of everything landed."""
    import dataclasses

    from claims_platform.simulator import simulate

    branch_vars = {
        "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1",
        "DAGSTER_CLOUD_PULL_REQUEST_ID": PULL_REQUEST,
    }
    clone = f"{prod.DATABASE}_CLONE_{PULL_REQUEST}"
    env = stack.run_environ("branch-clone", branch_vars)
    created = subprocess.run(
        [sys.executable, "-m", "claims_platform.orchestration.ops.branch_clones", "create"],
        cwd=stack.checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr[-4000:]

    simulate(source, seed=47, members=20, days=8, truth_dir=truth)
    third = stack.land(source)
    assert third and not set(third) & set(landed)
    production = _warehouse_state(stack), prod.read_gold(stack)
    loaded_by_production = _ledger_batches(stack)
    lake = stack.client("s3")

    def lake_keys() -> set[str]:
        pages = lake.get_paginator("list_objects_v2").paginate(Bucket=stack.lake_bucket)
        return {o["Key"] for page in pages for o in page.get("Contents", [])}

    before = lake_keys()
    code, output = stack.materialize("branch", branch_vars)
    assert code == 0, output[-8000:]
    written = lake_keys() - before
    assert written and all(k.startswith(f"claims/branches/{PULL_REQUEST}/") for k in written), (
        sorted(written)[:5]
    )
    assert (_warehouse_state(stack), prod.read_gold(stack)) == production, "production unchanged"
    branch = dataclasses.replace(stack, env={**stack.env, "SNOWFLAKE_DATABASE": clone})
    _assert_gold_is_the_reference(branch, truth)
    assert _exactly_once_problems(branch, landed + third) == []
    in_clone = _ledger_batches(branch)
    assert {p: in_clone[p] for p in landed} == loaded_by_production, "loaded again in the clone"
    assert not {in_clone[p] for p in third} & set(loaded_by_production.values())


def _ledger_batches(stack: prod.ProdStack) -> dict[str, str]:
    return {
        r["path"]: r["_batch_id"]
        for r in stack.query("select path, _batch_id from AUDIT.FILE_LEDGER")
    }


def test_prod_headless_runs_load_snowflake_exactly_once(tmp_path: Path):
    from claims_platform.simulator import simulate
    from claims_platform_tests.support.instance import project_instance_home

    started = time.monotonic()
    source = tmp_path / "dms"
    truth_1, truth_2 = tmp_path / "truth_1", tmp_path / "truth_2"
    # Days 1-3, then days 4-6: the same seed writes the same files, and only the new ones.
    simulate(source, seed=47, members=20, days=3, truth_dir=truth_1)
    with prod.prod_stack(tmp_path / "stack") as stack:
        project_instance_home(Path(stack.env["DAGSTER_HOME"]))
        first = stack.land(source)

        code, output = stack.materialize("batch-1")
        assert code == 0, output[-8000:]
        _assert_gold_is_the_reference(stack, truth_1)
        assert _exactly_once_problems(stack, first) == []
        _assert_gold_carries_column_schema_and_lineage(stack)

        simulate(source, seed=47, members=20, days=6, truth_dir=truth_2)
        second = stack.land(source)
        assert second and not set(second) & set(first)
        before = _warehouse_state(stack)
        checkpoints = tmp_path / "killed.checkpoints"
        code, output = stack.materialize(
            "batch-2-killed",
            {"CLAIMS_FAULT_KILL_AT": KILL_POINT, "CLAIMS_FAULT_LOG": str(checkpoints)},
        )
        assert code == -signal.SIGKILL, output[-8000:]
        assert checkpoints.read_text().splitlines()[-1] == KILL_POINT
        # Its transaction is still open in its session (a killed client's, detached); the
        # next writer aborts that session once the lease expires (CLAIMS_SNOWFLAKE_LEASE_SECONDS).
        assert _warehouse_state(stack) == before, "the killed commit shows nothing"

        code, output = stack.materialize("batch-2")
        assert code == 0, output[-8000:]
        _assert_gold_is_the_reference(stack, truth_2)
        assert _exactly_once_problems(stack, first + second) == []

        settled, glue_runs = _warehouse_state(stack), len(stack.glue.runs)
        code, output = stack.materialize("nothing-new")
        assert code == 0, output[-8000:]
        assert _warehouse_state(stack) == settled, "a run with nothing new loads nothing"
        assert len(stack.glue.runs) == glue_runs, "and starts no Glue job"
        assert glue_runs == 3  # batch 1, the killed run's batch 2, batch 2 again
        assert all(r.state == "SUCCEEDED" for r in stack.glue.runs.values())

        _branch_deployment_builds_in_its_clone_and_leaves_production_alone(
            stack, source, tmp_path / "truth_3", first + second
        )
        taught = _taught_statements_are_snowflake_sql(stack)
    assert taught.get("temporary-relation"), "incremental models ran their merge path"
    print(f"\nprod end to end: {time.monotonic() - started:.0f} s, taught statements {taught}")
