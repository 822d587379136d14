"""The silver step through Dagster with files it must not read: a FIFO, a symbolic link, another
schema's file, and a processed file rewritten in place (a DMS table reload reusing its LOAD name).
Nothing blocks or fails the run, nothing is loaded twice, and each is surfaced where an operator
looks: the ledger or audit.file_changes, and a failing warn check on the table."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from claims_platform import cli
from claims_platform_tests.silver.test_silver_assets import land, member_row, select
from claims_platform_tests.support.fifo import FifoGuard

pytestmark = pytest.mark.slow

LOAD = "CLAIMS/MEMBER/LOAD00000001.csv"
FIFO = "CLAIMS/MEMBER/20240102-110000000.csv"
LINK = "CLAIMS/MEMBER/20240102-120000000.csv"
MEMBER_CHECKS = {"no_quarantined_files", "quarantined_files", "processed_files_unchanged"}


def _silver_member() -> dict[str, dg.AssetCheckEvaluation]:
    """Materialise silver/member (and its children) with their checks; the checks by name."""
    from claims_platform.orchestration.definitions import defs, silver_keys_by_table

    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(
        [*assets, *(defs.asset_checks or [])],
        selection=dg.AssetSelection.assets(*silver_keys_by_table["MEMBER"]),
        resources=defs.resources,
        raise_on_error=True,
    )
    assert result.success
    return {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["silver", "member"]) and e.check_name in MEMBER_CHECKS
    }


def _attempts(db: Path) -> dict[str, int]:
    return dict(select(db, "SELECT path, count(*) FROM audit.file_attempts GROUP BY path"))


@pytest.mark.timeout(900)
def test_files_not_to_read_are_recorded_and_a_changed_file_is_surfaced_not_loaded(
    platform_env, tmp_path, capsys
):
    landing = platform_env / "landing"
    land(platform_env, LOAD, member_row("I", "2024-01-02 10:00:00", "M1"))
    outside = tmp_path / "outside.csv"
    outside.write_text("Op,DMS_TIMESTAMP,MEMBER_ID\nI,2024-01-02 12:00:00,M5\n")
    (landing / LINK).symlink_to(outside)
    land(platform_env, "OTHER/MEMBER/20240102-130000000.csv", member_row("I", "2024-01-02", "M9"))
    fifo = FifoGuard(landing / FIFO)
    db = platform_env / "warehouse.duckdb"
    try:
        checks = _silver_member()
        assert not fifo.opened.is_set(), "the run opened the FIFO"
    finally:
        fifo.release()
    ledger = {
        p: (s, r) for p, s, r in select(db, "SELECT path, status, reason FROM audit.file_ledger")
    }
    assert set(ledger) == {LOAD, FIFO, LINK}, "another schema's file is not ours"
    assert ledger[LOAD] == ("processed", None)
    assert ledger[FIFO][0] == ledger[LINK][0] == "quarantined"
    assert ledger[FIFO][1].startswith("not read: a named pipe (FIFO), not a regular file")
    assert ledger[LINK][1].startswith("not read: a symbolic link, not a regular file")
    assert select(db, "SELECT member_id FROM silver.member") == [("M1",)]
    assert not checks["no_quarantined_files"].passed
    assert checks["no_quarantined_files"].severity == dg.AssetCheckSeverity.WARN
    assert "2 file(s) not read" in (checks["no_quarantined_files"].description or "")
    assert checks["processed_files_unchanged"].passed

    # A DMS reload of the table writes LOAD00000001.csv again: other rows, other size.
    size_before = (landing / LOAD).stat().st_size
    land(
        platform_env,
        LOAD,
        member_row("I", "2024-02-01 00:00:00", "M1", "Reloaded"),
        member_row("I", "2024-02-01 00:00:00", "M2"),
    )
    later = (landing / LOAD).stat().st_mtime + 60
    os.utime(landing / LOAD, (later, later))
    size_after = (landing / LOAD).stat().st_size
    checks = _silver_member()
    reason = f"changed after it was processed: size {size_before} → {size_after} bytes"
    assert select(db, "SELECT member_id, last_name FROM silver.member") == [("M1", "Doe")]
    ledger = select(db, "SELECT path, status, size_bytes FROM audit.file_ledger")
    assert (LOAD, "processed", size_before) in ledger, "the processed row stays as it was"
    assert select(db, "SELECT path, status, reason FROM audit.file_changes") == [
        (LOAD, "changed", reason)
    ]
    for name in ("no_quarantined_files", "processed_files_unchanged"):
        assert not checks[name].passed, name
        assert checks[name].severity == dg.AssetCheckSeverity.WARN
        assert LOAD in (checks[name].description or ""), name
    assert _attempts(db) == {LOAD: 1, FIFO: 1, LINK: 1}, "nothing is attempted again"

    # Nothing new: the step finds nothing, the open change still warns.
    checks = _silver_member()
    assert checks["no_quarantined_files"].passed
    assert not checks["processed_files_unchanged"].passed
    assert select(db, "SELECT count(*) FROM audit.file_changes") == [(1,)]
    assert _attempts(db) == {LOAD: 1, FIFO: 1, LINK: 1}

    # The operator: `replay` names the change and what to do; acknowledging closes it.
    assert cli.main(["replay", "--path", LOAD]) == 1
    assert "not replayed" in capsys.readouterr().out
    assert cli.main(["replay", "--acknowledge-change", "--path", LOAD]) == 0
    checks = _silver_member()
    assert checks["processed_files_unchanged"].passed
    assert select(db, "SELECT status FROM audit.file_changes") == [("acknowledged",)]
    assert select(db, "SELECT count(*) FROM silver.member") == [(1,)]
