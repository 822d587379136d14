"""Crash-testing the real headless run: start it with the fault hooks of `claims_platform.faults`,
follow its checkpoints, and check the exactly-once invariants of the warehouse afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support.instance import project_instance_home
from claims_platform_tests.support.pipeline import environ_without_settings

# The command of `support.pipeline.headless_materialize`, exactly as a user types it.
HEADLESS_ARGS = ("asset", "materialize", "-m", "claims_platform.definitions", "--select", "*")
SIGKILLED = -signal.SIGKILL  # Popen.returncode of a process that died of SIGKILL


@dataclass
class HeadlessRun:
    """One `dagster asset materialize` subprocess and the checkpoint log it writes."""

    label: str
    proc: subprocess.Popen
    log: Path
    output: Path
    started: float
    seen_at: dict[str, float] = field(default_factory=dict)  # checkpoint → first seen (monotonic)

    def checkpoints(self) -> list[str]:
        text = self.log.read_text() if self.log.exists() else ""
        names = text.splitlines()
        now = time.monotonic()
        for name in names:
            self.seen_at.setdefault(name, now)
        return names

    def reached(self, name: str) -> bool:
        return name in self.checkpoints()

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float = 600) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            self.checkpoints()
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"still running after {timeout:.0f}s: {self.describe()}")
            time.sleep(0.1)
        self.checkpoints()
        return self.proc.returncode

    def tail(self, chars: int = 3000) -> str:
        return self.output.read_text(errors="replace")[-chars:] if self.output.exists() else ""

    def describe(self) -> str:
        return (
            f"{self.label}: rc={self.proc.returncode}, checkpoints={self.checkpoints()}\n"
            f"--- output tail ---\n{self.tail()}"
        )


def start_headless(
    data_dir: Path,
    dagster_home: Path,
    work_dir: Path,
    label: str,
    fault_env: Mapping[str, str] | None = None,
) -> HeadlessRun:
    """Start the headless run in the background, with `fault_env` (CLAIMS_FAULT_*) set.

    The environment is the one `headless_materialize` gives (no inherited CLAIMS_* variables) plus
    the fault variables and a checkpoint log of this run's own. Output goes to a file, not a pipe,
    so nothing blocks while the test is busy with another run.
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    log = work_dir / f"{slug}.checkpoints"
    output = work_dir / f"{slug}.out"
    log.unlink(missing_ok=True)
    env = environ_without_settings()
    env.update(CLAIMS_DATA_DIR=str(data_dir), DAGSTER_HOME=str(dagster_home))
    env.update(fault_env or {})
    env["CLAIMS_FAULT_LOG"] = str(log)
    with output.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), *HEADLESS_ARGS],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return HeadlessRun(label, proc, log, output, time.monotonic())


class HeadlessRuns:
    """The headless runs of one test on one data dir and Dagster instance.

    A watcher thread reads every live run's checkpoint log every 0.1 s, so `seen_at` tells when
    each checkpoint was reached even while the test waits for another run. `stop()` kills any
    run still alive, so none outlives its test.
    """

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.home = root / "dagster_home"
        self.work = root / "runs"
        project_instance_home(self.home)
        self.runs: list[HeadlessRun] = []
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="run-watcher", daemon=True)
        self._watcher.start()

    def start(self, label: str, **fault_env: str) -> HeadlessRun:
        run = start_headless(self.data, self.home, self.work, label, fault_env)
        self.runs.append(run)
        return run

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            for run in list(self.runs):
                if run.proc.returncode is None:
                    run.checkpoints()

    def stop(self) -> None:
        self._stop.set()
        for run in self.runs:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()


