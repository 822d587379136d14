"""What a pipeline run on clean simulator data must show of the data-quality checks."""

from __future__ import annotations

import dagster as dg


def quality_check_keys() -> set[dg.AssetCheckKey]:
    from claims_platform.definitions import defs

    return {
        k
        for c in defs.asset_checks or []
        if c.node_def.tags.get("quality") == "data-quality"
        for k in c.check_keys
    }


def assert_every_quality_check_passed(result: dg.ExecuteInProcessResult) -> None:
    """Every data-quality check ran in the run and passed (warnings included)."""
    evaluations = {e.asset_check_key: e for e in result.get_asset_check_evaluations()}
    expected = quality_check_keys()
    missing = sorted(k.to_user_string() for k in expected - evaluations.keys())
    assert missing == [], f"quality checks that did not run: {missing}"
    failed = sorted(
        f"{k.to_user_string()}: {evaluations[k].description}"
        for k in expected
        if not evaluations[k].passed
    )
    assert failed == [], "\n".join(failed)
