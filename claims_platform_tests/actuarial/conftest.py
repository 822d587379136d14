"""A simulated payer with a year of run-out, loaded into silver in two loads and built into gold,
with the actuarial marts built for several valuation months, for test_actuarial_marts.py (one
module: `--dist loadgroup` keeps a module on one worker, so the build happens once).

Silver is written from the simulator's truth files (changes dated before the last simulated
month, then the rest), gold is built with dbt after each load, and the actuarial models are
built per valuation month (`--vars valuation_month`), as Dagster's partitions build them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from claims_platform.simulator import simulate
from claims_platform_tests.gold.dbt_cli import run_dbt
from claims_platform_tests.gold.silver_changes import Silver
from claims_platform_tests.gold.truth_silver import silver_from_truth, write_silver
from claims_platform_tests.support import reference_model as ref

FIRST_LOAD_AT = "2024-02-01 06:00:00"
SECOND_LOAD_AT = "2024-03-01 06:00:00"
# The simulation runs 2024-01-01 .. 2024-02-14; the first load stops before February.
CUTOFF = datetime(2024, 2, 1)
CLOSED_MONTH = "2024-01-01"  # closed before the second load
CURRENT_MONTH = "2024-02-01"
BACKFILLED_MONTH = "2023-10-01"  # before the full load: rebuilt from the snapshot's dates
TRIANGLE_MONTHS = 24
HISTORY_MONTHS = 12


def stamp(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["dms_timestamp"])


def dbt_build(work: Path, database: Path, *args: str) -> None:
    result = run_dbt("build", work, database, *args)
    # dbt's output names models and tests; values appear only in compiled SQL, not here.
    assert result.returncode == 0, result.stdout[-4000:]


def build_valuation(work: Path, database: Path, month: str) -> None:
    dbt_build(
        work,
        database,
        "--select",
        "tag:actuarial",
        "--vars",
        json.dumps({"valuation_month": month}),
    )


def read_rows(database: Path, table: str, month: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        cursor = con.execute(
            f"select * from gold.{table} where valuation_month = ? order by all", [month]
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="package")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("actuarial")
    truth_dir = work / "truth"
    simulate(work / "landing", seed=11, members=250, days=45, history_days=300, truth_dir=truth_dir)
    events = ref.load_truth(truth_dir)
    database = work / "warehouse.duckdb"

    first = Silver()
    silver_from_truth(events, first, FIRST_LOAD_AT, keep=lambda e: stamp(e) < CUTOFF)
    write_silver(first, database)
    dbt_build(work, database)
    build_valuation(work, database, CLOSED_MONTH)
    closed_before = {
        t: read_rows(database, t, CLOSED_MONTH) for t in ("mart_paid_lag_triangle", "mart_ibnr")
    }

    second = Silver()
    silver_from_truth(events, second, SECOND_LOAD_AT, keep=lambda e: stamp(e) >= CUTOFF)
    write_silver(second, database)
    dbt_build(work, database)
    for month in (CLOSED_MONTH, CURRENT_MONTH, BACKFILLED_MONTH):
        build_valuation(work, database, month)
    return {"work": work, "database": database, "events": events, "closed_before": closed_before}
