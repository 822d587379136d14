"""The actuarial code location: the marts partitioned by valuation month, their checks (dbt
tests) and the automation that keeps the current valuation month up to date.

A location of its own, beside `claims_platform.definitions` (see workspace.yaml): the headless
`dagster asset materialize -m claims_platform.definitions --select '*'` (CONTRACT §1) cannot
include partitioned assets, and the actuarial team deploys and backfills its marts on its own
schedule. The gold models it reads are assets of the platform location; the asset graph joins
them across locations.
"""

from __future__ import annotations

import dagster as dg

from claims_platform.orchestration.actuarial.assets import actuarial_dbt_models
from claims_platform.orchestration.gold.dbt_resource import (
    PlatformDbtCliResource,
    bundled_dbt_executable,
)
from claims_platform.orchestration.gold.project import dbt_project
from claims_platform.orchestration.resources import PlatformResource

actuarial_automation = dg.AutomationConditionSensorDefinition(
    "actuarial_automation",
    target=dg.AssetSelection.assets(actuarial_dbt_models),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # The current valuation month follows gold within minutes, not every landing batch: a
    # reserving view changes little in 5 minutes, and each build takes the warehouse's one
    # writer slot from the landing batches.
    minimum_interval_seconds=300,
    # Behind any landing batch in the queue (both take the writer slot): gold first.
    run_tags={"dagster/priority": "-1"},
    description="Rebuilds the current valuation month of the actuarial marts after gold "
    "changes (eager, latest partition only); past months change only by a backfill.",
)

defs = dg.Definitions(
    assets=[actuarial_dbt_models],
    sensors=[actuarial_automation],
    resources={
        "platform": PlatformResource(),
        "dbt": PlatformDbtCliResource(
            project_dir=dbt_project, dbt_executable=bundled_dbt_executable()
        ),
    },
)
