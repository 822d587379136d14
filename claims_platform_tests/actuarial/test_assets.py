"""The actuarial code location: a valuation month materializes through Dagster (dbt with the
partition's var, the dbt tests as checks) with pictures and plotted numbers in its metadata;
new gold requests the current valuation month only; the location's lineage is reviewed."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest

from claims_platform_tests.actuarial.conftest import CURRENT_MONTH, read_rows
from claims_platform_tests.conftest import REPO_ROOT

SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "actuarial_asset_graph.json"
MARTS = ("mart_paid_lag_triangle", "mart_completion_factors", "mart_ibnr")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _project_instance(home: Path) -> dg.DagsterInstance:
    """An instance configured by the project's own dagster.yaml (pools, run monitoring)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


@pytest.fixture(scope="module")
def materialized(built, tmp_path_factory):
    """The current valuation month materialized through Dagster, on an instance configured by
    the project's dagster.yaml."""
    home = tmp_path_factory.mktemp("actuarial_dagster_home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLAIMS_ENV", "local")
        env.setenv("CLAIMS_DATA_DIR", str(home.parent / "actuarial_data"))
        env.setenv("CLAIMS_DUCKDB_PATH", str(built["database"]))
        from claims_platform.actuarial.definitions import defs

        assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
        with _project_instance(home) as instance:
            result = dg.materialize(
                assets, partition_key=CURRENT_MONTH, resources=defs.resources, instance=instance
            )
        yield {"result": result, "home": home}


@pytest.mark.slow
@pytest.mark.xdist_group("actuarial")
def test_a_valuation_month_materializes_with_pictures(built, materialized):
    result = materialized["result"]
    assert result.success
    materializations = {m.asset_key.path[-1]: m for m in result.get_asset_materialization_events()}
    assert set(MARTS) <= set(materializations)
    for name in MARTS:
        event = materializations[name].event_specific_data.materialization
        assert event.partition == CURRENT_MONTH
        metadata = event.metadata
        charts = [v.value for v in metadata.values() if isinstance(v, dg.MarkdownMetadataValue)]
        images = [m for text in charts for m in re.findall(r"base64,([A-Za-z0-9+/=]+)\)", text)]
        assert images and all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images), name
        assert metadata["rows"].value == len(read_rows(built["database"], name, CURRENT_MONTH))
        # nothing in the pictures or numbers names a member or a claim
        text = json.dumps({k: str(v.value) for k, v in metadata.items()})
        assert not re.search(r"\bC\d{8}\b|\bM\d{6,}\b", text), name
    ibnr = materializations["mart_ibnr"].event_specific_data.materialization.metadata
    expected = sum(r["ibnr"] for r in read_rows(built["database"], "mart_ibnr", CURRENT_MONTH))
    assert ibnr["ibnr_total"].value == pytest.approx(expected)
    for key in (
        "latest_month_ultimate_pmpm",
        "latest_month_completion",
        "estimated_ultimate_total",
    ):
        assert isinstance(ibnr[key], dg.FloatMetadataValue), key
    factors = materializations["mart_completion_factors"].event_specific_data.materialization
    assert factors.metadata["method"].value == "volume-weighted chain ladder"
    assert factors.metadata["history_months"].value == 12
    # the dbt tests ran as checks of the partition: none failed
    evaluations = result.get_asset_check_evaluations()
    names = {e.check_name for e in evaluations}
    assert "assert_paid_lag_triangle_reconciles" in names
    assert all(e.passed or e.severity == dg.AssetCheckSeverity.WARN for e in evaluations), [
        e.check_name for e in evaluations if not e.passed
    ]


def test_new_gold_requests_the_current_valuation_month_only():
    from claims_platform.actuarial.definitions import defs
    from claims_platform.actuarial.partitions import valuation_months

    graph = defs.resolve_asset_graph()
    actuarial = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    upstream = {p for k in actuarial for p in graph.get(k).parent_keys} - actuarial
    assert dg.AssetKey(["gold", "staging", "stg_silver__claim"]) in upstream
    with dg.DagsterInstance.ephemeral() as instance:
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
    from claims_platform.actuarial.definitions import defs

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


@pytest.mark.slow
@pytest.mark.xdist_group("actuarial")
def test_the_asset_pages_show_the_pictures_in_a_browser(materialized, tmp_path):
    """Seen as a user sees them: the IBNR page in Chromium shows the preview inline, the chart
    (a decoded PNG) behind its metadata row, and the plotted totals."""
    from claims_platform_tests.support.ui import (
        chromium_page,
        close_dialog,
        dagster_webserver,
        image_natural_width,
        metadata_row,
        open_asset_page,
        require_chromium,
        show_markdown,
        show_metadata_plots,
    )

    require_chromium()  # fails, not skips: CI installs it in scripts/test
    home = materialized["home"]
    key = ["gold", "mart_ibnr"]
    with (
        dagster_webserver(
            dagster_home=home, module="claims_platform.actuarial.definitions"
        ) as server,
        chromium_page() as page,
    ):
        open_asset_page(page, server.url, key, wait_for_label="preview")
        assert metadata_row(page, "preview").locator("table").is_visible()
        assert metadata_row(page, "ibnr_total").is_visible()
        dialog = show_markdown(page, "ibnr")
        img = dialog.locator("img")
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert image_natural_width(img) > 500
        page.screenshot(path=tmp_path / "ibnr_chart.png")
        close_dialog(page)
        canvases = show_metadata_plots(page)
        assert canvases.count() >= 5  # one per numeric label
