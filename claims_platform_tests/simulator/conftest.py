"""Simulator runs shared by the tests of this folder (each is small and written once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.simulator import SimulationSummary, simulate


@dataclass(frozen=True)
class Run:
    landing: Path
    truth: Path
    summary: SimulationSummary


@pytest.fixture(scope="session")
def contracts() -> dict[str, TableContract]:
    return load_contracts()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The documented small run: 200 members, 30 days, CSV, with truth files."""
    root = tmp_path_factory.mktemp("demo")
    summary = simulate(root / "landing", members=200, days=30, truth_dir=root / "truth")
    return Run(root / "landing", root / "truth", summary)


@pytest.fixture(scope="session")
def by_format(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One small run per format with the same seed, plus DMS options that change the layout."""
    runs = {}
    for fmt in ("csv", "csv.gz", "parquet"):
        root = tmp_path_factory.mktemp(fmt.replace(".", "_"))
        summary = simulate(
            root / "landing",
            seed=3,
            members=80,
            days=8,
            fmt=fmt,
            truth_dir=root / "truth",
            date_partitioned=True,
            full_load_op=True,
            load_rows_per_file=7,
        )
        runs[fmt] = Run(root / "landing", root / "truth", summary)
    return runs
