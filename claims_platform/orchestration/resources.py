"""The one resources module: what every asset reaches the outside world through.

All of it follows from `environment.get_settings()`, evaluated when a run or sensor uses it, never
at import. Locally: a landing directory, PySpark in-process and a DuckDB file; production pieces
plug in behind the same methods.
"""

import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from dagster_pyspark import LazyPySparkResource

from claims_platform.bronze.landing import Landing, landing_for
from claims_platform.deploy.glue import GlueJobSettings
from claims_platform.dms.io import join_uri
from claims_platform.environment import ConfigurationError, Settings, get_settings
from claims_platform.orchestration.snowflake import snowflake_connections
from claims_platform.silver.job import QUARANTINE_CHECK, BatchManifest, BatchResult, JobReport
from claims_platform.silver.spark import ensure_java, silver_spark_conf
from claims_platform.warehouse.base import BatchOutput, Warehouse
from claims_platform.warehouse.choice import warehouse_for
from claims_platform.warehouse.duckdb import warehouse_lock

# Runs of the checks that wait for no model, made by the automation sensors after landing
# batches (orchestration/definitions.py), carry this tag: dagster.yaml lets one run at a time, and
# the Great Expectations work of such a run gives way on the CPU to the batches gold waits for
# (quality/checks.py).
AFTER_THE_BATCH_TAG = "claims/after_the_batch"
# Its nice value: locally a check run (Great Expectations' import and validation, seconds of CPU)
# beside a landing batch (Spark, dbt) on two cores took the batch's steps from ~6 to 10-14 s.
AFTER_THE_BATCH_NICE = 10


def give_way_on_cpu(nice: int = AFTER_THE_BATCH_NICE) -> None:
    """Lower the calling thread's CPU priority to `nice` (never raise it). Linux only, where a
    nice value is a thread's: elsewhere it would hold for the whole process."""
    if sys.platform.startswith("linux") and os.getpriority(os.PRIO_PROCESS, 0) < nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


class PlatformResource(dg.ConfigurableResource):
    """Settings, landing zone and the single-writer warehouse of the current environment."""

    # Left unset, S3 follows the ambient AWS configuration (role credentials, AWS_REGION,
    # AWS_ENDPOINT_URL), as boto3 does on Glue.
    s3_region_name: str | None = None
    s3_endpoint_url: str | None = None

    def settings(self) -> Settings:
        return get_settings()

    def s3_client(self) -> Any:
        """An S3 client from dagster-aws's `S3Resource`, imported here: dagster_aws costs
        seconds to import, which every definitions load would pay."""
        return make_s3_client(self.s3_region_name, self.s3_endpoint_url)

    def landing(self) -> Landing:
        return landing_for(self.settings().landing_uri, s3_client=self.s3_client)

    def warehouse(self) -> Warehouse:
        """The warehouse of the environment (warehouse.choice): the DuckDB file locally,
        Snowflake in branch and prod. Everything that reads or writes silver, the ledger or gold
        goes through it. Snowflake connections come from dagster-snowflake's SnowflakeResource."""
        settings = self.settings()
        if settings.env == "local":
            return warehouse_for(settings)
        return warehouse_for(settings, snowflake_connections(settings))

    @contextmanager
    def warehouse_lock(self) -> Iterator[None]:
        """What a dbt build holds: the lock file of the data dir. Locally it is the DuckDB
        file's writer lock (dbt-duckdb opens the file itself, and DuckDB allows one writing
        process); in every environment it keeps this machine's dbt invocations from sharing
        the target folder at once (gold/project.dbt_target_path)."""
        with warehouse_lock(self.settings().lock_path):
            yield

    def read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query (`?` placeholders, DuckDB's dialect, lower-case column
        names) on the warehouse gold is built in (Warehouse.read_rows)."""
        return self.warehouse().read_rows(sql, params)


@dataclass(frozen=True)
class SilverBatch:
    """A finished silver job run: its result, where the committer reads its output, and what the
    job reported to Dagster (the same metadata and check results whichever runner ran it)."""

    result: BatchResult
    local_dir: Path
    job_results: tuple[dg.MaterializeResult | dg.AssetCheckResult, ...] = ()
    # Where the job ran (engine, Spark session or Glue job), for the materialisations.
    engine: dict[str, str] = field(default_factory=dict)
    # The batch's folder under the S3 lake (`batches/<batch_id>`), where Snowflake's stage reads
    # the parts; None when the lake is a local directory.
    lake_location: str | None = None

    def output(self) -> BatchOutput:
        """The batch as the warehouse commits it."""
        return BatchOutput(self.result.batch_id, self.local_dir, self.lake_location)


def lake_location(settings: Settings, batch_id: str) -> str | None:
    """Where a batch's output lies under the lake root (publish_batch, the Glue job's output)."""
    return f"batches/{batch_id}" if settings.lake_is_s3 else None


def results_from_report(
    report: JobReport,
) -> tuple[dg.MaterializeResult | dg.AssetCheckResult, ...]:
    """The job's report as Dagster results, as Pipes would deliver them (for the in-process run)."""
    out: list[dg.MaterializeResult | dg.AssetCheckResult] = [
        dg.MaterializeResult(asset_key=dg.AssetKey.from_user_string(k), metadata=dict(m))
        for k, m in report.materializations.items()
    ]
    out += [
        dg.AssetCheckResult(
            asset_key=dg.AssetKey.from_user_string(k),
            check_name=QUARANTINE_CHECK,
            passed=c.passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=dict(c.metadata),
        )
        for k, c in report.checks.items()
    ]
    return tuple(out)


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def make_s3_client(region_name: str | None = None, endpoint_url: str | None = None) -> Any:
    from dagster_aws.s3 import S3Resource

    return S3Resource(region_name=region_name, endpoint_url=endpoint_url).get_client()


