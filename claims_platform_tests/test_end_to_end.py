"""Simulated Oracle/DMS source → bronze → silver (PySpark) → gold (dbt), checked against truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims_platform.simulator import simulate
from claims_platform_tests.quality.expected import assert_every_quality_check_passed
from claims_platform_tests.support.gold_compare import assert_surrogate_keys, diff_gold, read_gold
from claims_platform_tests.support.pipeline import (
    materialize_all,
)
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
