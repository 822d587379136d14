"""dbt models, tests and exposures as Dagster assets and checks."""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from claims_platform.faults import checkpoint
from claims_platform.gold.project import dbt_project
from claims_platform.resources import PlatformResource
from claims_platform.silver.assets import WAREHOUSE_POOL

GOLD_GROUP = "gold"
MARTS_GROUP = "marts"
DEFAULT_OWNER = "team:analytics-engineering"


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ClaimsDbtTranslator(DagsterDbtTranslator):
    """Keys by layer (`gold/…`, `gold/staging/…`), groups gold|marts, eager automation."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        resource_type = props["resource_type"]
        if resource_type == "source":
            # dbt source `silver.<table>` is the silver asset the Spark job writes.
            return spec.replace_attributes(key=dg.AssetKey(["silver", props["name"]]))
        if resource_type not in ("model", "seed", "snapshot"):
            return spec
        layer = props.get("fqn", ["", ""])[1] if len(props.get("fqn", [])) > 2 else "marts"
        name = props["name"]
        key = ["gold", name] if layer == "marts" else ["gold", layer, name]
        owner = (props.get("meta") or {}).get("owner") or (
            props.get("config", {}).get("meta") or {}
        ).get("owner")
        return spec.replace_attributes(
            key=dg.AssetKey(key),
            group_name=MARTS_GROUP if name.startswith("mart_") else GOLD_GROUP,
            kinds={"dbt", "duckdb"},
            owners=[owner or DEFAULT_OWNER],
            automation_condition=dg.AutomationCondition.eager(),
        )


translator = ClaimsDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    name="gold_dbt_models",
    pool=WAREHOUSE_POOL,
)
def gold_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource
):
    """Build (run + test) the selected dbt models on the warehouse of this environment."""
    settings = platform.settings()
    # profiles.yml reads the warehouse location from the environment of the dbt process, which
    # dagster-dbt copies from ours when the invocation starts; restore ours afterwards so one
    # run's settings never leak into the next run in the same process.
    with platform.warehouse_lock(), _environ(settings.dbt_environ()):
        checkpoint("gold.dbt_build.start")
        yield from dbt.cli(["build", "--target", settings.dbt_target], context=context).stream()
        checkpoint("gold.dbt_build.done")
