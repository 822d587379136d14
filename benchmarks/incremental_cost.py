"""Incremental cost follows the change, not the table (DESIGN principle 6), measured in one run.

    .venv/bin/python benchmarks/incremental_cost.py [--members 40000] [--days 90] [--keep DIR]

1. Simulates a base (default: ≥ 1,000,000 claim lines), runs silver (PySpark) and a full dbt build.
2. Applies CDC batches updating 0.1 %, 1 % and 10 % of the claim lines (and their claims), each
   through the silver job and an incremental `dbt run`, timing both.
3. Times a full rebuild (`dbt run --full-refresh`) on the same data and prints, per batch:
   seconds, rows/s, the ratio incremental / full rebuild, and peak RSS of the process tree.
Figures are ratios measured in this one run; the machine's speed cancels out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
DBT = str(Path(sys.executable).parent / "dbt")


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _dbt(args: list[str], env: dict[str, str], target: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            DBT,
            *args,
            "--project-dir",
            str(REPO / "dbt"),
            "--profiles-dir",
            str(REPO / "dbt"),
            "--target-path",
            str(target),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        print(proc.stdout[-4000:])
        raise SystemExit(f"dbt {' '.join(args)} failed")
    return time.perf_counter() - t0


def _silver(settings, files: list[str]) -> tuple[float, int]:
    from claims_platform.resources import LocalSparkSilverRunner
    from claims_platform.silver.commit import commit_batch, connect
    from claims_platform.silver.job import BatchManifest

    runner = LocalSparkSilverRunner()
    t0 = time.perf_counter()
    manifest = BatchManifest(runner.new_batch_id(), settings.landing_uri, files)
    result, out = runner.run(manifest, settings)
    con = connect(settings.duckdb_path)
    try:
        commit_batch(con, out, {})
    finally:
        con.close()
    runner.discard(out)
    return time.perf_counter() - t0, sum(v for k, v in result.tables.items() if k != "rejects")


def _write_update_batch(settings, fraction: float, when: dt.datetime, seed: int) -> list[str]:
    """Updates of `fraction` of the current claim lines (and their claim headers)."""
    from claims_platform.contracts import load_contracts
    from claims_platform.simulator import write_dms_file

    contracts = load_contracts()
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        cur = con.execute("SELECT * FROM gold.fct_claim_line")
        names = [d[0] for d in cur.description]
        lines = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    rng = random.Random(seed)
    chosen = rng.sample(lines, max(1, int(len(lines) * fraction)))
    ts = when.isoformat(sep=" ", timespec="microseconds")
    rows = []
    for i, line in enumerate(chosen):
        values = {c.name: line.get(c.name.lower()) for c in contracts["CLAIM_LINE"].columns}
        values["ADJUSTMENTS"] = []
        values["UPDATED_AT"] = ts
        values["UNITS"] = (values.get("UNITS") or 1) + 1  # a tracked change
        rows.append(
            {
                "op": "U",
                "dms_timestamp": ts,
                "change_seq": f"{when:%Y%m%d%H%M%S}{i:021d}",
                "values": values,
            }
        )
    rel = f"CLAIMS/CLAIM_LINE/{when:%Y%m%d-%H%M%S}000.csv"
    write_dms_file(Path(settings.landing_uri) / rel, contracts["CLAIM_LINE"], rows)
    return [rel]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=40000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="claims-bench-"))
    os.environ["CLAIMS_DATA_DIR"] = str(tmp / "data")
    os.environ.pop("CLAIMS_DUCKDB_PATH", None)
    from claims_platform.environment import get_settings
    from claims_platform.simulator import simulate

    settings = get_settings()
    env = {**os.environ, **settings.dbt_environ()}
    target = tmp / "dbt_target"

    if not settings.duckdb_path.exists():
        t0 = time.perf_counter()
        summary = simulate(Path(settings.landing_uri), seed=3, members=args.members, days=args.days)
        t_sim = time.perf_counter() - t0
        files = sorted(
            str(p.relative_to(settings.landing_uri))
            for p in Path(settings.landing_uri).rglob("*.*")
        )
        t_silver, rows = _silver(settings, files)
        t_first = _dbt(["run"], env, target)
        print(f"base: {summary.rows_total:,} source changes")
        print(
            f"  simulate {t_sim:.1f} s | silver {t_silver:.1f} s ({rows / t_silver:,.0f} rows/s)"
            f" | first dbt run {t_first:.1f} s | peak RSS {_peak_rss_mb():,.0f} MB"
        )
    else:
        print(f"reusing the base in {tmp} (--keep)")
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    n_lines = con.execute("SELECT count(*) FROM gold.fct_claim_line").fetchone()[0]
    con.close()
    print(f"claim lines in gold: {n_lines:,}")

    results = []
    when = dt.datetime(2030, 1, 1, 12)
    for k, fraction in enumerate([0.001, 0.01, 0.1]):
        when += dt.timedelta(hours=1)
        batch = _write_update_batch(settings, fraction, when, seed=k)
        t_s, changed = _silver(settings, batch)
        t_g = _dbt(["run"], env, target)
        results.append((fraction, changed, t_s, t_g))
    t_full = _dbt(["run", "--full-refresh"], env, target)
    print(f"full rebuild (dbt run --full-refresh): {t_full:.1f} s")
    print(
        f"{'batch':>7} {'changes':>9} {'silver s':>9} {'gold s':>8} {'gold/full':>10} {'rows/s':>9}"
    )
    for fraction, changed, t_s, t_g in results:
        print(
            f"{fraction:>7.1%} {changed:>9,} {t_s:>9.1f} {t_g:>8.1f} {t_g / t_full:>10.2f} "
            f"{changed / (t_s + t_g):>9,.0f}"
        )
    print(f"peak RSS of the process tree: {_peak_rss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
