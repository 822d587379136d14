"""Shared fixtures. Tests never touch the developer's `.data/`: every test gets its own root."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def platform_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private CLAIMS_DATA_DIR (landing, lake, warehouse) for one test."""
    data = tmp_path / "data"
    monkeypatch.setenv("CLAIMS_DATA_DIR", str(data))
    monkeypatch.setenv("CLAIMS_ENV", "local")
    for var in ("CLAIMS_LANDING_URI", "CLAIMS_DUCKDB_PATH", "CLAIMS_TOKENIZATION_KEY"):
        monkeypatch.delenv(var, raising=False)
    return data
