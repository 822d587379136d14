"""The actuarial marts (dbt/models/marts/actuarial) on a simulated payer with a year of run-out:
the paid lag triangle against an independent model of the source's payment history, completion
factors and IBNR against the `chainladder` package, and an old valuation month that later CDC
does not move.

Silver is written from the simulator's truth files in two loads (changes dated before the last
simulated month, then the rest), gold is built with dbt after each, and the actuarial models are
built for several valuation months (`--vars valuation_month`), as Dagster's partitions build
them. Then the current month is materialized through Dagster and its asset page opened in
Chromium. Assertions print months, lines of business and amounts, never a member or claim id.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import warnings
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import dagster as dg
import pytest

from claims_platform_tests.actuarial.conftest import (
    BACKFILLED_MONTH,
    CLOSED_MONTH,
    CURRENT_MONTH,
    HISTORY_MONTHS,
    TRIANGLE_MONTHS,
    read_rows,
    stamp,
)
from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support import reference_model as ref

MARTS = ("mart_paid_lag_triangle", "mart_completion_factors", "mart_ibnr")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# One module, so `--dist loadgroup` keeps every test of the shared build on one worker.
pytestmark = pytest.mark.slow

# ------------------------------------------------------------------------------------------------
# The independent model: payment events of the claims known at a valuation
# ------------------------------------------------------------------------------------------------


def _month(day: date) -> date:
    return day.replace(day=1)


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _known_at(events: dict[str, list[dict[str, Any]]], known_before: datetime) -> dict[str, list]:
    """Each table's events dated before the valuation's end, plus its initial full load."""
    known = {}
    for table, table_events in events.items():
        cdc = [
            stamp(e) for e in table_events if not PurePosixPath(e["file"]).name.startswith("LOAD")
        ]
        first_cdc = min(cdc, default=datetime.max)
        known[table] = [
            e
            for e in table_events
            if stamp(e) < known_before
            or (PurePosixPath(e["file"]).name.startswith("LOAD") and stamp(e) < first_cdc)
        ]
    return known


def expected_triangle(
    events: dict[str, list[dict[str, Any]]], valuation_month: str
) -> tuple[dict[tuple[str, date, int], Decimal], dict[tuple[str, date], int]]:
    """(line of business, incurred month, development month) → net paid, and (line of business,
    month) → member months, as the source's history stood at the end of `valuation_month`."""
    month = date.fromisoformat(valuation_month)
    known_before = datetime.combine(_add_months(month, 1), datetime.min.time())
    newest = max(stamp(e) for table_events in events.values() for e in table_events)
    as_of = min(month, _month(newest.date()))
    valuation_date = ref._month_end(month) if newest >= known_before else newest.date()
    known = _known_at(events, known_before)
    current = {
        name: ref.current_rows(ref.ordered_changes(name, known[name])) for name in ref.SOURCE_TABLES
    }
    plans = {p["PLAN_ID"]: p for p in current["PLAN"]}
    coverage = ref._Coverage(current["ENROLLMENT"], plans, ref._month_end(as_of))
    claims = {c["CLAIM_ID"]: c for c in current["CLAIM"] if c["STATEMENT_FROM_DATE"] is not None}

    payments: list[tuple[str, date, Decimal]] = []
    for claim in claims.values():
        paid = claim["PAID_DATE"]
        if paid is None or paid > valuation_date:
            continue
        if claim["FREQUENCY_CODE"] == "8" or claim["CLAIM_STATUS"] == "VOID":
            continue
        payments.append((claim["CLAIM_ID"], paid, claim["TOTAL_PAID"] or Decimal("0")))
    superseded: dict[str, tuple[date, str]] = {}
    for claim in current["CLAIM"]:
        original = claim["ORIGINAL_CLAIM_ID"]
        if claim["FREQUENCY_CODE"] not in ("7", "8") or original in (None, claim["CLAIM_ID"]):
            continue
        if claim["FREQUENCY_CODE"] == "8" or claim["CLAIM_STATUS"] == "VOID":
            when = claim["PAID_DATE"] or claim["ADJUDICATED_DATE"]
        else:
            when = claim["PAID_DATE"]
        if when is not None and when <= valuation_date:
            superseded[original] = min(
                superseded.get(original, (when, claim["CLAIM_ID"])), (when, claim["CLAIM_ID"])
            )
    events_paid = list(payments)
    for claim_id, paid, amount in payments:
        if claim_id in superseded:
            events_paid.append((claim_id, max(paid, superseded[claim_id][0]), -amount))

    first_month = _add_months(as_of, 1 - TRIANGLE_MONTHS)
    cells: dict[tuple[str, date, int], Decimal] = defaultdict(Decimal)
    for claim_id, when, amount in events_paid:
        claim = claims[claim_id]
        incurred = _month(claim["STATEMENT_FROM_DATE"])
        if not first_month <= incurred <= as_of:
            continue
        lob = coverage.line_of_business_on(claim["MEMBER_ID"], claim["STATEMENT_FROM_DATE"])
        cells[(lob, incurred, max(0, _months_between(incurred, _month(when))))] += amount
    member_months: dict[tuple[str, date], int] = defaultdict(int)
    for row in coverage.member_months():
        if first_month <= row["year_month"] <= as_of:
            member_months[(row["line_of_business"], row["year_month"])] += 1
    return dict(cells), dict(member_months)


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("month", [CURRENT_MONTH, CLOSED_MONTH, BACKFILLED_MONTH])
def test_triangle_equals_the_payment_history_known_at_the_valuation(built, month):
    triangle = read_rows(built["database"], "mart_paid_lag_triangle", month)
    cells, member_months = expected_triangle(built["events"], month)
    got = {
        (r["line_of_business"], r["incurred_month"], r["development_month"]): r["incremental_paid"]
        for r in triangle
        if r["incremental_paid"] != 0
    }
    assert got == {k: v for k, v in cells.items() if v != 0}
    got_members = {
        (r["line_of_business"], r["incurred_month"]): r["member_months"]
        for r in triangle
        if r["development_month"] == 0 and r["member_months"]
    }
    assert got_members == member_months
    # a full grid: every incurred month develops from 0 to its age, cumulative carried
    for r in triangle:
        assert r["cumulative_paid"] == sum(
            (
                c["incremental_paid"]
                for c in triangle
                if (c["line_of_business"], c["incurred_month"])
                == (r["line_of_business"], r["incurred_month"])
                and c["development_month"] <= r["development_month"]
            ),
            Decimal("0"),
        )
    # enough run-out for the triangle to mean something
    developed = {k[2] for k, v in cells.items() if v > 0}
    assert max(developed) >= 6, sorted(developed)


