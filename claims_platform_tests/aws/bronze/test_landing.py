import datetime as dt
import hashlib
import time

import duckdb

from claims_platform.bronze.landing import S3Landing, landing_for
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.warehouse.duckdb import (
    ensure_warehouse,
    quarantined_files,
    screen_landed_files,
)
from claims_platform_tests.aws.conftest import put_landed


def test_s3_landing_lists_and_reads_dms_files_under_its_prefix(s3, bucket, kms_key_arn):
    put_landed(s3, bucket, "dms/CLAIMS/MEMBER/LOAD00000001.csv", b"a", kms_key_arn=kms_key_arn)
    put_landed(s3, bucket, "dms/CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv.gz", b"bb")
    put_landed(s3, bucket, "dms/CLAIMS/MEMBER/notes.txt", b"not a DMS file")
    put_landed(s3, bucket, "other/CLAIMS/MEMBER/LOAD00000002.csv", b"outside the prefix")

    landing = landing_for(f"s3://{bucket}/dms/")
    assert isinstance(landing, S3Landing)
    assert landing.uri == f"s3://{bucket}/dms"
    files = {f.path: f for f in landing.list_files()}
    assert set(files) == {
        "CLAIMS/MEMBER/LOAD00000001.csv",
        "CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv.gz",
    }
    member = files["CLAIMS/MEMBER/LOAD00000001.csv"]
    assert member.file.table == "MEMBER" and member.file.is_full_load
    assert member.size_bytes == 1
    # Naive UTC, like the local landing, so cursors compare both kinds alike.
    assert member.modified_at.tzinfo is None
    assert abs(member.modified_at - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(
        minutes=5
    )
    assert landing.read_bytes("CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv.gz") == b"bb"
    assert landing.encryption("CLAIMS/MEMBER/LOAD00000001.csv").is_kms
    assert landing.encryption("CLAIMS/MEMBER/LOAD00000001.csv").kms_key_id == kms_key_arn
    assert not landing.encryption("CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv.gz").is_kms


def test_listing_since_includes_objects_at_the_boundary_second(s3, bucket):
    for i in range(3):
        put_landed(s3, bucket, f"CLAIMS/MEMBER/20240102-10000000{i}.csv", b"x")
    landing = landing_for(f"s3://{bucket}")
    listed = list(landing.list_files())
    newest = max(f.modified_at for f in listed)
    # `since` is inclusive: objects modified at that exact time are listed too.
    assert {f.path for f in landing.list_files(since=newest)} == {
        f.path for f in listed if f.modified_at == newest
    }
    assert list(landing.list_files(since=newest + dt.timedelta(seconds=1))) == []


def test_platform_landing_uses_s3_from_the_environment_switch(
    s3, bucket, platform_env, monkeypatch
):
    put_landed(s3, bucket, "landing/CLAIMS/PLAN/LOAD00000001.csv", b"x")
    monkeypatch.setenv("CLAIMS_LANDING_URI", f"s3://{bucket}/landing")
    landing = PlatformResource().landing()
    assert [f.path for f in landing.list_files()] == ["CLAIMS/PLAN/LOAD00000001.csv"]


def test_a_non_canonical_s3_key_is_quarantined_unread_never_read_as_another_key(s3, bucket):
    """`//`, a leading `/` or a `.` folder make a key that every path join on the way to reading
    normalises into another key (NoSuchKey, or worse, the canonical object): recorded, not read."""
    body = b"Op,DMS_TIMESTAMP,PLAN_ID\n"
    keys = {
        "dms/CLAIMS/PLAN/LOAD00000001.csv": None,
        "dms/CLAIMS/PLAN//LOAD00000002.csv": "CLAIMS/PLAN//LOAD00000002.csv",
        "dms//CLAIMS/PLAN/LOAD00000001.csv": "/CLAIMS/PLAN/LOAD00000001.csv",
        "dms/CLAIMS/PLAN/./LOAD00000003.csv": "CLAIMS/PLAN/./LOAD00000003.csv",
        "dms/OTHER/PLAN/LOAD00000004.csv": None,  # another schema: not ours, not listed
    }
    for key in keys:
        put_landed(s3, bucket, key, body)
    landing = landing_for(f"s3://{bucket}/dms")
    listed = {f.path: f for f in landing.list_files()}
    assert set(listed) == {
        "CLAIMS/PLAN/LOAD00000001.csv",
        "CLAIMS/PLAN//LOAD00000002.csv",
        "/CLAIMS/PLAN/LOAD00000001.csv",
        "CLAIMS/PLAN/./LOAD00000003.csv",
    }
    assert listed["CLAIMS/PLAN/LOAD00000001.csv"].problem is None
    odd = listed["CLAIMS/PLAN//LOAD00000002.csv"]
    assert odd.file.table == "PLAN" and odd.size_bytes == len(body)
    assert odd.problem == (
        "not read: the S3 key is not canonical (an empty or '.' path segment, as in '//'), and "
        "a path joined from it names another key; copy the object to "
        f"s3://{bucket}/dms/CLAIMS/PLAN/LOAD00000002.csv to load it"
    )
    # The landing itself addresses each object by its exact key.
    assert landing.checksum("CLAIMS/PLAN//LOAD00000002.csv") == hashlib.sha256(body).hexdigest()

    con = duckdb.connect()
    ensure_warehouse(con)
    screening = screen_landed_files(con, landing.list_files(), checksum=landing.checksum)
    assert [f.path for f in screening.to_read] == ["CLAIMS/PLAN/LOAD00000001.csv"]
    quarantined = {p: reason for p, _, reason in quarantined_files(con)}
    assert set(quarantined) == {p for p in keys.values() if p}
    assert all(r.startswith("not read: the S3 key is not canonical") for r in quarantined.values())
    again = screen_landed_files(con, landing.list_files(), checksum=landing.checksum)
    assert again.quarantined == [] and [f.path for f in again.to_read] == [
        "CLAIMS/PLAN/LOAD00000001.csv"
    ]


def test_an_s3_object_overwritten_after_it_was_processed_is_recorded(s3, bucket):
    put_landed(s3, bucket, "CLAIMS/PLAN/LOAD00000001.csv", b"first load")
    landing = landing_for(f"s3://{bucket}")
    [first] = landing.list_files()
    con = duckdb.connect()
    ensure_warehouse(con)
    con.execute(
        "INSERT INTO audit.file_ledger (path, table_name, file_name, size_bytes, "
        "checksum_sha256, status, landed_at, _batch_id) VALUES (?, 'PLAN', ?, ?, ?, "
        "'processed', ?, 'b1')",
        [
            first.path,
            first.file.name,
            10,
            hashlib.sha256(b"first load").hexdigest(),
            first.modified_at,
        ],
    )
    # A DMS table reload writes the same LOAD name again, same length, other bytes.
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    put_landed(s3, bucket, "CLAIMS/PLAN/LOAD00000001.csv", b"2nd reload")
    screening = screen_landed_files(con, landing.list_files(), checksum=landing.checksum)
    assert screening.to_read == []
    assert [(c.path, c.reason) for c in screening.changed] == [
        (
            "CLAIMS/PLAN/LOAD00000001.csv",
            "changed after it was processed: same size (10 bytes), different SHA-256",
        )
    ]
