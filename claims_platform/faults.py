"""Deterministic crash injection for the fault-tolerance tests: a TEST HOOK, inert in production.

The platform calls `checkpoint(name)` at the points where a crash matters to exactly-once
(DESIGN principle 4): after listing pending files, after each Parquet table of the silver job,
around every statement of the silver commit, before and after `dbt build`. Unless one of the
variables below is set, a checkpoint returns at once and does nothing: no process in any deployed
environment sets them. They are read at call time, never at import.

- `CLAIMS_FAULT_KILL_AT=<N>` kills this process at the N-th checkpoint it reaches (counting from 1);
  `CLAIMS_FAULT_KILL_AT=<name>` kills it at the first checkpoint called `name`. The kill is a real
  `SIGKILL` of this process: nothing is flushed, no `finally`, no `atexit`, no rollback runs.
- `CLAIMS_FAULT_KILL_AFTER=<name>+<seconds>` arms a timer at the first checkpoint called `name`;
  when it fires it SIGKILLs every descendant of this process (the dbt child, the Spark JVM) and then
  this process, as when a container or host dies. This is how a test lands a kill in the middle of
  work that has no checkpoint of its own, e.g. `gold.dbt_build.start+2.5` while dbt builds.
- `CLAIMS_FAULT_LOG=<path>` appends one line per checkpoint reached (its name) to `path`, written
  before any kill, so a test can count the checkpoints of a normal run and see where a run died.
  A timer kill appends `fault.timer_kill:<programs killed>` (e.g. `fault.timer_kill:dbt,java`).

Checkpoint names are dotted, with the table after a colon where there is one per table
(`silver.commit.inserted:member`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

KILL_AT_ENV = "CLAIMS_FAULT_KILL_AT"
KILL_AFTER_ENV = "CLAIMS_FAULT_KILL_AFTER"
LOG_ENV = "CLAIMS_FAULT_LOG"

_lock = threading.Lock()
_reached = 0
_timer_armed = False


def checkpoint(name: str) -> None:
    """A point where a test may crash this process (see the module docstring); else a no-op."""
    kill_at = os.environ.get(KILL_AT_ENV)
    kill_after = os.environ.get(KILL_AFTER_ENV)
    log = os.environ.get(LOG_ENV)
    if not (kill_at or kill_after or log):
        return
    global _reached
    with _lock:
        _reached += 1
        count = _reached
    if log:
        _append(log, name)
    if kill_after:
        _maybe_arm_timer(name, kill_after)
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


def _maybe_arm_timer(name: str, spec: str) -> None:
    global _timer_armed
    at, _, seconds = spec.rpartition("+")
    if at != name:
        return
    with _lock:
        if _timer_armed:
            return
        _timer_armed = True
    delay = float(seconds)
    threading.Thread(target=_kill_tree_after, args=(delay,), name="fault-kill", daemon=True).start()


def _kill_tree_after(delay: float) -> None:
    time.sleep(delay)
    me = os.getpid()
    victims = _descendants(me)
    log = os.environ.get(LOG_ENV)
    if log:
        programs = sorted({_program(pid) for pid in victims} - {""})
        _append(log, "fault.timer_kill:" + ",".join(programs))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    os.kill(me, signal.SIGKILL)


def _descendants(root: int) -> list[int]:
    """Every live descendant of `root` (Linux /proc; elsewhere none, so only `root` dies)."""
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
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _program(pid: int) -> str:
    """A short name for a process: `dbt`, `java`, `python`… (for the fault log)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    names = [os.path.basename(a.decode(errors="replace")) for a in argv if a]
    if names and names[0].startswith("python"):
        # `python …/bin/dbt build` → dbt; `python -m pyspark.daemon` → pyspark.daemon
        rest = names[1:]
        if rest[:1] == ["-m"]:
            rest = rest[1:]
        return rest[0] if rest else names[0]
    return names[0] if names else ""
