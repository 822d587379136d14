"""The real `dagster dev`, as a user runs it, for tests and benchmarks.

`DagsterDev` starts what `scripts/dev` starts, minus `scripts/setup` (the venv exists):

- a temporary root holding `CLAIMS_DATA_DIR` (landing, lake, warehouse) and `DAGSTER_HOME`, with
  the project's own `dagster.yaml` copied in when `start()` runs (so the instance is configured
  exactly as the repository's file says at that moment: pools, run monitoring, run retries);
- `.venv/bin/dagster dev -h 127.0.0.1 -p <free port> -w workspace.yaml`, cwd the repository root;
- an environment without any `CLAIMS_*` setting of the caller's shell and without the venv's bin
  directory on PATH (a user types `.venv/bin/dagster dev` without activating the venv). If the
  code location then fails to load because `dbt` is not on PATH, `start()` raises with the
  location's error; `VENV_BIN_ON_PATH` (or `venv_bin_on_path=True`) puts the venv's bin first on
  PATH, as scripts/dev does, until the platform finds its dbt by itself;
- its own TMPDIR under the root: the warm dbt server (`gold/warm_dbt.py`) keys its socket by
  TMPDIR, so this `dagster dev` gets a server of its own (it outlives `dagster dev` by design, in
  a session of its own) which nobody else uses and which `stop()` may kill;
- a new session, hence a process group of its own: `stop()` sends SIGTERM to the group, then
  SIGKILL, then SIGKILL to every process that carries this harness's marker variable in its
  environment and escaped the group (the warm dbt server and its children): webserver, daemon,
  code servers, run workers, dbt, Java, none survives.

`dagster dev` runs a copy of the working tree (default) or, with `source="<git revision>"`, a
snapshot of that revision (`git archive`), under the root, byte-compiled, first on PYTHONPATH and
the cwd of `dagster dev`. Never the checkout itself: `dagster dev` may parse the dbt project and
write its manifest, which other tests read meanwhile; and
a run worker imports the code location afresh for every run, so under `dagster dev` on a working
tree someone is editing, a run can import a half-edited module and fail. A measurement meant to
describe one commit (benchmarks/latency.py `--source`) should not depend on that. The venv (and
its editable install, which PYTHONPATH overrides) is the checkout's.

Data lands through the project's simulator (`claims_platform.simulator.runner.Simulation`, the
class `claims-platform simulate --follow` drives): `land_initial()` writes the full load and the
first `days` days at once (what `--follow` writes before it starts waiting), each `land_next()`
writes one more day of CDC files, the step `--follow` takes every `--interval` seconds, so the
caller decides when a change lands. The simulator's truth files (every change with its DMS
timestamp, file and values) are written under the root (`truth_dir`) for the reference model.

When is a landed change visible in gold? Each `Landed` batch carries *markers* taken from the
truth of that batch: for `CLAIM` → `gold.fct_claim` (claim_id) and `CLAIM_LINE` →
`gold.fct_claim_line` (claim_id, line_number), the key whose last change in the batch is the
newest one that is not a delete. The batch is visible when every marker's gold row carries a
`_source_change_at` at or after the marker's DMS timestamp. This is robust where the obvious
alternatives are not: the gold facts carry the provenance of the change that produced each row
(so no value comparison, no guess about what a change did to a row); a key whose last change in
the batch is a delete is never chosen (its row vanishes); keys are per table, so the facts of both
tables the claims batches touch must be rebuilt; and a timestamp of the simulated source, not of
the wall clock, is compared with another. (Comparing the newest `_source_change_at` of a whole
table would also work but scans the table; comparing gold with the reference model after every
batch costs seconds, which a latency measurement cannot afford; the recovery test does that once
at the end.) A batch without a claim or claim-line change has no marker and cannot be waited on:
with the demo's 500 members every simulated day has both.

Gold is read from the DuckDB file read-only, under the platform's warehouse lock
(`$CLAIMS_DATA_DIR/warehouse.lock`, `environment.Settings.lock_path`): a DuckDB file opened
read-only takes a shared lock on it, and a writer connecting meanwhile would fail, so the probe
takes the writers' lock (with a short timeout: while a writer holds it the probe reports "not
yet" and tries again) and holds it for the few milliseconds of one query.

`runs()`, `events(run_id)` and `breakdown(landed)` read the Dagster instance
(`DagsterInstance.from_config(DAGSTER_HOME)`): run records, step start/success/failure times,
asset check evaluations. `run_worker_pids(run_id)` finds the run worker under the `dagster dev`
process tree: `dagster dev` launches runs with the DefaultRunLauncher through the code server, which
starts with multiprocessing's spawn (see `run_worker_pids`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claims_platform.gold.warm_dbt import cmdline
from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support.crash import descendants

# Flip to True (or pass venv_bin_on_path=True) if `dagster dev` cannot load the code location
# without the venv's bin on PATH (dagster-dbt looking for `dbt` on PATH): scripts/dev exports it.
VENV_BIN_ON_PATH = os.environ.get("CLAIMS_DEV_HARNESS_VENV_BIN_ON_PATH") == "1"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
MARKER_VAR = "CLAIMS_DEV_HARNESS_ID"

RUN_WORKER_MARK = "execute_run"  # `dagster api execute_run …` (also `execute_step` for steps)
LANDING_TAG = ("claims/trigger", "landing_zone_sensor")

WORKING_TREE = "working-tree"

# Gold tables probed for a batch's markers: source table → (gold table, key columns).
MARKER_TABLES = {
    "CLAIM": ("fct_claim", ("CLAIM_ID",)),
    "CLAIM_LINE": ("fct_claim_line", ("CLAIM_ID", "LINE_NUMBER")),
}


@dataclass(frozen=True)
class Marker:
    """A key of one gold table whose row must carry a source change at or after `changed_at`."""

    table: str
    key: dict[str, Any]
    changed_at: str  # DMS_TIMESTAMP text, 'YYYY-MM-DD HH:MM:SS.ffffff'


@dataclass
class Landed:
    """One landing: the files it published, when, and the gold markers of its changes."""

    label: str
    files: list[str]  # paths relative to the landing root
    landed_at: float  # epoch seconds: the newest modification time of the files
    published_at: float  # epoch seconds: when the simulator returned (every file in place)
    newest_change: str | None  # newest DMS_TIMESTAMP of the batch
    changes: int
    markers: list[Marker] = field(default_factory=list)
    visible_at: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.visible_at is None else self.visible_at - self.landed_at


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environ_has(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def kill_tree(pids: list[int]) -> None:
    """SIGKILL processes at one instant: all are stopped first, so no parent reacts to its
    child's death before it dies itself (as when the OOM killer takes a process tree)."""
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


