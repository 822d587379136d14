"""The one place that assembles assets, checks, sensors, jobs and resources."""

from __future__ import annotations

import dagster as dg

from claims_platform.contracts import load_contracts
from claims_platform.orchestration.aws.checks import build_landing_encryption_check
from claims_platform.orchestration.aws.jobs import glue_catalog_sync_job
from claims_platform.orchestration.bronze.assets import build_bronze_assets, source_specs
from claims_platform.orchestration.bronze.sensor import build_landing_sensor
from claims_platform.orchestration.gold.assets import (
    gold_dbt_models,
    silver_read_by_gold,
    translator,
)
from claims_platform.orchestration.gold.dbt_resource import (
    PlatformDbtCliResource,
    bundled_dbt_executable,
)
from claims_platform.orchestration.gold.exposures import exposure_specs
from claims_platform.orchestration.gold.project import dbt_project
from claims_platform.orchestration.ops import branch_clones
from claims_platform.orchestration.ops.alerts import run_failure_alert
from claims_platform.orchestration.quality.checks import build_quality_checks
from claims_platform.orchestration.quality.freshness import with_freshness_policies
from claims_platform.orchestration.resources import (
    AFTER_THE_BATCH_TAG,
    EnvironmentSilverRunner,
    PlatformResource,
    silver_pyspark_resource,
)
from claims_platform.orchestration.silver.assets import REJECTS_KEY, build_silver_assets, silver_key
from claims_platform.orchestration.silver.reconcile import (
    build_reconciliation_job,
    build_reconciliation_schedule,
)
from claims_platform.orchestration.silver.replay import build_replay_job
from claims_platform.silver.schema import child_tables

contracts = load_contracts()

silver_keys_by_table = {
    c.name: [
        silver_key(c.silver_table),
        *(silver_key(ch.name) for ch in child_tables(c)),
        REJECTS_KEY,
    ]
    for c in contracts.values()
}

# A batch rebuilds only the gold that reads what it changed (bronze/sensor.gold_selection): a
# claim-line batch leaves the member, plan and provider dimensions alone, half of the dbt models.
gold_reads = silver_read_by_gold()

silver_assets = build_silver_assets(contracts)
landing_encryption_check = build_landing_encryption_check(contracts)
quality_checks = build_quality_checks(contracts, list(gold_dbt_models.keys))
# A landing batch's run takes the checks gold waits for; those with an automation condition
# (warn severity) run after it (quality/checks.AFTER_THE_BATCH).
batch_checks = [
    key
    for checks in (silver_assets, gold_dbt_models, landing_encryption_check, *quality_checks)
    for key in checks.check_keys
    if checks.get_spec_for_check_key(key).automation_condition is None
]

all_asset_checks_job = dg.define_asset_job(
    "all_asset_checks",
    selection=dg.AssetSelection.all_asset_checks(),
    description="Runs every asset check (dbt tests and data-quality checks) without materialising.",
)

# Daily full listing against the ledger: what incremental listings cannot see (silver/reconcile).
landing_reconciliation = build_reconciliation_job(silver_keys_by_table)

# Runs of the checks that wait for no model (automation sensors): at most one at a time
# (dagster.yaml `tag_concurrency_limits`), so a landing batch never queues behind two of them.
# Their Great Expectations work gives way on the CPU to landing batches (quality/checks.py), and
# the queue lets a landing batch go first (`dagster/priority`, default 0): seen, a batch created
# 5 s after a run of dbt's warning tests waited for it behind the writer slot.
AFTER_THE_BATCH_RUN_TAGS = {AFTER_THE_BATCH_TAG: "true", "dagster/priority": "-1"}

# dbt's warning tests run in the dbt step, which takes the warehouse's writer slot: a sensor of
# their own, evaluated every 5 minutes (as the actuarial marts), so one run covers every batch of
# that time and the slot is taken once (a run of them: ~10 s, process start included).
dbt_warn_checks = dg.AssetSelection.checks(
    *(
        key
        for key in gold_dbt_models.check_keys
        if gold_dbt_models.get_spec_for_check_key(key).automation_condition is not None
    )
)
dbt_warn_check_automation = dg.AutomationConditionSensorDefinition(
    "dbt_warn_check_automation",
    target=dbt_warn_checks,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=300,
    run_tags=AFTER_THE_BATCH_RUN_TAGS,
    description="Runs the dbt tests of warn severity of the gold models a landing batch "
    "changed, after the batch, in a run of their own: gold never waits for them.",
)

gold_automation = dg.AutomationConditionSensorDefinition(
    "gold_automation",
    target=(dg.AssetSelection.all() | dg.AssetSelection.all_asset_checks()) - dbt_warn_checks,
    default_status=dg.DefaultSensorStatus.RUNNING,
    run_tags=AFTER_THE_BATCH_RUN_TAGS,
    minimum_interval_seconds=30,
    description="Builds gold models eagerly when silver changes outside a landing batch "
    "(e.g. a manual silver run); landing batches build gold in their own run. Runs the "
    "warn-severity checks of an asset after it changed, in a run of their own, so gold never "
    "waits for them.",
)

defs = dg.Definitions(
    assets=[
        *source_specs(contracts),
        build_bronze_assets(contracts),
        # Freshness SLAs of silver and gold (quality/freshness.py), shown in the UI.
        *with_freshness_policies([silver_assets, gold_dbt_models]),
        *exposure_specs(dbt_project.manifest_path, translator, dbt_project),
    ],
    asset_checks=[
        landing_encryption_check,
        *quality_checks,
    ],
    jobs=[
        all_asset_checks_job,
        build_replay_job(silver_keys_by_table, gold_dbt_models),
        landing_reconciliation,
        glue_catalog_sync_job,
        # Branch deployments: each pull request's Snowflake clone, created and swept.
        branch_clones.create_branch_clone,
        branch_clones.drop_stale_branch_clones,
    ],
    schedules=[
        branch_clones.drop_stale_branch_clones_daily,
        build_reconciliation_schedule(landing_reconciliation),
    ],
    sensors=[
        build_landing_sensor(
            silver_keys_by_table,
            gold_reads,
            contracts,
            # a seed is rebuilt when its file changes (its code version is the file's checksum)
            code_versions=gold_dbt_models.code_versions_by_key,
            batch_checks=batch_checks,
        ),
        gold_automation,
        dbt_warn_check_automation,
        branch_clones.branch_clone_sensor,
        # Slack-compatible webhook on run failure (no-op unless CLAIMS_ALERT_WEBHOOK_URL is set).
        run_failure_alert,
    ],
    # Steps run one after another anyway (one warehouse writer); one process per run saves a
    # Python start-up per step and lets the silver step reuse a warm Spark session.
    executor=dg.in_process_executor,
    resources={
        "platform": PlatformResource(),
        # Local silver's Spark session (dagster-pyspark), started by the first batch needing it.
        "pyspark": silver_pyspark_resource,
        # Glue (via Pipes) in branch/prod, in-process Spark locally; chosen when a run starts.
        "silver_runner": EnvironmentSilverRunner(pyspark=silver_pyspark_resource),
        "dbt": PlatformDbtCliResource(
            project_dir=dbt_project, dbt_executable=bundled_dbt_executable()
        ),
    },
)
