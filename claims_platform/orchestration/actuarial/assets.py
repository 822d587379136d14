"""The actuarial marts as Dagster assets partitioned by valuation month, with their pictures."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from claims_platform.actuarial.pictures import (
    Markdown,
    completion_factor_metadata,
    ibnr_metadata,
    triangle_metadata,
)
from claims_platform.orchestration.actuarial.partitions import valuation_months
from claims_platform.orchestration.gold.assets import (
    ACTUARIAL_SELECTION,
    ClaimsDbtTranslator,
    build_dbt_models,
    translator,
)
from claims_platform.orchestration.gold.project import dbt_project
from claims_platform.orchestration.governance.openlineage import emits_openlineage
from claims_platform.orchestration.ops.retries import (
    EXTERNAL_IO_RETRY_POLICY,
    stops_when_interrupted,
)
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.orchestration.silver.assets import WAREHOUSE_POOL

ACTUARIAL_GROUP = "actuarial"
TRIANGLE = "mart_paid_lag_triangle"
FACTORS = "mart_completion_factors"
IBNR = "mart_ibnr"


# Eager on the latest partition, but not held back while a landing run is in flight: under
# `dagster dev` a run is almost always loading the next day, and eager's "no dependency in
# progress" then blocked every tick (seen: two ticks skipped in a row with gold updated). The
# build waits for the warehouse's writer slot like any step and reads what is committed.
CURRENT_VALUATION_MONTH = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_in_progress())
    .with_label("eager, current valuation month")
)


class ActuarialDbtTranslator(ClaimsDbtTranslator):
    """The gold translator's keys, kinds and tags, in the group `actuarial`."""

    # No landing batch builds the marts: their warning tests run with them, in their own runs.
    warn_checks_after_the_batch = False

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if self.get_resource_props(manifest, unique_id)["resource_type"] != "model":
            return spec
        return spec.replace_attributes(
            group_name=ACTUARIAL_GROUP, automation_condition=CURRENT_VALUATION_MONTH
        )


actuarial_translator = ActuarialDbtTranslator(settings=translator.settings, env=translator.env)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=ACTUARIAL_SELECTION,
    dagster_dbt_translator=actuarial_translator,
    partitions_def=valuation_months,
    name="actuarial_dbt_models",
    pool=WAREHOUSE_POOL,
    retry_policy=EXTERNAL_IO_RETRY_POLICY,
)
@emits_openlineage
@stops_when_interrupted
def actuarial_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource
):
    """Build the actuarial marts as of the partition's valuation month (dbt var
    `valuation_month`), then attach their charts, preview and plotted numbers."""
    valuation_month = context.partition_key
    yield from build_dbt_models(
        context,
        dbt,
        platform,
        extra_args=["--vars", json.dumps({"valuation_month": valuation_month})],
        after_build=lambda events: with_pictures(events, context, platform, valuation_month),
    )


_PARTITION_QUERIES = {
    TRIANGLE: "select * from gold.mart_paid_lag_triangle where valuation_month = ? "
    "order by line_of_business, incurred_month, development_month",
    FACTORS: "select * from gold.mart_completion_factors where valuation_month = ? "
    "order by line_of_business, development_month",
    IBNR: "select * from gold.mart_ibnr where valuation_month = ? "
    "order by line_of_business, incurred_month",
}


def as_metadata(values: Mapping[str, Any]) -> dict[str, dg.MetadataValue]:
    """The pictures' values as Dagster metadata: Markdown, text, and numbers the asset page plots."""
    out: dict[str, dg.MetadataValue] = {}
    for name, value in values.items():
        if isinstance(value, Markdown):
            out[name] = dg.MetadataValue.md(value)
        elif isinstance(value, str):
            out[name] = dg.MetadataValue.text(value)
        elif isinstance(value, int):
            out[name] = dg.MetadataValue.int(value)
        else:
            out[name] = dg.MetadataValue.float(float(value))
    return out


def with_pictures(
    events: list[Any],
    context: dg.AssetExecutionContext,
    platform: PlatformResource,
    valuation_month: str,
) -> list[Any]:
    """The build's events, each actuarial mart's output carrying its pictures and numbers."""

    def model(event: Any) -> str | None:
        if not isinstance(event, dg.Output):
            return None
        name = context.asset_key_for_output(event.output_name).path[-1]
        return name if name in _PARTITION_QUERIES else None

    built = {model(event) for event in events} - {None}
    if not built:
        return events
    # The pictures of each mart read the others of the same partition (factors on the triangle,
    # completion from the IBNR), as the last build left them.
    rows = {
        name: platform.read_rows(sql, [valuation_month]) for name, sql in _PARTITION_QUERIES.items()
    }
    metadata = {
        TRIANGLE: lambda: triangle_metadata(rows[TRIANGLE], rows[FACTORS], rows[IBNR]),
        FACTORS: lambda: completion_factor_metadata(rows[FACTORS], rows[IBNR]),
        IBNR: lambda: ibnr_metadata(rows[IBNR]),
    }
    return [
        event.with_metadata({**event.metadata, **as_metadata(metadata[name]())})
        if (name := model(event)) is not None
        else event
        for event in events
    ]
