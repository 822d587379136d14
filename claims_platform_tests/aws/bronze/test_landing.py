import datetime as dt

from claims_platform.bronze.landing import S3Landing, landing_for
from claims_platform.resources import PlatformResource
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
    # `since` is inclusive: get_objects' strict `>` must not drop objects of that exact time.
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
