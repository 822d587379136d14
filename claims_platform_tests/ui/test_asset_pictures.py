"""The pictures an asset's materializations carry render in Dagster's UI, seen in a real browser:
a matplotlib PNG inlined in Markdown, a Markdown table, numeric metadata and its plot."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from claims_platform_tests.support.ui import (
    chromium_page,
    close_dialog,
    dagster_webserver,
    image_natural_width,
    metadata_row,
    new_dagster_home,
    open_asset_page,
    painted_pixels,
    require_chromium,
    show_markdown,
    show_metadata_plots,
)
from claims_platform_tests.ui import toy_defs

pytestmark = pytest.mark.slow

TOY_MODULE = "claims_platform_tests.ui.toy_defs"
STEP = "actuarial_toy__pmpm_trend"


def _materialize_twice(instance: dg.DagsterInstance) -> list[float]:
    """Two materializations with different numbers, so the plot has a line to draw."""
    latest = []
    for base in (400.0, 425.0):
        result = dg.materialize(
            [toy_defs.pmpm_trend],
            instance=instance,
            run_config=dg.RunConfig({STEP: toy_defs.ToyPmpmConfig(base_pmpm=base)}),
        )
        assert result.success
        [mat] = result.asset_materializations_for_node(STEP)
        latest.append(mat.metadata[toy_defs.NUMBER_LABEL].value)
    return latest


def test_asset_page_shows_chart_table_and_plots(tmp_path: Path) -> None:
    require_chromium()  # fails, not skips: CI installs it in scripts/test
    home = new_dagster_home(tmp_path / "dagster_home")
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        dagster_webserver(dagster_home=home, module=TOY_MODULE, wait=False) as server,
    ):
        # The webserver starts (~15 s) while the asset materializes.
        first, latest = _materialize_twice(instance)
        url = server.wait_until_ready()
        _check_pages(url, latest, tmp_path)
    assert first < latest


def _check_pages(url: str, latest: float, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium_page() as page:
        open_asset_page(page, url, toy_defs.ASSET_KEY, wait_for_label=toy_defs.TABLE_LABEL)

        # The Markdown table (< 1000 characters) renders inline as a table, latest values. The
        # row is there before its Markdown renders: `expect` waits for what the user sees.
        table = metadata_row(page, toy_defs.TABLE_LABEL).locator("table")
        expect(table.locator("th")).to_have_text(["month", "pmpm_usd"])
        expect(
            table.locator("tr").filter(has_text="2026-06").get_by_text(f"{latest:,.2f}")
        ).to_be_visible()
        expect(metadata_row(page, toy_defs.NUMBER_LABEL).get_by_text(str(latest))).to_be_visible()
        page.screenshot(path=tmp_path / "overview.png")

        # The PNG makes its Markdown too long to show inline: it opens in a dialog, decoded.
        dialog = show_markdown(page, toy_defs.CHART_LABEL)
        img = dialog.locator("img")
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert img.get_attribute("alt") == "PMPM trend"
        assert image_natural_width(img) == 600  # 6 in x 100 dpi: the PNG itself, not a broken icon
        expect(img).to_be_visible()
        page.screenshot(path=tmp_path / "chart_dialog.png")
        close_dialog(page)

        # Each numeric label plotted over both materializations.
        canvases = show_metadata_plots(page)
        assert canvases.count() == 2  # member_months, pmpm_usd
        expect(page.get_by_text(toy_defs.NUMBER_LABEL, exact=True)).to_be_visible()
        assert all(painted_pixels(c) > 1000 for c in canvases.all())
        page.screenshot(path=tmp_path / "plots.png")
