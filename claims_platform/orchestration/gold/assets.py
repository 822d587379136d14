"""dbt models, tests and exposures as Dagster assets and checks."""

import json
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from claims_platform.environment import Env, Settings, get_env
from claims_platform.faults import checkpoint
from claims_platform.governance.phi import PHI_TAG, asset_phi_tag
from claims_platform.orchestration.engines import warehouse_kind
from claims_platform.orchestration.gold.project import dbt_project, dbt_target_path
from claims_platform.orchestration.governance.dbt_lineage import dbt_build_events
from claims_platform.orchestration.governance.openlineage import emits_openlineage
from claims_platform.orchestration.governance.phi import gold_column_schema, schema_phi_classes
from claims_platform.orchestration.ops.retries import (
    EXTERNAL_IO_RETRY_POLICY,
    stops_when_interrupted,
)
from claims_platform.orchestration.quality.checks import AFTER_THE_BATCH
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.orchestration.silver.assets import WAREHOUSE_POOL
from claims_platform.warehouse.query_tag import query_tag_environ

GOLD_GROUP = "gold"
MARTS_GROUP = "marts"
DEFAULT_OWNER = "team:analytics-engineering"
# How Dagster stores an asset's kinds (`dagster/kind/<kind>` tags, as its docs show them).
KIND_TAG_PREFIX = "dagster/kind/"


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
    """Keys by layer (`gold/…`, `gold/staging/…`), groups gold|marts, eager automation; kinds
    name the warehouse dbt builds on in `env` (default: the environment switch, read when the
    definitions load: see orchestration/engines.py)."""

    def __init__(
        self, settings: DagsterDbtTranslatorSettings | None = None, env: Env | None = None
    ) -> None:
        super().__init__(settings)
        self.env: Env = env or get_env()

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
        # dbt column `meta: {phi: …}` → column tags; descriptions as dagster-dbt gives them.
        schema = gold_column_schema(props)
        metadata = dict(spec.metadata)
        if schema is not None:
            metadata["dagster/column_schema"] = schema
        return spec.replace_attributes(
            key=dg.AssetKey(key),
            group_name=MARTS_GROUP if name.startswith("mart_") else GOLD_GROUP,
            kinds={"dbt", warehouse_kind(self.env)},
            owners=[owner or DEFAULT_OWNER],
            automation_condition=dg.AutomationCondition.eager(),
            metadata=metadata,
            # dagster-dbt's own kind tag names the adapter of the target the manifest was parsed
            # for, not the warehouse of this environment: kinds are stored as these tags.
            tags={
                **{k: v for k, v in spec.tags.items() if not k.startswith(KIND_TAG_PREFIX)},
                PHI_TAG: asset_phi_tag(schema_phi_classes(schema)),
            },
        )

    # dbt tests of `severity: warn` protect no model (dagster-dbt makes them non-blocking checks):
    # like the platform's own warning checks, a landing batch's run leaves them out and they run
    # after it (quality/checks.AFTER_THE_BATCH, the sensor `dbt_warn_checks`), so gold never waits
    # for them. They were 26 of the 128 nodes of a claim batch's dbt build (1.1 of its 8.1 s).
    warn_checks_after_the_batch = True

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.blocking or not self.warn_checks_after_the_batch:
            return spec
        return dg.AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            additional_deps=spec.additional_deps,
            description=spec.description,
            blocking=False,
            metadata=spec.metadata,
            automation_condition=AFTER_THE_BATCH,
        )


translator = ClaimsDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


# The actuarial marts are partitioned by valuation month and live in a code location of their
# own (claims_platform/actuarial/): a partitioned asset in this location would make the headless
# `dagster asset materialize --select '*'` (CONTRACT §1) demand a partition key.
ACTUARIAL_SELECTION = "tag:actuarial"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=ACTUARIAL_SELECTION,
    name="gold_dbt_models",
    pool=WAREHOUSE_POOL,
    retry_policy=EXTERNAL_IO_RETRY_POLICY,  # builds on Snowflake in production
)
@emits_openlineage
@stops_when_interrupted
def gold_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource
):
    """Build (run + test) the selected dbt models on the warehouse of this environment."""
    yield from build_dbt_models(context, dbt, platform)


