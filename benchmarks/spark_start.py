"""A cold local Spark with and without the class archive (`silver.spark.build_class_archive`).

    .venv/bin/python benchmarks/spark_start.py [--repeat 3]

Each measurement is a fresh Python process that does what a run process does before its first
batch moves: start the platform's Spark session (`silver.spark.get_spark`) and run one trivial
`mapInArrow` (which starts Spark's Python workers). The two kinds alternate, `--repeat` times
each, so the machine's noise falls on both; printed: seconds of each, the medians and their
ratio. Needs the archive built (`scripts/setup` does; else
`.venv/bin/python -m claims_platform.silver.spark build`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROBE = """
import json, time
t0 = time.perf_counter()
from claims_platform.silver.spark import get_spark
spark = get_spark("spark-start-benchmark")
t1 = time.perf_counter()
def passthrough(batches):
    yield from batches
spark.createDataFrame(spark.sparkContext.parallelize([("a",), ("b",)], 2), "p string").mapInArrow(
    passthrough, "p string"
).collect()
t2 = time.perf_counter()
vm = spark.sparkContext._jvm.java.lang.System.getProperty("java.vm.info")
print("SPARK-START " + json.dumps({"session": t1 - t0, "first_batch": t2 - t1, "vm": vm}))
"""


def measure(archive: bool) -> dict:
    env = dict(os.environ)
    env.pop("CLAIMS_SPARK_CLASS_ARCHIVE", None)
    if not archive:
        env["CLAIMS_SPARK_CLASS_ARCHIVE"] = "off"
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("SPARK-START "))
    return json.loads(line.removeprefix("SPARK-START "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from claims_platform.silver.spark import class_archive_options

    if not class_archive_options():
        print("no class archive: run .venv/bin/python -m claims_platform.silver.spark build")
        return 1
    totals: dict[bool, list[float]] = {False: [], True: []}
    print("archive  session  first batch  total  JVM")
    for _ in range(args.repeat):
        for archive in (False, True):
            m = measure(archive)
            total = m["session"] + m["first_batch"]
            totals[archive].append(total)
            print(
                f"{'with' if archive else 'without':7}  {m['session']:7.2f}  "
                f"{m['first_batch']:11.2f}  {total:5.2f}  {m['vm']}"
            )
    without, with_ = (statistics.median(totals[k]) for k in (False, True))
    print(
        f"median to the first batch: without {without:.2f} s, with {with_:.2f} s; "
        f"ratio with/without {with_ / without:.2f} ({without - with_:.2f} s saved per cold Spark)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
