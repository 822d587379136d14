"""Bronze → silver → gold with the landing zone and the lake on S3 (the moto server).

The run is `dagster asset materialize` in a subprocess, as in production the code location's
environment configures AWS: the silver job's Spark workers read the landing through boto3 with
that environment, which a Spark JVM started earlier in this test process would not have.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from claims_platform.simulator import simulate
from claims_platform_tests.aws.conftest import all_keys, put_landed, upload_tree
from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support.gold_compare import assert_surrogate_keys, diff_gold, read_gold
from claims_platform_tests.support.pipeline import environ_without_settings
from claims_platform_tests.support.reference_model import expected_gold, load_truth

pytestmark = pytest.mark.slow


def _materialize_all(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            *(str(Path(sys.executable).parent / "dagster"), "asset", "materialize"),
            *("-m", "claims_platform.definitions", "--select", "*"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_pipeline_on_s3_matches_truth_and_encrypts_everything_it_writes(
    s3, kms_key_arn, tmp_path: Path
):
    landing_bucket, lake_bucket = "claims-dms-landing", "claims-lake"
    for b in (landing_bucket, lake_bucket):
        s3.create_bucket(Bucket=b)
    truth = tmp_path / "truth"
    simulate(tmp_path / "dms", seed=31, members=20, days=10, fmt="csv.gz", truth_dir=truth)
    landed = upload_tree(s3, tmp_path / "dms", landing_bucket, "dms", kms_key_arn=kms_key_arn)
    # Keys a path join would normalise into another key (here: an object that exists, whose
    # changes would then load twice): quarantined with their reason, the batch goes on.
    plan = next(k for k in landed if "/PLAN/" in k)
    odd = [plan.replace("dms/", "dms//", 1), plan.replace("/PLAN/", "/PLAN//", 1)]
    body = s3.get_object(Bucket=landing_bucket, Key=plan)["Body"].read()
    for key in odd:
        put_landed(s3, landing_bucket, key, body, kms_key_arn=kms_key_arn)
    landed += odd
    etags = {k: s3.head_object(Bucket=landing_bucket, Key=k)["ETag"] for k in landed}

    data = tmp_path / "data"
    env = environ_without_settings()
    env.update(
        CLAIMS_ENV="local",
        CLAIMS_DATA_DIR=str(data),
        CLAIMS_LANDING_URI=f"s3://{landing_bucket}/dms",
        CLAIMS_LAKE_URI=f"s3://{lake_bucket}/claims",
        CLAIMS_KMS_KEY_ID=kms_key_arn,
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    (tmp_path / "dagster_home").mkdir()
    run = _materialize_all(env)
    assert run.returncode == 0, run.stderr[-4000:]

    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        quarantined = con.execute(
            "SELECT path, reason FROM audit.file_ledger WHERE status = 'quarantined'"
        ).fetchall()
    assert sorted(p for p, _ in quarantined) == sorted(k.removeprefix("dms/") for k in odd)
    assert all(r.startswith("not read: the S3 key is not canonical") for _, r in quarantined)
    assert all(f"s3://{landing_bucket}/{plan}" in r for _, r in quarantined)

    gold = read_gold(data / "warehouse.duckdb")
    problems = diff_gold(expected_gold(load_truth(truth)), gold)
    assert problems == [], "\n".join(problems)
    assert_surrogate_keys(gold)

    written = all_keys(s3, lake_bucket)
    assert any(k.endswith("/_manifest.json") for k in written)
    assert any(k.endswith("/_files.json") for k in written)
    assert any(k.endswith(".parquet") for k in written)
    assert all(k.startswith("claims/batches/") for k in written)
    for key in written:
        head = s3.head_object(Bucket=lake_bucket, Key=key)
        assert head.get("ServerSideEncryption") == "aws:kms", key
        assert head.get("SSEKMSKeyId") == kms_key_arn, key

    # Bronze is immutable: the run read the landing zone and changed nothing in it.
    assert sorted(all_keys(s3, landing_bucket)) == sorted(landed)
    assert {k: s3.head_object(Bucket=landing_bucket, Key=k)["ETag"] for k in landed} == etags