def test_a_closed_valuation_month_is_not_moved_by_later_changes(built):
    for table, before in built["closed_before"].items():
        after = read_rows(built["database"], table, CLOSED_MONTH)
        assert after == before, table
    # ... while the current month moved on with them
    current = read_rows(built["database"], "mart_paid_lag_triangle", CURRENT_MONTH)
    assert max(r["incurred_month"] for r in current) == date(2024, 2, 1)


def _chainladder(triangle: list[dict[str, Any]], lob: str):
    import chainladder as cl
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "origin": r["incurred_month"].strftime("%Y-%m"),
                "development": r["paid_month"].strftime("%Y-%m"),
                "paid": float(r["incremental_paid"]),
            }
            for r in triangle
            if r["line_of_business"] == lob
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = cl.Triangle(
            frame, origin="origin", development="development", columns=["paid"], cumulative=False
        ).incr_to_cum()
        development = cl.Development(average="volume", n_periods=HISTORY_MONTHS).fit(data)
        model = cl.Chainladder().fit(development.transform(data))
    return data, development, model


@pytest.mark.parametrize("month", [CURRENT_MONTH, BACKFILLED_MONTH])
def test_factors_and_ibnr_agree_with_chainladder(built, month):
    """Volume-weighted age-to-age factors, cumulative development factors and IBNR per incurred
    month agree with the chainladder package to 1e-6, for every line of business."""
    import math

    triangle = read_rows(built["database"], "mart_paid_lag_triangle", month)
    factors = read_rows(built["database"], "mart_completion_factors", month)
    ibnr = read_rows(built["database"], "mart_ibnr", month)
    lines = sorted({r["line_of_business"] for r in triangle if r["cumulative_paid"] != 0})
    assert lines
    compared = 0
    for lob in lines:
        _, development, model = _chainladder(triangle, lob)
        ldf = development.ldf_.to_frame(origin_as_datetime=False).iloc[0]
        ours = {r["development_month"]: r for r in factors if r["line_of_business"] == lob}
        for label, value in ldf.items():
            age = int(str(label).split("-")[0]) - 1  # chainladder's age 1 = development 0
            if math.isnan(value):
                assert ours[age]["incurred_months_used"] == 0
                continue
            assert ours[age]["age_to_age_factor"] == pytest.approx(value, abs=1e-6), (lob, age)
            compared += 1
        cdf = development.cdf_.to_frame(origin_as_datetime=False).iloc[0]
        for label, value in cdf.items():
            age = int(str(label).split("-")[0]) - 1
            if not math.isnan(value):
                assert ours[age]["cumulative_development_factor"] == pytest.approx(value, abs=1e-6)
        reserves = model.ibnr_.to_frame(origin_as_datetime=False).iloc[:, 0]
        by_month = {
            r["incurred_month"].strftime("%Y-%m"): r for r in ibnr if r["line_of_business"] == lob
        }
        for origin, value in reserves.items():
            row = by_month[str(origin)[:7]]
            if math.isnan(value):  # chainladder keeps a zero reserve as missing
                assert row["ibnr"] == pytest.approx(0, abs=1e-6), (lob, origin)
            else:
                assert row["ibnr"] == pytest.approx(value, abs=1e-6), (lob, origin)
                compared += 1
    assert compared > 20


