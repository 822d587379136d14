"""The one environment switch: `local | branch | prod`, and the settings that follow from it.

Nothing here runs at import time; callers ask for settings when a run, sensor or CLI needs them, so
`dagster definitions validate` stays offline and independent of the shell it runs in.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY, key_weakness

Env = Literal["local", "branch", "prod"]
_ENVS: tuple[Env, ...] = ("local", "branch", "prod")

# The checkout root: local state defaults to `.data/` beside the code (CONTRACT §1).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message says which and how to fix it."""


def get_env() -> Env:
    """Dagster+ deployment variables win over CLAIMS_ENV; the default is `local`."""
    if os.environ.get("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT") == "1":
        return "branch"
    if os.environ.get("DAGSTER_CLOUD_DEPLOYMENT_NAME"):
        return "prod"
    env = os.environ.get("CLAIMS_ENV", "local").strip().lower() or "local"
    if env not in _ENVS:
        raise ConfigurationError(f"CLAIMS_ENV must be one of {', '.join(_ENVS)}, not {env!r}")
    return env  # type: ignore[return-value]


@dataclass(frozen=True)
class Settings:
    env: Env
    data_dir: Path
    landing_uri: str
    duckdb_path: Path
    tokenization_key: str
    # The lake holds the silver job's batch manifests and outputs: a local directory, or
    # `s3://bucket/prefix` where every object the platform writes is SSE-KMS encrypted.
    lake_uri: str = ""
    kms_key_id: str | None = None
    # The Glue Data Catalog database the silver tables are registered in; None = catalog off.
    glue_database: str | None = None
    # Dagster+ branch deployments: the pull request (DAGSTER_CLOUD_PULL_REQUEST_ID) whose own
    # S3 prefix (`branches/<id>/` of the lake) and Snowflake clone the deployment writes to.
    pull_request_id: str | None = None
    # Overrides of the silver parser's per-file limits (dms.parse.ParseLimits field → value);
    # a file beyond one is quarantined with the limit in its reason.
    parse_limits: dict[str, int] = field(default_factory=dict)
    # The most one silver batch takes (CLAIMS_MAX_BATCH_FILES, CLAIMS_MAX_BATCH_BYTES), oldest
    # first; the rest waits for the next run, which the landing sensor requests.
    max_batch_files: int = 2000
    max_batch_bytes: int = 16 * 1024**3

    @property
    def lake_dir(self) -> Path:
        """Local scratch space of the silver job (batch outputs before they are committed).

        With an S3 lake the local Spark runner still writes here first: the local Spark has no
        S3 filesystem, so the finished batch is copied up to `lake_uri` with SSE-KMS.
        """
        return self.data_dir / "lake"

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_uri.startswith("s3://")

    @property
    def dbt_target(self) -> str:
        return self.env

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "warehouse.lock"

    def dbt_environ(self) -> dict[str, str]:
        """Variables of the dbt subprocess: the warehouse location profiles.yml reads, and
        eager test selection. A landing batch builds only the gold reading its tables
        (orchestration/bronze/sensor.gold_selection); a relationships test from a built model to one the batch
        leaves alone (claim lines → fct_claim in a claim-line batch) must still run, and the
        model left alone is current: the sensor selects any model behind its silver."""
        return {
            "CLAIMS_DUCKDB_PATH": str(self.duckdb_path),
            "CLAIMS_DATA_DIR": str(self.data_dir),
            "DBT_INDIRECT_SELECTION": "eager",
        }