class DagsterDev:
    """One `dagster dev` on a private data dir and instance; see the module docstring."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        members: int = 500,
        days: int = 60,
        history_days: int = 365,
        seed: int = 7,
        port: int | None = None,
        venv_bin_on_path: bool | None = None,
        keep: bool = False,
        source: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        # CLAIMS_* settings dagster dev gets (the caller's shell's never reach it).
        self.settings = dict(settings or {})
        # Short: the warm dbt server's Unix socket lives under TMPDIR (at most ~100 bytes).
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="cpdev-", dir="/tmp"))
        self.keep = keep
        self.data = self.root / "data"
        self.home = self.root / "home"
        self.tmp = self.root / "tmp"
        self.truth_dir = self.root / "truth"
        self.landing = self.data / "landing"
        self.warehouse = self.data / "warehouse.duckdb"
        self.lock_path = self.data / "warehouse.lock"  # environment.Settings.lock_path
        self.log_path = self.root / "dagster_dev.log"
        # CLAIMS_DEV_HARNESS_SOURCE=<rev>: run a snapshot of that revision (tests too).
        # Default: a copy of the working tree. `dagster dev` parses the dbt project when a file
        # is newer than the manifest and writes the manifest where it runs: in the checkout,
        # that rewrote the manifest other tests were reading.
        self.source = source or os.environ.get("CLAIMS_DEV_HARNESS_SOURCE") or WORKING_TREE
        self.repo = self.root / "src"
        self.port = port or free_port()
        self.venv_bin_on_path = VENV_BIN_ON_PATH if venv_bin_on_path is None else venv_bin_on_path
        self.sim_options = dict(
            seed=seed, members=members, history_days=history_days, truth_dir=self.truth_dir
        )
        self.initial_days = days
        self.marker_id = uuid.uuid4().hex
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None
        self._sim = None
        self._truth_offsets: dict[str, int] = {}
        self._instance = None

    # --- lifecycle ------------------------------------------------------------------------

    def environ(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CLAIMS_") and k not in ("VIRTUAL_ENV", "DAGSTER_HOME")
        }
        venv_bin = str(VENV_BIN)
        path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
        if self.venv_bin_on_path:
            path.insert(0, venv_bin)
        env.update(
            PATH=os.pathsep.join(path),
            CLAIMS_DATA_DIR=str(self.data),
            DAGSTER_HOME=str(self.home),
            TMPDIR=str(self.tmp),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.settings)
        if self.source:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.repo), env.get("PYTHONPATH")) if p
            )
        env[MARKER_VAR] = self.marker_id
        return env

    def start(self, timeout: float = 240) -> DagsterDev:
        """Start `dagster dev` and wait until both code locations are loaded (else raise)."""
        for d in (self.data, self.home, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        if self.source:
            self._snapshot()
        shutil.copy(self.repo / "dagster.yaml", self.home / "dagster.yaml")
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    str(VENV_BIN / "dagster"),
                    "dev",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-w",
                    "workspace.yaml",
                ],
                cwd=self.repo,
                env=self.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.time()
        try:
            self.wait_loaded(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _snapshot(self) -> None:
        """The files of revision `source` (or of the working tree) under root/src, byte-compiled
        (PYTHONDONTWRITEBYTECODE is often set: without .pyc files every process would compile
        what it imports)."""
        self.repo.mkdir(parents=True, exist_ok=True)
        if self.source == WORKING_TREE:
            for name in ("claims_platform", "dbt"):
                # copy2 keeps modification times: the copied manifest stays current.
                shutil.copytree(
                    REPO_ROOT / name,
                    self.repo / name,
                    ignore=shutil.ignore_patterns(
                        "logs", "dbt_packages", "__pycache__", "compiled", "run"
                    ),
                )
            for name in ("workspace.yaml", "dagster.yaml"):
                shutil.copy2(REPO_ROOT / name, self.repo / name)
            self._compile()
            return
        archive = subprocess.run(
            ["git", "archive", "--format=tar", self.source],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(self.repo)], input=archive.stdout, check=True)
        self._compile()

    def _compile(self) -> None:
        subprocess.run(
            [str(VENV_BIN / "python"), "-m", "compileall", "-q", "-j0", str(self.repo)],
            capture_output=True,
            check=False,
        )

    def __enter__(self) -> DagsterDev:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def graphql(self, query: str, timeout: float = 10) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def locations(self) -> dict[str, tuple[str, str | None]]:
        """Code location → (load status, load error message or None)."""
        data = self.graphql(
            "{ workspaceOrError { __typename ... on Workspace { locationEntries { name "
            "loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        )
        entries = data["data"]["workspaceOrError"]["locationEntries"]
        return {
            e["name"]: (
                e["loadStatus"],
                (e["locationOrLoadError"] or {}).get("message"),
            )
            for e in entries
        }

    def wait_loaded(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"dagster dev exited ({self.proc.returncode})\n{self.log_tail()}"
                )
            try:
                last = self.locations()
            except Exception as exc:  # not listening yet
                last = exc
                time.sleep(1)
                continue
            if last and all(status == "LOADED" for status, _ in last.values()):
                errors = {n: m for n, (_, m) in last.items() if m}
                if errors:
                    hint = (
                        ""
                        if self.venv_bin_on_path
                        else " (run with CLAIMS_DEV_HARNESS_VENV_BIN_ON_PATH=1 to put the venv's "
                        "bin on PATH, as scripts/dev does)"
                    )
                    causes = [
                        line.strip()
                        for line in self.log_tail(200_000).splitlines()
                        if "Error:" in line or "not found on PATH" in line
                    ]
                    raise RuntimeError(
                        f"code location(s) failed to load{hint}: {errors}\n"
                        + "\n".join(dict.fromkeys(causes))
                    )
                if self._daemon_running():
                    return
            time.sleep(1)
        raise TimeoutError(
            f"dagster dev not ready within {timeout:.0f}s: {last}\n{self.log_tail()}"
        )

    def _daemon_running(self) -> bool:
        """The daemon's sensor and run-queue loops have reported since this start."""
        beats = self.instance.get_daemon_heartbeats()
        return all(
            kind in beats and beats[kind].timestamp >= (self.started_at or 0)
            for kind in ("SENSOR", "QUEUED_RUN_COORDINATOR")
        )

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Tear everything down: the process group, then any escaped process of ours."""
        if self._instance is not None:
            with contextlib.suppress(Exception):
                self._instance.dispose()
            self._instance = None
        if self.proc is not None:
            pgid = self.proc.pid
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        needle = f"{MARKER_VAR}={self.marker_id}".encode()
        for _ in range(3):
            ours = [
                int(e.name)
                for e in Path("/proc").glob("[0-9]*")
                if int(e.name) != os.getpid() and _environ_has(int(e.name), needle)
            ]
            if not ours:
                break
            kill_tree(ours)
            time.sleep(0.5)
        if self._sim is not None:
            with contextlib.suppress(Exception):
                self._sim.abort()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def survivors(self) -> list[int]:
        """Live processes of this harness (by marker), e.g. after stop(): should be none."""
        needle = f"{MARKER_VAR}={self.marker_id}".encode()
        return [
            int(e.name)
            for e in Path("/proc").glob("[0-9]*")
            if int(e.name) != os.getpid() and _environ_has(int(e.name), needle)
        ]

    # --- landing ----------------------------------------------------------------------------

    def _listing(self) -> dict[str, float]:
        if not self.landing.exists():
            return {}
        return {
            str(p.relative_to(self.landing)): p.stat().st_mtime
            for p in self.landing.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }

    def _land(self, label: str, write) -> Landed:
        before = self._listing()
        write()
        published = time.time()
        after = self._listing()
        new = sorted(set(after) - set(before))
        if not new:
            raise RuntimeError(f"{label}: the simulator wrote no new file")
        changes = self._new_truth()
        markers = _markers(changes)
        stamps = [c["dms_timestamp"] for cs in changes.values() for c in cs]
        return Landed(
            label=label,
            files=new,
            landed_at=max(after[p] for p in new),
            published_at=published,
            newest_change=max(stamps) if stamps else None,
            changes=len(stamps),
            markers=markers,
        )

    def land_initial(self) -> Landed:
        """The full load and the first `days` days of CDC, at once (scripts/dev's start)."""
        from claims_platform.simulator.runner import Simulation

        self.truth_dir.mkdir(parents=True, exist_ok=True)
        self._sim = Simulation(self.landing, **self.sim_options)

        def write() -> None:
            self._sim.write_full_load()
            for k in range(self.initial_days):
                self._sim.write_day(k)
            if self.initial_days == 0 and self._sim._truth is not None:
                self._sim._truth.flush()

        return self._land("initial load", write)

    def land_next(self) -> Landed:
        """One more simulated day of CDC files (what `simulate --follow` writes per interval)."""
        if self._sim is None:
            raise RuntimeError("land_initial() first")
        k = self._sim.days_written
        return self._land(f"day {k}", lambda: self._sim.write_day(k))

    def _new_truth(self) -> dict[str, list[dict[str, Any]]]:
        """The truth's change events written since the last call, per source table."""
        out: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(self.truth_dir.glob("*.changes.jsonl")):
            table = path.name.split(".")[0]
            with path.open("rb") as handle:
                handle.seek(self._truth_offsets.get(table, 0))
                data = handle.read()
            end = data.rfind(b"\n") + 1  # only whole lines
            self._truth_offsets[table] = self._truth_offsets.get(table, 0) + end
            out[table] = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        return out

    def truth_events(self) -> dict[str, list[dict[str, Any]]]:
        """Every change landed so far, per source table (reference_model.load_truth's form)."""
        from claims_platform_tests.support.reference_model import load_truth

        if self._sim is not None and self._sim._truth is not None:
            self._sim._truth.flush()
        return load_truth(self.truth_dir)

    # --- gold ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, lock_timeout: float = 0.5) -> Iterator[Any]:
        """A read-only connection to the warehouse under the writers' lock; raises
        `WarehouseBusy` while a writer holds it (or the file does not exist yet)."""
        import duckdb
        from filelock import FileLock, Timeout

        if not self.warehouse.exists():
            raise WarehouseBusy("no warehouse yet")
        lock = FileLock(str(self.lock_path), timeout=lock_timeout)
        try:
            lock.acquire()
        except Timeout as exc:
            raise WarehouseBusy("a writer holds the warehouse lock") from exc
        try:
            try:
                con = duckdb.connect(str(self.warehouse), read_only=True)
            except duckdb.IOException as exc:  # a writer outside the lock
                raise WarehouseBusy(str(exc)) from exc
            try:
                yield con
            finally:
                con.close()
        finally:
            lock.release()

    @contextlib.contextmanager
    def writers_held_off(self, timeout: float = 120) -> Iterator[None]:
        """Hold the writers' lock (waiting up to `timeout` for it): inside, the warehouse file
        may be opened read-only by anything (read_gold, exactly_once_problems)."""
        from filelock import FileLock

        with FileLock(str(self.lock_path), timeout=timeout):
            yield

    def visible(self, landed: Landed) -> bool:
        """Whether every marker of `landed` is in gold (False while the warehouse is busy)."""
        if not landed.markers:
            raise ValueError(f"{landed.label}: no claim or claim-line change to wait for")
        try:
            with self.reading() as con:
                return all(_marker_in_gold(con, m) for m in landed.markers)
        except WarehouseBusy:
            return False

    def wait_visible(self, landed: Landed, timeout: float, poll: float = 0.25) -> float:
        """Wait until `landed` is visible in gold; returns landing → visible seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.visible(landed):
                landed.visible_at = time.time()
                return landed.latency
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited\n{self.log_tail()}")
            time.sleep(poll)
        raise TimeoutError(f"{landed.label}: not visible in gold within {timeout:.0f}s")

    def ledger(self) -> list[tuple[str, str, str]]:
        """(path, batch id, status) of every ledger row, read under the writers' lock."""
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.reading() as con:
                    return con.execute(
                        "SELECT path, _batch_id, status FROM audit.file_ledger ORDER BY path"
                    ).fetchall()
            except WarehouseBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # --- the Dagster instance --------------------------------------------------------------

    @property
    def instance(self):
        import dagster as dg

        if self._instance is None:
            self._instance = dg.DagsterInstance.from_config(str(self.home))
        return self._instance

    def runs(self, since: float | None = None) -> list[Any]:
        """Run records, oldest first (created at or after `since`, epoch seconds)."""
        import dagster as dg

        filters = (
            dg.RunsFilter(created_after=dt.datetime.fromtimestamp(since, dt.UTC))
            if since is not None
            else None
        )
        records = self.instance.get_run_records(filters=filters)
        return sorted(records, key=lambda r: r.create_timestamp)

    def events(self, run_id: str) -> list[Any]:
        """The run's event log entries with a Dagster event, oldest first."""
        return [e for e in self.instance.all_logs(run_id) if e.dagster_event is not None]

    def logs(self, run_id: str) -> list[Any]:
        return list(self.instance.all_logs(run_id))

    def step_started(self, run_id: str, step_prefix: str) -> float | None:
        for e in self.events(run_id):
            if e.dagster_event_type.value == "STEP_START" and (e.step_key or "").startswith(
                step_prefix
            ):
                return e.timestamp
        return None

    def run_worker_pids(self, run_id: str) -> list[int]:
        """The run worker of `run_id` under `dagster dev`. Dagster 1.13's DefaultRunLauncher has
        the code server (`dagster api grpc`) start it with multiprocessing's spawn
        (`python -c 'from multiprocessing.spawn import spawn_main; …' --multiprocessing-fork`,
        no run id on its command line); the run's event log names its pid ("Executing steps in
        process (pid: N)"), and its compute-log `tail -F` children name the run. Older launches
        (`dagster api execute_run <json naming the run>`) are recognised too."""
        if self.proc is None:
            return []
        tree = set(descendants(self.proc.pid))
        pids = set()
        for entry in self.logs(run_id):
            for match in re.finditer(r"\(pid: (\d+)\)", entry.user_message or ""):
                pids.add(int(match.group(1)))
        found = [p for p in pids if p in tree]
        if not found:
            for pid in tree:
                args = " ".join(cmdline(pid))
                launched = RUN_WORKER_MARK in args and run_id in args
                spawned = "multiprocessing.spawn" in args and any(
                    run_id in " ".join(cmdline(c)) for c in descendants(pid)
                )
                if launched or spawned:
                    found.append(pid)
        # Only the outermost worker process of each run (a worker's own children are excluded).
        return [p for p in found if not any(p in descendants(q) for q in found if q != p)]

    def process_table(self) -> list[tuple[int, int, str]]:
        """(pid, ppid, command) of every process under `dagster dev`, for diagnostics."""
        rows = []
        for pid in descendants(self.proc.pid if self.proc else -1):
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
            except OSError:
                continue
            rows.append((pid, ppid, " ".join(cmdline(pid))[:160]))
        return rows

    def kill_run_worker(self, run_id: str) -> list[int]:
        """SIGKILL the run's worker and everything under it (Spark's JVM, dbt, …), nothing else;
        returns the pids killed."""
        workers = self.run_worker_pids(run_id)
        if not workers:
            raise RuntimeError(f"no run worker of {run_id} found\n{self.process_table()}")
        victims = [*workers, *(p for w in workers for p in descendants(w))]
        kill_tree(victims)
        return victims

    def breakdown(self, landed: Landed) -> dict[str, Any]:
        """Where the time of one landing went, from the instance's event log (see
        `describe_run`). The runs are those whose silver step committed a batch holding one of
        the landed files (ledger batch ids in the silver materializations' `batch_id`)."""
        paths = set(landed.files)
        batch_ids = {
            b for p, b, _s in self.ledger() if p in paths or any(p.endswith("/" + f) for f in paths)
        }
        runs, others = [], []
        until = landed.visible_at or time.time()
        for record in self.runs(since=landed.landed_at - 5):
            if record.create_timestamp.timestamp() > until:
                continue
            events = self.events(record.dagster_run.run_id)
            ids = {
                str(_metadata_value(e, "batch_id"))
                for e in events
                if e.dagster_event_type.value == "ASSET_MATERIALIZATION"
            }
            described = describe_run(record, events, landed)
            (runs if ids & batch_ids else others).append(described)
        landing_runs = [r for r in runs + others if r["tags"].get(LANDING_TAG[0]) == LANDING_TAG[1]]
        first = min((r["created"] for r in landing_runs), default=None)
        return {
            "batch_ids": sorted(batch_ids),
            "runs": runs,  # the runs that committed the landed files
            "other_runs": others,  # runs created meanwhile that did not (failed, automation)
            "sensor_wait": None if first is None else first - landed.landed_at,
        }


class WarehouseBusy(Exception):
    """The warehouse cannot be read right now (a writer holds it)."""


def _metadata_value(event: Any, name: str) -> Any:
    mat = event.dagster_event.step_materialization_data.materialization
    value = (mat.metadata or {}).get(name)
    return getattr(value, "value", value)


def describe_run(record: Any, events: list[Any], landed: Landed | None = None) -> dict[str, Any]:
    """One run's timeline: created, RUN_START, each step's start/end, the checks evaluated,
    and the segments a latency report needs (epoch seconds and durations)."""
    from dagster import DagsterEventType as T

    run = record.dagster_run
    created = record.create_timestamp.timestamp()
    started = next((e.timestamp for e in events if e.dagster_event_type == T.RUN_START), None)
    starting = next((e.timestamp for e in events if e.dagster_event_type == T.RUN_STARTING), None)
    ended = next(
        (
            e.timestamp
            for e in events
            if e.dagster_event_type in (T.RUN_SUCCESS, T.RUN_FAILURE, T.RUN_CANCELED)
        ),
        None,
    )
    steps: dict[str, dict[str, Any]] = {}
    checks: list[dict[str, Any]] = []
    for e in events:
        kind = e.dagster_event_type.value
        if e.step_key and kind in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
            step = steps.setdefault(e.step_key, {})
            step["start" if kind == "STEP_START" else "end"] = e.timestamp
            if kind == "STEP_FAILURE":
                step["failed"] = True
        elif kind == "ASSET_CHECK_EVALUATION":
            data = e.dagster_event.event_specific_data
            evaluation = getattr(data, "asset_check_evaluation", data)
            checks.append(
                {
                    "step": e.step_key,
                    "check": f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                    "passed": evaluation.passed,
                    "at": e.timestamp,
                }
            )
    for step in steps.values():
        if "start" in step and "end" in step:
            step["seconds"] = step["end"] - step["start"]
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "status": run.status.value,
        "tags": dict(run.tags),
        "created": created,
        "run_starting": starting,  # dequeued: the launcher starts the run worker
        "run_start": started,  # the run worker has loaded the code and starts executing
        "run_end": ended,
        "retry_of": run.tags.get("dagster/parent_run_id"),
        "steps": steps,
        "checks": checks,
    }
    if landed is not None:
        out["sensor_wait"] = created - landed.landed_at
        out["queue_launch"] = (started - created) if started else None
        out["queue"] = (starting - created) if starting else None
        out["launch"] = (started - starting) if started and starting else None
        gold_ends = [s["end"] for k, s in steps.items() if k.startswith("gold") and "end" in s]
        if gold_ends and landed.visible_at:
            out["tail"] = landed.visible_at - max(gold_ends)
    return out


