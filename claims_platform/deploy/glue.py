"""The AWS Glue job that runs the silver script, defined in code.

`job_definition()` is the `CreateJob` request: Glue 5.0 (Spark 3.5, Python 3.11), the unchanged
silver script (`claims_platform/silver/job.py`) as the script, and the platform wheel plus the
pinned modules the script imports as `--additional-python-modules`. `deploy()` uploads
the script and wheel and creates or updates the job. `GlueJobSettings.from_env()` is read when a
production run or a deploy needs it, never at import.

The wheel is installed with `--no-deps`: its declared dependencies (Dagster, dbt, PySpark, ...)
belong to the orchestrator, and a second PySpark on Glue would shadow Glue's own Spark. The
script's runtime needs are listed in `GLUE_RUNTIME_DISTRIBUTIONS` and pinned to the versions of
this environment, so Glue runs what the tests ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from claims_platform.aws.s3 import split_s3_uri
from claims_platform.environment import ConfigurationError, kms_key_id_from_env

GLUE_VERSION = "5.0"

# Third-party distributions the silver script imports, beyond what Glue 5 provides (PySpark,
# boto3, and numpy, which pyarrow loads: replacing Glue's numpy would break its pandas).
# claims_platform_tests/deploy checks this list against the script's real imports.
GLUE_RUNTIME_DISTRIBUTIONS: tuple[str, ...] = (
    "dagster-pipes",
    "pyyaml",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
    # DMS Parquet and CSV parsing; pinned so Glue types values exactly as local runs do.
    "pyarrow",
)

_ENV_VARS = {
    "job_name": "CLAIMS_GLUE_JOB_NAME",
    "artifacts_uri": "CLAIMS_GLUE_ARTIFACTS_URI",
    "pipes_bucket": "CLAIMS_PIPES_BUCKET",
    "role_arn": "CLAIMS_GLUE_ROLE_ARN",
    "tokenization_key_secret_id": "CLAIMS_TOKENIZATION_KEY_SECRET_ID",
    "security_configuration": "CLAIMS_GLUE_SECURITY_CONFIGURATION",
}


def _s3_parts(uri: str) -> tuple[str, str]:
    try:
        return split_s3_uri(uri)
    except ValueError:
        raise ConfigurationError(f"expected an s3:// URI with a bucket, got {uri!r}") from None


@dataclass(frozen=True)
class GlueJobSettings:
    """Where the silver Glue job lives and what it runs with (one per deployment)."""

    job_name: str
    artifacts_uri: str  # s3://bucket/prefix: script, wheel, Spark temp dir
    pipes_bucket: str  # Dagster Pipes context objects (S3 context injector)
    tokenization_key_secret_id: str  # Secrets Manager id of the SSN tokenization key
    role_arn: str = ""  # needed to create the job, not to run it
    # KMS key of the objects the script writes itself (`_files.json`); Spark's Parquet output is
    # encrypted by the Glue security configuration (S3 encryption mode SSE-KMS).
    kms_key_id: str = ""
    security_configuration: str = ""
    worker_type: str = "G.1X"
    number_of_workers: int = 2
    timeout_minutes: int = 60
    region_name: str | None = None

    @classmethod
    def from_env(cls) -> GlueJobSettings:
        values: dict[str, Any] = {
            field: os.environ.get(var, "").strip() for field, var in _ENV_VARS.items()
        }
        values["job_name"] = values["job_name"] or "claims-platform-silver"
        missing = [
            _ENV_VARS[f]
            for f in ("artifacts_uri", "pipes_bucket", "tokenization_key_secret_id")
            if not values[f]
        ]
        if missing:
            raise ConfigurationError(
                f"the silver job runs on Glue outside local: set {', '.join(missing)} "
                "in the deployment's environment variables"
            )
        if workers := os.environ.get("CLAIMS_GLUE_NUMBER_OF_WORKERS"):
            values["number_of_workers"] = int(workers)
        if worker_type := os.environ.get("CLAIMS_GLUE_WORKER_TYPE"):
            values["worker_type"] = worker_type
        values["region_name"] = os.environ.get("AWS_REGION") or None
        values["kms_key_id"] = kms_key_id_from_env() or ""
        return cls(**values)

    def script_uri(self) -> str:
        return f"{self.artifacts_uri.rstrip('/')}/scripts/silver_job.py"

    def wheel_uri(self, wheel_name: str) -> str:
        return f"{self.artifacts_uri.rstrip('/')}/wheels/{wheel_name}"

    def temp_dir(self) -> str:
        return f"{self.artifacts_uri.rstrip('/')}/tmp/"


def runtime_requirements() -> list[str]:
    """`name==version` of every distribution the script needs, as installed here."""
    return [f"{name}=={metadata.version(name)}" for name in GLUE_RUNTIME_DISTRIBUTIONS]


def job_definition(settings: GlueJobSettings, wheel_name: str) -> dict[str, Any]:
    """The boto3 `glue.create_job` request of the silver job."""
    modules = [settings.wheel_uri(wheel_name), *runtime_requirements()]
    fixed = {"--tokenization-key-secret-id": settings.tokenization_key_secret_id}
    if settings.kms_key_id:
        fixed["--kms-key-id"] = settings.kms_key_id
    definition: dict[str, Any] = {
        "Name": settings.job_name,
        "Description": "claims_platform silver: DMS files → typed, validated change tables "
        "(launched by Dagster through Pipes; see claims_platform/silver/job.py).",
        "Role": settings.role_arn,
        "GlueVersion": GLUE_VERSION,
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": settings.script_uri(),
            "PythonVersion": "3",
        },
        "WorkerType": settings.worker_type,
        "NumberOfWorkers": settings.number_of_workers,
        "Timeout": settings.timeout_minutes,
        # Dagster retries the asset with backoff; a Glue-side retry would run a batch that
        # Dagster no longer waits for.
        "MaxRetries": 0,
        # Batches commit one at a time into the single-writer warehouse; a second concurrent run
        # would only wait for the lock.
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
        "DefaultArguments": {
            "--job-language": "python",
            "--additional-python-modules": ",".join(modules),
            "--python-modules-installer-option": "--no-deps",
            "--enable-metrics": "true",
            "--TempDir": settings.temp_dir(),
            # The file ledger decides what is new; Glue bookmarks would second-guess it.
            "--job-bookmark-option": "job-bookmark-disable",
        },
        # A run may not point the tokenizer at another key (tokens must stay joinable) nor
        # write PHI under another KMS key.
        "NonOverridableArguments": fixed,
        "Tags": {"project": "claims_platform", "layer": "silver"},
    }
    if settings.security_configuration:
        definition["SecurityConfiguration"] = settings.security_configuration
    return definition


def script_source() -> bytes:
    """The silver script exactly as it runs locally (`python -m claims_platform.silver.job`)."""
    from claims_platform.silver import job

    return Path(job.__file__).read_bytes()


def deploy(
    settings: GlueJobSettings, wheel: Path, *, glue_client: Any, s3_client: Any
) -> dict[str, Any]:
    """Upload the script and wheel, then create the job or update it in place."""
    for uri, body in (
        (settings.script_uri(), script_source()),
        (settings.wheel_uri(wheel.name), wheel.read_bytes()),
    ):
        bucket, key = _s3_parts(uri)
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    definition = job_definition(settings, wheel.name)
    try:
        glue_client.get_job(JobName=settings.job_name)
    except glue_client.exceptions.EntityNotFoundException:
        glue_client.create_job(**definition)
        return definition
    glue_client.update_job(JobName=settings.job_name, JobUpdate=job_update(definition))
    return definition


def job_update(definition: dict[str, Any]) -> dict[str, Any]:
    """The `UpdateJob` JobUpdate of a definition: everything but the name and tags (which
    `UpdateJob` does not take; tags are managed with `TagResource`)."""
    return {k: v for k, v in definition.items() if k not in ("Name", "Tags")}


def main(argv: list[str] | None = None) -> int:
    """`python -m claims_platform.deploy.glue --wheel dist/claims_platform-….whl`: create or
    update the job from CLAIMS_GLUE_* (and CLAIMS_GLUE_ROLE_ARN) with the ambient AWS credentials."""
    import argparse

    import boto3

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--wheel", required=True, type=Path)
    args = parser.parse_args(argv)
    settings = GlueJobSettings.from_env()
    if not settings.role_arn:
        raise ConfigurationError("set CLAIMS_GLUE_ROLE_ARN: the IAM role the Glue job runs as")
    deploy(
        settings,
        args.wheel,
        glue_client=boto3.client("glue", region_name=settings.region_name),
        s3_client=boto3.client("s3", region_name=settings.region_name),
    )
    print(f"deployed Glue job {settings.job_name} (Glue {GLUE_VERSION})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