def get_settings() -> Settings:
    env = get_env()
    data_dir = Path(os.environ.get("CLAIMS_DATA_DIR") or PROJECT_ROOT / ".data").resolve()
    landing = os.environ.get("CLAIMS_LANDING_URI") or str(data_dir / "landing")
    if not landing.startswith("s3://"):
        landing = str(Path(landing).resolve())
    duckdb_path = Path(os.environ.get("CLAIMS_DUCKDB_PATH") or data_dir / "warehouse.duckdb")
    key = os.environ.get("CLAIMS_TOKENIZATION_KEY")
    refusal = tokenization_key_refusal(key)
    if refusal:
        raise ConfigurationError(refusal)
    key = key or LOCAL_DEVELOPMENT_KEY
    lake = os.environ.get("CLAIMS_LAKE_URI") or str(data_dir / "lake")
    if not lake.startswith("s3://"):
        lake = str(Path(lake).resolve())
    pr_id = pull_request_id()
    if env == "branch" and lake.startswith("s3://"):
        # A branch deployment reads the production landing zone (immutable, read-only to the
        # platform) but writes only under its own prefix, never into production's lake.
        if not pr_id:
            raise ConfigurationError(
                "DAGSTER_CLOUD_PULL_REQUEST_ID is not set: a branch deployment writes to S3 under "
                "branches/<pull request id>/ of CLAIMS_LAKE_URI only"
            )
        lake = f"{lake.rstrip('/')}/{branch_s3_prefix(pr_id)}".rstrip("/")
    kms_key_id = kms_key_id_from_env()
    if env != "local" and not kms_key_id and lake.startswith("s3://"):
        # PHI must never reach S3 under a bucket's default (or no) key by accident; the landing
        # zone needs no key here because the platform only reads it.
        raise ConfigurationError(
            "CLAIMS_KMS_KEY_ID is not set: outside local every object written to S3 is SSE-KMS "
            "encrypted with the platform's key (set its id or ARN in the deployment's variables)"
        )
    return Settings(
        env=env,
        data_dir=data_dir,
        landing_uri=landing,
        duckdb_path=duckdb_path.resolve(),
        tokenization_key=key,
        lake_uri=lake,
        kms_key_id=kms_key_id,
        glue_database=os.environ.get("CLAIMS_GLUE_DATABASE") or None,
        pull_request_id=pr_id,
        parse_limits=_parse_limits(),
        **_batch_limits(),
    )


# Environment variable → silver parser limit (dms.parse.ParseLimits) it overrides.
PARSE_LIMIT_VARIABLES = {
    "CLAIMS_MAX_ADDED_COLUMNS": "max_added_columns",
    "CLAIMS_MAX_DECOMPRESSED_BYTES": "max_decompressed_bytes",
    "CLAIMS_CSV_BLOCK_BYTES": "csv_block_bytes",
}


# Environment variable → Settings field of the silver batch cap.
BATCH_LIMIT_VARIABLES = {
    "CLAIMS_MAX_BATCH_FILES": "max_batch_files",
    "CLAIMS_MAX_BATCH_BYTES": "max_batch_bytes",
}


def _positive_ints(variables: Mapping[str, str]) -> dict[str, int]:
    limits = {}
    for variable, name in variables.items():
        raw = os.environ.get(variable, "").strip()
        if not raw:
            continue
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigurationError(f"{variable} must be a positive whole number, not {raw!r}")
        limits[name] = int(raw)
    return limits


def _parse_limits() -> dict[str, int]:
    return _positive_ints(PARSE_LIMIT_VARIABLES)


def _batch_limits() -> dict[str, int]:
    return _positive_ints(BATCH_LIMIT_VARIABLES)


