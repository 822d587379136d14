"""Running the real platform in tests: the Dagster definitions, in-process or through the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support.instance import project_instance_home


def copy_checkout(target: Path) -> Path:
    """A copy of the package and its dbt project, without a dbt manifest (nor dbt's logs or
    packages): a parse there writes its own, not into the checkout other tests read meanwhile."""
    shutil.copytree(REPO_ROOT / "claims_platform", target / "claims_platform")
    shutil.copytree(
        REPO_ROOT / "dbt",
        target / "dbt",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    return target


def materialize_all(quality_checks: bool = True) -> dg.ExecuteInProcessResult:
    """Materialise every asset (bronze → silver → gold) in-process with every check of what it
    materialises: dbt tests and the data-quality checks (blocking ones gate gold), as the
    headless run does.

    `quality_checks=False` runs the assets only: no Great Expectations, reconciliation or dbt
    test (dagster-dbt then builds the models without their tests). For the CDC-logic tests that
    compare gold with the reference model batch after batch, where the checks cost as much as
    silver and are tested on their own (quality/, gold/test_dbt_gold, test_end_to_end,
    test_faults)."""
    return _materialize(dg.AssetSelection.all(), quality_checks)


def _materialize(
    selection: dg.AssetSelection,
    quality_checks: bool,
    instance: dg.DagsterInstance | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise `selection` of the platform's assets in-process, with the checks of what it
    materialises unless `quality_checks` is False."""
    from claims_platform.definitions import defs

    if not quality_checks:
        selection = selection.without_checks()
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(
        [*assets, *(defs.asset_checks or [])],
        selection=selection,
        instance=instance,
        resources=defs.resources,
        tags=tags,
        run_config=run_config or None,
        raise_on_error=True,
    )


class LandingBatches:
    """Runs the platform batch by batch as it runs when deployed: each `run()` ticks the landing
    sensor once (its cursor kept from the previous tick) and materialises exactly what the run
    request selects, in one Dagster instance configured by the project's dagster.yaml: bronze and silver of the tables with new files
    and the gold that reads them or is behind its silver. With `quality_checks=False` the checks
    are left out (see materialize_all)."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self._automation_cursor: Any = None
        # The project's dagster.yaml, as under `dagster dev`; the directory goes with this object.
        self._home = tempfile.TemporaryDirectory(prefix="dagster_home_")
        self.instance = dg.DagsterInstance.from_config(
            str(project_instance_home(Path(self._home.name)))
        )

    def run(self, quality_checks: bool = True) -> dg.ExecuteInProcessResult:
        from claims_platform.definitions import defs

        sensor = defs.resolve_sensor_def("landing_zone_sensor")
        # A context manager: the resources include a generator resource (dagster-pyspark's).
        with dg.build_sensor_context(
            instance=self.instance, resources=defs.resources, cursor=self.cursor
        ) as context:
            tick = sensor(context)
        assert isinstance(tick, dg.SensorResult), f"the sensor requested nothing: {tick}"
        (request,) = tick.run_requests
        self.cursor = tick.cursor
        selection = dg.AssetSelection.assets(*request.asset_selection).without_checks()
        if quality_checks:
            # The checks the request names: the blocking ones; the others run after the batch.
            selection |= dg.AssetSelection.checks(*request.asset_check_keys)
        return _materialize(
            selection,
            quality_checks=True,
            instance=self.instance,
            tags=dict(request.tags),
            # A landing batch: listing after the ledger's front, capped (silver/assets.py).
            run_config=request.run_config,
        )

    def after_the_batch(self) -> dg.ExecuteInProcessResult | None:
        """The checks the automation sensors would run now (the warning checks of what the
        batches changed, quality/checks.AFTER_THE_BATCH), run as one run; None if none is due."""
        from claims_platform.definitions import defs

        evaluation = dg.evaluate_automation_conditions(
            defs=defs,
            instance=self.instance,
            asset_selection=dg.AssetSelection.all_asset_checks(),
            cursor=self._automation_cursor,
        )
        self._automation_cursor = evaluation.cursor
        due = [
            r.key
            for r in evaluation.results
            if isinstance(r.key, dg.AssetCheckKey) and r.true_subset.size > 0
        ]
        if not due:
            return None
        return _materialize(dg.AssetSelection.checks(*due), True, instance=self.instance)


def environ_without_settings() -> dict[str, str]:
    """This process's environment minus every CLAIMS_* setting: a subprocess of a test sees only
    the settings the test gives it, never the developer's shell's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}


def headless_materialize(data_dir: Path, dagster_home: Path) -> subprocess.CompletedProcess:
    """CONTRACT §1's headless run, exactly as a user types it."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    env = environ_without_settings()
    env.update(CLAIMS_DATA_DIR=str(data_dir), DAGSTER_HOME=str(dagster_home))
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [
            str(bin_dir / "dagster"),
            "asset",
            "materialize",
            "-m",
            "claims_platform.definitions",
            "--select",
            "*",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def warehouse_state(duckdb_path: Path) -> dict[str, list[tuple]]:
    """Every row of every silver, audit and gold table, sorted: equal states are equal dicts."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('silver', 'gold', 'audit') AND table_type = 'BASE TABLE' "
            "ORDER BY ALL"
        ).fetchall()
        state = {}
        for schema, name in tables:
            cols = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                    [schema, name],
                ).fetchall()
                # Run bookkeeping differs between runs by design.
                if r[0] not in ("processed_at", "committed_at")
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f'SELECT {select} FROM {schema}."{name}"').fetchall()
            state[f"{schema}.{name}"] = sorted(rows, key=repr)
        return state
    finally:
        con.close()