def publish_batch(batch_dir: Path, settings: Settings, batch_id: str) -> list[str]:
    """Copy a batch the local Spark finished (manifest, Parquet, `_files.json`) to the S3 lake,
    every object SSE-KMS encrypted: local Spark has no S3 filesystem to write there itself."""
    from claims_platform.aws.s3 import upload_dir

    return upload_dir(
        make_s3_client(),
        batch_dir,
        join_uri(settings.lake_uri, "batches", batch_id),
        kms_key_id=settings.kms_key_id,
    )


def _local_batch_dir(settings: Settings, manifest: BatchManifest) -> Path:
    batch_dir = settings.lake_dir / "batches" / manifest.batch_id
    if batch_dir.exists():
        shutil.rmtree(batch_dir)
    batch_dir.mkdir(parents=True)
    return batch_dir


class SilverRunner(dg.ConfigurableResource):
    """Runs the silver job (silver/job.py) over a batch manifest.

    The silver asset calls `run`, commits `SilverBatch.local_dir` with the ledger, then `discard`s
    the batch. Runners that launch the job elsewhere (a subprocess, Glue) need the asset context:
    Dagster Pipes streams the job's logs, materialisations and checks into that step.
    """

    def run(
        self,
        manifest: BatchManifest,
        settings: Settings,
        context: dg.AssetExecutionContext | None = None,
    ) -> SilverBatch:
        raise NotImplementedError

    @staticmethod
    def new_batch_id() -> str:
        return uuid.uuid4().hex

    def discard(self, batch: SilverBatch) -> None:
        shutil.rmtree(batch.local_dir, ignore_errors=True)


def silver_pyspark() -> LazyPySparkResource:
    """dagster-pyspark's session resource with silver's Glue-5-like settings
    (`silver.spark.silver_spark_conf`, read now) and a Java 17 for it (`ensure_java`)."""
    ensure_java()
    return LazyPySparkResource(spark_config=silver_spark_conf())


@dg.resource(
    description="The Spark session of local silver runs: dagster-pyspark's LazyPySparkResource "
    "with the Glue-5-like settings of silver.spark.silver_spark_conf (Spark 3.5, Java 17, UTC; "
    "CLAIMS_SPARK_MASTER and CLAIMS_SPARK_DRIVER_MEMORY read when a run starts, not when the "
    "definitions load). Spark starts at the first batch that needs it; later steps of the same "
    "process reuse the session."
)
def silver_pyspark_resource(_: dg.InitResourceContext) -> LazyPySparkResource:
    return silver_pyspark()