# Set by what runs a deployed process, not by whoever writes its configuration: one of them
# present means real data is near, whatever CLAIMS_ENV says.
_RUNTIME_MARKERS = (
    # Dagster+ (serverless, hybrid agents) in every code server and run worker
    "DAGSTER_CLOUD_DEPLOYMENT_NAME",
    "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT",
    # the ECS agent in every task container (the hybrid agent of dagster_cloud.yaml), Fargate,
    # Lambda and other AWS runtimes
    "ECS_CONTAINER_METADATA_URI_V4",
    "ECS_CONTAINER_METADATA_URI",
    "AWS_EXECUTION_ENV",
    # the code-location image (Dockerfile)
    "CLAIMS_DEPLOYED_IMAGE",
)
# Set only by a deployment's configuration: the production key's secret, the warehouse account.
_CONFIGURATION_MARKERS = ("CLAIMS_TOKENIZATION_KEY_SECRET_ID", "SNOWFLAKE_ACCOUNT")
# Every variable deployment_markers looks at (a test clears them to start from a laptop).
DEPLOYMENT_MARKER_VARIABLES = (*_RUNTIME_MARKERS, *_CONFIGURATION_MARKERS)
# AWS Glue starts the job script with its run id (silver/job.py); Glue cannot set variables.
_GLUE_ARGUMENT = "--JOB_RUN_ID"


def _s3_is_loopback_emulator(environ: Mapping[str, str]) -> bool:
    """S3 requests go to a server on this machine (moto, LocalStack, MinIO): not AWS."""
    from urllib.parse import urlsplit

    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or ""
    host = urlsplit(endpoint.strip()).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def deployment_markers(
    environ: Mapping[str, str] | None = None, argv: Sequence[str] | None = None
) -> list[str]:
    """What shows this process runs deployed (names only, never values): the runtime's own
    variables, a deployment-only setting, Glue's run argument, or a landing zone or lake on AWS
    S3 (an S3 on a loopback endpoint is an emulator: tests, local development)."""
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    found = [v for v in DEPLOYMENT_MARKER_VARIABLES if environ.get(v, "").strip()]
    if _GLUE_ARGUMENT in argv:
        found.append(f"the Glue argument {_GLUE_ARGUMENT}")
    if not _s3_is_loopback_emulator(environ):
        found += [
            f"{v} on S3"
            for v in ("CLAIMS_LANDING_URI", "CLAIMS_LAKE_URI")
            if environ.get(v, "").strip().startswith("s3://")
        ]
    return found


def tokenization_key_refusal(key: str | None, argv: Sequence[str] | None = None) -> str | None:
    """Why this process must not tokenize with `key` (one line, never the key), or None.

    Locally any key will do, the public development key by default (the data is synthetic).
    Outside local, and in a process that runs deployed although CLAIMS_ENV says `local` (a
    mistake the environment variable alone cannot reveal), the key must be a secret: set, not the
    development key, and at least 32 bytes. `get_settings` refuses such a key for every run,
    sensor and CLI; the silver job, which reads its key on Glue from Secrets Manager, is to
    check it with its own arguments (`argv`, where Glue puts --JOB_RUN_ID).
    """
    env = get_env()
    markers = deployment_markers(argv=argv)
    if env == "local" and not markers:
        return None
    where = (
        f"outside local (CLAIMS_ENV={env}),"
        if env != "local"
        else f"in a process that runs deployed ({', '.join(markers)}), whatever CLAIMS_ENV says,"
    )
    if not key:
        return (
            f"CLAIMS_TOKENIZATION_KEY is not set: {where} the SSN tokenization key must come "
            "from a secret (set it in the deployment's environment variables)"
        )
    weakness = key_weakness(key)
    if weakness:
        return (
            f"CLAIMS_TOKENIZATION_KEY {weakness}: {where} the SSN tokenization key must be a "
            "secret of at least 32 random bytes (e.g. `openssl rand -hex 32`)"
        )
    return None


def kms_key_id_from_env() -> str | None:
    """CLAIMS_KMS_KEY_ID: the KMS key (id, ARN or alias) of every object the platform writes to S3.

    Separate from `get_settings()` because the silver job on Glue needs only this setting and must
    not require the rest (e.g. a warehouse path) to write its outputs.
    """
    return os.environ.get("CLAIMS_KMS_KEY_ID", "").strip() or None


# --- branch deployments: one S3 prefix and one Snowflake clone per pull request ---------------

_PR_ID = re.compile(r"[A-Za-z0-9_]+")


