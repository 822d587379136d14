"""The replay job `replay_quarantined_files`: silver for quarantined files, then gold.

What a replay means and guarantees (read again, exactly once) is in claims_platform.silver.replay;
`claims-platform replay` runs this job in-process (claims_platform.orchestration.cli).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from claims_platform.warehouse.ledger import REPLAY_ALL

REPLAY_JOB = "replay_quarantined_files"
SILVER_OP = "silver_change_tables"
REPLAY_TAG = "claims/trigger"


def replay_run_config(paths: Sequence[str]) -> dict:
    return {"ops": {SILVER_OP: {"config": {"replay": list(paths)}}}}


def build_replay_job(
    silver_keys_by_table: Mapping[str, Sequence[dg.AssetKey]], gold: dg.AssetsDefinition
) -> dg.UnresolvedAssetJobDefinition:
    silver_keys = {k for keys in silver_keys_by_table.values() for k in keys}
    return dg.define_asset_job(
        REPLAY_JOB,
        selection=dg.AssetSelection.assets(*silver_keys) | dg.AssetSelection.assets(gold),
        config=replay_run_config([REPLAY_ALL]),
        tags={REPLAY_TAG: "replay"},
        description="Reads quarantined landed files again (after a fix or an in-place "
        "re-delivery) and rebuilds gold. Config `replay`: the landed paths, or '*' for all. "
        "A file that loads moves from quarantined to processed in audit.file_ledger; every "
        "attempt stays in audit.file_attempts. Running it again does nothing.",
    )
