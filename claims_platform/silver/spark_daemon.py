"""PySpark's Python daemon for the local Spark, importing PySpark from the installed package.

Spark puts `$SPARK_HOME/python/lib/pyspark.zip` (and py4j's zip) first on the path of the Python
daemon it starts per session and of the workers the daemon forks. A zip holds no compiled
bytecode, so every run process's daemon and workers compiled PySpark's modules from source before
its first batch moved (~1 s of a cold session's first `mapInArrow`, measured by
`benchmarks/spark_start.py`). pip's PySpark, where the zips come from, is the same code, compiled
when it was installed: with the zips off the path, the daemon and its workers import that.

`silver.spark.silver_spark_conf` names this module as `spark.python.daemon.module`; the rest is
PySpark's own daemon. Where PySpark cannot be imported without the zips, they stay.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def without_spark_zips(path: list[str]) -> list[str]:
    """`path` without the zips Spark adds from `$SPARK_HOME/python/lib`."""
    return [
        p
        for p in path
        if not (p.endswith(".zip") and Path(p).parent.parts[-2:] == ("python", "lib"))
    ]


def main() -> None:
    kept = list(sys.path)
    sys.path[:] = without_spark_zips(kept)
    if importlib.util.find_spec("pyspark") is None:
        sys.path[:] = kept
    from pyspark.daemon import manager

    manager()


if __name__ == "__main__":
    main()
