"""Deterministic crash injection for the fault-tolerance tests: a TEST HOOK, inert in production.

The platform calls `checkpoint(name)` at the points where a crash matters to exactly-once
(DESIGN principle 4): after listing pending files, after each Parquet table of the silver job,
around every statement of the silver commit, before and after `dbt build`. Unless one of the
variables below is set, a checkpoint returns at once and does nothing: no process in any deployed
environment sets them. They are read at call time, never at import.

- `CLAIMS_FAULT_KILL_AT=<N>` kills this process at the N-th checkpoint it reaches (counting from 1);
  `CLAIMS_FAULT_KILL_AT=<name>` kills it at the first checkpoint called `name`. The kill is a real
  `SIGKILL` of this process: nothing is flushed, no `finally`, no `atexit`, no rollback runs.
- `CLAIMS_FAULT_LOG=<path>` appends one line per checkpoint reached (its name) to `path`, written
  before any kill, so a test can count the checkpoints of a normal run and see where a run died.

Kills in the middle of work that has no checkpoint of its own (Spark reading files, dbt building)
come from the test itself, which watches the run's child processes.

Checkpoint names are dotted, with the table after a colon where there is one per table
(`silver.commit.inserted:member`).
"""

from __future__ import annotations

import os
import signal
import threading

KILL_AT_ENV = "CLAIMS_FAULT_KILL_AT"
LOG_ENV = "CLAIMS_FAULT_LOG"

_lock = threading.Lock()
_reached = 0


def checkpoint(name: str) -> None:
    """A point where a test may crash this process (see the module docstring); else a no-op."""
    kill_at = os.environ.get(KILL_AT_ENV)
    log = os.environ.get(LOG_ENV)
    if not (kill_at or log):
        return
    global _reached
    with _lock:
        _reached += 1
        count = _reached
    if log:
        _append(log, name)
    if kill_at and (
        kill_at.strip() == name or (kill_at.strip().isdigit() and int(kill_at) == count)
    ):
        os.kill(os.getpid(), signal.SIGKILL)


def _append(path: str, line: str) -> None:
    # One write(2) on an O_APPEND descriptor: whole lines even with several writers.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
