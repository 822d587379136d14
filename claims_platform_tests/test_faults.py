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

The kills are spread over three tests, so that `pytest -n 2` runs them on both workers (one test
of them all took six minutes); each ends with the same check, nothing lost and nothing twice in
the ledger, silver and gold against the source's truth:
- A, on a fresh landing: the silver step killed after listing and after its files manifest,
  every statement of the commit in a committing process, the real run just before and just after
  COMMIT and right after dbt;
- B, on a fresh landing: the silver step killed after the first and after the last silver table
  it writes, then a run loads the batch and builds gold;
- C, on a copy of B's end state (data and Dagster instance): dbt killed mid-build and as it
  starts, a second landing killed while Spark reads it and while dbt rebuilds the stale gold,
  two runs at once, a clean run, a run that waits for a live writer.
B and C run on one worker, in order, so B's runs are paid once.

The runs use the project's own `dagster.yaml` (support/instance.py): none of the killed runs is
ever marked finished (no daemon runs headless), and still each next run starts at once; a run
that waits for a live writer waits asleep and stops on SIGTERM (test C, step 5).
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from claims_platform.gold.warm_dbt import plain_dbt
from claims_platform.orchestration.gold.dbt_resource import bundled_dbt_executable
from claims_platform.silver.schema import REJECTS_TABLE, all_silver_tables
from claims_platform.silver.spark import PYTHON_DAEMON_MODULE
from claims_platform.simulator import Simulation
from claims_platform.warehouse.duckdb import warehouse_lock
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
# With no warm server to ask (the first command of a session, or a server another session
# stopped) `claims-dbt` execs the plain `dbt`: the same process, building, under that name.
DBT_PROGRAM = (Path(bundled_dbt_executable()).name, Path(plain_dbt()).name)
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
    fractions: list[float],
    build_s: float,
    then: Callable[[], HeadlessRun] | None = None,
    max_runs: int = 6,
) -> tuple[list[tuple[float, list[str], bool]], HeadlessRun | None, float]:
    """Runs killed, with their dbt child, a fraction of a build after dbt starts (a build takes
    `build_s`, as far as the test knows); one run per fraction.

    If dbt finished before the delay ran out (this build was faster than the one `build_s` was
    measured on: a first build is cold and builds everything), the run is a valid run that was
    not killed mid-build, and its build tells how long a build takes now: the fraction is tried
    again on the shorter of that and half the estimate. Each next run starts once the run before
    it builds. `then` starts the next run after the last kill. Returns (delay, checkpoints,
    killed mid-build) for every run, in order, the run `then` started, and the estimate.
    """
    todo = list(fractions)
    results: list[tuple[float, list[str], bool]] = []
    waiting: HeadlessRun | None = None  # the next run, started while this one builds
    for started in range(1, max_runs + 1):
        if not todo:
            break
        fraction = todo.pop(0)
        delay = round(fraction * build_s, 2)
        run = waiting or runs.start(f"{label}-{started}")
        waiting = None
        assert wait_until(run, DBT_START), run.describe()
        if todo:
            # Its Dagster start-up overlaps this build; it waits for the warehouse lock, which
            # this run holds until it dies, so the order of the builds is fixed.
            waiting = runs.start(f"{label}-{started + 1}")
        if kill_mid_child(run, DBT_PROGRAM, delay):
            results.append((delay, assert_killed_mid_dbt(run), True))
        else:
            rc = run.wait()
            names = run.checkpoints()
            assert rc == 0 and DBT_DONE in names, run.describe()
            results.append((delay, names, False))
            build_s = min(build_s / 2, run.seen_at[DBT_DONE] - run.seen_at[DBT_START])
            todo.append(fraction)
    assert not todo, f"dbt finished before every kill: {results}"
    return results, (then() if then is not None else None), build_s


