"""Wall time of a full headless run on the default demo data (CONTRACT §1's command).

    .venv/bin/python benchmarks/headless_run.py [--members 500] [--days 60] [--format csv]

Simulates into a fresh temporary CLAIMS_DATA_DIR, runs
`dagster asset materialize -m claims_platform.definitions --select '*'` twice (the second run has
nothing new to do) and prints the wall times and their ratio, measured in this one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--format", default="csv")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from claims_platform.simulator import simulate

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t0 = time.perf_counter()
        simulate(
            data / "landing", seed=args.seed, members=args.members, days=args.days, fmt=args.format
        )
        t_sim = time.perf_counter() - t0
        files = sum(1 for p in (data / "landing").rglob("*") if p.is_file())
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}
        env.update(CLAIMS_DATA_DIR=str(data), DAGSTER_HOME=str(Path(tmp) / "home"))
        (Path(tmp) / "home").mkdir()
        cmd = [
            str(Path(sys.executable).parent / "dagster"),
            "asset",
            "materialize",
            "-m",
            "claims_platform.definitions",
            "--select",
            "*",
        ]
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if proc.returncode:
                print(proc.stderr[-3000:])
                return 1
        con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
        silver_rows = sum(
            con.execute(f"SELECT count(*) FROM silver.{t}").fetchone()[0]
            for t in ("plan", "member", "enrollment", "provider", "claim", "claim_line")
        )
        lines = con.execute("SELECT count(*) FROM gold.fct_claim_line").fetchone()[0]
        con.close()
    print(f"demo data: {args.members} members x {args.days} days, {args.format}, {files} files")
    print(f"simulate:           {t_sim:8.1f} s")
    print(
        f"headless run 1:     {times[0]:8.1f} s  ({silver_rows} silver change rows, {lines} claim lines in gold)"
    )
    print(f"headless run 2:     {times[1]:8.1f} s  (nothing new)")
    print(f"ratio run2/run1:    {times[1] / times[0]:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
