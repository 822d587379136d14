"""The landing reconciliation: a daily full listing of the landing zone against the ledger.

Landing runs list only the keys after the ledger's front (bronze.listing) plus the files the
sensor names; the sensor names only files modified inside its look-back window. A file landed
under a key before its table's front that no sensor tick named (its modification time older
than the look-back when it became visible, a sensor stopped meanwhile, a run that failed for
good) is loaded by no landing run. This job runs the silver step with `reconcile`: every landed
file the ledger does not hold is found, reported (logged, and in the change table's metadata or,
when nothing was loaded, an observation) and loaded.

It loads, rather than only requesting a run, because the silver step is the one place that
commits (ledger check inside the commit transaction, batch cap, quarantine): a second loading
path would be a second chance to load twice, and a report-then-request design leaves a found
file waiting one more hop. Files beyond the batch cap stay pending (`files_left_pending`, with
`listing: full`), and the landing sensor requests the next reconciling run for them. Gold follows by
its eager automation condition when the reconciliation loaded something; a reconciliation that
finds nothing materializes nothing, so gold is not rebuilt daily for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from claims_platform.orchestration.silver.replay import REPLAY_TAG, SILVER_OP

RECONCILE_JOB = "landing_reconciliation"
# After the night's DMS deliveries, before the working day (UTC).
RECONCILE_CRON = "30 4 * * *"


def reconcile_run_config() -> dict:
    return {"ops": {SILVER_OP: {"config": {"reconcile": True}}}}


def landing_batch_run_config(paths: Sequence[str]) -> dict:
    """A landing batch: listing after the ledger's front, plus the sensor's new `paths`."""
    return {"ops": {SILVER_OP: {"config": {"incremental": True, "paths": sorted(paths)}}}}


def build_reconciliation_job(
    silver_keys_by_table: Mapping[str, Sequence[dg.AssetKey]],
) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        RECONCILE_JOB,
        selection=dg.AssetSelection.assets(
            *{k for keys in silver_keys_by_table.values() for k in keys}
        ),
        config=reconcile_run_config(),
        tags={REPLAY_TAG: RECONCILE_JOB},
        description="Lists the whole landing zone, compares it with the file ledger, reports "
        "every landed file never processed that an incremental listing cannot see (it sorts "
        "before its table's front, or the sensor's look-back missed it) and loads it through "
        "the silver step. Materializes nothing when nothing was missed.",
    )


def build_reconciliation_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{RECONCILE_JOB}_daily",
        job=job,
        cron_schedule=RECONCILE_CRON,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Daily landing reconciliation (full listing against the ledger).",
    )