def wait_until(run: HeadlessRun, checkpoint: str, timeout: float = 600) -> bool:
    """Wait until `run` reaches `checkpoint` (True) or exits without it (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.reached(checkpoint):
            return True
        if run.poll() is not None:
            return run.reached(checkpoint)
        time.sleep(0.1)
    raise AssertionError(f"{run.label}: did not reach {checkpoint} within {timeout:.0f}s")


def descendants(root: int) -> list[int]:
    """Every live descendant of `root`, parents before children (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (None once gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def program_name(pid: int) -> str:
    """A short name for a process: `dbt`, `java`, `claims_platform.silver.spark_daemon`, `tail`…
    ('' once gone)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    args = [a.decode(errors="replace") for a in argv if a]
    if not args:
        return ""
    name = os.path.basename(args[0])
    if not name.startswith("python"):
        return name
    # `python …/bin/dbt build` → dbt; `python -m pyspark.daemon` → pyspark.daemon
    rest = iter(args[1:])
    for arg in rest:
        if arg == "-m":
            return next(rest, name)
        if arg == "-c":
            return name
        if not arg.startswith("-"):
            return os.path.basename(arg)
    return name


# A program's name (see `program_name`), or names any of which will do: a process that execs
# another program keeps its pid under a new name.
Program = str | tuple[str, ...]


def child_running(run: HeadlessRun, program: Program) -> bool:
    names = (program,) if isinstance(program, str) else program
    return any(program_name(pid) in names for pid in descendants(run.proc.pid))


def wait_for_child(run: HeadlessRun, program: Program, timeout: float = 600) -> bool:
    """Wait until a descendant of the run called `program` runs (True), or the run ends (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.poll() is not None:
            return False
        if child_running(run, program):
            return True
        time.sleep(0.05)
    raise AssertionError(f"{run.label}: no {program} within {timeout:.0f}s")


def kill_tree(run: HeadlessRun) -> None:
    """SIGKILL the run and every process under it at one instant, as when the host dies: all
    are stopped first, so no parent sees its child die and reacts before it dies itself."""
    victims = [run.proc.pid, *descendants(run.proc.pid)]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def kill_when_child_runs(run: HeadlessRun, program: str, timeout: float = 600) -> None:
    """SIGKILL the run's own process (not its children) as soon as a descendant process called
    `program` (see `program_name`) is running, e.g. the first Spark Python worker
    (`silver.spark.PYTHON_DAEMON_MODULE`), which starts when the Spark job begins to read the
    landed files."""
    if not wait_for_child(run, program, timeout):
        raise AssertionError(f"{run.label}: ended before {program} ran\n{run.describe()}")
    os.kill(run.proc.pid, signal.SIGKILL)


def kill_mid_child(run: HeadlessRun, program: Program, delay: float) -> bool:
    """Once `program` runs under `run`, wait `delay` seconds and kill the whole tree if it still
    runs (True); False if it finished first (the run is then left to end by itself)."""
    if not wait_for_child(run, program):
        raise AssertionError(f"{run.label}: ended before {program} ran\n{run.describe()}")
    time.sleep(delay)
    if run.poll() is None and child_running(run, program):
        kill_tree(run)
        return True
    return False


# The silver step's commit, as `orchestration/silver/assets.py` does it (the environment's
# warehouse, its writer claim held), for one finished batch directory: a fresh process per kill,
# so each commit statement can be killed without paying for a Spark run each time.
_COMMIT_SCRIPT = """
import sys
from pathlib import Path

from claims_platform.contracts import load_contracts
from claims_platform.environment import get_settings
from claims_platform.warehouse.base import BatchOutput
from claims_platform.warehouse.choice import warehouse_for

batch = Path(sys.argv[1])
with warehouse_for(get_settings()).writer() as writer:
    writer.commit(BatchOutput(batch.name, batch), {}, load_contracts())
"""


def commit_in_subprocess(
    data_dir: Path, batch_dir: Path, log: Path, kill_at: str
) -> subprocess.CompletedProcess:
    """Commit `batch_dir` in a new Python process that `CLAIMS_FAULT_KILL_AT=kill_at` kills."""
    log.unlink(missing_ok=True)
    env = environ_without_settings()
    env.update(
        CLAIMS_DATA_DIR=str(data_dir), CLAIMS_FAULT_KILL_AT=kill_at, CLAIMS_FAULT_LOG=str(log)
    )
    return subprocess.run(
        [sys.executable, "-c", _COMMIT_SCRIPT, str(batch_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def finished_batch_dirs(data_dir: Path) -> list[Path]:
    """Batch output directories the silver job finished (its `_files.json` is written)."""
    from claims_platform.silver.job import FILES_MANIFEST

    return sorted(p.parent for p in (data_dir / "lake" / "batches").glob(f"*/{FILES_MANIFEST}"))


def landed_paths(landing: Path) -> list[str]:
    """Every file under the landing directory, as the ledger names it (relative, POSIX)."""
    return sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file())


def exactly_once_problems(warehouse: Path, landing: Path) -> list[str]:
    """Every violation of 'nothing lost, nothing twice' between the landing zone and silver.

    - each landed file is in `audit.file_ledger` exactly once, and the ledger holds nothing else;
    - each batch in `audit.batches` has ledger rows, each ledger row's batch is in `audit.batches`;
    - no (file, row) appears twice in a silver change table, nor with two change ids;
    - each file's silver rows (and rejects) number what its ledger row says it loaded, all from
      the ledger row's batch: nothing lost, nothing from a batch that never committed;
    - each flattened child row appears once per parent row of its change (no child-only repeats).
    """
    problems: list[str] = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        ledger = con.execute(
            "SELECT path, _batch_id, status, rows_loaded, rows_rejected FROM audit.file_ledger"
        ).fetchall()
        counts = Counter(r[0] for r in ledger)
        landed = landed_paths(landing)
        for path in landed:
            if counts[path] != 1:
                problems.append(f"landed file {path} is in the ledger {counts[path]} times")
        for path in sorted(set(counts) - set(landed)):
            problems.append(f"ledger holds {path}, which is not in the landing zone")
        batches = Counter(
            r[0] for r in con.execute("SELECT _batch_id FROM audit.batches").fetchall()
        )
        for batch_id, n in batches.items():
            if n != 1:
                problems.append(f"batch {batch_id} is in audit.batches {n} times")
        ledger_batches = {r[1] for r in ledger}
        for batch_id in sorted(set(batches) - ledger_batches):
            problems.append(f"batch {batch_id} is in audit.batches without ledger rows")
        for batch_id in sorted(ledger_batches - set(batches)):
            problems.append(f"ledger rows of batch {batch_id}, which audit.batches does not have")

        tables = _silver_tables(con)
        loaded: Counter[tuple[str, str]] = Counter()  # (file, batch) → silver rows
        for table, columns in tables.items():
            if "_source_file" not in columns:
                continue
            for file, row, n, ids in con.execute(
                f"SELECT _source_file, _row_number, count(*), count(DISTINCT _change_id) "
                f'FROM silver."{table}" GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 5'
            ).fetchall():
                problems.append(
                    f"silver.{table}: row {row} of {file} is there {n} times ({ids} change ids)"
                )
            for file, batch_id, n in con.execute(
                f'SELECT _source_file, _batch_id, count(*) FROM silver."{table}" GROUP BY ALL'
            ).fetchall():
                loaded[(file, batch_id)] += n
        rejected: Counter[tuple[str, str]] = Counter()
        # The rejects live in the restricted schema (raw rows), never in silver.
        if "rejects" in tables:
            problems.append("silver holds a rejects table: rejects belong in restricted")
        for file, batch_id, n in con.execute(
            "SELECT source_file, _batch_id, count(*) FROM restricted.rejects GROUP BY ALL"
        ).fetchall():
            rejected[(file, batch_id)] += n
        expected_loaded = {(p, b): n for p, b, _s, n, _r in ledger if n}
        expected_rejected = {(p, b): n for p, b, _s, _n, r in ledger if r}
        if dict(loaded) != expected_loaded:
            diff = set(loaded.items()) ^ set(expected_loaded.items())
            problems.append(
                "silver rows per (file, batch) differ from the ledger's rows_loaded: "
                f"{sorted(diff)[:6]}"
            )
        if dict(rejected) != expected_rejected:
            diff = set(rejected.items()) ^ set(expected_rejected.items())
            problems.append(f"rejects per (file, batch) differ from the ledger: {sorted(diff)[:6]}")

        for child, parent in _children(tables).items():
            keep = [c for c in tables[child] if c not in ("_batch_id",)]
            cols = ", ".join(f'c."{c}"' for c in keep)
            bad = con.execute(
                f'WITH p AS (SELECT _change_id, count(*) AS n FROM silver."{parent}" GROUP BY 1) '
                f'SELECT {cols}, count(*) AS k, any_value(p.n) AS n FROM silver."{child}" c '
                "LEFT JOIN p USING (_change_id) GROUP BY ALL "
                "HAVING count(*) <> coalesce(any_value(p.n), 0) LIMIT 5"
            ).fetchall()
            for row in bad:
                problems.append(
                    f"silver.{child}: child row of change {row[0]} appears {row[-2]} times for "
                    f"{row[-1]} parent rows"
                )
    finally:
        con.close()
    return problems


def _silver_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'silver' ORDER BY table_name, ordinal_position"
    ).fetchall():
        tables.setdefault(table, []).append(column)
    return tables


def _children(tables: Mapping[str, list[str]]) -> dict[str, str]:
    """Flattened child table → its change table (the silver schema's own description)."""
    from claims_platform.silver.schema import all_silver_tables

    return {
        t.name: t.parent
        for t in all_silver_tables()
        if t.parent is not None and t.name in tables and t.parent in tables
    }
