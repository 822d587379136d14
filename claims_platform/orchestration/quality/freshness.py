"""Freshness SLAs of the silver and gold assets (Dagster's freshness policies, shown in the UI).

DMS writes CDC files every few minutes while the source changes. A silver table is rebuilt only
when files of its own table land, and a gold model only when a batch changes one of the silver
tables it reads (the landing sensor selects nothing else), so a model of a quiet table (dim_plan)
may see no run for hours. Both layers therefore share one window, a day: a time-window policy
only says how long ago an asset was last materialised. How far gold is behind the newest landed
change, which is what an analyst cares about, is the `lag_behind_landing` check
(reconcile.lag_behind_landing), run with every gold build of the table, with GOLD_MAX_LAG.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

MATERIALISATION_FRESHNESS = dg.FreshnessPolicy.time_window(
    warn_window=dt.timedelta(hours=6), fail_window=dt.timedelta(hours=24)
)
# Gold may trail the newest landed change (source time) by at most this much.
GOLD_MAX_LAG = dt.timedelta(minutes=60)


def _with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    if spec.key.path[0] not in ("silver", "gold") or spec.freshness_policy is not None:
        return spec
    return dg.apply_freshness_policy(spec, MATERIALISATION_FRESHNESS)


def with_freshness_policies(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The same assets, every `silver/…` and `gold/…` spec with the freshness policy."""
    return [a.map_asset_specs(_with_freshness) for a in assets]
