"""The production configuration on this machine: every outside service the platform talks to in
`CLAIMS_ENV=prod`, as a real protocol server on loopback, started by the test.

- **AWS**: moto's server (S3 with SSE-KMS, KMS, Secrets Manager, CloudWatch Logs, and Glue's job
  definitions), reached by boto3 through `AWS_ENDPOINT_URL`.
- **Glue job runs**: the stand-in of support/glue_standin.py (the one API stood in for: moto's
  Glue executes nothing), reached through `AWS_ENDPOINT_URL_GLUE`. The job is created by the
  production deploy code (`claims_platform.deploy.glue.deploy`).
- **Snowflake**: fakesnow's server (the Snowflake REST protocol on DuckDB), reached by
  snowflake-connector-python (dagster-snowflake) and by dbt-snowflake through the real `prod`
  target of dbt/profiles.yml (`SNOWFLAKE_HOST`, `SNOWFLAKE_PORT`, `SNOWFLAKE_PROTOCOL`), with
  key-pair authentication from a throwaway key. It runs in a process of its own
  (`python -m claims_platform_tests.support.prod serve-snowflake`), so no state or patch of it is
  shared with other tests of the same pytest worker.

Where fakesnow cannot do what Snowflake does, the emulator is taught in that server process; the
production SQL and the dbt models are never changed for it. Every statement so taught is written,
as sent, to `ProdStack.taught_log`, so a test can show each one is Snowflake SQL (sqlglot):

1. The lessons of support/snowflake.py (the S3 stage read from moto, COPY … PATTERN, rollback of
   a closed session's transaction).
2. Masking policies, roles and grants run as no-ops (`NOP_REGEXES` of warehouse/conftest.py).
3. `create or replace temporary table|view <database>.<schema>.<name>`, the relation
   dbt-snowflake builds an incremental model's new rows in before its merge/delete+insert: DuckDB
   refuses a catalog on a temporary object ("TEMPORARY table names can *only* use the temp
   catalog"), so it is created as a permanent relation of that schema; dbt drops it when the
   model is done, as Snowflake would at the end of the session.
4. `cast(… as number(38, 0))` (DuckDB's dialect `decimal(38, 0)`): fakesnow types every
   NUMBER(38,0) as BIGINT, so a cast of a 35-digit DMS change sequence overflows; such casts keep
   DECIMAL(38,0), which holds 38 digits as Snowflake's NUMBER(38,0) does.
5. SUM, AVG and the other numeric aggregates: fakesnow casts their argument to DOUBLE (to mimic
   Snowflake's implicit cast of a VARCHAR argument), so a sum of NUMBER(12,2) amounts comes out
   inexact (11960.189999999999); Snowflake sums NUMBER exactly. Arguments keep their type.
6. A NULL timestamp in a result: fakesnow's server encodes timestamps as Snowflake's (epoch,
   fraction) struct without the column's nulls, and the connector reads NULL as 1970-01-01
   (a SCD2 `valid_to` of a current version); the struct carries the nulls.
7. `POST /harness/end-sessions` ends every open session, rolling back its transaction: what
   Snowflake does to the session of a client that died (a killed run) once its idle timeout has
   passed, which a test cannot wait for.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support.glue_standin import GlueStandIn, glue_standin

REGION = "us-east-1"
DATABASE = "CLAIMS"
TOKENIZATION_KEY = "e2e-prod-tokenization-key-0123456789abcdef0123"
KEY_PASSPHRASE = "test-only"
SECRET_ID = "claims/prod/tokenization-key"
JOB_NAME = "claims-platform-silver"
# Taught statement 3 (module docstring): the temporary relation of an incremental model.
TEMPORARY_RELATION = re.compile(
    r"(?is)^(\s*(?:/\*.*?\*/\s*)?create\s+or\s+replace\s+)temporary\s+(table|view)\b"
)
# In dbt's default query comment: dbt's statements are validated by
# claims_platform_tests/warehouse/test_snowflake_dbt.py.
DBT_STATEMENT = '"app": "dbt"'
COPY_PATTERN = re.compile(r"(?is)^\s*(?:/\*.*?\*/\s*)?copy\s+into\b.*\bpattern\s*=")
_HEADLESS = ("asset", "materialize", "-m", "claims_platform.definitions", "--select", "*")


# --- the Snowflake emulator's process ---------------------------------------------------------


def _serve_snowflake(
    moto_endpoint: str, ready_file: Path, taught_log: Path, statements_log: Path
) -> None:
    """Run fakesnow's server, taught as the module docstring says, until killed. Every distinct
    statement not sent by dbt (the platform's own SQL, and the check queries it transpiles) is
    written to `statements_log`."""
    import importlib
    import logging

    import boto3
    import fakesnow.arrow as fakesnow_arrow
    import fakesnow.transforms as fakesnow_transforms
    import fakesnow.transforms.transforms as fakesnow_transforms_module
    import pyarrow as pa
    import pyarrow.compute as pc
    import pytest
    import uvicorn
    from fakesnow.cursor import FakeSnowflakeCursor
    from sqlglot import exp
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from claims_platform_tests.support.snowflake import _teach_fakesnow
    from claims_platform_tests.warehouse.conftest import NOP_REGEXES

    # The submodule: importing it replaces the package's `fakesnow.server` function.
    server_module = importlib.import_module("fakesnow.server")
    for name in ("fakesnow.server", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlglot"):
        logging.getLogger(name).setLevel(logging.ERROR)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    mirror = Path(tempfile.mkdtemp(prefix="stage_mirror_", dir=ready_file.parent))
    _teach_fakesnow(pytest.MonkeyPatch(), s3, mirror)
    server_module.shared_fs.nop_regexes = NOP_REGEXES
    nops = [re.compile(p, re.IGNORECASE) for p in NOP_REGEXES]
    lock = threading.Lock()
    execute = FakeSnowflakeCursor.execute

    seen: set[tuple[str, str]] = set()
    platform_seen: set[str] = set()

    def sent(sql: str) -> None:
        with lock:
            if sql in platform_seen:
                return
            platform_seen.add(sql)
            with statements_log.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"sql": sql}) + "\n")

    def taught(rule: str, sql: str) -> None:
        with lock:
            if (rule, sql) in seen:
                return
            seen.add((rule, sql))
            with taught_log.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"rule": rule, "sql": sql}) + "\n")

    current = threading.local()
    integer_precision = fakesnow_transforms.integer_precision

    def keep_wide_casts(expression: Any) -> Any:
        # Lesson 4: fakesnow types every NUMBER(38,0) as BIGINT, so a cast of a 35-digit DMS
        # change sequence overflows; Snowflake's NUMBER(38,0) holds 38 digits, as DuckDB's
        # DECIMAL(38,0) does. Casts only: columns keep fakesnow's BIGINT (Python ints).
        if (
            isinstance(expression, exp.DataType)
            and isinstance(expression.parent, (exp.Cast, exp.TryCast))
            and expression.this == exp.DataType.Type.DECIMAL
            and [e.sql() for e in expression.expressions] == ["38", "0"]
        ):
            taught("wide-number-cast", getattr(current, "command", ""))
            return expression
        return integer_precision(expression)

    fakesnow_transforms.integer_precision = keep_wide_casts
    numeric_aggregates = fakesnow_transforms_module._NUMERIC_ONLY_AGGS
    aggregate_name = fakesnow_transforms_module._numeric_agg_col_name

    def exact_numeric_aggregates(expression: Any) -> Any:
        # Lesson 5: fakesnow casts every SUM/AVG/… argument to DOUBLE (Snowflake casts a VARCHAR
        # argument implicitly; DuckDB would refuse it), which makes a sum of NUMBER(12,2)
        # amounts inexact. Snowflake sums NUMBER exactly: arguments keep their type (a VARCHAR
        # one would now fail loudly); the column name fakesnow gives the aggregate is kept.
        if isinstance(expression, numeric_aggregates):
            taught("exact-numeric-aggregate", getattr(current, "command", ""))
            parent = expression.parent
            name = (
                None
                if isinstance(parent, exp.Alias)
                else aggregate_name(expression, expression.this)
            )
            if name and isinstance(parent, exp.Select):
                return exp.alias_(expression, name, quoted=True)
        return expression

    fakesnow_transforms.numeric_agg_implicit_cast = exact_numeric_aggregates

    def teaching_execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        current.command = command
        if DBT_STATEMENT not in command:
            sent(command)
        if any(p.match(command) for p in nops):
            taught("no-op", command)
        elif COPY_PATTERN.match(command):
            taught("copy-pattern", command)
        else:
            rewritten = TEMPORARY_RELATION.sub(r"\1\2", command, count=1)
            if rewritten != command:
                taught("temporary-relation", command)
                command = rewritten
        return execute(self, command, *args, **kwargs)

    FakeSnowflakeCursor.execute = teaching_execute  # type: ignore[method-assign]

    timestamp_struct = fakesnow_arrow.timestamp_to_sf_struct

    def timestamp_struct_with_nulls(ts: Any) -> Any:
        # Lesson 6: the server encodes a timestamp result as Snowflake's (epoch, fraction)
        # struct without the column's nulls, so the connector reads NULL as 1970-01-01.
        if isinstance(ts, pa.ChunkedArray):
            ts = ts.combine_chunks()
        struct = timestamp_struct(pc.fill_null(ts, pa.scalar(0, ts.type)))
        return pa.StructArray.from_arrays(
            struct.flatten(), fields=list(struct.type), mask=ts.is_null()
        )

    fakesnow_arrow.timestamp_to_sf_struct = timestamp_struct_with_nulls

    def end_sessions(_: Any) -> JSONResponse:
        ended = 0
        for token in list(server_module.sessions):
            # support/snowflake.py's session map closes the DuckDB connection: a rollback.
            del server_module.sessions[token]
            ended += 1
        return JSONResponse({"ended": ended})

    server_module.app.router.routes.append(
        Route("/harness/end-sessions", end_sessions, methods=["POST"])
    )
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(server_module.app, host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, name="fakesnow server", daemon=True)
    thread.start()
    while thread.is_alive() and not server.started:
        time.sleep(0.05)
    if not server.started:
        raise SystemExit("the fakesnow server did not start")
    ready_file.write_text(str(port))
    thread.join()


@dataclass
class SnowflakeEmulator:
    """The fakesnow server process and how to reach it."""

    process: subprocess.Popen
    port: int
    taught_log: Path
    statements_log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        return {
            "SNOWFLAKE_HOST": "127.0.0.1",
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
        }

    def connect(self, database: str, **auth: Any) -> Any:
        """A connector session (fakesnow accepts any credentials; the platform's use key pairs)."""
        import snowflake.connector

        return snowflake.connector.connect(
            account=auth.pop("account", "acme-claims"),
            user=auth.pop("user", "TEST"),
            **(auth or {"password": "unused"}),
            host="127.0.0.1",
            port=self.port,
            protocol="http",
            database=database,
            network_timeout=60,
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        )

    def end_sessions(self) -> int:
        request = urllib.request.Request(f"{self.url}/harness/end-sessions", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(json.load(response)["ended"])

    def taught(self) -> list[dict[str, str]]:
        """Each statement the emulator was taught: {"rule": …, "sql": …} (module docstring)."""
        return _json_lines(self.taught_log)

    def platform_statements(self) -> list[str]:
        """Every distinct statement sent by anything but dbt, as sent."""
        return [item["sql"] for item in _json_lines(self.statements_log)]


def _json_lines(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@contextlib.contextmanager
def snowflake_emulator(moto_endpoint: str, work_dir: Path) -> Iterator[SnowflakeEmulator]:
    work_dir.mkdir(parents=True, exist_ok=True)
    ready = work_dir / "snowflake.port"
    taught_log = work_dir / "snowflake.taught.jsonl"
    statements_log = work_dir / "snowflake.statements.jsonl"
    log = (work_dir / "snowflake.log").open("w")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "claims_platform_tests.support.prod", "serve-snowflake"),
            *(moto_endpoint, str(ready), str(taught_log), str(statements_log)),
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the Snowflake emulator did not start:\n"
                    + (work_dir / "snowflake.log").read_text()[-3000:]
                )
            time.sleep(0.1)
        yield SnowflakeEmulator(process, int(ready.read_text()), taught_log, statements_log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


# --- AWS: moto ----------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_environ(moto_endpoint: str, home: Path) -> dict[str, str]:
    """What a deployment's AWS configuration gives boto3, pointed at moto (dummy credentials)."""
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # Never a developer's ~/.aws (profiles, SSO).
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
    }


def private_key(path: Path, passphrase: str) -> Path:
    """A throwaway RSA key for Snowflake's key-pair authentication (PKCS#8, encrypted)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )
    return path


# --- the stack ----------------------------------------------------------------------------------


@dataclass
class ProdStack:
    root: Path
    moto_endpoint: str
    glue: GlueStandIn
    snowflake: SnowflakeEmulator
    kms_key_arn: str
    landing_bucket: str
    lake_bucket: str
    env: dict[str, str]
    # The code and dbt project the runs load, with the manifest the image prepares.
    checkout: Path = REPO_ROOT
    runs: list[str] = field(default_factory=list)

    @property
    def landing_uri(self) -> str:
        return self.env["CLAIMS_LANDING_URI"]

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A connector session on "Snowflake" as the platform opens one (key-pair auth)."""
        connection = self.snowflake.connect(
            self.env["SNOWFLAKE_DATABASE"],
            account=self.env["SNOWFLAKE_ACCOUNT"],
            user=self.env["SNOWFLAKE_USER"],
            private_key_file=self.env["SNOWFLAKE_PRIVATE_KEY_PATH"],
            private_key_file_pwd=self.env["SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"],
        )
        try:
            yield connection
        finally:
            connection.close()

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self.connect() as connection:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            names = [d[0].lower() for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def land(self, local_landing: Path, prefix: str = "dms") -> list[str]:
        """Upload the files under `local_landing` not landed yet, as DMS writes them (SSE-KMS);
        returns their paths relative to the landing zone."""
        s3 = self.client("s3")
        landed = {
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.landing_bucket)
            for o in page.get("Contents", [])
        }
        new = []
        for path in sorted(p for p in local_landing.rglob("*") if p.is_file()):
            relative = path.relative_to(local_landing).as_posix()
            key = f"{prefix}/{relative}"
            if key in landed:
                continue
            s3.put_object(
                Bucket=self.landing_bucket,
                Key=key,
                Body=path.read_bytes(),
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.kms_key_arn,
            )
            new.append(relative)
        return new

    def run_environ(self, label: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of one headless run: a data directory of its own, empty, as a run
        task of the Dagster+ deployment starts (nothing local survives from one run to the
        next: the ledger and silver must live in Snowflake)."""
        data = self.root / "runs" / label / "data"
        data.mkdir(parents=True)
        return {
            **self.env,
            "CLAIMS_DATA_DIR": str(data),
            "PYTHONPATH": str(self.checkout),
            **(extra or {}),
        }

    def start_materialize(
        self, label: str, extra: Mapping[str, str] | None = None
    ) -> tuple[subprocess.Popen, Path]:
        """`dagster asset materialize … --select '*'` in the background; (process, output)."""
        env = self.run_environ(label, extra)
        output = self.root / "runs" / label / "output.txt"
        with output.open("w") as out:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "dagster"), *_HEADLESS],
                cwd=self.checkout,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.runs.append(label)
        return process, output

    def materialize(
        self, label: str, extra: Mapping[str, str] | None = None, timeout: float = 600
    ) -> tuple[int, str]:
        """The headless run, to its end: (exit status, its output)."""
        process, output = self.start_materialize(label, extra)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return code, output.read_text(errors="replace")


def _base_environ(root: Path) -> dict[str, str]:
    """This process's environment without any setting the platform, AWS, Snowflake or dbt
    reads: a run sees only what the stack gives it."""
    prefixes = ("CLAIMS_", "AWS_", "SNOWFLAKE_", "DAGSTER_", "DBT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["DAGSTER_HOME"] = str(root / "dagster_home")
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


@contextlib.contextmanager
def prod_stack(root: Path) -> Iterator[ProdStack]:
    """Start every server, create what the deployment's infrastructure holds (buckets, KMS
    key, the tokenization key's secret, the Glue job), and give the environment of a prod run."""
    from claims_platform.deploy.glue import GlueJobSettings, deploy

    root.mkdir(parents=True, exist_ok=True)
    (root / "dagster_home").mkdir(exist_ok=True)
    suffix = uuid.uuid4().hex[:8]
    landing_bucket, lake_bucket = f"dms-landing-{suffix}", f"claims-lake-{suffix}"
    artifacts_bucket = f"claims-artifacts-{suffix}"
    with contextlib.ExitStack() as stack:
        moto = stack.enter_context(moto_server())
        aws = aws_environ(moto, root)
        glue = stack.enter_context(glue_standin(moto, aws, root / "glue"))
        snowflake = stack.enter_context(snowflake_emulator(moto, root / "snowflake"))
        placeholder = ProdStack(root, moto, glue, snowflake, "", "", "", {})
        s3, kms = placeholder.client("s3"), placeholder.client("kms")
        for bucket in (landing_bucket, lake_bucket, artifacts_bucket):
            s3.create_bucket(Bucket=bucket)
        kms_key_arn = kms.create_key(Description="claims platform")["KeyMetadata"]["Arn"]
        placeholder.client("secretsmanager").create_secret(
            Name=SECRET_ID, SecretString=TOKENIZATION_KEY
        )
        job = GlueJobSettings(
            job_name=JOB_NAME,
            artifacts_uri=f"s3://{artifacts_bucket}/glue",
            pipes_bucket=artifacts_bucket,
            tokenization_key_secret_id=SECRET_ID,
            role_arn="arn:aws:iam::123456789012:role/claims-silver-glue",
            kms_key_id=kms_key_arn,
        )
        # The job's wheel is named in its definition; the stand-in runs this checkout's code.
        wheel = root / "claims_platform-0.1.0-py3-none-any.whl"
        wheel.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
        import boto3

        deploy(
            job,
            wheel,
            glue_client=boto3.client(
                "glue",
                endpoint_url=glue.url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            ),
            s3_client=s3,
        )
        key_path = private_key(root / "snowflake_rsa_key.p8", KEY_PASSPHRASE)
        env = _base_environ(root)
        env.update(aws)
        env.update(
            AWS_ENDPOINT_URL_GLUE=glue.url,
            CLAIMS_ENV="prod",
            CLAIMS_LANDING_URI=f"s3://{landing_bucket}/dms",
            CLAIMS_LAKE_URI=f"s3://{lake_bucket}/claims",
            CLAIMS_KMS_KEY_ID=kms_key_arn,
            CLAIMS_TOKENIZATION_KEY=TOKENIZATION_KEY,
            CLAIMS_TOKENIZATION_KEY_SECRET_ID=SECRET_ID,
            CLAIMS_GLUE_JOB_NAME=JOB_NAME,
            CLAIMS_GLUE_ARTIFACTS_URI=job.artifacts_uri,
            CLAIMS_PIPES_BUCKET=artifacts_bucket,
            # A killed writer's lease lasts this long (default 120 s): the recovery run waits
            # for it to expire, then aborts the dead writer's session.
            CLAIMS_SNOWFLAKE_LEASE_SECONDS="6",
            SNOWFLAKE_ACCOUNT="acme-claims",
            SNOWFLAKE_USER="DAGSTER",
            SNOWFLAKE_ROLE="TRANSFORMER",
            SNOWFLAKE_WAREHOUSE="TRANSFORMING",
            SNOWFLAKE_DATABASE=DATABASE,
            SNOWFLAKE_PRIVATE_KEY_PATH=str(key_path),
            SNOWFLAKE_PRIVATE_KEY_PASSPHRASE=KEY_PASSPHRASE,
            **snowflake.environ(),
        )
        checkout = image_checkout(root / "image", _base_environ(root))
        yield ProdStack(
            root, moto, glue, snowflake, kms_key_arn, landing_bucket, lake_bucket, env, checkout
        )


def image_checkout(target: Path, environ: Mapping[str, str]) -> Path:
    """A copy of the package and its dbt project with the dbt manifest prepared as the image
    prepares it (Dockerfile: `dagster-dbt project prepare-and-package`, target prod, placeholder
    account and user, no database): the manifest a deployed code location loads. The checkout's
    own manifest is parsed for the local target (scripts/setup), whose DuckDB catalog would
    name every gold relation's database; other tests read it meanwhile, so it is not replaced."""
    from claims_platform_tests.support.pipeline import copy_checkout

    copy_checkout(target)
    prepared = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster-dbt"),
            *("project", "prepare-and-package"),
            *("--file", "claims_platform/orchestration/gold/project.py"),
        ],
        cwd=target,
        env={
            **environ,
            "PYTHONPATH": str(target),
            # The image's virtualenv is on its PATH: dagster-dbt runs the `dbt` it finds there.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")]),
            "DBT_TARGET": "prod",
            "SNOWFLAKE_ACCOUNT": "parse-only",
            "SNOWFLAKE_USER": "parse-only",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    manifest = target / "dbt" / "target" / "manifest.json"
    assert prepared.returncode == 0 and manifest.exists(), prepared.stdout[-3000:] + prepared.stderr
    return target


# --- reading "Snowflake" ------------------------------------------------------------------------


def read_gold(stack: ProdStack, schema: str = "GOLD") -> dict[str, list[dict[str, Any]]]:
    """Every table and view of `schema`, as support/gold_compare.read_gold reads DuckDB's."""
    from claims_platform_tests.support.gold_compare import _python_value

    names = [
        row["table_name"]
        for row in stack.query(
            "select table_name from information_schema.tables where table_schema = %s"
            " order by table_name",
            (schema,),
        )
    ]
    gold = {}
    with stack.connect() as connection:
        cursor = connection.cursor()
        for name in names:
            cursor.execute(f'select * from {schema}."{name}"')
            columns = [d[0].lower() for d in cursor.description]
            gold[name.lower()] = [
                {c: _python_value(v) for c, v in zip(columns, row, strict=True)}
                for row in cursor.fetchall()
            ]
    return gold


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve-snowflake"] and len(argv) == 5:
        _serve_snowflake(argv[1], Path(argv[2]), Path(argv[3]), Path(argv[4]))
        return 0
    print("usage: python -m claims_platform_tests.support.prod serve-snowflake MOTO READY LOGS…")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
