"""Capped batches and the landing reconciliation through Dagster, with the real silver step
(local Spark) in an instance configured by the project's dagster.yaml.

The landing sensor requests a run while a capped batch left files; a file landed late under a
key before its table's front loads in the next batch when the sensor saw it land (it names it
to the run), and otherwise (modification time older than the sensor's look-back) the daily
reconciliation job finds, reports and loads it; a reconciliation that finds nothing
materializes nothing."""

from __future__ import annotations

import csv
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from claims_platform.contracts import load_contracts
from claims_platform.orchestration.definitions import defs
from claims_platform.orchestration.silver.assets import FILES_LEFT_PENDING, silver_key
from claims_platform.orchestration.silver.reconcile import RECONCILE_JOB
from claims_platform.simulator import simulate
from claims_platform_tests.support.instance import project_instance

pytestmark = pytest.mark.slow

# Both sort before their table's front once the other files are loaded.
LATE_SEEN = "CLAIMS/MEMBER/20240101-230000000.csv"
LATE_UNSEEN = "CLAIMS/CLAIM/20240101-230000000.csv"
MEMBER = silver_key(load_contracts()["MEMBER"].silver_table)
CLAIM = silver_key(load_contracts()["CLAIM"].silver_table)


def _rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def _materialize_silver(instance: dg.DagsterInstance, request: dg.RunRequest) -> None:
    """The run the request asks for, its silver part (gold is not what this test is about)."""
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    silver = [k for k in request.asset_selection if k.path[0] == "silver"]
    dg.materialize(
        assets,
        selection=dg.AssetSelection.assets(*silver).without_checks(),
        instance=instance,
        resources=defs.resources,
        run_config=request.run_config or None,
        tags=dict(request.tags),
        raise_on_error=True,
    )


def test_capped_batches_continue_and_the_reconciliation_loads_a_late_file(
    platform_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("CLAIMS_MAX_BATCH_FILES", "8")
    sim = tmp_path / "sim"
    simulate(sim, seed=1, members=5, days=3, fmt="csv")
    landed = sorted(p.relative_to(sim).as_posix() for p in sim.rglob("*.csv"))
    assert {LATE_SEEN, LATE_UNSEEN} <= set(landed) and len(landed) == 20
    landing = platform_env / "landing"
    for path in landed:
        if path not in (LATE_SEEN, LATE_UNSEEN):
            (landing / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(sim / path, landing / path)

    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        cursor = None

        def tick() -> dg.SensorResult | dg.SkipReason:
            nonlocal cursor
            with dg.build_sensor_context(
                instance=instance, resources=defs.resources, cursor=cursor
            ) as context:
                result = sensor(context)
            if isinstance(result, dg.SensorResult):
                cursor = result.cursor
            return result

        # 18 files, at most 8 a batch: the sensor requests a run while files are left.
        left = []
        while isinstance(result := tick(), dg.SensorResult):
            (request,) = result.run_requests
            _materialize_silver(instance, request)
            event = instance.get_latest_materialization_event(MEMBER)
            left.append(event.asset_materialization.metadata[FILES_LEFT_PENDING].value)
            assert len(left) <= 4, "the sensor kept requesting runs"
        assert len(left) == 3, left

        def in_ledger(path: str) -> bool:
            with duckdb.connect(str(platform_env / "warehouse.duckdb"), read_only=True) as con:
                return con.execute(
                    "SELECT count(*) FROM audit.file_ledger WHERE path = ?", [path]
                ).fetchone() == (1,)

        # Landed late, under a key before MEMBER's front: the listing after the front does
        # not see it, the sensor does (a new modification time) and names it to the run.
        (landing / LATE_SEEN).write_bytes((sim / LATE_SEEN).read_bytes())
        result = tick()
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests
        assert request.run_config["ops"]["silver_change_tables"]["config"]["paths"] == [LATE_SEEN]
        _materialize_silver(instance, request)
        assert in_ledger(LATE_SEEN)

        # Landed late and made visible with a modification time older than the look-back
        # (a copy keeping its time): no tick sees it, no landing run lists it.
        target = landing / LATE_UNSEEN
        target.write_bytes((sim / LATE_UNSEEN).read_bytes())
        old = time.time() - 86400
        os.utime(target, (old, old))
        assert isinstance(tick(), dg.SkipReason)
        assert not in_ledger(LATE_UNSEEN)

        job = defs.resolve_job_def(RECONCILE_JOB)
        assert job.execute_in_process(instance=instance).success
        assert in_ledger(LATE_UNSEEN)
        claim = instance.get_latest_materialization_event(CLAIM)
        found = claim.asset_materialization.metadata["found_by_full_listing"].value
        assert found == [LATE_UNSEEN]

        # Nothing left to find: no materialization (gold is not rebuilt), an observation.
        materializations = len(instance.fetch_materializations(MEMBER, limit=100).records)
        assert job.execute_in_process(instance=instance).success
        assert len(instance.fetch_materializations(MEMBER, limit=100).records) == materializations
        (observation,) = instance.fetch_observations(MEMBER, limit=1).records
        metadata = observation.asset_observation.metadata
        assert metadata["files_found_by_full_listing"].value == 0
        assert metadata[FILES_LEFT_PENDING].value == 0
        assert tick().__class__ is dg.SkipReason

    # Every file loaded once, every row once.
    rows_in = {}
    for path in landed:
        rows_in[path.split("/")[1]] = rows_in.get(path.split("/")[1], 0) + _rows(sim / path)
    with duckdb.connect(str(platform_env / "warehouse.duckdb"), read_only=True) as con:
        attempts = con.execute(
            "SELECT path, count(*) FROM audit.file_attempts GROUP BY path"
        ).fetchall()
        assert sorted(attempts) == [(p, 1) for p in landed]
        assert con.execute(
            "SELECT count(*) FROM audit.file_ledger WHERE status <> 'processed'"
        ).fetchone() == (0,)
        by_table = dict(
            con.execute(
                "SELECT table_name, sum(rows_loaded + rows_rejected) FROM audit.file_ledger "
                "GROUP BY table_name"
            ).fetchall()
        )
        assert by_table == rows_in
        for name, contract in load_contracts().items():
            table = f'silver."{contract.silver_table}"'
            loaded, distinct = con.execute(
                f"SELECT count(*), count(DISTINCT (_source_file, _row_number)) FROM {table}"
            ).fetchone()
            expected = con.execute(
                "SELECT coalesce(sum(rows_loaded), 0) FROM audit.file_ledger WHERE table_name = ?",
                [name],
            ).fetchone()[0]
            assert loaded == distinct == expected, name