def simulate_first_batch(landing: Path, truth: Path) -> tuple[Simulation, int]:
    """The first batch every test starts from: the simulator's full load and first day (same seed,
    same bytes). Returns the simulation, to land later days, and how many files it wrote: none
    on a copy of a landing that holds them (a file already landed is never written again)."""
    sim = Simulation(landing, seed=41, members=20, truth_dir=truth)
    written = sim.write_full_load().written + sim.write_day(0).written
    return sim, written


def kill_silver_sweep(
    runs: HeadlessRuns,
    positions: list[int],
    then: Callable[[], HeadlessRun] | None = None,
) -> tuple[list[str], list[str], HeadlessRun | None]:
    """The first batch's silver step, killed up to the commit: run i dies at its n-th checkpoint
    (numeric CLAIMS_FAULT_KILL_AT) for n in `positions`. Nothing before COMMIT may stay behind,
    so each run passes exactly the checkpoints the run before it passed, then more. Run i+1
    starts once run i holds the warehouse lock (has listed); `then` starts one more run once the
    last of them has listed. Returns the checkpoints of the run that got furthest, in order, the checkpoint
    each run died at, and the run `then` started."""
    sweep: list[str] = []
    killed_at: list[str] = []
    current = runs.start("sweep-1", CLAIMS_FAULT_KILL_AT=str(positions[0]))
    following: HeadlessRun | None = None
    for i, n in enumerate(positions, start=1):
        assert wait_until(current, LISTED), current.describe()
        if i < len(positions):
            following = runs.start(f"sweep-{i + 1}", CLAIMS_FAULT_KILL_AT=str(positions[i]))
        else:
            following = then() if then is not None else None
        names = assert_sigkilled(current)
        assert len(names) == n and names[: len(sweep)] == sweep, (
            f"run {i} took another path than the run before it: a killed run left something "
            f"behind\nbefore: {sweep}\n{current.describe()}"
        )
        sweep = names
        killed_at.append(names[-1])
        if following is not None:
            current = following
    return sweep, killed_at, following


def assert_exactly_once(warehouse: Path, landing: Path, truth: Path) -> None:
    """Nothing is lost and nothing is there twice: the ledger, silver and gold against the
    source's truth (the simulation closed)."""
    problems = exactly_once_problems(warehouse, landing)
    assert problems == [], "\n".join(problems)
    gold_problems = diff_gold(expected_gold(load_truth(truth)), read_gold(warehouse))
    assert gold_problems == [], "\n".join(gold_problems)


def test_sigkill_in_the_silver_commit_then_run_again_loses_nothing_and_doubles_nothing(
    runs: HeadlessRuns,
):
    """A: the silver step killed after listing and after its files manifest; every statement of
    the commit; the real run just before and just after COMMIT, and right after dbt."""
    landing = runs.data / "landing"
    warehouse = runs.data / "warehouse.duckdb"
    truth = runs.work.parent / "truth"
    sim, _written = simulate_first_batch(landing, truth)
    kill_points: set[str] = set()  # by the real headless run
    commit_points: set[str] = set()  # in a process committing a finished batch

    # 1. The first batch's silver step killed after listing and after its files manifest (after
    #    the first and the last silver table the job writes: test B; the tables in between cost a
    #    Spark start-up each and add no new kind of state; BEGIN and every statement after it are
    #    killed in step 2).
    tables = len(CHANGE_TABLES)
    sweep, killed_at, _ = kill_silver_sweep(runs, [1, 2 + tables])
    kill_points.update(killed_at)
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
    #    completely and is killed right after dbt. Each run starts once the one before it holds
    #    the lock.
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

    # 4. Nothing is lost and nothing is there twice.
    sim.close()
    assert_exactly_once(warehouse, landing, truth)

    print(
        f"{len(kill_points)} kill points of the headless run: {sorted(kill_points)}; "
        f"{len(commit_points - kill_points)} more in a committing process: "
        f"{sorted(commit_points - kill_points)}"
    )
    assert kill_points == {LISTED, MANIFEST_WRITTEN, BEFORE_COMMIT, COMMITTED, DBT_DONE}
    # With B's 2 and C's 5, at least 20 kill points in all.
    assert len(kill_points | commit_points) >= 13, sorted(kill_points | commit_points)