def _markers(changes: dict[str, list[dict[str, Any]]]) -> list[Marker]:
    markers = []
    for source, (gold_table, key_columns) in MARKER_TABLES.items():
        last: dict[tuple, dict[str, Any]] = {}
        for event in changes.get(source, []):
            key = tuple(event["values"][c] for c in key_columns)
            prior = last.get(key)
            if prior is None or (event["dms_timestamp"], event["change_seq"] or "") >= (
                prior["dms_timestamp"],
                prior["change_seq"] or "",
            ):
                last[key] = event
        alive = [e for e in last.values() if e["op"] != "D"]
        if not alive:
            continue
        newest = max(alive, key=lambda e: (e["dms_timestamp"], e["change_seq"] or ""))
        markers.append(
            Marker(
                gold_table,
                {c.lower(): newest["values"][c] for c in key_columns},
                newest["dms_timestamp"],
            )
        )
    return markers


def _marker_in_gold(con: Any, marker: Marker) -> bool:
    import duckdb

    where = " AND ".join(f'CAST("{c}" AS VARCHAR) = ?' for c in marker.key)
    try:
        row = con.execute(
            f'SELECT max(_source_change_at) FROM gold."{marker.table}" WHERE {where}',
            [str(v) for v in marker.key.values()],
        ).fetchone()
    except duckdb.CatalogException:  # gold not built yet
        return False
    if row is None or row[0] is None:
        return False
    return row[0] >= dt.datetime.fromisoformat(marker.changed_at)
