"""A cold local Spark with and without what shortens its start (`silver.spark`): the class
archive (`build_class_archive`) and the Python daemon that imports compiled PySpark
(`silver.spark_daemon`).

    .venv/bin/python benchmarks/spark_start.py [--repeat 3]

Each measurement is a fresh Python process that does what a run process does before its first
batch moves: start the platform's Spark session (`silver.spark.get_spark`) and run one trivial
`mapInArrow` (which starts Spark's Python workers). Three kinds alternate, `--repeat` times each,
so the machine's noise falls on all: `plain` (neither), `archive` (the archive only) and `both`
(the platform's session). Printed: seconds of each, the medians and their ratios to `plain`.
Needs the archive built (`scripts/setup` does; else
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
import json, sys, time
t0 = time.perf_counter()
from claims_platform.silver.spark import ensure_java, get_spark, silver_spark_conf
ensure_java()
conf = silver_spark_conf("spark-start-benchmark")
mode = sys.argv[1]
if mode == "plain":  # neither: the JVM's own class loading, PySpark's default daemon
    conf["spark.driver.extraJavaOptions"] = "-Duser.timezone=UTC"
if mode in ("plain", "archive"):
    del conf["spark.python.daemon.module"]
spark = get_spark(conf=conf)
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

MODES = {
    "plain": "neither (the JVM's own class loading; PySpark's daemon, imports from its zip)",
    "archive": "the class archive only",
    "both": "the class archive and the daemon that imports compiled PySpark (the platform)",
}


def measure(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_SPARK_CLASS_ARCHIVE"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True
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
    totals: dict[str, list[float]] = {mode: [] for mode in MODES}
    print("mode     session  first batch  total  JVM")
    for _ in range(args.repeat):
        for mode in MODES:
            m = measure(mode)
            total = m["session"] + m["first_batch"]
            totals[mode].append(total)
            print(
                f"{mode:7}  {m['session']:7.2f}  {m['first_batch']:11.2f}  {total:5.2f}  {m['vm']}"
            )
    medians = {mode: statistics.median(values) for mode, values in totals.items()}
    print("median seconds from a fresh process to its first batch done:")
    for mode, what in MODES.items():
        ratio = medians[mode] / medians["plain"]
        print(f"  {mode:7} {medians[mode]:5.2f} s  ({ratio:.2f} of plain)  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
