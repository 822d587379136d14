"""Throughput and peak memory of the DMS source simulator, per file format.

    .venv/bin/python benchmarks/simulator_throughput.py [--members 20000] [--days 60]
        [--formats csv csv.gz parquet] [--seed 7]

Each format runs in its own child process (so the peak RSS is that format's alone) and writes into
a fresh temporary directory; the table prints rows written, wall seconds, rows per wall second,
rows per CPU second (steadier on a busy machine) and the child's peak RSS from getrusage.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def _one(fmt: str, members: int, days: int, seed: int) -> dict[str, float]:
    from claims_platform.simulator import simulate

    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = simulate(tmp, seed=seed, members=members, days=days, fmt=fmt)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    lines = sum(summary.rows["CLAIM_LINE"].values())
    return {
        "rows": summary.rows_total,
        "claim_line_rows": lines,
        "files": summary.files_written,
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_mib": peak_kib / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--formats", nargs="+", default=["csv", "csv.gz", "parquet"])
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one format, print JSON
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one(args.child, args.members, args.days, args.seed)))
        return 0

    print(f"simulator throughput: {args.members} members x {args.days} days, seed {args.seed}")
    print(
        f"{'format':<9}{'rows':>10}{'lines':>10}{'seconds':>9}{'rows/s':>9}"
        f"{'rows/cpu-s':>12}{'peak RSS':>11}"
    )
    for fmt in args.formats:
        command = [
            sys.executable,
            __file__,
            "--child",
            fmt,
            "--members",
            str(args.members),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
        ]
        result = json.loads(
            subprocess.run(command, check=True, capture_output=True, text=True).stdout
        )
        print(
            f"{fmt:<9}{result['rows']:>10}{result['claim_line_rows']:>10}"
            f"{result['seconds']:>9.1f}{result['rows'] / result['seconds']:>9.0f}"
            f"{result['rows'] / result['cpu_seconds']:>12.0f}{result['peak_rss_mib']:>8.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
