"""Replay bookkeeping without Spark: which files a batch reads, what it records instead of
reading (files changed after processing, files that cannot be opened), and how an attempt is
committed."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from claims_platform import cli
from claims_platform.bronze.landing import LandedFile
from claims_platform.dms.files import parse_path
from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.schema import ledger_columns
from claims_platform.warehouse.base import BatchConflict
from claims_platform.warehouse.duckdb import (
    acknowledge_changes,
    commit_batch,
    ensure_warehouse,
    open_changes,
    quarantined_files,
    screen_landed_files,
)
from claims_platform.warehouse.ledger import REPLAY_ALL

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
    assert screen_landed_files(con, same).to_read == []
    assert screen_landed_files(con, same, [BAD]).to_read == [same[1]]
    assert screen_landed_files(con, same, [REPLAY_ALL]).to_read == [same[1]]
    assert screen_landed_files(con, same, [GOOD]).to_read == [], (
        "a processed file is never read again"
    )
    later = T0 + dt.timedelta(minutes=5)
    rewritten = [Listed(GOOD, 100, T0), Listed(BAD, 100, later)]
    assert screen_landed_files(con, rewritten).to_read == [rewritten[1]], "re-delivered in place"
    resized = [Listed(BAD, 90, T0)]
    assert screen_landed_files(con, resized).to_read == resized
    new = Listed("CLAIMS/PLAN/20240103-000000000.csv", 1, T0)
    assert screen_landed_files(con, [new]).to_read == [new]


def _attempts(con, path: str) -> int:
    return con.execute(
        "SELECT count(*) FROM audit.file_attempts WHERE path = ?", [path]
    ).fetchone()[0]


def _changes(con) -> list[tuple]:
    return con.execute(
        "SELECT path, status, reason, landed_size_bytes FROM audit.file_changes "
        "ORDER BY detected_at, landed_modified_at"
    ).fetchall()


def test_a_processed_file_changed_in_place_is_recorded_and_not_read_again(con, tmp_path):
    commit_batch(con, _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=2)], 2), {GOOD: T0})
    reloaded = Listed(GOOD, 120, T0 + dt.timedelta(hours=1))  # a DMS reload reusing the name
    screening = screen_landed_files(con, [reloaded])
    assert screening.to_read == [] and screening.quarantined == []
    reason = "changed after it was processed: size 100 → 120 bytes"
    [change] = screening.changed
    assert (change.path, change.table, change.reason) == (GOOD, "PLAN", reason)
    assert [(c.path, c.reason) for c in open_changes(con, "PLAN")] == [(GOOD, reason)]
    assert open_changes(con, "MEMBER") == []
    # The exactly-once facts stay: the processed ledger row, its rows in silver, one attempt.
    assert con.execute(
        "SELECT status, size_bytes, _batch_id FROM audit.file_ledger"
    ).fetchall() == [("processed", 100, "b1")]
    assert con.execute("SELECT count(*) FROM silver.plan").fetchone() == (2,)
    assert _attempts(con, GOOD) == 1
    # Every later run sees the same version: recorded once, still open, still not read.
    assert screen_landed_files(con, [reloaded]).changed == []
    assert screen_landed_files(con, [reloaded]).to_read == []
    assert _changes(con) == [(GOOD, "changed", reason, 120)]
    # Back as it was processed: the record closes itself.
    assert screen_landed_files(con, [Listed(GOOD, 100, T0)]).changed == []
    assert _changes(con) == [(GOOD, "restored", reason, 120)]
    assert open_changes(con) == []


def test_a_same_size_change_is_told_by_its_checksum_once_per_version(con, tmp_path):
    commit_batch(con, _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=1)], 1), {GOOD: T0})
    digests = {"touched": "c1", "rewritten": "c2"}
    read: list[str] = []

    def checksum(version: str):
        def read_one(path: str) -> str:
            assert path == GOOD
            read.append(version)
            return digests[version]

        return read_one

    touched = Listed(GOOD, 100, T0 + dt.timedelta(hours=1))  # copied back, same bytes
    assert screen_landed_files(con, [touched], checksum=checksum("touched")).to_read == []
    assert screen_landed_files(con, [touched], checksum=checksum("touched")).to_read == []
    assert read == ["touched"], "a version's bytes are read once"
    assert open_changes(con) == []
    rewritten = Listed(GOOD, 100, T0 + dt.timedelta(hours=2))  # a reload of the same length
    screening = screen_landed_files(con, [rewritten], checksum=checksum("rewritten"))
    assert [c.reason for c in screening.changed] == [
        "changed after it was processed: same size (100 bytes), different SHA-256"
    ]
    assert screening.to_read == []
    assert read == ["touched", "rewritten"]
    assert [s for _, s, _, _ in _changes(con)] == ["same_content", "changed"]
    # Without a way to read the bytes, a same-size version is not judged (nor read).
    untold = Listed(GOOD, 100, T0 + dt.timedelta(hours=3))
    assert screen_landed_files(con, [untold]).changed == []
    assert len(_changes(con)) == 2


def test_an_acknowledged_change_stays_closed_until_the_file_changes_again(con, tmp_path):
    commit_batch(con, _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=1)], 1), {GOOD: T0})
    first = Listed(GOOD, 120, T0 + dt.timedelta(hours=1))
    screen_landed_files(con, [first])
    assert acknowledge_changes(con, [BAD]) == []
    assert acknowledge_changes(con, [GOOD]) == [GOOD]
    assert open_changes(con) == []
    assert screen_landed_files(con, [first]).changed == []
    assert open_changes(con) == []
    second = Listed(GOOD, 130, T0 + dt.timedelta(hours=2))
    assert [c.reason for c in screen_landed_files(con, [second]).changed] == [
        "changed after it was processed: size 100 → 130 bytes"
    ]
    assert [s for _, s, _, _ in _changes(con)] == ["acknowledged", "changed"]
    assert acknowledge_changes(con, [], every=True) == [GOOD]


def _unopenable(path: str, problem: str, size: int = 0) -> LandedFile:
    dms_file = parse_path(path)
    assert dms_file is not None
    return LandedFile(file=dms_file, size_bytes=size, modified_at=T0, problem=problem)


def test_a_file_that_must_not_be_opened_is_quarantined_once_with_its_reason(con):
    fifo = _unopenable(BAD, "not read: a named pipe (FIFO), not a regular file")
    good = Listed(GOOD, 100, T0)
    screening = screen_landed_files(con, [fifo, good])
    assert screening.to_read == [good]
    assert screening.quarantined == [fifo]
    assert quarantined_files(con) == [(BAD, "PLAN", fifo.problem)]
    assert con.execute(
        "SELECT files, quarantined_files, rows_loaded FROM audit.batches"
    ).fetchall() == [(1, 1, 0)]
    # Not retried on every run: the next runs neither read nor record it again.
    for _ in range(2):
        again = screen_landed_files(con, [fifo])
        assert again.to_read == [] and again.quarantined == []
    assert _attempts(con, BAD) == 1
    # Named by a replay it is attempted again, and quarantined again without being opened.
    replayed = screen_landed_files(con, [fifo], [BAD])
    assert replayed.to_read == [] and replayed.quarantined == [fifo]
    assert _attempts(con, BAD) == 2
    assert quarantined_files(con) == [(BAD, "PLAN", fifo.problem)]


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


def test_cli_replay_names_a_changed_file_and_acknowledges_it(platform_env, capsys, tmp_path):
    platform_env.mkdir(parents=True)
    con = duckdb.connect(str(platform_env / "warehouse.duckdb"))
    try:
        ensure_warehouse(con)
        commit_batch(con, _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=1)], 1), {})
        screen_landed_files(con, [Listed(GOOD, 120, T0)])
    finally:
        con.close()
    assert cli.main(["ledger"]) == 0
    assert "1 processed file(s) changed in place" in capsys.readouterr().out
    assert cli.main(["replay", "--path", GOOD]) == 1
    out = capsys.readouterr().out
    assert f"{GOOD}: changed after it was processed: size 100 → 120 bytes: not replayed" in out
    assert f"claims-platform replay --acknowledge-change --path {GOOD}" in out
    assert cli.main(["replay", "--all"]) == 0, "nothing quarantined to replay"
    assert "not replayed" in capsys.readouterr().out
    assert cli.main(["replay", "--acknowledge-change", "--path", GOOD]) == 0
    assert f"{GOOD}: change acknowledged" in capsys.readouterr().out
    assert cli.main(["replay", "--path", GOOD]) == 0
    assert f"{GOOD}: already processed: nothing to replay" in capsys.readouterr().out
    assert cli.main(["replay", "--acknowledge-change", "--all"]) == 0
    assert "nothing to acknowledge" in capsys.readouterr().out


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
