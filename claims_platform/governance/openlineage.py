"""OpenLineage run events (START / COMPLETE / FAIL) for the bronze, silver and gold steps.

Why inside the steps (a decorator on the asset functions) rather than a run-status sensor pair or
hooks: sensors only fire where a daemon runs (not in `dagster asset materialize`, CI or tests) and
see a run only after the fact; hooks see success or failure but never the start, and are not
attached to the implicit job of an ad-hoc materialisation. A wrapper around the step's own
generator runs wherever the step runs, emits START before any work, and sees the exception that
ends the step. Emission never fails a step: a lineage backend that is down costs a warning.

Transport. The openlineage-python client's own configuration wins when present (`OPENLINEAGE_URL`
[+ `OPENLINEAGE_ENDPOINT`, `OPENLINEAGE_API_KEY`] for a Marquez-compatible HTTP endpoint,
`OPENLINEAGE_CONFIG` / `openlineage.yml`, `OPENLINEAGE__TRANSPORT__*`, `OPENLINEAGE_DISABLED`).
Without any, a local run appends JSON lines to `$CLAIMS_DATA_DIR/openlineage/events.jsonl`;
branch and prod fall back to the client's console transport.

Datasets are named by their asset keys (`silver/member`) in namespace `claims_platform` and carry
schema facets from the contracts (or, for dbt models, from the dbt manifest): column names, types
and descriptions, never values. A failure is reported by exception type only: third-party error
text can quote data.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient

NAMESPACE = "claims_platform"
PRODUCER = "https://github.com/claims-platform/claims_platform/tree/main/claims_platform/governance"
EVENTS_FILE = "events.jsonl"
_CLIENT_CONFIG_VARS = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED")

log = logging.getLogger(__name__)


def local_events_path(data_dir: Path) -> Path:
    return data_dir / "openlineage" / EVENTS_FILE


def _client_is_configured() -> bool:
    return (
        any(os.environ.get(v) for v in _CLIENT_CONFIG_VARS)
        or any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ)
        or Path("openlineage.yml").is_file()
        or (Path.home() / ".openlineage" / "openlineage.yml").is_file()
    )


def make_client() -> OpenLineageClient:
    """The client of this environment (see the module docstring); built when a step runs."""
    from openlineage.client import OpenLineageClient

    if _client_is_configured():
        return OpenLineageClient()
    from claims_platform.environment import get_settings

    settings = get_settings()
    if settings.env != "local":
        return OpenLineageClient()  # the client's console transport, with its own warning
    from openlineage.client.transport.file import FileConfig, FileTransport

    path = local_events_path(settings.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(path), append=True))
    )


def dataset_name(key: dg.AssetKey) -> str:
    return key.to_user_string()


# --------------------------------------------------------------------------------------------
# schemas (names, types, descriptions; no values)


def _contract_schemas() -> dict[dg.AssetKey, dg.TableSchema]:
    """Column schemas of the source, bronze and silver assets, from the contracts."""
    from claims_platform.contracts import load_contracts
    from claims_platform.orchestration.bronze.assets import bronze_key, column_schema, source_key
    from claims_platform.silver.schema import all_silver_tables

    contracts = load_contracts()
    out: dict[dg.AssetKey, dg.TableSchema] = {}
    for c in contracts.values():
        source = column_schema(c, silver=False)
        out[source_key(c)] = source
        out[bronze_key(c)] = source
    silver_described = {c.silver_table: column_schema(c, silver=True) for c in contracts.values()}
    for table in all_silver_tables(contracts):
        key = dg.AssetKey(["silver", table.name])
        described = silver_described.get(table.name)
        by_name = {col.name: col for col in described.columns} if described else {}
        out[key] = dg.TableSchema(
            columns=[by_name.get(n) or dg.TableColumn(n, t) for n, t in table.columns]
        )
    return out


def _facet_fields(schema: dg.TableSchema):
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(
                name=col.name,
                type=col.type if col.type and col.type != "?" else None,
                description=col.description,
            )
            for col in schema.columns
        ]
    )


def _dataset_facets(schema: dg.TableSchema | None) -> dict[str, Any]:
    return {"schema": _facet_fields(schema)} if schema and schema.columns else {}


# --------------------------------------------------------------------------------------------
# the step wrapper


class _StepLineage:
    """One Dagster step as one OpenLineage run, child of the Dagster run."""

    def __init__(self, context: dg.AssetExecutionContext) -> None:
        self.context = context
        self.client: OpenLineageClient | None = None
        self.job_name = context.op_def.name
        self.run_id = str(
            uuid.uuid5(
                uuid.NAMESPACE_URL,
                f"dagster:{context.run_id}/{self.job_name}/{context.retry_number}",
            )
        )
        self.row_counts: dict[dg.AssetKey, int] = {}
        self._schemas: dict[dg.AssetKey, dg.TableSchema] | None = None

    # datasets ---------------------------------------------------------------------------

    def _schema(self, key: dg.AssetKey) -> dg.TableSchema | None:
        spec = self.context.assets_def.specs_by_key.get(key)
        if spec is not None:
            schema = spec.metadata.get("dagster/column_schema")
            if isinstance(schema, dg.TableSchemaMetadataValue):
                schema = schema.schema
            if isinstance(schema, dg.TableSchema):
                return schema
        if self._schemas is None:
            self._schemas = _contract_schemas()
        return self._schemas.get(key)

    def _keys(self) -> tuple[list[dg.AssetKey], list[dg.AssetKey]]:
        outputs = sorted(self.context.selected_asset_keys, key=lambda k: k.to_user_string())
        inputs: set[dg.AssetKey] = set()
        specs = self.context.assets_def.specs_by_key
        for key in outputs:
            spec = specs.get(key)
            if spec is not None:
                inputs.update(dep.asset_key for dep in spec.deps)
        inputs -= set(outputs)
        return sorted(inputs, key=lambda k: k.to_user_string()), outputs

    def _datasets(self, with_stats: bool) -> tuple[list[Any], list[Any]]:
        from openlineage.client.event_v2 import InputDataset, OutputDataset
        from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

        inputs, outputs = self._keys()
        ins = [
            InputDataset(NAMESPACE, dataset_name(k), facets=_dataset_facets(self._schema(k)))
            for k in inputs
        ]
        outs = []
        for k in outputs:
            out_facets = {}
            if with_stats and k in self.row_counts:
                out_facets["outputStatistics"] = stats.OutputStatisticsOutputDatasetFacet(
                    rowCount=self.row_counts[k]
                )
            outs.append(
                OutputDataset(
                    NAMESPACE,
                    dataset_name(k),
                    facets=_dataset_facets(self._schema(k)),
                    outputFacets=out_facets,
                )
            )
        return ins, outs

    # events -----------------------------------------------------------------------------

    def emit(self, state: str, error: BaseException | None = None) -> None:
        try:
            self._emit(state, error)
        except Exception as e:  # lineage is never worth a failed step
            self.context.log.warning(
                f"OpenLineage {state} event for {self.job_name} not emitted: {type(e).__name__}"
            )

    def _emit(self, state: str, error: BaseException | None) -> None:
        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import error_message_run, job_type_job, parent_run

        if self.client is None:
            self.client = make_client()
        run_facets: dict[str, Any] = {
            "parent": parent_run.ParentRunFacet(
                run=parent_run.Run(runId=self.context.run_id),
                job=parent_run.Job(namespace=NAMESPACE, name=self.context.job_name),
            )
        }
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=f"{type(error).__name__} in step {self.job_name} of Dagster run "
                f"{self.context.run_id} (details in the Dagster event log)",
                programmingLanguage="python",
            )
        inputs, outputs = self._datasets(with_stats=state == "COMPLETE")
        self.client.emit(
            RunEvent(
                eventType=RunState[state],
                eventTime=dt.datetime.now(dt.UTC).isoformat(),
                run=Run(runId=self.run_id, facets=run_facets),
                job=Job(
                    namespace=NAMESPACE,
                    name=self.job_name,
                    facets={
                        "jobType": job_type_job.JobTypeJobFacet(
                            processingType="BATCH", integration="DAGSTER", jobType="ASSET"
                        )
                    },
                ),
                inputs=inputs,
                outputs=outputs,
                producer=PRODUCER,
            )
        )

    def observe(self, event: Any) -> None:
        """Row counts from the step's own results (`dagster/row_count`), for outputStatistics."""
        key = getattr(event, "asset_key", None)
        metadata: Mapping[str, Any] = getattr(event, "metadata", None) or {}
        count = metadata.get("dagster/row_count")
        if isinstance(count, dg.IntMetadataValue):
            count = count.value
        if key is not None and isinstance(count, int):
            self.row_counts[key] = count


def emits_openlineage(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """Wrap a generator asset function: START before it runs, COMPLETE or FAIL after."""

    @functools.wraps(fn)
    def step(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Iterator[Any]:
        lineage = _StepLineage(context)
        lineage.emit("START")
        try:
            for event in fn(context, *args, **kwargs):
                lineage.observe(event)
                yield event
        except BaseException as e:
            lineage.emit("FAIL", e)
            raise
        lineage.emit("COMPLETE")

    return step


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events a file transport wrote (one JSON object per line)."""
    import json

    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def events_for(events: Iterable[Mapping[str, Any]], job: str) -> list[Mapping[str, Any]]:
    return [e for e in events if e["job"]["name"] == job]
