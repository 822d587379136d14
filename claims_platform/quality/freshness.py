"""Freshness SLAs of the silver and gold assets (Dagster's freshness policies, shown in the UI).

DMS writes CDC files every few minutes while the source changes. Gold is rebuilt by every landing
batch, whatever table it touches, so it should never be more than an hour old; a silver table is
rebuilt only when files of its own table land, and a quiet table (PLAN) may see no change for
hours, so its window is a day. A time-window policy only says how long ago an asset was last
materialised; how far gold is behind the newest landed change is the `lag_behind_landing` check
(reconcile.lag_behind_landing), with GOLD_MAX_LAG.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

SILVER_FRESHNESS = dg.FreshnessPolicy.time_window(
    warn_window=dt.timedelta(hours=6), fail_window=dt.timedelta(hours=24)
)
GOLD_FRESHNESS = dg.FreshnessPolicy.time_window(
    warn_window=dt.timedelta(hours=1), fail_window=dt.timedelta(hours=6)
)
# Gold may trail the newest landed change (source time) by at most this much.
GOLD_MAX_LAG = dt.timedelta(minutes=60)


def _with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    layer = spec.key.path[0]
    policy = {"silver": SILVER_FRESHNESS, "gold": GOLD_FRESHNESS}.get(layer)
    if policy is None or spec.freshness_policy is not None:
        return spec
    return dg.apply_freshness_policy(spec, policy)


def with_freshness_policies(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The same assets, every `silver/…` and `gold/…` spec with its layer's freshness policy."""
    return [a.map_asset_specs(_with_freshness) for a in assets]
