"""The actuarial code location: new gold requests the current valuation month only; the
location's lineage is reviewed. (A valuation month materialized through Dagster, its pictures
and its asset page: test_actuarial_marts.py, on the shared build.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from claims_platform_tests.support.instance import project_instance

SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "actuarial_asset_graph.json"
MARTS = ("mart_paid_lag_triangle", "mart_completion_factors", "mart_ibnr")


def test_new_gold_requests_the_current_valuation_month_only():
    from claims_platform.orchestration.actuarial.definitions import defs
    from claims_platform.orchestration.actuarial.partitions import valuation_months

    graph = defs.resolve_asset_graph()
    actuarial = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    upstream = {p for k in actuarial for p in graph.get(k).parent_keys} - actuarial
    assert dg.AssetKey(["gold", "staging", "stg_silver__claim"]) in upstream
    with project_instance() as instance:
        # the first evaluation only records the state (Dagster's initial evaluation handles all)
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert result.total_requested == 0
        for key in upstream:
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        latest = valuation_months.get_last_partition_key()
        for key in actuarial:
            assert result.get_requested_partitions(key) == {latest}, key
        # nothing more until gold changes again; then the current month again, no other
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        assert result.total_requested == 0
        instance.report_runless_asset_event(
            dg.AssetMaterialization(dg.AssetKey(["gold", "staging", "stg_silver__claim"]))
        )
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=result.cursor
        )
        for key in actuarial:
            assert result.get_requested_partitions(key) == {latest}, key


def _graph_snapshot() -> dict:
    from claims_platform.orchestration.actuarial.definitions import defs

    graph = defs.resolve_asset_graph()
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue  # the platform location's gold, read here
        out[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "partitioned": node.partitions_def is not None,
            "checks": sorted(c.name for c in graph.get_check_keys_for_assets({key})),
        }
    return out


def test_actuarial_asset_graph_matches_the_reviewed_snapshot():
    """Regenerate with UPDATE_SNAPSHOTS=1 after a lineage change you meant to make."""
    current = _graph_snapshot()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())
    assert set(current) == {f"gold/{name}" for name in MARTS}
    for node in current.values():
        assert node["group"] == "actuarial" and node["partitioned"]
        assert node["owners"] == ["team:actuarial"]
