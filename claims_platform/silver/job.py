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
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.files import DmsFile, parse_path
from claims_platform.dms.io import join_uri, publish_file, read_text, write_text
from claims_platform.dms.parse import (
    DEFAULT_LIMITS,
    FILE_COLUMNS,
    FileFacts,
    FileParse,
    ParseLimits,
    with_change_ids,
)
from claims_platform.dms.values import canonical
from claims_platform.environment import tokenization_key_refusal
from claims_platform.faults import checkpoint
from claims_platform.silver.flatten import flatten_children
from claims_platform.silver.schema import REJECTS_TABLE

FILES_MANIFEST = "_files.json"
# The asset check the job reports on each silver change table (declared in
# orchestration/silver/assets.py).
QUARANTINE_CHECK = "no_quarantined_files"


@dataclass
class BatchManifest:
    batch_id: str
    landing_uri: str
    files: list[str]
    loaded_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
    )
    # ParseLimits fields the deployment overrides (CLAIMS_MAX_ADDED_COLUMNS, …): they travel with
    # the batch, so a job on Glue applies the same limits as the asset that planned it.
    limits: dict[str, int] = field(default_factory=dict)

    def parse_limits(self) -> ParseLimits:
        return ParseLimits(**self.limits)

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


def part_name(path: str) -> str:
    """The Parquet part a landed file's rows (and rejects) are written to: one per file, named
    by its path, so a task Spark runs again overwrites its own output and nothing else."""
    return f"part-{hashlib.sha1(path.encode('utf-8')).hexdigest()[:24]}.parquet"


def process_file(
    dms_file: DmsFile,
    uri: str,
    contract: TableContract,
    output_uri: str,
    *,
    tokenization_key: str,
    batch_id: str,
    loaded_at: dt.datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> FileFacts | None:
    """Parse one landed file and write its silver rows, child rows and rejects as Parquet parts.

    The parts are written to a local scratch file as the file streams through, and published
    (renamed, or uploaded with SSE-KMS) only when the file ends processed: a file that ends
    quarantined leaves nothing. None when the file could not be read now (no ledger row).
    """
    import pyarrow.parquet as pq

    fp = FileParse(
        uri,
        dms_file,
        contract,
        tokenization_key=tokenization_key,
        batch_id=batch_id,
        loaded_at=loaded_at,
        limits=limits,
    )
    # Locally the scratch file sits beside the output, so publishing it is an atomic rename.
    local = None if output_uri.startswith("s3://") else Path(output_uri)
    if local is not None:
        local.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".scratch-", dir=local) as scratch:
        writers: dict[str, Any] = {}
        try:
            for kind, piece in fp.pieces():
                if kind == "rejects":
                    pieces = [(REJECTS_TABLE, piece)]
                else:
                    piece = with_change_ids(piece)
                    pieces = [(contract.silver_table, piece)]
                    pieces += [
                        (child.name, rows)
                        for child, rows in flatten_children(piece, contract)
                        if rows.num_rows
                    ]
                for table, rows in pieces:
                    writer = writers.get(table)
                    if writer is None:
                        writer = writers[table] = pq.ParquetWriter(
                            Path(scratch, table), rows.schema, compression="zstd"
                        )
                    writer.write_batch(rows)
        finally:
            for writer in writers.values():
                writer.close()
        if fp.facts.status == "unreadable":
            return None
        if fp.facts.status == "processed":
            name = part_name(dms_file.path)
            for table in writers:
                publish_file(Path(scratch, table), join_uri(output_uri, table, name))
    return fp.facts


def _process_files(
    contracts: Mapping[str, TableContract],
    output_uri: str,
    key: str,
    batch_id: str,
    loaded_at: dt.datetime,
    limits: ParseLimits,
) -> Any:
    """The mapInArrow function: (path, uri) batches in, one ledger row per file out."""

    def process(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from claims_platform.dms.parse import arrow_type

        schema = pa.schema([pa.field(n, arrow_type(t)) for n, t in FILE_COLUMNS])
        for files in batches:
            for path, uri in zip(*(c.to_pylist() for c in files.columns), strict=True):
                dms_file = parse_path(path)
                if dms_file is None or dms_file.table not in contracts:
                    continue
                facts = process_file(
                    dms_file,
                    uri,
                    contracts[dms_file.table],
                    output_uri,
                    tokenization_key=key,
                    batch_id=batch_id,
                    loaded_at=loaded_at,
                    limits=limits,
                )
                if facts is not None:
                    row = dict(zip(schema.names, facts.ledger_row(), strict=True))
                    yield pa.RecordBatch.from_pylist([row], schema=schema)

    return process


def run_batch(
    spark: Any,
    manifest: BatchManifest,
    output_uri: str,
    *,
    tokenization_key: str,
    contracts: dict[str, TableContract] | None = None,
    limits: ParseLimits | None = None,
) -> BatchResult:
    """Parse, validate and flatten the manifest's files with Spark; write the batch output.

    One Spark task per landed file (`mapInArrow`): the file streams through the parser in
    bounded Arrow record batches and its rows are written by Arrow's Parquet writer, never
    becoming Python or Spark rows; its JSON array columns are flattened into their child tables
    in the same task (`silver.flatten`). Spark gets back one ledger row per file.
    Each table's folder holds one part per file, whose columns are the contract's plus the
    columns that file added at the source (readers union them by name).
    """
    from claims_platform.silver.schema import child_tables, spark_struct

    contracts = contracts or load_contracts()
    limits = limits or manifest.parse_limits()
    loaded_at = dt.datetime.fromisoformat(manifest.loaded_at)
    items = []
    for path in manifest.files:
        dms_file = parse_path(path)
        if dms_file is not None and dms_file.table in contracts:
            items.append((path, join_uri(manifest.landing_uri, path)))
    bid = manifest.batch_id
    files: list[dict[str, Any]] = []
    if items:
        sc = spark.sparkContext
        # A Python task costs ~0.2 s to start: a few per core, not one per file.
        slices = min(len(items), 2 * sc.defaultParallelism)
        ledger = spark.createDataFrame(
            sc.parallelize(items, slices), "path string, uri string"
        ).mapInArrow(
            _process_files(contracts, output_uri, tokenization_key, bid, loaded_at, limits),
            spark_struct(FILE_COLUMNS),
        )
        files = sorted((r.asDict() for r in ledger.collect()), key=lambda f: f["path"])
    counts: dict[str, int] = {}
    for contract in contracts.values():
        loaded = [f for f in files if f["table_name"] == contract.name and f["rows_loaded"]]
        if not loaded:
            continue
        counts[contract.silver_table] = sum(f["rows_loaded"] for f in loaded)
        # The driver marks each table written (its parts were published by the tasks above), so
        # a crash test kills the run itself here, not a Python worker Spark would replace.
        checkpoint(f"silver.job.wrote:{contract.silver_table}")
        # Their child tables were flattened in the same tasks (silver/flatten.py).
        for child in child_tables(contract):
            checkpoint(f"silver.job.wrote:{child.name}")
    counts["rejects"] = sum(f["rows_rejected"] for f in files)
    if counts["rejects"]:
        checkpoint(f"silver.job.wrote:{REJECTS_TABLE}")

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
    from claims_platform.silver.schema import child_tables

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
        # A deployed job never tokenizes with the public development key or a short one, even
        # when its environment says `local` by mistake (Glue passes --JOB_RUN_ID).
        refusal = tokenization_key_refusal(key, argv=[*sys.argv, *(argv or ())]) if key else None
        if not key or refusal:
            message = refusal or (
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
