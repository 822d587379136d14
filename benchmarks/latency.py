"""Landing → gold latency under the real `dagster dev` (issue 16), and where the time goes.

    .venv/bin/python benchmarks/latency.py [--changes 8] [--members 500] [--days 60]
        [--history-days 365] [--idle 5] [--venv-bin-on-path] [--without-class-archive] [--keep]

Starts `dagster dev -w workspace.yaml` as scripts/dev does, through
`claims_platform_tests/support/dagster_dev.py` (a fresh CLAIMS_DATA_DIR and DAGSTER_HOME with the
repository's dagster.yaml; see that module for the environment and for how "visible in gold" is
decided), lands the simulator's initial load (full load + `--days` days of CDC) and waits until it
is in gold, then lands `--changes` single days of CDC one at a time: each is waited for until
visible in gold, then `--idle` seconds pass before the next lands (so the sensor's cadence, not a
backlog, decides what a change waits for).

Printed per change: landing → visible seconds (landing = the newest modification time of the
day's files, visible = the first probe that saw the day's newest claim and claim-line changes in
gold), and from the instance's event log of the run(s) that committed the day's files:
sensor wait (landing → run created), queue+launch (run created → RUN_START), worker start
(RUN_START → first STEP_START), each step's duration under Dagster's step keys, and the tail
(last gold step end → visible; negative when gold was visible before its step ended, e.g. while
the gold step's checks still ran). Then p50/p90 of the latency and the median of each segment.

`dagster dev` is always torn down (its whole process group, and the warm dbt server it started)
when the script ends, on an error or Ctrl-C included. Timeouts: `--start-timeout` for the code
locations to load, `--initial-timeout` for the initial load, `--change-timeout` per change.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claims_platform_tests.support.dagster_dev import DagsterDev, Landed  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _fmt(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.1f}"


def segments(landed: Landed, breakdown: dict[str, Any]) -> dict[str, float | None]:
    """The latency of one landing split into segments (seconds), from its last run."""
    runs = breakdown["runs"]
    out: dict[str, float | None] = {"latency": landed.latency, "runs": float(len(runs))}
    if not runs:
        return out
    last = runs[-1]
    out["sensor_wait"] = breakdown["sensor_wait"]
    out["queue_launch"] = last["queue_launch"]
    out["queue"] = last.get("queue")
    out["launch"] = last.get("launch")
    starts = [s["start"] for s in last["steps"].values() if "start" in s]
    if last["run_start"] and starts:
        out["worker_start"] = min(starts) - last["run_start"]
    for key, step in last["steps"].items():
        out[f"step:{key}"] = step.get("seconds")
    out["tail"] = last.get("tail")
    return out


def print_run(landed: Landed, breakdown: dict[str, Any]) -> None:
    """Every run that committed the landing's files, steps in start order, as offsets from
    the landing (so overlapping steps show)."""
    t0 = landed.landed_at
    for run in breakdown["runs"] + breakdown["other_runs"]:

        def rel(t: float | None) -> str:
            return "-" if t is None else f"+{t - t0:.1f}s"

        print(
            f"    run {run['run_id'][:8]} {run['status']}: created {rel(run['created'])}, "
            f"STARTING {rel(run.get('run_starting'))}, RUN_START {rel(run['run_start'])}, "
            f"end {rel(run['run_end'])}, files {run['tags'].get('claims/new_files')}"
            + (f", retry of {run['retry_of'][:8]}" if run.get("retry_of") else "")
            + ("" if run in breakdown["runs"] else " (did not commit these files)")
        )
        steps = sorted(run["steps"].items(), key=lambda kv: kv[1].get("start", 0))
        for key, step in steps:
            checks = [c for c in run["checks"] if c["step"] == key]
            failed = " FAILED" if step.get("failed") else ""
            note = f", {len(checks)} check(s)" if checks else ""
            seconds = step.get("seconds")
            took = "running" if seconds is None else f"{seconds:5.1f}s"
            print(
                f"      {key:<44} {rel(step.get('start')):>8} → {rel(step.get('end')):>8}"
                f"  ({took}{note}){failed}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=8, help="CDC days to land (default 8)")
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--days", type=int, default=60, help="days of CDC in the initial load")
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds between changes")
    parser.add_argument("--start-timeout", type=float, default=300)
    parser.add_argument("--initial-timeout", type=float, default=600)
    parser.add_argument("--change-timeout", type=float, default=300)
    parser.add_argument(
        "--venv-bin-on-path",
        action="store_true",
        help="put .venv/bin on dagster dev's PATH, as scripts/dev does (needed while the code "
        "location cannot find dbt otherwise)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    parser.add_argument(
        "--without-class-archive",
        action="store_true",
        help="runs start Spark without its class archive (CLAIMS_SPARK_CLASS_ARCHIVE=off), "
        "to measure what the archive saves",
    )
    parser.add_argument(
        "--source",
        default=None,
        help="git revision to run (a snapshot of it; default: the working tree)",
    )
    args = parser.parse_args()

    dev = DagsterDev(
        members=args.members,
        days=args.days,
        history_days=args.history_days,
        seed=args.seed,
        venv_bin_on_path=True if args.venv_bin_on_path else None,
        keep=args.keep,
        source=args.source,
        settings={"CLAIMS_SPARK_CLASS_ARCHIVE": "off"} if args.without_class_archive else None,
    )
    print(
        f"dagster dev on 127.0.0.1:{dev.port}, root {dev.root} (venv bin on PATH: "
        f"{dev.venv_bin_on_path}); demo data: members {args.members}, days {args.days}, "
        f"history days {args.history_days}, seed {args.seed}; code: "
        f"{args.source or 'working tree'}"
        + ("; Spark without its class archive" if args.without_class_archive else ""),
        flush=True,
    )
    results: list[tuple[Landed, dict[str, Any]]] = []
    try:
        t0 = time.time()
        dev.start(timeout=args.start_timeout)
        print(f"code locations loaded, daemon up: {time.time() - t0:.1f}s", flush=True)
        t_sim = time.time()
        initial = dev.land_initial()
        print(
            f"initial load: {len(initial.files)} files, {initial.changes:,} changes, "
            f"simulated in {initial.published_at - t_sim:.1f}s",
            flush=True,
        )
        dev.wait_visible(initial, args.initial_timeout)
        print(f"initial load visible in gold: {initial.latency:.1f}s after landing", flush=True)
        print_run(initial, dev.breakdown(initial))
        for _ in range(args.changes):
            time.sleep(args.idle)
            landed = dev.land_next()
            dev.wait_visible(landed, args.change_timeout)
            breakdown = dev.breakdown(landed)
            results.append((landed, breakdown))
            print(
                f"{landed.label}: {len(landed.files)} files, {landed.changes} changes, "
                f"landing → gold visible {landed.latency:.1f}s",
                flush=True,
            )
            print_run(landed, breakdown)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(dev.log_tail(3000), file=sys.stderr)
        return 1
    finally:
        dev.stop()
        left = dev.survivors()
        if left:
            print(f"WARNING: processes left after teardown: {left}", file=sys.stderr)

    if not results:
        return 1
    rows = [segments(landed, b) for landed, b in results]
    columns = ["latency", "sensor_wait", "queue_launch", "queue", "launch", "worker_start"]
    step_keys: list[str] = []
    for row in rows:
        step_keys.extend(k for k in row if k.startswith("step:") and k not in step_keys)
    columns += [*step_keys, "tail"]
    print()
    print("per change (seconds; steps of the run that made the change visible):")
    names = {c: c.removeprefix("step:") for c in columns}
    for (landed, _), row in zip(results, rows, strict=True):
        print(f"  {landed.label}:")
        for c in columns:
            print(f"    {names[c]:<44} {_fmt(row.get(c))}")
    latencies = [landed.latency for landed, _ in results]
    print()
    print(
        f"landing → gold visible over {len(latencies)} changes: "
        + ", ".join(f"{v:.1f}" for v in latencies)
    )
    print(f"p50 {percentile(latencies, 50):.1f}s  p90 {percentile(latencies, 90):.1f}s")
    print("median per segment:")
    for c in columns[1:]:
        values = [r[c] for r in rows if r.get(c) is not None]
        if values:
            print(f"  {names[c]:<44} {statistics.median(values):6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
