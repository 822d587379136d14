"""The files `benchmarks/silver_throughput.py` measures on are DMS files the platform loads whole.

The benchmark's rates compare equal work only if the platform loads every generated row: a row
the generator got wrong would be a cheap reject, or a quarantined file, and flatter silver.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from claims_platform.contracts import load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.dms.parse import parse_dms_file
from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY
from claims_platform_tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "silver_throughput", REPO_ROOT / "benchmarks" / "silver_throughput.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module executes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _parse_all(landing: Path) -> dict[str, object]:
    contract = load_contracts()["CLAIM_LINE"]
    parsed = {}
    for path in sorted((landing / "CLAIMS" / "CLAIM_LINE").iterdir()):
        rel = path.relative_to(landing).as_posix()
        dms_file = parse_path(rel)
        assert dms_file is not None, f"{rel} is not named as DMS names files"
        parsed[rel] = parse_dms_file(
            path.read_bytes(),
            dms_file,
            contract,
            tokenization_key=LOCAL_DEVELOPMENT_KEY,
            batch_id="b1",
            loaded_at=dt.datetime(2024, 2, 1),
        )
    return parsed


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_generated_files_load_with_no_reject(bench: ModuleType, tmp_path: Path, fmt: str) -> None:
    specs = bench.throughput_set(1200, 300, fmt)
    landing = bench.ensure_set(tmp_path / fmt, specs, fmt, 7, False)

    parsed = _parse_all(landing)

    assert sorted(parsed) == sorted(f"CLAIMS/CLAIM_LINE/{s.name}" for s in specs)
    ops: Counter[str] = Counter()
    for rel, p in parsed.items():
        assert (p.status, p.reason, p.rejects) == ("processed", None, []), rel
        assert p.file.is_full_load == rel.rsplit("/", 1)[1].startswith("LOAD")
        assert p.row_count == len(p.rows) == 300, rel
        ops.update(row[1] for row in p.rows)
    assert sum(ops.values()) == 1200
    assert set(ops) == {"I", "U", "D"}


def test_memory_sets_differ_only_in_the_large_file(bench: ModuleType, tmp_path: Path) -> None:
    small = bench.ensure_set(tmp_path / "1x", bench.memory_set(40, 1, "csv"), "csv", 7, False)
    large = bench.ensure_set(tmp_path / "10x", bench.memory_set(40, 10, "csv"), "csv", 7, False)

    small_files, large_files = _parse_all(small), _parse_all(large)

    assert sorted(small_files) == sorted(large_files)
    for rel, p in large_files.items():
        assert (p.status, p.rejects) == ("processed", []), rel
        if p.file.is_full_load:
            assert (small_files[rel].row_count, p.row_count) == (40, 400)
        else:
            assert (small / rel).read_bytes() == (large / rel).read_bytes(), rel