@dataclass(frozen=True)
class FirstBatchLoaded:
    """Test B's runs on a fresh landing, and the state they left: the first batch loaded and gold
    built, which test C starts from (a copy of `root`'s data and Dagster instance)."""

    root: Path
    sweep: list[str]  # the checkpoints of the killed run that got furthest
    killed_at: list[str]  # the checkpoint each killed run died at
    loaded: list[str]  # the checkpoints of the run that loaded the batch
    killed: int  # runs that died of SIGKILL on the instance
    dbt_s: float  # the first gold build, dbt start to end


# B and C share B's end state, built once: one xdist worker runs both, in order.
FIRST_BATCH_GROUP = pytest.mark.xdist_group("faults_first_batch")


@pytest.fixture(scope="module")
def first_batch_loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstBatchLoaded]:
    """B: the first batch's silver step killed after the first and after the last silver table
    the job writes; then a run started once the last of them holds the lock loads the batch and
    builds gold."""
    root = tmp_path_factory.mktemp("first_batch") / "main"
    runs = HeadlessRuns(root)
    try:
        sim, _written = simulate_first_batch(runs.data / "landing", root / "truth")
        sim.close()
        tables = len(CHANGE_TABLES)
        sweep, killed_at, loader = kill_silver_sweep(
            runs, [2, 1 + tables], then=lambda: runs.start("load")
        )
        assert loader is not None
        loaded = assert_clean(loader)
        base = FirstBatchLoaded(
            root=root,
            sweep=sweep,
            killed_at=killed_at,
            loaded=loaded,
            killed=sum(1 for r in runs.runs if r.proc.returncode == SIGKILLED),
            dbt_s=loader.seen_at[DBT_DONE] - loader.seen_at[DBT_START],
        )
    finally:
        runs.stop()
    yield base


@FIRST_BATCH_GROUP
def test_sigkill_while_silver_writes_then_run_again_loses_nothing_and_doubles_nothing(
    first_batch_loaded: FirstBatchLoaded,
):
    """B: the silver step killed after the first and after the last table it writes (the runs
    are the fixture's; C goes on from their end state)."""
    base = first_batch_loaded
    writes = [c for c in base.sweep if c.startswith(WROTE)]
    assert len(writes) == len(CHANGE_TABLES) and base.killed_at == [writes[0], writes[-1]], (
        base.killed_at,
        base.sweep,
    )
    assert base.killed == 2
    # The run after the kills takes their path, then loads the batch and builds gold.
    assert base.loaded[: len(base.sweep)] == base.sweep, (base.sweep, base.loaded)
    assert base.loaded[-3:] == [COMMITTED, DBT_START, DBT_DONE], base.loaded
    assert BEFORE_COMMIT in base.loaded, base.loaded
    data = base.root / "data"
    assert_exactly_once(data / "warehouse.duckdb", data / "landing", base.root / "truth")


@pytest.fixture
def runs_after_first_batch(
    first_batch_loaded: FirstBatchLoaded, tmp_path: Path
) -> Iterator[HeadlessRuns]:
    """Headless runs on a copy of B's end state: its data and its Dagster instance."""
    root = tmp_path / "main"
    for part in ("data", "dagster_home"):
        shutil.copytree(first_batch_loaded.root / part, root / part)
    r = HeadlessRuns(root)
    yield r
    r.stop()