class LocalSparkSilverRunner(SilverRunner):
    """Runs the silver job in this process on PySpark `local[*]`, as Glue would run the script.

    The local default: one warm Spark session serves every batch of the process (the in-process
    executor runs all steps of a run in one process, and the resource's `getOrCreate` returns
    the session an earlier step started), where a subprocess pays a JVM and interpreter start
    (≈ 5-10 s) per batch. `LocalPipesSilverRunner` runs the Glue code path.
    """

    # The run's `pyspark` resource; None (a runner built outside a run) = `silver_pyspark()`.
    pyspark: LazyPySparkResource | None = None

    def run(
        self,
        manifest: BatchManifest,
        settings: Settings,
        context: dg.AssetExecutionContext | None = None,
    ) -> SilverBatch:
        from claims_platform.silver.job import batch_report, run_batch

        batch_dir = _local_batch_dir(settings, manifest)
        (batch_dir / "_manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        # Any LazyPySparkResource may be handed in; Spark 3.5 needs the Java 17 set up first.
        ensure_java()
        spark = (self.pyspark or silver_pyspark()).spark_session
        result = run_batch(
            spark, manifest, str(batch_dir), tokenization_key=settings.tokenization_key
        )
        if settings.lake_is_s3:
            publish_batch(batch_dir, settings, manifest.batch_id)
        engine = {
            "engine": "spark",
            "spark_version": spark.version,
            "spark_master": spark.sparkContext.master,
            "spark_app_id": spark.sparkContext.applicationId,
        }
        return SilverBatch(
            result,
            batch_dir,
            results_from_report(batch_report(result)),
            engine,
            lake_location(settings, manifest.batch_id),
        )


# PipesSubprocessClient hands the Pipes bootstrap parameters over as environment variables; Glue
# can only take arguments. Moving them onto the command line makes the local run take the Glue
# path through `PipesCliArgsParamsLoader`.
_AS_GLUE_ARGS = (
    'exec "$0" -m claims_platform.silver.job "$@" '
    '--dagster-pipes-context "$DAGSTER_PIPES_CONTEXT" '
    '--dagster-pipes-messages "$DAGSTER_PIPES_MESSAGES"'
)


class LocalPipesSilverRunner(SilverRunner):
    """Runs the silver script as a subprocess through `dagster.PipesSubprocessClient`, with its
    Pipes parameters on the command line as on Glue: the production code path, on this machine."""

    def run(
        self,
        manifest: BatchManifest,
        settings: Settings,
        context: dg.AssetExecutionContext | None = None,
    ) -> SilverBatch:
        if context is None:
            raise ValueError(
                "LocalPipesSilverRunner needs the asset context to open a Pipes session"
            )
        batch_dir = _local_batch_dir(settings, manifest)
        manifest_path = batch_dir / "_manifest.json"
        manifest_path.write_text(manifest.to_json(), encoding="utf-8")
        invocation = dg.PipesSubprocessClient().run(
            context=context,
            command=[
                "/bin/sh",
                "-c",
                _AS_GLUE_ARGS,
                sys.executable,
                "--manifest",
                str(manifest_path),
                "--output",
                str(batch_dir),
            ],
            env={"CLAIMS_TOKENIZATION_KEY": settings.tokenization_key},
        )
        if settings.lake_is_s3:
            publish_batch(batch_dir, settings, manifest.batch_id)
        return SilverBatch(
            BatchResult.read(str(batch_dir)),
            batch_dir,
            tuple(invocation.get_results(implicit_materializations=False)),
            {"engine": "spark", "launched_as": "subprocess through Dagster Pipes"},
            lake_location(settings, manifest.batch_id),
        )


class GlueSilverRunner(SilverRunner):
    """Runs the silver script on AWS Glue through `dagster_aws.pipes.PipesGlueClient`.

    The manifest goes to the S3 lake (`Settings.lake_uri`, SSE-KMS) and the job writes its output
    beside it, in the same layout as a local batch; the Pipes context travels through
    `pipes_bucket` (S3 context injector) and the job's Pipes messages come back through its
    CloudWatch output stream. The finished output is copied to the local lake directory for the
    committer. The job itself is defined by `claims_platform.deploy.glue`.
    """

    job_name: str
    pipes_bucket: str
    pipes_prefix: str = "dagster-pipes/"
    region_name: str | None = None

    @classmethod
    def from_job_settings(cls, job: GlueJobSettings) -> "GlueSilverRunner":
        """The runner of the deployment's Glue job (deploy.glue defines and deploys it)."""
        return cls(
            job_name=job.job_name, pipes_bucket=job.pipes_bucket, region_name=job.region_name
        )

    def start_job_run_params(self, manifest_uri: str, output_uri: str) -> dict[str, Any]:
        """The `StartJobRun` request; PipesGlueClient adds its `--dagster-pipes-*` arguments.
        Worker type, count, modules and the key secret come from the job definition."""
        return {
            "JobName": self.job_name,
            "Arguments": {"--manifest": manifest_uri, "--output": output_uri},
        }

    @staticmethod
    def batch_uris(settings: Settings, batch_id: str) -> tuple[str, str]:
        """(manifest URI, output URI) of a batch in the S3 lake."""
        if not settings.lake_is_s3:
            raise ConfigurationError(
                "the silver job runs on Glue: set CLAIMS_LAKE_URI to the s3:// lake it writes to"
            )
        output = join_uri(settings.lake_uri, "batches", batch_id)
        return join_uri(output, "_manifest.json"), output

    def _boto(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=self.region_name)

    def pipes_client(self) -> Any:
        """The PipesGlueClient (imported here: dagster_aws.pipes costs seconds to import)."""
        from dagster_aws.pipes import (
            PipesCloudWatchMessageReader,
            PipesGlueClient,
            PipesS3ContextInjector,
        )

        return PipesGlueClient(
            client=self._boto("glue"),
            context_injector=PipesS3ContextInjector(
                bucket=self.pipes_bucket, client=self._boto("s3"), key_prefix=self.pipes_prefix
            ),
            message_reader=PipesCloudWatchMessageReader(client=self._boto("logs")),
        )

    def run(
        self,
        manifest: BatchManifest,
        settings: Settings,
        context: dg.AssetExecutionContext | None = None,
    ) -> SilverBatch:
        from claims_platform.aws.s3 import put_object

        if context is None:
            raise ValueError("GlueSilverRunner needs the asset context to open a Pipes session")
        manifest_uri, output_uri = self.batch_uris(settings, manifest.batch_id)
        put_object(
            self._boto("s3"),
            manifest_uri,
            manifest.to_json().encode("utf-8"),
            kms_key_id=settings.kms_key_id,
        )
        invocation = self.pipes_client().run(
            context=context,
            start_job_run_params=self.start_job_run_params(manifest_uri, output_uri),
        )
        batch_dir = _local_batch_dir(settings, manifest)
        self._download(output_uri, batch_dir)
        # PipesGlueClient adds the job run's id and console URL to every reported result.
        return SilverBatch(
            BatchResult.read(str(batch_dir)),
            batch_dir,
            tuple(invocation.get_results(implicit_materializations=False)),
            {"engine": "aws-glue", "glue_job_name": self.job_name},
            lake_location(settings, manifest.batch_id),
        )

    def _download(self, prefix_uri: str, target: Path) -> None:
        bucket, prefix = _split_s3(prefix_uri.rstrip("/") + "/")
        s3 = self._boto("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                dest = target / obj["Key"][len(prefix) :]
                dest.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(dest))


class EnvironmentSilverRunner(SilverRunner):
    """The silver runner of the current environment, chosen when a run uses it (never at import):
    `branch` / `prod` run on Glue (configured by `deploy.glue.GlueJobSettings.from_env`), `local`
    runs in-process Spark on the `pyspark` resource, or the local Pipes subprocess with
    `local_runner="pipes"`."""

    local_runner: Literal["spark", "pipes"] = "spark"
    # The definitions' `pyspark` resource (silver_pyspark_resource): lazy, so a Glue run or a
    # step with nothing to read starts no Spark.
    pyspark: dg.ResourceDependency[LazyPySparkResource] = None  # type: ignore[assignment]

    def resolve(self, settings: Settings) -> SilverRunner:
        if settings.env != "local":
            return GlueSilverRunner.from_job_settings(GlueJobSettings.from_env())
        if self.local_runner == "pipes":
            return LocalPipesSilverRunner()
        # Outside a run (tests, benchmarks) the dependency is still the unresolved definition.
        pyspark = self.pyspark if isinstance(self.pyspark, LazyPySparkResource) else None
        return LocalSparkSilverRunner(pyspark=pyspark)

    def run(
        self,
        manifest: BatchManifest,
        settings: Settings,
        context: dg.AssetExecutionContext | None = None,
    ) -> SilverBatch:
        return self.resolve(settings).run(manifest, settings, context)

    def discard(self, batch: SilverBatch) -> None:
        self.resolve(get_settings()).discard(batch)
