"""The Glue stand-in (support/glue_standin.py) on its own: the production `GlueSilverRunner`
(dagster-aws `PipesGlueClient`, S3 context injector, CloudWatch message reader) runs one small
batch through it, unchanged, with boto3 sent to it by `AWS_ENDPOINT_URL_GLUE` alone.

Only the Glue job-run API is stood in for; S3, KMS, Secrets Manager, CloudWatch Logs and the job
definition (CreateJob/GetJob, forwarded) are moto's.
"""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import dagster as dg
import pytest

from claims_platform.deploy.glue import GlueJobSettings, deploy
from claims_platform.environment import Settings
from claims_platform.orchestration.resources import GlueSilverRunner
from claims_platform.silver.job import QUARANTINE_CHECK, BatchManifest
from claims_platform_tests.aws.conftest import all_keys, upload_tree
from claims_platform_tests.silver.batch_files import EXPECTED_MEMBER, land_small_batch
from claims_platform_tests.support.glue_standin import ERROR_GROUP, OUTPUT_GROUP, glue_standin

# Its own name: the moto server is the session's, and deploy/test_glue_job.py creates
# claims/tokenization-key on it when both run on one worker.
SECRET_ID = "claims/standin/tokenization-key"
KEY = "standin-test-tokenization-key-0123456789abcdef"

pytestmark = pytest.mark.slow


def _settings(bucket: str, kms_key_arn: str) -> GlueJobSettings:
    # The moto server is the session's: a job name of each test's own (moto has no UpdateJob).
    return GlueJobSettings(
        job_name=f"claims-silver-{bucket}",
        artifacts_uri=f"s3://{bucket}/artifacts",
        pipes_bucket=bucket,
        tokenization_key_secret_id=SECRET_ID,
        role_arn="arn:aws:iam::123456789012:role/claims-silver-glue",
        kms_key_id=kms_key_arn,
    )


def test_a_batch_runs_through_the_glue_standin_as_on_glue(
    aws_env, s3, kms_key_arn, tmp_path: Path, monkeypatch
):
    bucket = "claims-standin"
    s3.create_bucket(Bucket=bucket)
    land_small_batch(tmp_path / "landing")
    files = [
        k.removeprefix("dms/")
        for k in upload_tree(s3, tmp_path / "landing", bucket, "dms", kms_key_arn=kms_key_arn)
    ]
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=KEY)
    job = _settings(bucket, kms_key_arn)
    with glue_standin(aws_env, dict(os.environ), tmp_path / "glue") as glue:
        monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", glue.url)
        # The production deploy, through the stand-in (forwarded to moto's Glue).
        wheel = tmp_path / "claims_platform-0.1.0-py3-none-any.whl"
        wheel.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
        deploy(job, wheel, glue_client=boto3.client("glue"), s3_client=s3)

        settings = Settings(
            env="prod",
            data_dir=tmp_path / "data",
            landing_uri=f"s3://{bucket}/dms",
            duckdb_path=tmp_path / "data" / "unused.duckdb",
            tokenization_key="not-sent-to-glue",
            lake_uri=f"s3://{bucket}/lake",
            kms_key_id=kms_key_arn,
        )
        manifest = BatchManifest(batch_id="b1", landing_uri=settings.landing_uri, files=files)
        runner = GlueSilverRunner.from_job_settings(job)
        member = dg.AssetKey(["silver", "member"])
        batches = []

        @dg.asset(key=member, check_specs=[dg.AssetCheckSpec(QUARANTINE_CHECK, asset=member)])
        def silver_member(context):
            batch = runner.run(manifest, settings, context)
            batches.append(batch)
            yield from batch.job_results

        result = dg.materialize([silver_member])
        assert result.success

        (run,) = glue.runs.values()
        assert run.state == "SUCCEEDED", run.error_message
        # Glue's argument list: its run ids, the job's defaults, the run's and the fixed ones.
        argv = run.argv
        assert argv[2:4] == ["--JOB_ID", argv[3]] and argv[4:6] == ["--JOB_RUN_ID", run.id]
        args = dict(zip(argv[6::2], argv[7::2], strict=True))
        assert args["--JOB_NAME"] == job.job_name
        assert args["--tokenization-key-secret-id"] == SECRET_ID
        assert args["--kms-key-id"] == kms_key_arn
        assert args["--job-bookmark-option"] == "job-bookmark-disable"
        assert args["--manifest"] == f"s3://{bucket}/lake/batches/b1/_manifest.json"
        assert "--dagster-pipes-context" in args and "--dagster-pipes-messages" in args

    # What the job reported came back through CloudWatch, with the Glue run attached.
    (mat,) = [e.materialization for e in result.get_asset_materialization_events()]
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert {k: meta[k] for k in EXPECTED_MEMBER} == EXPECTED_MEMBER
    assert meta["AWS Glue Job Run ID"] == run.id
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == (QUARANTINE_CHECK, False)
    (batch,) = batches
    assert batch.result.tables["member"] == 1
    # The job wrote its output to the S3 lake itself, every object under the platform's key.
    written = all_keys(s3, bucket, "lake/batches/b1/")
    assert any(k.endswith("/_files.json") for k in written)
    assert any(k.endswith(".parquet") for k in written)
    for key in written:
        assert s3.head_object(Bucket=bucket, Key=key)["SSEKMSKeyId"] == kms_key_arn, key
    # The driver's stdout and stderr are in Glue's log groups, one stream per run.
    logs = boto3.client("logs")
    out = logs.get_log_events(logGroupName=OUTPUT_GROUP, logStreamName=run.id)["events"]
    assert any('"__dagster_pipes_version"' in e["message"] for e in out)
    assert logs.describe_log_streams(logGroupName=ERROR_GROUP, logStreamNamePrefix=run.id)[
        "logStreams"
    ]
    # The context object was read by the job and removed after the run.
    assert not all_keys(s3, bucket, "dagster-pipes/")


