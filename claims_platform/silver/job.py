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
from typing import Any

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.dms.io import join_uri, read_bytes, read_text, write_text
from claims_platform.dms.parse import FILE_COLUMNS, parse_dms_file
from claims_platform.dms.values import canonical
from claims_platform.faults import checkpoint

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


def _parse_task(
    item: tuple[str, str],
    contracts: dict[str, TableContract],
    key: str,
    batch_id: str,
    loaded_at: dt.datetime,
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    path, uri = item
    dms_file = parse_path(path)
    if dms_file is None or dms_file.table not in contracts:
        return
    try:
        data = read_bytes(uri)
    except OSError:
        # Listed but unreadable now: leave it out of the ledger so a later batch retries it.
        return
    parsed = parse_dms_file(
        data,
        dms_file,
        contracts[dms_file.table],
        tokenization_key=key,
        batch_id=batch_id,
        loaded_at=loaded_at,
    )
    yield "_files", parsed.ledger_row()
    table = contracts[dms_file.table].silver_table
    for row in parsed.rows:
        yield table, row
    for rej in parsed.rejects:
        yield "rejects", rej


def _with_extras(row: tuple[Any, ...], names: tuple[str, ...]) -> tuple[Any, ...]:
    extra = row[-1] or {}
    return (*row[:-1], *(extra.get(n) for n in names))


def run_batch(
    spark: Any,
    manifest: BatchManifest,
    output_uri: str,
    *,
    tokenization_key: str,
    contracts: dict[str, TableContract] | None = None,
) -> BatchResult:
    """Parse, validate and flatten the manifest's files with Spark; write the batch output."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from claims_platform.silver.schema import (
        change_table,
        child_tables,
        rejects_table,
        spark_struct,
        spark_type,
    )

    contracts = contracts or load_contracts()
    loaded_at = dt.datetime.fromisoformat(manifest.loaded_at)
    items = [(p, join_uri(manifest.landing_uri, p)) for p in manifest.files]
    sc = spark.sparkContext
    slices = max(1, min(len(items), sc.defaultParallelism * 4))
    bid = manifest.batch_id

    records = (
        sc.parallelize(items, slices)
        .flatMap(lambda it: _parse_task(it, contracts, tokenization_key, bid, loaded_at))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        file_rows = records.filter(lambda r: r[0] == "_files").map(lambda r: r[1]).collect()
        names = [n for n, _ in FILE_COLUMNS]
        files = [dict(zip(names, row, strict=True)) for row in file_rows]
        present = {
            c.silver_table: c
            for c in contracts.values()
            if c.name in {f["table_name"] for f in files}
        }
        counts: dict[str, int] = {}

        def write(name: str, df: Any) -> None:
            df.write.mode("overwrite").parquet(join_uri(output_uri, name))
            checkpoint(f"silver.job.wrote:{name}")

        for table_name, contract in present.items():
            layout = change_table(contract)
            # Columns added at the source (DDL) ride along as text until a contract types them.
            extras: list[str] = []
            for f in sorted(files, key=lambda f: f["path"]):
                if f["table_name"] == contract.name and f["extra_columns"]:
                    extras += [n for n in f["extra_columns"].split(",") if n not in extras]
            rows = records.filter(lambda r, t=table_name: r[0] == t).map(
                lambda r, names=tuple(extras): _with_extras(r[1], names)
            )
            df = spark.createDataFrame(
                rows, spark_struct([*layout.columns, *((n, "string") for n in extras)])
            )
            if contract.nested_columns:
                df = df.persist()
            counts[table_name] = sum(
                f["rows_loaded"] for f in files if f["table_name"] == contract.name
            )
            write(table_name, df)
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
            df.unpersist()
        rejects = records.filter(lambda r: r[0] == "rejects").map(lambda r: r[1])
        counts["rejects"] = sum(f["rows_rejected"] for f in files)
        if counts["rejects"]:
            write("rejects", spark.createDataFrame(rejects, spark_struct(rejects_table().columns)))
    finally:
        records.unpersist()

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
