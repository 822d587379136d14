"""Listing cost of a landing run with 10,000 landed files already in the ledger, before vs after.

A landing zone on moto's S3 server (loopback) holds N landed files (default 10,000) spread over
the contract tables as DMS writes them (full-load files, CDC files by time, one table in date
folders), all recorded `processed` in a DuckDB file ledger through the real `commit_batch` (no
rows: listing and screening do not read files). Then one new file lands, and the script times
what a run does before it hands files to Spark:

- before: the whole landing zone listed (list_objects_v2 pages of 1,000) and screened against
  the ledger (every listed path looked up);
- after: the ledger's front (one aggregate query), the key ranges after it listed
  (StartAfter), and the few listed paths screened.

Then the landing sensor's tick on the same S3 landing zone (the real sensor, an ephemeral
Dagster instance, a cursor that has taken every landed file):

- full: the tick lists the whole landing zone, as every tick did before and as one tick does
  every FULL_LISTING_EVERY now;
- after front: the tick lists the keys after the newest file taken of each key sequence.

All must find exactly the one new file. Each is timed `--repeat` times (median printed), with
the ListObjectsV2 calls and keys returned counted by botocore event hooks on the real client.
The same is done on a local landing directory for comparison (a walk is cheap, the ledger
lookup is not free).

    .venv/bin/python benchmarks/listing_cost.py [--files 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import duckdb

from claims_platform.bronze.landing import LandedFile, Landing, LocalLanding, S3Landing
from claims_platform.contracts import load_contracts
from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.schema import ledger_columns
from claims_platform.warehouse.duckdb import (
    commit_batch,
    ensure_warehouse,
    ledger_front,
    screen_landed_files,
)

START = dt.datetime(2021, 1, 1)


def landed_paths(n: int, tables: list[str]) -> list[str]:
    """`n` paths as DMS names them: 4 full-load files per table, then CDC files every 5
    minutes per table, the first table in date folders (DatePartitionEnabled)."""
    paths = [f"CLAIMS/{t}/LOAD{i:08X}.csv" for t in tables for i in range(1, 5)]
    step = 0
    while len(paths) < n:
        for k, table in enumerate(tables):
            if len(paths) >= n:
                break
            at = START + dt.timedelta(minutes=5 * step)
            name = at.strftime("%Y%m%d-%H%M%S") + f"{at.microsecond // 1000:03d}.csv"
            folder = at.strftime("%Y/%m/%d/") if k == 0 else ""
            paths.append(f"CLAIMS/{table}/{folder}{name}")
        step += 1
    return paths


def record_processed(con: duckdb.DuckDBPyConnection, files: list[LandedFile]) -> None:
    """Every file in the ledger as processed, committed as one batch the silver job wrote."""
    keep = {"landed_at", "_batch_id", "processed_at"}
    rows = []
    for f in files:
        row: dict[str, Any] = {n: None for n, _ in ledger_columns() if n not in keep}
        row.update(
            path=f.path,
            table_name=f.file.table,
            file_name=f.file.name,
            format=f.file.fmt,
            is_full_load=f.file.is_full_load,
            size_bytes=f.size_bytes,
            row_count=0,
            rows_loaded=0,
            rows_rejected=0,
            status="processed",
        )
        rows.append(row)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        manifest = {"batch_id": uuid.uuid4().hex, "files": rows}
        (out / FILES_MANIFEST).write_text(json.dumps(manifest, default=str), encoding="utf-8")
        commit_batch(con, out, {f.path: f.modified_at for f in files})


class Counted:
    def __init__(self) -> None:
        self.calls = self.keys = 0

    def client(self) -> Any:
        client = boto3.client("s3")

        def counted(parsed: dict, **_: Any) -> None:
            self.calls += 1
            self.keys += len(parsed.get("Contents", []))

        client.meta.events.register("after-call.s3.ListObjectsV2", counted)
        return client


def before(con: duckdb.DuckDBPyConnection, landing: Landing) -> list[str]:
    return [f.path for f in screen_landed_files(con, landing.list_files()).to_read]


def after(con: duckdb.DuckDBPyConnection, landing: Landing) -> list[str]:
    front = ledger_front(con)
    return [f.path for f in screen_landed_files(con, landing.list_files(after=front)).to_read]


def timed(
    fn: Callable[[], list[str]], repeat: int, counter: Counted | None
) -> tuple[float, list[str], int, int]:
    times = []
    found: list[str] = []
    for _ in range(repeat):
        if counter:
            counter.calls = counter.keys = 0
        t0 = time.perf_counter()
        found = fn()
        times.append(time.perf_counter() - t0)
    calls, keys = (counter.calls, counter.keys) if counter else (0, 0)
    return statistics.median(times), found, calls, keys


def report(where: str, rows: Iterable[tuple[str, tuple[float, list[str], int, int]]]) -> None:
    for label, (seconds, found, calls, keys) in rows:
        extra = f", {calls} ListObjectsV2 calls, {keys} keys returned" if calls else ""
        print(f"  {where} {label}: {seconds * 1000:8.1f} ms (median){extra}; found {found}")


def sensor_ticks(
    bucket: str, paths: list[str], new: str, repeat: int
) -> list[tuple[str, tuple[float, list[str], int, int]]]:
    """The landing sensor's tick, listing everything or after its front, timed and counted."""
    import dagster as dg

    from claims_platform.bronze.listing import LedgerFront, front_past
    from claims_platform.orchestration.bronze.sensor import (
        FULL_LISTING_EVERY,
        LandingCursor,
        build_landing_sensor,
    )
    from claims_platform.orchestration.definitions import gold_reads, silver_keys_by_table
    from claims_platform.orchestration.resources import PlatformResource

    counter = Counted()

    class CountedPlatform(PlatformResource):
        def s3_client(self) -> Any:
            return counter.client()

    os.environ["CLAIMS_LANDING_URI"] = f"s3://{bucket}/dms"
    sensor = build_landing_sensor(silver_keys_by_table, gold_reads)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    landed = {
        f.path: f.modified_at.isoformat()
        for f in S3Landing(f"s3://{bucket}/dms", lambda: boto3.client("s3")).list_files()
        if f.path != new
    }
    assert len(landed) == len(paths)
    taken = LandingCursor(
        watermark=now,
        # Inside the look-back window every landed file is still named; the new one is not.
        recent=landed,
        front=front_past(LedgerFront(), paths),
    )

    def tick(listed_all_at: dt.datetime) -> list[str]:
        taken.listed_all_at = listed_all_at
        with (
            dg.DagsterInstance.ephemeral() as instance,
            dg.build_sensor_context(
                instance=instance, resources={"platform": CountedPlatform()}, cursor=taken.dump()
            ) as ctx,
        ):
            result = sensor(ctx)
        assert isinstance(result, dg.SensorResult) and result.run_requests, result
        return sorted(set(LandingCursor.load(result.cursor).recent) - set(paths))

    return [
        ("full        ", timed(lambda: tick(now - FULL_LISTING_EVERY), repeat, counter)),
        ("after front ", timed(lambda: tick(now), repeat, counter)),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="benchmark",
        AWS_SECRET_ACCESS_KEY="benchmark",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        tables = sorted(load_contracts())
        paths = landed_paths(args.files, tables)
        new = f"CLAIMS/{tables[1]}/" + (
            (START + dt.timedelta(days=3650)).strftime("%Y%m%d-%H%M%S") + "000.csv"
        )
        s3 = boto3.client("s3")
        bucket = f"landing-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda p: s3.put_object(Bucket=bucket, Key=f"dms/{p}", Body=b"x"), paths))
        print(f"landed {len(paths)} files on moto S3 in {time.perf_counter() - t0:.1f} s")

        with tempfile.TemporaryDirectory(prefix="listing_cost_") as tmp:
            root = Path(tmp)
            counter = Counted()
            s3_landing = S3Landing(f"s3://{bucket}/dms", counter.client)
            local = LocalLanding(root / "landing")
            for p in paths:
                (local.root / p).parent.mkdir(parents=True, exist_ok=True)
                (local.root / p).write_bytes(b"x")
            for name, landing in (("s3", s3_landing), ("local", local)):
                con = duckdb.connect(str(root / f"{name}.duckdb"))
                ensure_warehouse(con)
                record_processed(con, list(landing.list_files()))
                held = con.execute("SELECT count(*) FROM audit.file_ledger").fetchone()[0]
                assert held == len(paths), held
                if name == "s3":
                    s3.put_object(Bucket=bucket, Key=f"dms/{new}", Body=b"x")
                else:
                    (local.root / new).parent.mkdir(parents=True, exist_ok=True)
                    (local.root / new).write_bytes(b"x")
                c = counter if name == "s3" else None
                runs = {
                    "before (full listing)": lambda con=con, landing=landing: before(con, landing),
                    "after  (after front) ": lambda con=con, landing=landing: after(con, landing),
                }
                results = [(label, timed(fn, args.repeat, c)) for label, fn in runs.items()]
                for _, (_, found, _, _) in results:
                    assert found == [new], found
                print(f"{name}: {held} files in the ledger, 1 new")
                report(name, results)
                con.close()
            report("s3 sensor tick", sensor_ticks(bucket, paths, new, args.repeat))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
