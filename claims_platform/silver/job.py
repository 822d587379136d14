"""The silver PySpark job: one script for AWS Glue 5 and for the local runner.

Input: a batch manifest (landing URI, the landed files to process, batch id). Output, under the
batch's output URI: one Parquet folder per silver table (change tables, flattened children,
rejects) and `_files.json`, the ledger facts of every file. Nothing is committed here: the
committer loads a finished batch into the warehouse together with its ledger rows, atomically,
so a job killed half-way leaves nothing behind but scratch output.

On Glue (`claims_platform.deploy.glue` generates the job): the platform wheel and the pins below
arrive through `--additional-python-modules`; the job arguments are `--manifest <uri> --output <uri>`
and `--tokenization-key-secret-id <Secrets Manager id>` (Glue cannot set environment variables, and
a key passed as an argument would show in every job run's description), and `--kms-key-id` for the
objects it writes itself. Locally the key comes from CLAIMS_TOKENIZATION_KEY.

Launched by Dagster (`PipesGlueClient` in production, `PipesSubprocessClient` locally) the Pipes
bootstrap parameters arrive as `--dagster-pipes-context` / `--dagster-pipes-messages` arguments,
and the job reports per-table counts (never values) and the quarantine check through Dagster
Pipes. Without them it runs standalone (a Glue run started by hand, the local CLI).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.dms.io import join_uri, read_text, write_text
from claims_platform.dms.parse import (
    CHANGE_KEY,
    DEFAULT_LIMITS,
    EXTRA,
    FILE_COLUMNS,
    FileParse,
    ParseLimits,
)
from claims_platform.dms.values import canonical
from claims_platform.faults import checkpoint

if TYPE_CHECKING:
    import pyarrow as pa

FILES_MANIFEST = "_files.json"
# The asset check the job reports on each silver change table (declared in silver/assets.py).
QUARANTINE_CHECK = "no_quarantined_files"


@dataclass
class BatchManifest:
    batch_id: str
    landing_uri: str
    files: list[str]
    loaded_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
    )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> BatchManifest:
        return cls(**json.loads(text))


@dataclass
class BatchResult:
    batch_id: str
    output_uri: str
    files: list[dict[str, Any]]
    tables: dict[str, int]  # change table (and rejects) → rows written

    @property
    def rejected(self) -> int:
        return self.tables.get("rejects", 0)

    @classmethod
    def read(cls, output_uri: str) -> BatchResult:
        """The result of a finished batch, read back from its output (how a runner whose job ran
        elsewhere, e.g. on Glue, learns what the job did)."""
        data = json.loads(read_text(join_uri(output_uri, FILES_MANIFEST)))
        return cls(
            batch_id=data["batch_id"],
            output_uri=output_uri,
            files=data["files"],
            tables={k: int(v) for k, v in data["tables"].items()},
        )


# One Arrow schema carries every output of a batch's files through one Spark job: each table's
# change rows (columns prefixed `<table>__`), the rejects (`_rej_`) and one ledger row per file
# (`_file_`), told apart by `_kind` and `_table`. A piece's other columns are NULL, which Arrow
# stores as a bitmap. One job, not one per table: a Spark job with Python tasks costs seconds.
_KIND = "_kind"
_TABLE = "_table"
_REJ = "_rej_"
_FILE = "_file_"


def _prefix(contract: TableContract) -> str:
    return f"{contract.silver_table}__"


def _task_schema(contracts: Mapping[str, TableContract]) -> pa.Schema:
    import pyarrow as pa

    from claims_platform.dms.parse import arrow_type, change_schema, reject_schema

    return pa.schema(
        [
            pa.field(_KIND, pa.string()),
            pa.field(_TABLE, pa.string()),
            *(
                pa.field(_prefix(c) + f.name, f.type)
                for c in contracts.values()
                for f in change_schema(c)
            ),
            *(pa.field(_REJ + f.name, f.type) for f in reject_schema()),
            *(pa.field(_FILE + n, arrow_type(t)) for n, t in FILE_COLUMNS),
        ]
    )


def _as_task_batch(
    schema: pa.Schema, kind: str, table: str, batch: pa.RecordBatch, prefix: str
) -> Any:
    import pyarrow as pa

    n = batch.num_rows
    given = {
        prefix + name: col for name, col in zip(batch.schema.names, batch.columns, strict=True)
    }
    given[_KIND] = pa.array([kind] * n, pa.string())
    given[_TABLE] = pa.array([table] * n, pa.string())
    arrays = [given.get(f.name, pa.nulls(n, f.type)) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _parse_files(
    contracts: Mapping[str, TableContract],
    key: str,
    batch_id: str,
    loaded_at: dt.datetime,
    limits: ParseLimits,
) -> Any:
    """The mapInArrow function: (path, uri) batches in, every file's pieces out."""

    def parse(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from claims_platform.dms.parse import arrow_type

        schema = _task_schema(contracts)
        file_schema = pa.schema([pa.field(n, arrow_type(t)) for n, t in FILE_COLUMNS])
        for files in batches:
            for path, uri in zip(*(c.to_pylist() for c in files.columns), strict=True):
                dms_file = parse_path(path)
                if dms_file is None or dms_file.table not in contracts:
                    continue
                contract = contracts[dms_file.table]
                fp = FileParse(
                    uri,
                    dms_file,
                    contract,
                    tokenization_key=key,
                    batch_id=batch_id,
                    loaded_at=loaded_at,
                    limits=limits,
                )
                table = contract.silver_table
                for kind, piece in fp.pieces():
                    prefix = _prefix(contract) if kind == "rows" else _REJ
                    yield _as_task_batch(schema, kind, table, piece, prefix)
                if fp.facts.status == "unreadable":
                    # Listed but unreadable now: left out of the ledger so a later batch retries it.
                    continue
                ledger = pa.RecordBatch.from_pylist(
                    [dict(zip(file_schema.names, fp.facts.ledger_row(), strict=True))],
                    schema=file_schema,
                )
                yield _as_task_batch(schema, "file", table, ledger, _FILE)

    return parse


def run_batch(
    spark: Any,
    manifest: BatchManifest,
    output_uri: str,
    *,
    tokenization_key: str,
    contracts: dict[str, TableContract] | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> BatchResult:
    """Parse, validate and flatten the manifest's files with Spark; write the batch output.

    Files are parsed by Arrow-batched Python tasks (`mapInArrow`), one file per task: a file
    streams through in bounded record batches and never becomes Python rows. Rows of a file that
    ends quarantined are dropped before anything is written.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from claims_platform.silver.schema import (
        change_table,
        child_tables,
        rejects_table,
        spark_type,
    )

    contracts = contracts or load_contracts()
    loaded_at = dt.datetime.fromisoformat(manifest.loaded_at)
    items = []
    for path in manifest.files:
        dms_file = parse_path(path)
        if dms_file is not None and dms_file.table in contracts:
            items.append((path, join_uri(manifest.landing_uri, path)))
    bid = manifest.batch_id
    files: list[dict[str, Any]] = []
    counts: dict[str, int] = {}

    def write(name: str, df: Any) -> None:
        df.write.mode("overwrite").parquet(join_uri(output_uri, name))
        checkpoint(f"silver.job.wrote:{name}")

    parsed = None
    if items:
        slices = max(1, min(len(items), spark.sparkContext.defaultParallelism * 4))
        parsed = (
            spark.createDataFrame(
                spark.sparkContext.parallelize(items, slices), "path string, uri string"
            )
            .mapInArrow(
                _parse_files(contracts, tokenization_key, bid, loaded_at, limits),
                _spark_schema(_task_schema(contracts)),
            )
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
    try:
        if parsed is not None:
            ledger = parsed.where(F.col(_KIND) == "file").select(
                *(F.col(_FILE + n).alias(n) for n, _ in FILE_COLUMNS)
            )
            files = sorted((r.asDict() for r in ledger.collect()), key=lambda f: f["path"])
            dropped = [f["path"] for f in files if f["status"] != "processed"]
            kept = parsed.where(~F.col(_REJ + "source_file").isin(dropped)) if dropped else parsed
        for contract in contracts.values():
            table_files = [f for f in files if f["table_name"] == contract.name]
            if not table_files:
                continue
            assert parsed is not None
            prefix = _prefix(contract)
            # Columns added at the source (DDL) ride along as text until a contract types them.
            extras: list[str] = []
            for f in table_files:
                if f["status"] == "processed" and f["extra_columns"]:
                    extras += [n for n in f["extra_columns"].split(",") if n not in extras]
            extra_map = F.from_json(
                F.col(prefix + EXTRA), T.MapType(T.StringType(), T.StringType())
            )
            rows = parsed.where((F.col(_KIND) == "rows") & (F.col(_TABLE) == contract.silver_table))
            if dropped:
                rows = rows.where(~F.col(prefix + "_source_file").isin(dropped))
            df = rows.select(
                F.md5(F.col(prefix + CHANGE_KEY)).alias("_change_id"),
                *(F.col(prefix + n).alias(n) for n, _ in change_table(contract).columns[1:]),
                *(extra_map[n].alias(n) for n in extras),
            )
            counts[contract.silver_table] = sum(
                f["rows_loaded"] for f in table_files if f["status"] == "processed"
            )
            write(contract.silver_table, df)
            for child in child_tables(contract):
                col = contract.column(child.source_column or "")
                assert col.nested is not None
                item_type = T.ArrayType(
                    T.StructType(
                        [T.StructField(f.name, spark_type(f.type)) for f in col.nested.fields]
                    )
                )
                keys = [contract.column(k).silver_name for k in contract.primary_key]
                exploded = df.where(F.col(col.silver_name).isNotNull()).select(
                    "_change_id",
                    "_batch_id",
                    *keys,
                    F.posexplode(F.from_json(F.col(col.silver_name), item_type)).alias(
                        "_pos", "_item"
                    ),
                )
                child_df = exploded.select(
                    "_change_id",
                    "_batch_id",
                    *keys,
                    (F.col("_pos") + 1).cast("long").alias(col.nested.position),
                    *(F.col("_item")[f.name].alias(f.column) for f in col.nested.fields),
                )
                write(child.name, child_df)
        counts["rejects"] = sum(f["rows_rejected"] for f in files)
        if counts["rejects"]:
            write(
                "rejects",
                kept.where(F.col(_KIND) == "rejects").select(
                    *(F.col(_REJ + n).alias(n) for n, _ in rejects_table().columns)
                ),
            )
    finally:
        if parsed is not None:
            parsed.unpersist()

    result = BatchResult(batch_id=bid, output_uri=output_uri, files=files, tables=counts)
    write_text(
        join_uri(output_uri, FILES_MANIFEST),
        json.dumps(
            {
                "batch_id": bid,
                "tables": counts,
                "files": [{k: canonical(v) for k, v in f.items()} for f in files],
            },
            indent=1,
        ),
    )
    checkpoint("silver.job.files_manifest_written")
    return result


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


@dataclass(frozen=True)
class CheckReport:
    passed: bool
    metadata: dict[str, int]


@dataclass(frozen=True)
class JobReport:
    """What the job tells Dagster about a batch: counts only, never a value (PHI stays in the lake).

    Keys are asset keys as Pipes spells them (`silver/<table>`). The same report reaches Dagster
    through Pipes (Glue, local subprocess) or directly (in-process runner), so every runner
    yields the same metadata and check results.
    """

    materializations: dict[str, dict[str, int]]
    checks: dict[str, CheckReport]  # change table asset key → result of QUARANTINE_CHECK


def asset_key_string(table: str) -> str:
    return f"silver/{table}"


def batch_report(
    result: BatchResult, contracts: Mapping[str, TableContract] | None = None
) -> JobReport:
    from claims_platform.silver.schema import REJECTS_TABLE, child_tables

    contracts = contracts or load_contracts()
    materializations: dict[str, dict[str, int]] = {}
    checks: dict[str, CheckReport] = {}
    for c in contracts.values():
        files = [f for f in result.files if f["table_name"] == c.name]
        quarantined = sum(1 for f in files if f["status"] == "quarantined")
        counts = {
            "silver_job/files_read": len(files),
            "silver_job/files_quarantined": quarantined,
            "silver_job/rows_written": int(result.tables.get(c.silver_table, 0)),
            "silver_job/rows_rejected": sum(int(f["rows_rejected"]) for f in files),
        }
        key = asset_key_string(c.silver_table)
        materializations[key] = counts
        # Children are flattened from the parent's rows; counting them would cost a Spark action.
        for child in child_tables(c):
            materializations[asset_key_string(child.name)] = {"silver_job/files_read": len(files)}
        checks[key] = CheckReport(
            passed=quarantined == 0,
            metadata={"files_read": len(files), "files_quarantined": quarantined},
        )
    materializations[asset_key_string(REJECTS_TABLE)] = {
        "silver_job/files_read": len(result.files),
        "silver_job/rows_written": int(result.tables.get("rejects", 0)),
    }
    return JobReport(materializations=materializations, checks=checks)


@contextmanager
def open_pipes() -> Iterator[Any | None]:
    """The Dagster Pipes context when Dagster launched this run, else None (standalone run).

    Parameters come from the command line, the one channel Glue offers (it cannot set environment
    variables). Which loader and writer to use follows from the parameters themselves: an S3
    location (`PipesS3ContextInjector`, `PipesS3MessageReader`) or a path / stdio stream (the
    subprocess client's temp files, the CloudWatch reader's stdout), so one code path serves Glue
    and the local Pipes runner. Reads `sys.argv`, as `PipesCliArgsParamsLoader` does.
    """
    from dagster_pipes import (
        PipesCliArgsParamsLoader,
        PipesDefaultContextLoader,
        PipesDefaultMessageWriter,
        PipesS3ContextLoader,
        PipesS3MessageWriter,
        open_dagster_pipes,
    )

    loader = PipesCliArgsParamsLoader()
    if not loader.is_dagster_pipes_process():
        yield None
        return
    on_s3 = "bucket" in loader.load_context_params(), "bucket" in loader.load_messages_params()
    s3 = None
    if any(on_s3):
        import boto3

        s3 = boto3.client("s3")
    with open_dagster_pipes(
        params_loader=loader,
        context_loader=PipesS3ContextLoader(s3) if on_s3[0] else PipesDefaultContextLoader(),
        message_writer=PipesS3MessageWriter(s3) if on_s3[1] else PipesDefaultMessageWriter(),
    ) as pipes:
        yield pipes


def report_to_pipes(pipes: Any, report: JobReport) -> None:
    """Report the batch to Dagster, for the asset keys this launch is about (a subset run)."""
    in_scope = set(pipes.asset_keys)
    for key, metadata in report.materializations.items():
        if key in in_scope:
            pipes.report_asset_materialization(asset_key=key, metadata=metadata)
    for key, check in report.checks.items():
        if key in in_scope:
            pipes.report_asset_check(
                QUARANTINE_CHECK,
                passed=check.passed,
                # A quarantined file is recorded and the rest of the batch goes on: warn a human.
                severity="WARN",
                metadata=check.metadata,
                asset_key=key,
            )


def tokenization_key(secret_id: str | None) -> str | None:
    """The SSN tokenization key: CLAIMS_TOKENIZATION_KEY, else the named Secrets Manager secret."""
    key = os.environ.get("CLAIMS_TOKENIZATION_KEY")
    if key or not secret_id:
        return key
    import boto3

    return boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


def job_spark() -> Any:
    """The Spark session of this run: Glue's cluster on Glue, else the local `local[*]` session.

    Glue starts the driver with its cluster configured and passes `--JOB_RUN_ID`; the local
    builder would pin `spark.master` to `local[*]` and leave the Glue workers idle.
    """
    if "--JOB_RUN_ID" in sys.argv:
        from pyspark.sql import SparkSession

        return (
            SparkSession.builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.parquet.compression.codec", "zstd")
            .getOrCreate()
        )
    from claims_platform.silver.spark import get_spark

    return get_spark()


def main(argv: Sequence[str] | None = None) -> int:
    """Glue entry point: `--manifest <uri> --output <uri>` (other Glue arguments are ignored)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--tokenization-key-secret-id", default=None)
    parser.add_argument("--kms-key-id", default=None)
    args, _glue_args = parser.parse_known_args(argv)
    if args.kms_key_id:
        # Glue cannot set environment variables; dms.io reads the key from this one.
        os.environ.setdefault("CLAIMS_KMS_KEY_ID", args.kms_key_id)
    with open_pipes() as pipes:
        key = tokenization_key(args.tokenization_key_secret_id)
        if not key:
            message = (
                "no SSN tokenization key (set CLAIMS_TOKENIZATION_KEY or pass "
                "--tokenization-key-secret-id): refusing to write silver"
            )
            if pipes is not None:
                raise RuntimeError(message)
            print(message, file=sys.stderr)
            return 2
        manifest = BatchManifest.from_json(read_text(args.manifest))
        if pipes is not None:
            pipes.log.info(f"batch {manifest.batch_id}: {len(manifest.files)} files")
        result = run_batch(job_spark(), manifest, args.output, tokenization_key=key)
        if pipes is not None:
            report_to_pipes(pipes, batch_report(result))
    print(json.dumps({"batch_id": result.batch_id, "tables": result.tables}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
