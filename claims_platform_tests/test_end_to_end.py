"""Simulated Oracle/DMS source → bronze → silver (PySpark) → gold (dbt), checked against truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from claims_platform.contracts import load_contracts
from claims_platform.simulator import simulate, write_dms_file
from claims_platform_tests.quality.expected import assert_every_quality_check_passed
from claims_platform_tests.support.gold_compare import assert_surrogate_keys, diff_gold, read_gold
from claims_platform_tests.support.pipeline import LandingBatches, materialize_all
from claims_platform_tests.support.reference_model import expected_gold, load_truth

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("fmt", "seed", "options"),
    [
        ("csv", 11, {}),
        ("csv.gz", 12, {"date_partitioned": True, "full_load_op": True}),
        ("parquet", 13, {"include_change_seq": False, "key_only_deletes": False}),
    ],
)
def test_gold_equals_the_source_truth(platform_env: Path, fmt, seed, options):
    truth = platform_env.parent / "truth"
    simulate(
        platform_env / "landing",
        seed=seed,
        members=40,
        days=12,
        fmt=fmt,
        truth_dir=truth,
        **options,
    )
    result = materialize_all()
    assert result.success
    gold = read_gold(platform_env / "warehouse.duckdb")
    problems = diff_gold(expected_gold(load_truth(truth)), gold)
    assert problems == [], "\n".join(problems)
    assert_surrogate_keys(gold)
    checks = result.get_asset_check_evaluations()
    assert checks, "dbt tests ran as asset checks"
    failed = [
        c.asset_check_key.name for c in checks if not c.passed and c.severity.value == "ERROR"
    ]
    assert failed == []
    # Clean simulator data: every data-quality check passes, warnings included.
    assert_every_quality_check_passed(result)


def test_a_batch_of_one_table_builds_its_gold_only_and_still_tests_its_relationships(
    platform_env: Path,
):
    """As deployed: the landing sensor's run requests, one after another in one instance. A
    claim-line batch builds the gold that reads claim lines and leaves the member, plan and
    provider dimensions and the claim headers alone; the relationships test from fct_claim_line
    to fct_claim (a model the batch does not build) still runs, after the batch (it is a warning
    test), and finds the orphan line."""
    simulate(platform_env / "landing", seed=14, members=20, days=6)
    batches = LandingBatches()
    assert batches.run().success  # a new instance: every model, none is built yet
    con = duckdb.connect(str(platform_env / "warehouse.duckdb"), read_only=True)
    try:
        cursor = con.execute(
            "select * from gold.fct_claim_line order by claim_id, line_number limit 1"
        )
        names = [d[0] for d in cursor.description]
        line = dict(zip(names, cursor.fetchone(), strict=True))
        latest = con.execute("select max(_dms_timestamp) from silver.claim_line").fetchone()[0]
    finally:
        con.close()
    contract = load_contracts()["CLAIM_LINE"]
    values = {c.name: line.get(c.name.lower()) for c in contract.columns}
    values |= {"CLAIM_ID": "C_NO_SUCH_CLAIM", "ADJUSTMENTS": "[]"}
    when = latest + dt.timedelta(minutes=1)
    write_dms_file(
        platform_env / "landing" / f"CLAIMS/CLAIM_LINE/{when:%Y%m%d-%H%M%S}000.csv",
        contract,
        [
            {
                "op": "I",
                "dms_timestamp": when.isoformat(sep=" "),
                "change_seq": None,
                "values": values,
            }
        ],
    )

    batches.after_the_batch()  # the first batch's warning checks, as the sensors run them
    result = batches.run()
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"silver/claim_line", "gold/fct_claim_line", "gold/mart_claim_lag"} <= built
    assert not built & {"gold/dim_member", "gold/dim_plan", "gold/dim_provider", "gold/fct_claim"}

    def orphan_checks(run: dg.ExecuteInProcessResult) -> list[dg.AssetCheckEvaluation]:
        return [
            c
            for c in run.get_asset_check_evaluations()
            if c.asset_key.to_user_string() == "gold/fct_claim_line"
            and c.asset_check_key.name.startswith("relationships_fct_claim_line_claim_id")
        ]

    # A warning test: not in the batch's run (gold does not wait for it), but in the run of
    # warning checks after it, which the batch's new gold makes due.
    assert orphan_checks(result) == []
    after = batches.after_the_batch()
    assert after is not None and after.success
    (orphans,) = orphan_checks(after)
    assert not orphans.passed
    assert orphans.severity == dg.AssetCheckSeverity.WARN
