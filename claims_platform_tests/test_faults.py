"""Exactly once under SIGKILL (DESIGN principle 4): kill the real headless run anywhere — while it
lists and reads files, while Spark writes silver, between the statements of the silver commit,
while dbt builds — run again, and nothing is lost and nothing is there twice.

The runs are the real `dagster asset materialize` subprocess (CONTRACT §1's headless run, exactly
as a user types it; its last runs are clean: two started at once, as the sensor's and a manual
run would be, of which one loads and the other waits, then one that changes nothing); the kills are
real SIGKILLs from `claims_platform.faults` (a test hook, inert unless its CLAIMS_FAULT_*
variables are set) or, for "while Spark reads" and "while dbt builds", from the test, which
watches the run's child processes. The Dagster executor is in-process, so the process that dies
is the `dagster` command itself and `Popen.returncode` is -9.

Cost: every kill inside the silver step pays a Spark start-up under the warehouse lock, and every
run a Dagster start-up, so the statements of the commit are killed in a small process that runs
the same `commit_batch` under the same lock on a batch the real job finished (a second each),
while the real run is killed at every other point. The next run starts while the previous one
holds the warehouse lock, so start-ups overlap work; the lock still orders the runs, and a run
only starts early where the order of lock holders is fixed.

The runs use the project's own `dagster.yaml` (support/instance.py): none of the killed runs is
ever marked finished (no daemon runs headless), and still each next run starts at once; a run
that waits for a live writer waits asleep and stops on SIGTERM (step 8).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from claims_platform.orchestration.gold.dbt_resource import bundled_dbt_executable
from claims_platform.silver.commit import warehouse_lock
from claims_platform.silver.schema import REJECTS_TABLE, all_silver_tables
from claims_platform.simulator import Simulation
from claims_platform_tests.support.crash import (
    SIGKILLED,
    HeadlessRun,
    HeadlessRuns,
    commit_in_subprocess,
    cpu_seconds,
    exactly_once_problems,
    finished_batch_dirs,
    kill_mid_child,
    kill_when_child_runs,
    wait_until,
)
from claims_platform_tests.support.gold_compare import diff_gold, read_gold
from claims_platform_tests.support.pipeline import warehouse_state
from claims_platform_tests.support.reference_model import expected_gold, load_truth

pytestmark = pytest.mark.slow

LISTED = "silver.pending_listed"
BEFORE_COMMIT = "silver.commit.before_commit"
COMMITTED = "silver.commit.committed"
MANIFEST_WRITTEN = "silver.job.files_manifest_written"
BEGUN = "silver.commit.begun"
WROTE = "silver.job.wrote:"
INSERTED = "silver.commit.inserted:"
DBT_START = "gold.dbt_build.start"
DBT_DONE = "gold.dbt_build.done"
# The run's dbt process: `claims-dbt`. Its dbt is a child of the warm server (gold/warm_dbt.py)
# that kills itself as soon as `claims-dbt` dies: a kill of the run's tree is a kill of dbt.
DBT_PROGRAM = Path(bundled_dbt_executable()).name
# Every silver table but rejects (the simulator lands no invalid rows).
CHANGE_TABLES = {t.name for t in all_silver_tables() if t.name != REJECTS_TABLE}


@pytest.fixture
def runs(tmp_path: Path):
    r = HeadlessRuns(tmp_path / "main")
    yield r
    r.stop()


def assert_sigkilled(run: HeadlessRun) -> list[str]:
    """The run died of SIGKILL (not of an error, not cleanly); its checkpoints."""
    rc = run.wait()
    assert rc == SIGKILLED, f"expected death by SIGKILL\n{run.describe()}"
    return run.checkpoints()


def assert_killed_at(run: HeadlessRun, checkpoint: str) -> list[str]:
    """The run died of SIGKILL, and the last checkpoint it reached is `checkpoint`."""
    names = assert_sigkilled(run)
    assert names and names[-1] == checkpoint, f"expected the kill at {checkpoint}\n{run.describe()}"
    return names


def assert_killed_mid_dbt(run: HeadlessRun) -> list[str]:
    """The run (and its dbt child) died of SIGKILL after its dbt step began, before it ended."""
    names = assert_sigkilled(run)
    assert names[-1] == DBT_START, run.describe()
    return names


def assert_clean(run: HeadlessRun) -> list[str]:
    rc = run.wait()
    assert rc == 0, run.describe()
    names = run.checkpoints()
    assert names[-1] == DBT_DONE, run.describe()
    return names


def kill_dbt_mid_build(
    runs: HeadlessRuns,
    label: str,
    delays: list[float],
    then: Callable[[], HeadlessRun] | None = None,
    max_runs: int = 6,
) -> tuple[list[tuple[float, list[str], bool]], HeadlessRun | None]:
    """Runs killed, with their dbt child, `delay` seconds after dbt starts; one run per delay.

    If dbt finished before the delay ran out (the machine got faster than when the delays were
    chosen), the run is a valid run that was not killed mid-build: the delay is tried again at
    half. `then` starts the next run after the last kill. Returns (delay, checkpoints, killed
    mid-build) for every run, in order, and the run `then` started.
    """
    todo = list(delays)
    results: list[tuple[float, list[str], bool]] = []
    for started in range(1, max_runs + 1):
        if not todo:
            break
        delay = round(todo.pop(0), 2)
        run = runs.start(f"{label}-{started}")
        if kill_mid_child(run, DBT_PROGRAM, delay):
            results.append((delay, assert_killed_mid_dbt(run), True))
        else:
            rc = run.wait()
            names = run.checkpoints()
            assert rc == 0 and DBT_DONE in names, run.describe()
            results.append((delay, names, False))
            todo.append(delay / 2)
    assert not todo, f"dbt finished before every kill: {results}"
    return results, (then() if then is not None else None)


def test_sigkill_anywhere_then_run_again_loses_nothing_and_doubles_nothing(runs: HeadlessRuns):
    landing = runs.data / "landing"
    warehouse = runs.data / "warehouse.duckdb"
    truth = runs.work.parent / "truth"
    sim = Simulation(landing, seed=41, members=20, truth_dir=truth)
    sim.write_full_load()
    sim.write_day(0)
    kill_points: set[str] = set()  # by the real headless run
    commit_points: set[str] = set()  # in a process committing a finished batch

    # 1. The first batch's silver step, killed up to the commit: run i dies at its n-th
    #    checkpoint (numeric CLAIMS_FAULT_KILL_AT) for n in `positions`: after listing, after the
    #    first and the last silver table the job writes, after its files manifest (the tables in
    #    between cost a Spark start-up each and add no new kind of state; BEGIN and every
    #    statement after it are killed in step 2). Nothing before COMMIT may stay behind, so each
    #    run passes exactly the checkpoints the run before it passed, then more. Run i+1 starts
    #    once run i holds the warehouse lock.
    tables = len(CHANGE_TABLES)
    positions = [1, 2, 1 + tables, 2 + tables]
    sweep: list[str] = []  # the checkpoints of the run that got furthest, in order
    current = runs.start("sweep-1", CLAIMS_FAULT_KILL_AT=str(positions[0]))
    for i, n in enumerate(positions, start=1):
        assert wait_until(current, LISTED), current.describe()
        following = None
        if i < len(positions):
            following = runs.start(f"sweep-{i + 1}", CLAIMS_FAULT_KILL_AT=str(positions[i]))
        names = assert_sigkilled(current)
        assert len(names) == n and names[: len(sweep)] == sweep, (
            f"run {i} took another path than the run before it: a killed run left something "
            f"behind\nbefore: {sweep}\n{current.describe()}"
        )
        sweep = names
        kill_points.add(names[-1])
        if following is not None:
            current = following
    assert sweep[0] == LISTED and sweep[-1] == MANIFEST_WRITTEN, sweep
    written = {c.split(":", 1)[1] for c in sweep if c.startswith(WROTE)}
    assert written >= CHANGE_TABLES, f"the full load writes every silver table: {sorted(written)}"

    # 2. Every statement of the commit, killed in turn, each in a fresh process committing a batch
    #    the silver job finished above (the same code under the same lock; no Spark run per kill).
    #    Before COMMIT a kill must leave the warehouse exactly as it was.
    batches = finished_batch_dirs(runs.data)
    assert batches, "runs killed after the files manifest left finished batch outputs"
    before = warehouse_state(warehouse)
    commit_sweep: list[str] = []
    k = 1
    while not commit_sweep or commit_sweep[-1] != BEFORE_COMMIT:
        log = runs.work / f"commit-{k}.checkpoints"
        proc = commit_in_subprocess(runs.data, batches[0], log, str(k))
        names = log.read_text().splitlines() if log.exists() else []
        assert proc.returncode == SIGKILLED, f"commit-{k}: rc={proc.returncode}\n{proc.stderr}"
        assert len(names) == k and names[:-1] == commit_sweep, (commit_sweep, names)
        commit_sweep.append(names[-1])
        commit_points.add(names[-1])
        k += 1
    assert warehouse_state(warehouse) == before, "a commit killed before COMMIT left changes"
    inserted = {c.split(":", 1)[1] for c in commit_sweep if c.startswith(INSERTED)}
    assert inserted == written, "every table the job wrote is inserted"
    assert commit_sweep[0] == BEGUN, commit_sweep
    silver_step = [*sweep, *commit_sweep, COMMITTED]  # every checkpoint of a silver step

    # 3. The real run again, killed just before and just after COMMIT; then a run builds gold
    #    completely and is killed right after dbt, which tells where "the middle of dbt" is on
    #    this machine. Each run starts once the one before it holds the lock.
    last = runs.start("at-before-commit", CLAIMS_FAULT_KILL_AT=BEFORE_COMMIT)
    assert wait_until(last, LISTED), last.describe()
    committer = runs.start("at-committed", CLAIMS_FAULT_KILL_AT=COMMITTED)
    assert assert_killed_at(last, BEFORE_COMMIT) == silver_step[:-1]
    assert wait_until(committer, LISTED), committer.describe()
    first = runs.start("dbt-done", CLAIMS_FAULT_KILL_AT=DBT_DONE)
    assert assert_killed_at(committer, COMMITTED) == silver_step
    kill_points.update({BEFORE_COMMIT, COMMITTED})
    assert wait_until(first, DBT_START), first.describe()
    assert assert_killed_at(first, DBT_DONE) == [LISTED, DBT_START, DBT_DONE], "nothing to load"
    kill_points.add(DBT_DONE)
    dbt_s = first.seen_at[DBT_DONE] - first.seen_at[DBT_START]
    assert dbt_s > 1.0, f"dbt build took {dbt_s:.1f}s: too fast to interrupt reliably"

    # 4. dbt killed mid-build (the dbt child and the run, as when the host dies) at two delays,
    #    then a run killed as its dbt step starts.
    mid, at_start = kill_dbt_mid_build(
        runs,
        "dbt-mid",
        [f * dbt_s for f in (0.2, 0.5)],
        then=lambda: runs.start("dbt-start", CLAIMS_FAULT_KILL_AT=DBT_START),
    )
    for delay, names, hit in mid:
        assert names[0] == LISTED and COMMITTED not in names, "nothing new to load"
        if hit:
            kill_points.add(f"{DBT_START}+{delay}s")
    assert at_start is not None and wait_until(at_start, LISTED), at_start

    # 5. A second landing (while the run killed as dbt starts holds the lock, having listed):
    #    the next run is killed while Spark reads it (as the first Spark Python worker starts),
    #    then a run loads it and is killed while dbt rebuilds the stale gold.
    for day in (1, 2, 3):
        sim.write_day(day)
    assert assert_killed_at(at_start, DBT_START) == [LISTED, DBT_START]
    kill_points.add(DBT_START)
    # Started only now: between its silver and gold steps a run holds no lock (the checks run
    # then), so a run started earlier could read the files before the test watches it.
    reading = runs.start("spark-reading")
    kill_when_child_runs(reading, "pyspark.daemon")
    assert assert_sigkilled(reading) == [LISTED], reading.describe()
    kill_points.add("spark reading the landed files")

    def land_and_start_two() -> tuple[HeadlessRun, HeadlessRun]:
        sim.write_day(4)
        return runs.start("recover-manual"), runs.start("recover-sensor")

    stale, recovery = kill_dbt_mid_build(
        runs, "dbt-mid-stale", [0.4 * dbt_s], then=land_and_start_two
    )
    assert COMMITTED in stale[0][1], "the second batch was loaded before dbt was killed"
    kill_points.update(f"stale gold, {DBT_START}+{d}s" for d, _names, hit in stale if hit)

    # 6. Recovery by two runs at once (the sensor's and a manual one, on a third landing): both
    #    succeed, one loads the batch, the other waits for the warehouse lock and lists only after
    #    the commit. Then nothing is lost and nothing is there twice: the ledger, silver and gold
    #    against the source's truth.
    assert recovery is not None
    assert_one_loads_one_waits(*recovery)
    sim.close()
    problems = exactly_once_problems(warehouse, landing)
    assert problems == [], "\n".join(problems)
    gold_problems = diff_gold(expected_gold(load_truth(truth)), read_gold(warehouse))
    assert gold_problems == [], "\n".join(gold_problems)

    # 7. A second clean run changes nothing.
    state = warehouse_state(warehouse)
    assert assert_clean(runs.start("again")) == [LISTED, DBT_START, DBT_DONE]
    assert warehouse_state(warehouse) == state

    # 8. The instance is the project's (pools, run monitoring): every SIGKILLed run is still
    #    STARTED there, as it died, holding nothing: no run after it ever waited for a dead
    #    run's claim. A run that waits for a live writer (here the test holds the warehouse)
    #    waits asleep and stops on SIGTERM before it lists anything.
    killed = sum(1 for r in runs.runs if r.proc.returncode == SIGKILLED)
    with dg.DagsterInstance.from_config(str(runs.home)) as instance:
        started = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert len(started) == killed > 0, (len(started), killed)
    with warehouse_lock(runs.data / "warehouse.lock"):
        waiter = runs.start("waiter")
        idle_after_s = wait_until_idle(waiter.proc.pid)
        assert waiter.poll() is None and waiter.checkpoints() == [], waiter.describe()
        waiter.proc.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        rc = waiter.wait(timeout=60)
        stop_s = time.monotonic() - terminated
    assert rc != 0 and waiter.checkpoints() == [], waiter.describe()
    assert stop_s < 30, f"the waiting run took {stop_s:.0f}s to stop on SIGTERM"

    print(
        f"a waiting run was idle {idle_after_s:.0f}s after its start and stopped "
        f"{stop_s:.1f}s after SIGTERM; "
        f"{len(kill_points)} kill points of the headless run: {sorted(kill_points)}; "
        f"{len(commit_points - kill_points)} more in a committing process: "
        f"{sorted(commit_points - kill_points)}"
    )
    assert len(kill_points | commit_points) >= 20, sorted(kill_points | commit_points)


def assert_one_loads_one_waits(a: HeadlessRun, b: HeadlessRun) -> None:
    """Two runs started together on a new landing: both succeed, exactly one loads it, the other
    waits for the warehouse lock and finds nothing left to load."""
    for run in (a, b):
        assert_clean(run)  # the watcher saw both runs' checkpoints as they happened
    loaded = [r for r in (a, b) if r.reached(COMMITTED)]
    assert len(loaded) == 1, [r.describe() for r in (a, b)]
    loader = loaded[0]
    waiter = b if loader is a else a
    assert waiter.checkpoints() == [LISTED, DBT_START, DBT_DONE], waiter.describe()
    assert waiter.seen_at[LISTED] >= loader.seen_at[COMMITTED], (
        "the waiter listed before the commit"
    )


def wait_until_idle(pid: int, timeout: float = 120, window: float = 3.0) -> float:
    """Seconds until the process used under 10 % of a core over `window` seconds; a process
    that spins while it waits never gets there."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before < 0.1 * window:
            return time.monotonic() - start
    raise AssertionError(f"process {pid} still busy after {timeout:.0f}s: it spins while waiting")
