"""A killed headless run never blocks the next one, under the project's own `dagster.yaml`.

The headless run (CONTRACT §1, exactly as a user types it) is SIGKILLed while Spark reads the
landed files: it dies holding the warehouse lock and, had it claimed one, its `duckdb_writer`
pool slot; nothing marks it finished (no daemon runs headless). The next headless run must
start at once and load the batch exactly once. A run that has to wait for the warehouse (another
process writes it) sleeps while it waits and stops on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from claims_platform.silver.commit import warehouse_lock
from claims_platform.simulator import Simulation
from claims_platform_tests.support.crash import (
    SIGKILLED,
    HeadlessRuns,
    exactly_once_problems,
    kill_when_child_runs,
)
from claims_platform_tests.support.gold_compare import diff_gold, read_gold
from claims_platform_tests.support.reference_model import expected_gold, load_truth

pytestmark = pytest.mark.slow

LISTED = "silver.pending_listed"
COMMITTED = "silver.commit.committed"
DBT_DONE = "gold.dbt_build.done"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


@pytest.fixture
def runs(tmp_path: Path):
    r = HeadlessRuns(tmp_path / "main")
    yield r
    r.stop()


def test_a_headless_run_killed_mid_silver_never_blocks_the_next(runs: HeadlessRuns):
    assert (runs.home / "dagster.yaml").exists(), "the instance is the project's configuration"
    landing = runs.data / "landing"
    warehouse = runs.data / "warehouse.duckdb"
    truth = runs.work.parent / "truth"
    sim = Simulation(landing, seed=43, members=20, truth_dir=truth)
    sim.write_full_load()
    sim.write_day(0)

    killed = runs.start("killed-mid-silver")
    kill_when_child_runs(killed, "pyspark.daemon")
    assert killed.wait() == SIGKILLED, killed.describe()
    assert killed.checkpoints() == [LISTED], "killed while Spark read the files"
    with dg.DagsterInstance.from_config(str(runs.home)) as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.STARTED, "left as it died"

    started = time.monotonic()
    following = runs.start("next")
    assert following.wait(timeout=600) == 0, following.describe()
    recovery_s = time.monotonic() - started
    names = following.checkpoints()
    assert names[0] == LISTED and COMMITTED in names and names[-1] == DBT_DONE, names
    listed_after_s = following.seen_at[LISTED] - started
    sim.close()
    problems = exactly_once_problems(warehouse, landing)
    assert problems == [], "\n".join(problems)
    assert diff_gold(expected_gold(load_truth(truth)), read_gold(warehouse)) == []

    # Another writer holds the warehouse (here: the test): a run started meanwhile waits for it
    # asleep, and a SIGTERM stops it there, before it lists anything.
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
        f"after the kill: next run listed the files {listed_after_s:.1f}s after its start and "
        f"finished in {recovery_s:.1f}s; a waiting run idle {idle_after_s:.0f}s after its start, "
        f"stopped {stop_s:.1f}s after SIGTERM (rc {rc})"
    )
