"""OpenLineage run events (START / COMPLETE / FAIL) for the bronze, silver and gold steps.

Why inside the steps (a decorator on the asset functions) rather than a run-status sensor pair or
hooks: sensors only fire where a daemon runs (not in `dagster asset materialize`, CI or tests) and
see a run only after the fact; hooks see success or failure but never the start, and are not
attached to the implicit job of an ad-hoc materialisation. A wrapper around the step's own
generator runs wherever the step runs, emits START before any work, and sees the exception that
ends the step. Emission never fails a step: a lineage backend that is down costs a warning.

Transport: the client of claims_platform.governance.openlineage.make_client.

Datasets are named by their asset keys (`silver/member`) in namespace `claims_platform` and carry
schema facets from the contracts (or, for dbt models, from the dbt manifest): column names, types
and descriptions, never values. A failure is reported by exception type only: third-party error
text can quote data.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

from claims_platform.contracts import load_contracts
from claims_platform.governance.openlineage import NAMESPACE, PRODUCER, make_client, schema_facet
from claims_platform.orchestration.tables import bronze_key, column_schema, source_key
from claims_platform.silver.schema import all_silver_tables

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient


def dataset_name(key: dg.AssetKey) -> str:
    return key.to_user_string()


# --------------------------------------------------------------------------------------------
# schemas (names, types, descriptions; no values)


def _contract_schemas() -> dict[dg.AssetKey, dg.TableSchema]:
    """Column schemas of the source, bronze and silver assets, from the contracts."""
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
    return schema_facet(
        (col.name, col.type if col.type and col.type != "?" else None, col.description)
        for col in schema.columns
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