@FIRST_BATCH_GROUP
def test_sigkill_in_dbt_and_in_later_batches_then_run_again_loses_nothing_and_doubles_nothing(
    first_batch_loaded: FirstBatchLoaded, runs_after_first_batch: HeadlessRuns
):
    """C: on B's end state, dbt killed mid-build and as it starts; a second landing killed while
    Spark reads it and while dbt rebuilds the stale gold; two runs at once; a clean run; a run
    that waits for a live writer."""
    runs = runs_after_first_batch
    landing = runs.data / "landing"
    warehouse = runs.data / "warehouse.duckdb"
    truth = runs.work.parent / "truth"
    sim, written = simulate_first_batch(landing, truth)
    assert written == 0, "the copy holds every file of the first batch"
    kill_points: set[str] = set()
    dbt_s = first_batch_loaded.dbt_s
    assert dbt_s > 1.0, f"dbt build took {dbt_s:.1f}s: too fast to interrupt reliably"

    # 1. dbt killed mid-build (the dbt child and the run, as when the host dies) at two delays,
    #    then a run killed as its dbt step starts.
    mid, at_start, build_s = kill_dbt_mid_build(
        runs,
        "dbt-mid",
        [0.2, 0.5],
        dbt_s,
        then=lambda: runs.start("dbt-start", CLAIMS_FAULT_KILL_AT=DBT_START),
    )
    for delay, names, hit in mid:
        assert names[0] == LISTED and COMMITTED not in names, "nothing new to load"
        if hit:
            kill_points.add(f"{DBT_START}+{delay}s")
    assert at_start is not None and wait_until(at_start, LISTED), at_start

    # 2. A second landing (while the run killed as dbt starts holds the lock, having listed):
    #    the next run is killed while Spark reads it (as the first Spark Python worker starts),
    #    then a run loads it and is killed while dbt rebuilds the stale gold.
    for day in (1, 2, 3):
        sim.write_day(day)
    assert assert_killed_at(at_start, DBT_START) == [LISTED, DBT_START]
    kill_points.add(DBT_START)
    # Started only now: between its silver and gold steps a run holds no lock (the checks run
    # then), so a run started earlier could read the files before the test watches it.
    reading = runs.start("spark-reading")
    kill_when_child_runs(reading, PYTHON_DAEMON_MODULE)
    assert assert_sigkilled(reading) == [LISTED], reading.describe()
    kill_points.add("spark reading the landed files")

    def land_and_start_two() -> tuple[HeadlessRun, HeadlessRun]:
        sim.write_day(4)
        return runs.start("recover-manual"), runs.start("recover-sensor")

    stale, recovery, _ = kill_dbt_mid_build(
        runs, "dbt-mid-stale", [0.4], build_s, then=land_and_start_two
    )
    assert COMMITTED in stale[0][1], "the second batch was loaded before dbt was killed"
    kill_points.update(f"stale gold, {DBT_START}+{d}s" for d, _names, hit in stale if hit)

    # 3. Recovery by two runs at once (the sensor's and a manual one, on a third landing): both
    #    succeed, one loads the batch, the other waits for the warehouse lock and lists only after
    #    the commit. Then nothing is lost and nothing is there twice: the ledger, silver and gold
    #    against the source's truth.
    assert recovery is not None
    assert_one_loads_one_waits(*recovery)
    sim.close()
    assert_exactly_once(warehouse, landing, truth)

    # 4. A second clean run changes nothing.
    state = warehouse_state(warehouse)
    assert assert_clean(runs.start("again")) == [LISTED, DBT_START, DBT_DONE]
    assert warehouse_state(warehouse) == state

    # 5. The instance is the project's (pools, run monitoring): every SIGKILLed run (B's too, on
    #    the instance copied with its data) is still STARTED there, as it died, holding nothing:
    #    no run after it ever waited for a dead run's claim. A run that waits for a live writer
    #    (here the test holds the warehouse) waits asleep and stops on SIGTERM before it lists
    #    anything.
    killed = first_batch_loaded.killed + sum(1 for r in runs.runs if r.proc.returncode == SIGKILLED)
    with dg.DagsterInstance.from_config(str(runs.home)) as instance:
        started = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert len(started) == killed > first_batch_loaded.killed, (len(started), killed)
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
        f"{len(kill_points)} kill points of the headless run: {sorted(kill_points)}"
    )
    assert len(kill_points) == 5, sorted(kill_points)


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
