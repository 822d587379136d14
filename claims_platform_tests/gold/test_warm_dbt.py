"""`claims-dbt` runs dbt commands forked from a warm server, exactly as the plain `dbt` would:
the caller's directory, environment and streams, dbt's exit code, signals passed on, and no dbt
left behind when the caller is killed. Every test here runs the real executables and server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from claims_platform.gold import warm_dbt
from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support.pipeline import environ_without_settings

CLIENT = str(Path(sys.executable).parent / "claims-dbt")
DBT_DIR = REPO_ROOT / "dbt"
# A query DuckDB needs many seconds for: something to interrupt.
SLOW_SQL = "select count(*) from range(50000000000) t(i) where hash(i) % 7 = 0"


class Server:
    """A warm server of its own (its own TMPDIR, so its own socket), stopped at the end."""

    def __init__(self) -> None:
        # Short: a Unix socket path must fit in ~100 bytes.
        self.tmp = Path(tempfile.mkdtemp(prefix="cdbt-", dir="/tmp"))
        self.dir = self.tmp / f"claims-dbt-{os.getuid()}"
        self.path = self.dir / warm_dbt.socket_path().name

    def env(self, **extra: str) -> dict[str, str]:
        return {**environ_without_settings(), "TMPDIR": str(self.tmp), **extra}

    def start(self, owner: int | None = None) -> None:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from claims_platform.gold.warm_dbt import start_server;"
                f"start_server(wait=120, owner={owner})",
            ],
            env=self.env(),
            check=True,
            timeout=150,
        )

    def log(self) -> str:
        log = self.path.with_suffix(".log")
        return log.read_text() if log.exists() else ""

    def pid(self) -> int:
        line = next(x for x in self.log().splitlines() if " serving " in x)
        return int(line.split("[", 1)[1].split("]", 1)[0])

    def children(self) -> list[int]:
        """The server's forked dbt commands (not multiprocessing's resource tracker, which dbt's
        adapter starts while the server primes itself)."""
        server = self.pid()
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    cmdline = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if int(fields[1]) == server and b"warm_dbt" in cmdline:
                    found.append(int(proc.name))
        return found

    def stop(self) -> None:
        warm_dbt.stop_server(self.path)
        deadline = time.monotonic() + 30
        while self.path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    s.start()
    yield s
    s.stop()


def run(client: str, args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [client, *args],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def test_a_command_gets_the_callers_directory_environment_and_streams(server, tmp_path):
    sql = "select '{{ env_var(\"CLAIMS_PROBE\") }}' as probe, 40 + 2 as answer"
    for name in ("a", "b"):
        warehouse = tmp_path / f"{name}.duckdb"
        env = server.env(CLAIMS_DUCKDB_PATH=str(warehouse), CLAIMS_PROBE=f"probe-{name}")
        # profiles.yml's default warehouse path is relative to the working directory: dbt's
        # cwd must be the caller's for `--project-dir`-less commands to find the project.
        done = run(CLIENT, ["show", "--inline", sql], env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"probe-{name}" in done.stdout and "42" in done.stdout
        assert warehouse.exists(), "dbt opened the warehouse the caller's environment names"
    served = [x for x in server.log().splitlines() if "dbt show: exit 0" in x]
    assert len(served) == 2, server.log()


def test_structured_logs_reach_stdout_line_by_line(server, tmp_path):
    # dagster-dbt reads `--log-format json` lines from dbt's stdout while dbt runs.
    env = server.env(CLAIMS_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    proc = subprocess.Popen(
        [CLIENT, "show", "--log-format", "json", "--inline", SLOW_SQL],
        cwd=DBT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # arrives while dbt still runs
        assert first.startswith("{") and proc.poll() is None, first
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


@pytest.mark.parametrize(
    "args",
    [
        ["show", "--inline", "select no_such_column"],
        ["run-operation", "no_such_macro"],
        ["no-such-command"],
        ["--version"],
    ],
    ids=["sql-error", "missing-macro", "usage-error", "version"],
)
def test_exit_codes_are_the_plain_dbts(server, tmp_path, args):
    env = server.env(CLAIMS_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    warm = run(CLIENT, args, env)
    plain = run(warm_dbt.plain_dbt(), args, env)
    assert warm.returncode == plain.returncode, (warm.stdout + warm.stderr)[-2000:]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_reach_dbt_as_they_would_a_dbt_process(server, tmp_path, sig):
    env = server.env(CLAIMS_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    proc = _slow_query(env)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    # dbt turns SIGINT into its interrupted exit (2); SIGTERM kills it, and so its client.
    assert proc.returncode == (2 if sig == signal.SIGINT else -signal.SIGTERM)
    _assert_no_children(server)


def test_a_killed_client_leaves_no_dbt_behind(server, tmp_path):
    env = server.env(CLAIMS_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    proc = _slow_query(env)
    assert server.children()
    proc.kill()
    proc.wait()
    _assert_no_children(server)
    deadline = time.monotonic() + 10  # the server logs once it has reaped the child
    while "dbt show: exit -9" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)


def test_without_a_server_the_plain_dbt_runs_and_a_server_starts(tmp_path):
    fresh = Server()
    try:
        env = fresh.env(CLAIMS_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
        first = run(CLIENT, ["show", "--inline", "select 7 as seven"], env)
        assert first.returncode == 0 and "7" in first.stdout, first.stdout + first.stderr
        deadline = time.monotonic() + 120
        while " serving " not in fresh.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert " serving " in fresh.log(), fresh.log()
        assert "dbt show" not in fresh.log(), "the first command ran without the server"
        second = run(CLIENT, ["show", "--inline", "select 8 as eight"], env)
        assert second.returncode == 0 and "8" in second.stdout
        assert "dbt show: exit 0" in fresh.log()

        # Asked to stop while a command runs: it stops taking commands at once (they run the
        # plain dbt meanwhile) and exits once the running one has ended.
        slow = _slow_query(env)
        warm_dbt.stop_server(fresh.path)
        assert not fresh.path.exists()
        other = {**env, "CLAIMS_DUCKDB_PATH": str(tmp_path / "other.duckdb")}  # one writer
        third = run(CLIENT, ["show", "--inline", "select 9 as nine"], other)
        assert third.returncode == 0 and "9" in third.stdout
        assert fresh.log().count("dbt show: exit 0") == 1, "the third command ran warm"
        assert slow.poll() is None and fresh.children()
        slow.send_signal(signal.SIGINT)
        assert slow.wait(timeout=60) == 2
        deadline = time.monotonic() + 30
        while " stopped" not in fresh.log():
            assert time.monotonic() < deadline, fresh.log()
            time.sleep(0.1)
    finally:
        fresh.stop()
    assert not fresh.path.exists()


def test_outside_local_it_is_the_plain_dbt(tmp_path):
    fresh = Server()
    try:
        env = fresh.env(CLAIMS_ENV="prod")
        done = run(CLIENT, ["--version"], env)
        assert done.returncode == 0 and "Core" in done.stdout + done.stderr
        assert not fresh.dir.exists(), "no server is started outside local"
    finally:
        fresh.stop()


def test_a_macro_edited_after_the_server_primed_runs_as_edited(server, tmp_path):
    # The server compiles every macro of the project it parsed (dbt's template cache, keyed by
    # the macro's text); a project whose macro differs must get its own text compiled.
    assert " 0 macros compiled" not in server.log() and "macros compiled" in server.log()
    project = tmp_path / "dbt"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    macros = project / "macros" / "change_order.sql"
    original = macros.read_text()
    assert "_change_id\n{%- endmacro %}" in original
    macros.write_text(original.replace("_change_id\n{%- endmacro %}", "_edited\n{%- endmacro %}"))
    args = ["compile", "--inline", "select 1 order by {{ change_order() }}"]
    env = server.env(CLAIMS_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    edited = run(
        CLIENT, [*args, "--project-dir", str(project), "--profiles-dir", str(project)], env
    )
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "_source_file,\n    _edited" in edited.stdout and "_change_id" not in edited.stdout
    as_is = run(CLIENT, args, env)
    assert as_is.returncode == 0 and "_source_file,\n    _change_id" in as_is.stdout, as_is.stdout
    assert server.log().count("dbt compile: exit 0") == 2, "both ran warm"


def test_a_second_server_leaves_the_first_serving(server):
    before = server.pid()
    second = subprocess.run(
        [sys.executable, "-m", "claims_platform.gold.warm_dbt", "serve", str(server.path)],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 0 and "another server holds the lock" in second.stdout
    assert server.pid() == before and server.path.exists()


def _slow_query(env: dict[str, str]) -> subprocess.Popen:
    """`claims-dbt show` of SLOW_SQL, returned once dbt runs the query."""
    proc = subprocess.Popen(
        [CLIENT, "show", "--inline", SLOW_SQL],
        cwd=DBT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        if "Concurrency:" in line:  # dbt prints it just before running the node
            break
    time.sleep(0.5)
    assert proc.poll() is None, "the query ended before the test could interrupt it"
    return proc


def _assert_no_children(server: Server, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while server.children():
        assert time.monotonic() < deadline, f"dbt still runs: {server.children()}\n{server.log()}"
        time.sleep(0.05)


def test_a_server_stops_when_the_process_it_serves_is_gone():
    """A server lives no longer than its owner: the `dagster dev` it serves (else the session
    that started it). Here the owner is a stand-in process, killed while the server idles."""
    owner = subprocess.Popen(["sleep", "600"])
    fresh = Server()
    try:
        fresh.start(owner=owner.pid)
        assert fresh.path.exists()
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 30
        while " stopped" not in fresh.log():
            assert time.monotonic() < deadline, fresh.log()
            time.sleep(0.1)
        assert "owner process gone" in fresh.log() and not fresh.path.exists()
    finally:
        owner.kill()
        fresh.stop()


def test_the_owner_is_the_dagster_dev_above_the_command(tmp_path):
    """Found through the process tree: `python …/dagster dev` (here a stand-in script of that
    name) above the command, however many levels up."""
    stand_in = tmp_path / "dagster"
    stand_in.write_text(
        "import os, subprocess, sys\n"
        "probe = 'from claims_platform.gold.warm_dbt import session_owner; print(session_owner())'\n"
        "shell = subprocess.run(['sh', '-c', f'{sys.executable} -c \"{probe}\"'],\n"
        "                       capture_output=True, text=True, check=True)\n"
        "print(os.getpid(), shell.stdout.strip())\n"
    )
    proc = subprocess.run(
        [sys.executable, str(stand_in), "dev"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    dagster_dev, owner = proc.stdout.split()
    assert owner == dagster_dev


def test_another_installed_package_names_another_server(monkeypatch):
    """An upgrade of anything installed (duckdb, dbt-adapters, …) starts a fresh server instead
    of reusing one that loaded the old code."""
    before = warm_dbt.socket_path()
    installed = warm_dbt.installed_distributions()
    assert any(n.startswith("duckdb-") for n in installed), installed
    upgraded = [n for n in installed if not n.startswith("dbt_adapters-")] + [
        "dbt_adapters-99.0.0.dist-info"
    ]
    monkeypatch.setattr(warm_dbt, "installed_distributions", lambda: upgraded)
    assert warm_dbt.socket_path() != before


def test_warm_dbt_is_linux_only(monkeypatch):
    monkeypatch.setenv("CLAIMS_ENV", "local")
    assert warm_dbt.warm_enabled()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not warm_dbt.warm_enabled()
