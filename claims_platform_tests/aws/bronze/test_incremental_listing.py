"""Listing S3 after the ledger's front, against moto's server: the requests a run makes grow
with what is new, not with the files the ledger holds; counted on the real client through
botocore's event hooks."""

from __future__ import annotations

from typing import Any

import boto3
import duckdb

from claims_platform.bronze.landing import S3Landing
from claims_platform.warehouse.duckdb import ensure_warehouse, ledger_front, screen_landed_files
from claims_platform_tests.aws.conftest import put_landed
from claims_platform_tests.support.ledger import record_processed

PAGE = 50


class ListCounter:
    """A real S3 client whose ListObjectsV2 pages are small, with its calls and keys counted."""

    def __init__(self) -> None:
        self.calls = 0
        self.keys = 0

    def client(self) -> Any:
        client = boto3.client("s3")

        def small_pages(params: dict, **_: Any) -> None:
            params.setdefault("MaxKeys", PAGE)

        def counted(parsed: dict, **_: Any) -> None:
            self.calls += 1
            self.keys += len(parsed.get("Contents", []))

        client.meta.events.register("provide-client-params.s3.ListObjectsV2", small_pages)
        client.meta.events.register("after-call.s3.ListObjectsV2", counted)
        return client

    def reset(self) -> None:
        self.calls = self.keys = 0


def _processed_keys() -> list[str]:
    keys = [f"CLAIMS/MEMBER/LOAD{i:08X}.csv" for i in range(1, 41)]
    keys += [
        f"CLAIMS/MEMBER/202401{d:02d}-{h:02d}0000000.csv" for d in range(1, 29) for h in range(10)
    ]
    keys += [
        f"CLAIMS/CLAIM/2024/01/{d:02d}/202401{d:02d}-{h:02d}0000000.csv"
        for d in range(1, 29)
        for h in range(10)
    ]
    return keys


def test_a_run_pages_through_what_is_new_not_through_the_ledger(s3, bucket, tmp_path):
    processed = _processed_keys()
    for key in processed:
        put_landed(s3, bucket, f"dms/{key}", b"x")
    counter = ListCounter()
    landing = S3Landing(f"s3://{bucket}/dms", counter.client)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_warehouse(con)
    record_processed(con, landing.list_files())
    full_calls, full_keys = counter.calls, counter.keys
    assert full_keys == len(processed) == 600
    assert full_calls >= len(processed) // PAGE

    new = [
        "CLAIMS/MEMBER/LOAD00000029.csv",
        "CLAIMS/MEMBER/20240129-000000000.csv",
        "CLAIMS/CLAIM/2024/01/29/20240129-000000000.csv",
        "CLAIMS/PLAN/LOAD00000001.csv",
    ]
    for key in new:
        put_landed(s3, bucket, f"dms/{key}", b"x")
    counter.reset()
    screening = screen_landed_files(con, landing.list_files(after=ledger_front(con)))
    assert sorted(f.path for f in screening.to_read) == sorted(new)
    # One call for the table folders, then one per key range of each of the 3 tables (full
    # load, change): the 600 processed keys are never returned. PLAN has no change file
    # processed, so its change range is read up to its LOAD keys, and returns its one new key
    # a second time (not listed twice: paging stops at it).
    assert counter.keys == len(new) + 1
    assert counter.calls == 1 + 2 * 3
    assert counter.calls < full_calls

    # A late file under a key before the front: only the full listing finds it.
    late = "CLAIMS/MEMBER/20240115-053000000.csv"
    put_landed(s3, bucket, f"dms/{late}", b"x")
    assert late not in {f.path for f in landing.list_files(after=ledger_front(con))}
    full = screen_landed_files(con, landing.list_files())
    assert sorted(f.path for f in full.to_read) == sorted([*new, late])
    # What a landing run does with a late file the sensor names: one HEAD.
    assert landing.stat(late) == next(f for f in full.to_read if f.path == late)
    assert landing.stat("CLAIMS/MEMBER/20240115-053000001.csv") is None


def test_a_ledger_front_on_a_non_canonical_key_is_not_used(s3, bucket, tmp_path):
    """A key such as `CLAIMS/PLAN//…` is recorded (quarantined, unread), but it sorts before the
    folder's canonical keys: were it the front, every run would list the whole folder."""
    put_landed(s3, bucket, "CLAIMS/PLAN/LOAD00000001.csv", b"x")
    put_landed(s3, bucket, "CLAIMS/PLAN//20240101-000000000.csv", b"x")
    put_landed(s3, bucket, "CLAIMS/PLAN/20240101-000000000.csv", b"x")
    counter = ListCounter()
    landing = S3Landing(f"s3://{bucket}", counter.client)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_warehouse(con)
    screening = screen_landed_files(con, landing.list_files())
    assert [f.path for f in screening.quarantined] == ["CLAIMS/PLAN//20240101-000000000.csv"]
    record_processed(con, screening.to_read)
    front = ledger_front(con)
    assert front.newest_change == {"CLAIMS/PLAN/": "CLAIMS/PLAN/20240101-000000000.csv"}
    counter.reset()
    assert list(landing.list_files(after=front)) == []
    assert counter.keys == 0
