"""The silver PySpark job: one script for AWS Glue 5 and for the local runner.

Input: a batch manifest (landing URI, the landed files to process, batch id). Output, under the
batch's output URI: one Parquet folder per silver table (change tables, flattened children,
rejects) and `_files.json`, the ledger facts of every file. Nothing is committed here: the
committer loads a finished batch into the warehouse together with its ledger rows, atomically,
so a job killed half-way leaves nothing behind but scratch output.

On Glue: `--additional-python-modules claims_platform` and the job arguments `--manifest <uri>
--output <uri>`; the SSN tokenization key comes from CLAIMS_TOKENIZATION_KEY.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.dms.io import join_uri, read_bytes, read_text, write_text
from claims_platform.dms.parse import FILE_COLUMNS, parse_dms_file
from claims_platform.dms.values import canonical
from claims_platform.faults import checkpoint

FILES_MANIFEST = "_files.json"


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


def main(argv: Sequence[str] | None = None) -> int:
    """Glue entry point: `--manifest <uri> --output <uri>` (other Glue arguments are ignored)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--output", required=True)
    args, _glue_args = parser.parse_known_args(argv)
    key = os.environ.get("CLAIMS_TOKENIZATION_KEY")
    if not key:
        print("CLAIMS_TOKENIZATION_KEY is not set: refusing to write silver", file=sys.stderr)
        return 2
    from claims_platform.silver.spark import get_spark

    manifest = BatchManifest.from_json(read_text(args.manifest))
    result = run_batch(get_spark(), manifest, args.output, tokenization_key=key)
    print(json.dumps({"batch_id": result.batch_id, "tables": result.tables}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