Events = list[Any]


def build_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    platform: PlatformResource,
    extra_args: Sequence[str] = (),
    after_build: Callable[[Events], Events] | None = None,
) -> Iterator[Any]:
    """`dbt build` of the step's selected models and tests, under the warehouse lock.

    `after_build`, when given, receives every event of the build once dbt has exited (still under
    the lock, so the warehouse is as dbt left it) and returns the events to report, e.g. with
    metadata read from the tables just built."""
    settings = platform.settings()
    # profiles.yml reads the warehouse location from the environment of the dbt process, which
    # dagster-dbt copies from ours when the invocation starts; restore ours afterwards so one
    # run's settings never leak into the next run in the same process.
    target_path = dbt_target_path(settings)
    # DAGSTER_RUN_ID / DAGSTER_ASSET_KEYS become the Snowflake QUERY_TAG (profiles.yml).
    environ = settings.dbt_environ() | query_tag_environ(
        context.run_id, (k.to_user_string() for k in context.selected_asset_keys)
    )
    with platform.warehouse_lock(), _environ(environ):
        # A run killed before dbt wrote its results must not leave the previous run's behind
        # for dagster-dbt to read as this one's.
        (target_path / "run_results.json").unlink(missing_ok=True)
        checkpoint("gold.dbt_build.start")
        invocation = dbt.cli(
            ["build", "--target", settings.dbt_target, *extra_args],
            context=context,
            target_path=target_path,
        )
        built: Events = []
        try:
            # Column schemas + column lineage where the warehouse allows it (dbt_lineage).
            for event in dbt_build_events(invocation, settings):
                if after_build is None:
                    yield event
                else:
                    built.append(event)
        except DagsterDbtCliRuntimeError:
            # What dbt built before failing is still reported. dbt's own error text can quote
            # warehouse values (a failed cast shows the value), so the step fails with a
            # description of ours; the details stay in dbt's log.
            yield from built
            raise dg.Failure(
                description="dbt build failed; the failed models and tests are the failed "
                f"steps and checks of this run, details in dbt's log under {target_path}",
                metadata={"failed_nodes": _failed_nodes(target_path)},
                allow_retries=_worth_retrying(settings, target_path),
            ) from None
        finally:
            _stop(invocation.process)
        if after_build is not None:
            yield from after_build(built)
        checkpoint("gold.dbt_build.done")


def silver_read_by_gold() -> dict[dg.AssetKey, frozenset[dg.AssetKey]]:
    """Each dbt model and the assets outside dbt (the silver tables) it reads, directly or
    through other models: a batch that changes none of them cannot change the model."""
    deps = gold_dbt_models.asset_deps
    reads: dict[dg.AssetKey, frozenset[dg.AssetKey]] = {}

    def read_by(key: dg.AssetKey) -> frozenset[dg.AssetKey]:
        if key not in reads:
            found: set[dg.AssetKey] = set()
            for dep in deps[key]:
                found |= read_by(dep) if dep in deps else {dep}
            reads[key] = frozenset(found)
        return reads[key]

    return {key: read_by(key) for key in sorted(deps, key=lambda k: k.path)}


def _run_results(target_path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads((target_path / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []


def _failed_nodes(target_path: Path) -> list[str]:
    """unique_id: status of each failed dbt node (names only, no values)."""
    return [
        f"{r['unique_id']}: {r['status']}"
        for r in _run_results(target_path)
        if r.get("status") in ("error", "fail")
    ]


def _worth_retrying(settings: Settings, target_path: Path) -> bool:
    """Only a remote warehouse fails transiently (a dropped connection, a suspended warehouse);
    a failed test or a failure on the local DuckDB file fails the same way on every retry."""
    if settings.env == "local":
        return False
    return not any(r.get("status") == "fail" for r in _run_results(target_path))


def _stop(process: subprocess.Popen | None) -> None:
    """A step that fails while dbt still runs (an error in this process, an interrupt) must not
    leave dbt behind holding the warehouse for the retry or the next run."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
