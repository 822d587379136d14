"""Replay bookkeeping without Spark: which files a batch reads, and how an attempt is committed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from claims_platform import cli
from claims_platform.silver.commit import (
    REPLAY_ALL,
    BatchConflict,
    commit_batch,
    ensure_warehouse,
    pending_files,
    quarantined_files,
)
from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.schema import ledger_columns

T0 = dt.datetime(2024, 1, 2, 10, 0, 0)
GOOD = "CLAIMS/PLAN/20240102-100000000.csv"
BAD = "CLAIMS/PLAN/20240102-110000000.csv"


@dataclass(frozen=True)
class Listed:
    path: str
    size_bytes: int
    modified_at: dt.datetime


def _file(path: str, status: str, *, rows: int = 0, checksum: str = "c1") -> dict:
    row = {name: None for name, _ in ledger_columns()}
    row.update(
        path=path,
        table_name="PLAN",
        file_name=path.rsplit("/", 1)[1],
        format="csv",
        is_full_load=False,
        size_bytes=100,
        checksum_sha256=checksum,
        row_count=rows or 1,
        rows_loaded=rows,
        rows_rejected=0,
        status=status,
        reason="unknown Op in row 1" if status == "quarantined" else None,
    )
    return {k: v for k, v in row.items() if k not in ("landed_at", "_batch_id", "processed_at")}


def _batch(tmp: Path, batch_id: str, files: list[dict], plans: int = 0) -> Path:
    out = tmp / batch_id
    (out / "plan").mkdir(parents=True)
    (out / FILES_MANIFEST).write_text(json.dumps({"batch_id": batch_id, "files": files}))
    if plans:
        con = duckdb.connect()
        con.execute(
            "COPY (SELECT 'c' || i AS _change_id, 'I' AS _op, ? AS _source_file, "
            "i AS _row_number, ? AS _batch_id, 'P' || i AS plan_id FROM range(?) t(i)) "
            "TO ? (FORMAT parquet)",
            [files[0]["path"], batch_id, plans, str(out / "plan" / "part-0.parquet")],
        )
        con.close()
    return out


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_warehouse(con)
    yield con
    con.close()


def test_a_quarantined_file_is_read_again_only_when_redelivered_or_named(con, tmp_path):
    commit_batch(
        con,
        _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=2), _file(BAD, "quarantined")], 2),
        {GOOD: T0, BAD: T0},
    )
    assert quarantined_files(con) == [(BAD, "PLAN", "unknown Op in row 1")]
    same = [Listed(GOOD, 100, T0), Listed(BAD, 100, T0)]
    assert pending_files(con, same) == []
    assert pending_files(con, same, [BAD]) == [same[1]]
    assert pending_files(con, same, [REPLAY_ALL]) == [same[1]]
    assert pending_files(con, same, [GOOD]) == [], "a processed file is never read again"
    later = T0 + dt.timedelta(minutes=5)
    rewritten = [Listed(GOOD, 120, later), Listed(BAD, 100, later)]
    assert pending_files(con, rewritten) == [rewritten[1]], "re-delivered in place"
    resized = [Listed(BAD, 90, T0)]
    assert pending_files(con, resized) == resized
    new = Listed("CLAIMS/PLAN/20240103-000000000.csv", 1, T0)
    assert pending_files(con, [new]) == [new]


def test_a_successful_attempt_moves_the_ledger_row_and_keeps_the_history(con, tmp_path):
    commit_batch(con, _batch(tmp_path, "b1", [_file(BAD, "quarantined", checksum="c1")]), {})
    fixed = _file(BAD, "processed", rows=3, checksum="c2")
    commit_batch(con, _batch(tmp_path, "b2", [fixed], plans=3), {BAD: T0})
    assert con.execute(
        "SELECT status, reason, checksum_sha256, _batch_id, rows_loaded FROM audit.file_ledger"
    ).fetchall() == [("processed", None, "c2", "b2", 3)]
    assert con.execute(
        "SELECT attempt, status, reason, checksum_sha256, _batch_id FROM audit.file_attempts "
        "ORDER BY attempt"
    ).fetchall() == [
        (1, "quarantined", "unknown Op in row 1", "c1", "b1"),
        (2, "processed", None, "c2", "b2"),
    ]
    assert con.execute("SELECT count(*) FROM silver.plan").fetchone() == (3,)
    # A second replay of the same file (e.g. two at once) commits nothing at all.
    with pytest.raises(BatchConflict):
        commit_batch(con, _batch(tmp_path, "b3", [fixed], plans=3), {BAD: T0})
    assert con.execute("SELECT count(*) FROM silver.plan").fetchone() == (3,)
    assert con.execute("SELECT count(*) FROM audit.file_attempts").fetchone() == (2,)


def test_attempts_are_backfilled_from_an_older_ledger(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    try:
        ensure_warehouse(con)
        commit_batch(con, _batch(tmp_path, "b1", [_file(BAD, "quarantined")]), {})
        con.execute("DROP TABLE audit.file_attempts")
        ensure_warehouse(con)
        assert con.execute("SELECT path, attempt FROM audit.file_attempts").fetchall() == [(BAD, 1)]
        ensure_warehouse(con)
        assert con.execute("SELECT count(*) FROM audit.file_attempts").fetchone() == (1,)
    finally:
        con.close()


def test_cli_replay_with_nothing_quarantined_does_nothing(platform_env, capsys):
    assert cli.main(["replay", "--all"]) == 0
    assert "nothing to replay" in capsys.readouterr().out
    assert cli.main(["replay", "--path", BAD]) == 0
    out = capsys.readouterr().out
    assert "not in the ledger" in out and "nothing to replay" in out
    with pytest.raises(SystemExit):
        cli.main(["replay"])


def test_cli_replay_dry_run_lists_the_quarantined_files(platform_env, capsys, tmp_path):
    platform_env.mkdir(parents=True)
    con = duckdb.connect(str(platform_env / "warehouse.duckdb"))
    try:
        ensure_warehouse(con)
        commit_batch(con, _batch(tmp_path, "b1", [_file(BAD, "quarantined")]), {})
    finally:
        con.close()
    assert cli.main(["replay", "--all", "--dry-run"]) == 0
    assert f"replaying {BAD} (quarantined: unknown Op in row 1)" in capsys.readouterr().out