def test_factors_are_at_least_one_where_mature_and_parameters_are_recorded(built):
    factors = read_rows(built["database"], "mart_completion_factors", CURRENT_MONTH)
    assert {r["method"] for r in factors} == {"volume-weighted chain ladder"}
    assert {r["history_months"] for r in factors} == {HISTORY_MONTHS}
    assert {r["tail_factor"] for r in factors} == {1.0}
    for r in factors:
        assert 0 < r["completion_factor"] <= 1 + 1e-9 or r["age_to_age_factor"] < 1
    completion = [r["completion_factor"] for r in factors if r["line_of_business"] == "COMMERCIAL"]
    assert completion[0] < completion[3] < 1.0 + 1e-9  # young months are less complete


# ------------------------------------------------------------------------------------------------
# Through Dagster: the partition, its pictures, the asset page
# ------------------------------------------------------------------------------------------------


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
        from claims_platform.orchestration.actuarial.definitions import defs

        assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
        with _project_instance(home) as instance:
            result = dg.materialize(
                assets, partition_key=CURRENT_MONTH, resources=defs.resources, instance=instance
            )
        yield {"result": result, "home": home}


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


def test_the_asset_pages_show_the_pictures_in_a_browser(materialized, tmp_path):
    """Seen as a user sees them: the IBNR page in Chromium shows the preview inline, the chart
    (a decoded PNG) behind its metadata row, and the plotted totals."""
    from playwright.sync_api import expect

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
            dagster_home=home, module="claims_platform.orchestration.actuarial.definitions"
        ) as server,
        chromium_page() as page,
    ):
        open_asset_page(page, server.url, key, wait_for_label="preview")
        # The row is there before its Markdown renders: wait for what the user sees.
        expect(metadata_row(page, "preview").locator("table")).to_be_visible()
        expect(metadata_row(page, "ibnr_total")).to_be_visible()
        dialog = show_markdown(page, "ibnr")
        img = dialog.locator("img")
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert image_natural_width(img) > 500
        page.screenshot(path=tmp_path / "ibnr_chart.png")
        close_dialog(page)
        canvases = show_metadata_plots(page)
        assert canvases.count() >= 5  # one per numeric label