def test_the_standin_refuses_what_glue_refuses(aws_env, s3, kms_key_arn, tmp_path: Path):
    bucket = "claims-standin-refusals"
    s3.create_bucket(Bucket=bucket)
    job = _settings(bucket, kms_key_arn)
    with glue_standin(aws_env, dict(os.environ), tmp_path / "glue") as glue:
        client = boto3.client("glue", endpoint_url=glue.url)
        wheel = tmp_path / "claims_platform-0.1.0-py3-none-any.whl"
        wheel.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
        deploy(job, wheel, glue_client=client, s3_client=s3)
        with pytest.raises(client.exceptions.InvalidInputException, match="non-overridable"):
            client.start_job_run(
                JobName=job.job_name, Arguments={"--tokenization-key-secret-id": "other"}
            )
        with pytest.raises(client.exceptions.EntityNotFoundException):
            client.get_job_run(JobName=job.job_name, RunId="jr_" + "0" * 64)
        with pytest.raises(client.exceptions.EntityNotFoundException):
            client.start_job_run(JobName="no-such-job")


def test_a_run_dagster_stops_is_stopped(aws_env, s3, tmp_path: Path):
    """BatchStopJobRun (PipesGlueClient's forward_termination) ends the driver: STOPPED."""
    import time

    bucket = "claims-standin-stop"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="sleep.py", Body=b"import time\ntime.sleep(600)\n")
    with glue_standin(aws_env, dict(os.environ), tmp_path / "glue") as glue:
        client = boto3.client("glue", endpoint_url=glue.url)
        client.create_job(
            Name="claims-standin-sleeper",
            Role="arn:aws:iam::123456789012:role/r",
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/sleep.py"},
        )
        run_id = client.start_job_run(JobName="claims-standin-sleeper")["JobRunId"]
        deadline = time.monotonic() + 30
        while glue.runs[run_id].state != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(client.exceptions.ConcurrentRunsExceededException):
            client.start_job_run(JobName="claims-standin-sleeper")
        stopped = client.batch_stop_job_run(JobName="claims-standin-sleeper", JobRunIds=[run_id])
        assert stopped["SuccessfulSubmissions"] == [
            {"JobName": "claims-standin-sleeper", "JobRunId": run_id}
        ]
        assert glue.runs[run_id].done.wait(30)
        run = client.get_job_run(JobName="claims-standin-sleeper", RunId=run_id)["JobRun"]
        assert run["JobRunState"] == "STOPPED" and "CompletedOn" in run