def pull_request_id() -> str | None:
    """DAGSTER_CLOUD_PULL_REQUEST_ID (set by Dagster+ in branch deployments), checked to be safe
    inside an S3 key and a Snowflake identifier."""
    raw = os.environ.get("DAGSTER_CLOUD_PULL_REQUEST_ID", "").strip()
    if not raw:
        return None
    if not _PR_ID.fullmatch(raw):
        raise ConfigurationError(
            f"DAGSTER_CLOUD_PULL_REQUEST_ID must be letters, digits or underscores, not {raw!r}"
        )
    return raw


def branch_s3_prefix(pull_request_id: str) -> str:
    """The S3 prefix (under the lake) that a pull request's branch deployment writes to."""
    return f"branches/{pull_request_id}/"


def branch_clone_database(database: str, pull_request_id: str) -> str:
    """`<DB>_CLONE_<PR id>`: the pull request's Snowflake clone of the production database.

    The one definition of the name; dbt/profiles.yml's `branch` target renders the same string
    (claims_platform_tests/deploy/test_branch_clones.py compares them).
    """
    # Upper case: how Snowflake stores an unquoted name, so SHOW DATABASES lists it verbatim.
    return f"{database}_CLONE_{pull_request_id}".upper()


def snowflake_database(*, base: bool = False) -> str:
    """The Snowflake database of this environment: SNOWFLAKE_DATABASE in prod, its pull-request
    clone in a branch deployment (or the production database itself with `base=True`)."""
    database = os.environ.get("SNOWFLAKE_DATABASE", "").strip()
    if not database:
        raise ConfigurationError(
            "SNOWFLAKE_DATABASE is not set: name the production Snowflake database "
            "(branch deployments use its clone <DB>_CLONE_<PR id>)"
        )
    pr_id = pull_request_id()
    if not base and get_env() == "branch" and pr_id:
        return branch_clone_database(database, pr_id)
    return database


def snowflake_writer_lease_seconds() -> int:
    """How long a dead Snowflake writer's lease blocks the next writer
    (CLAIMS_SNOWFLAKE_LEASE_SECONDS, default 120; the live writer renews it every third)."""
    raw = os.environ.get("CLAIMS_SNOWFLAKE_LEASE_SECONDS", "").strip()
    if not raw:
        return 120
    if not raw.isdigit() or int(raw) < 3:
        raise ConfigurationError(
            f"CLAIMS_SNOWFLAKE_LEASE_SECONDS must be a whole number of seconds ≥ 3, not {raw!r}"
        )
    return int(raw)


def snowflake_connection_params() -> dict[str, str]:
    """snowflake-connector-python arguments from the same variables as dbt/profiles.yml
    (key-pair authentication; the key file and its passphrase come from secrets)."""
    params = {
        "account": os.environ.get("SNOWFLAKE_ACCOUNT", ""),
        "user": os.environ.get("SNOWFLAKE_USER", ""),
        "role": os.environ.get("SNOWFLAKE_ROLE", ""),
        "warehouse": os.environ.get("SNOWFLAKE_WAREHOUSE", ""),
        "private_key_file": os.environ.get("SNOWFLAKE_PRIVATE_KEY_PATH", ""),
        "private_key_file_pwd": os.environ.get("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", ""),
    }
    # A Snowflake reached elsewhere than <account>.snowflakecomputing.com over HTTPS (a private
    # endpoint; the tests' loopback emulator): the same variables as dbt/profiles.yml.
    for key in ("host", "port", "protocol"):
        if value := os.environ.get(f"SNOWFLAKE_{key.upper()}", "").strip():
            params[key] = int(value) if key == "port" else value  # type: ignore[assignment]
    missing = [k for k in ("account", "user") if not params[k]]
    if missing:
        raise ConfigurationError(
            "Snowflake is not configured: set "
            + ", ".join(f"SNOWFLAKE_{k.upper()}" for k in missing)
        )
    return {k: v for k, v in params.items() if v}
