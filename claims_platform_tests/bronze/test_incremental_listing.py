"""Listing after the ledger's front (bronze.listing) on a local landing directory, and the batch
cap: what a run lists, what only the reconciliation's full listing finds, what a capped batch
leaves for the next run."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from claims_platform.bronze.landing import LandedFile, LocalLanding
from claims_platform.bronze.listing import LedgerFront, front_past, take_batch
from claims_platform.dms.files import parse_path
from claims_platform.silver.schema import LEDGER_SCHEMA, LEDGER_TABLE
from claims_platform.warehouse.duckdb import (
    ensure_warehouse,
    ledger_front,
    screen_landed_files,
)
from claims_platform.warehouse.ledger import ATTEMPTS_TABLE
from claims_platform_tests.support.ledger import record_processed

T0 = dt.datetime(2024, 1, 5, 12, 0, 0)


def _land(root: Path, path: str, at: dt.datetime, body: bytes = b"x") -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    stamp = at.replace(tzinfo=dt.UTC).timestamp()
    os.utime(target, (stamp, stamp))


class WalkRecordingLanding(LocalLanding):
    """The local landing, recording each folder the walk reads."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.folders_read: list[str] = []

    def _walk(self, folder, parts, since, after):
        self.folders_read.append("/".join(parts))
        yield from super()._walk(folder, parts, since, after)


PROCESSED = [
    "CLAIMS/MEMBER/LOAD00000001.csv",
    "CLAIMS/MEMBER/LOAD00000002.csv",
    "CLAIMS/MEMBER/20240101-100000000.csv",
    "CLAIMS/MEMBER/20240102-100000000.csv",
    "CLAIMS/CLAIM/LOAD00000001.csv",
    "CLAIMS/CLAIM/2024/01/01/20240101-100000000.csv",
    "CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv",
]
NEW = [
    "CLAIMS/MEMBER/LOAD00000003.csv",
    "CLAIMS/MEMBER/20240103-100000000.csv",
    "CLAIMS/CLAIM/2024/01/02/20240102-200000000.csv",
    "CLAIMS/CLAIM/2024/01/03/20240103-100000000.csv",
    "CLAIMS/PLAN/LOAD00000001.csv",  # a table the ledger has never seen
]
# Landed after the files above were processed, under keys that sort before the front.
LATE = [
    "CLAIMS/MEMBER/20240101-120000000.csv",
    "CLAIMS/CLAIM/2024/01/01/20240101-200000000.csv",
]


def test_a_run_lists_only_after_the_front_and_a_full_listing_finds_late_files(tmp_path):
    root = tmp_path / "landing"
    for i, path in enumerate(PROCESSED):
        _land(root, path, T0 + dt.timedelta(minutes=i))
    landing = WalkRecordingLanding(root)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_warehouse(con)
    record_processed(con, landing.list_files())
    for i, path in enumerate(NEW + LATE):
        _land(root, path, T0 + dt.timedelta(hours=1, minutes=i))

    front = ledger_front(con)
    assert front.newest_full_load == {
        "CLAIMS/MEMBER/": "CLAIMS/MEMBER/LOAD00000002.csv",
        "CLAIMS/CLAIM/": "CLAIMS/CLAIM/LOAD00000001.csv",
    }
    assert front.newest_change == {
        "CLAIMS/MEMBER/": "CLAIMS/MEMBER/20240102-100000000.csv",
        "CLAIMS/CLAIM/": "CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv",
    }
    landing.folders_read.clear()
    incremental = [f.path for f in landing.list_files(after=front)]
    assert sorted(incremental) == sorted(NEW)
    # The processed date folder is not even read; its table folder and year are.
    assert "CLAIMS/CLAIM/2024/01/01" not in landing.folders_read
    assert "CLAIMS/CLAIM/2024/01/02" in landing.folders_read

    full = screen_landed_files(con, landing.list_files())
    assert sorted(f.path for f in full.to_read) == sorted(NEW + LATE)
    assert sorted(f.path for f in full.to_read if not front.admits(f.path)) == sorted(LATE)


def _listed(path: str, at: dt.datetime, size: int = 10) -> LandedFile:
    dms_file = parse_path(path)
    assert dms_file is not None
    return LandedFile(file=dms_file, size_bytes=size, modified_at=at)


def test_take_batch_caps_files_and_bytes_oldest_first_and_always_takes_one():
    files = [
        _listed(f"CLAIMS/MEMBER/2024010{i}-100000000.csv", T0 + dt.timedelta(minutes=i))
        for i in range(1, 6)
    ]
    cut = take_batch(reversed(files), max_files=2, max_bytes=10**9)
    assert cut.taken == files[:2] and cut.left == files[2:]
    cut = take_batch(files, max_files=100, max_bytes=35)
    assert cut.taken == files[:3] and cut.left == files[3:]
    big = _listed("CLAIMS/PLAN/LOAD00000001.csv", T0, size=1000)
    cut = take_batch([big, *files], max_files=100, max_bytes=35)
    assert cut.taken == [big], "a file over the byte cap goes alone, never blocks the landing"


def test_take_batch_never_leaves_a_file_behind_one_it_takes_in_key_order():
    # LOAD00000002 finished uploading before LOAD00000001 (a large file): taking it first would
    # move the front past LOAD00000001, which the next incremental listing would then skip.
    first = _listed("CLAIMS/MEMBER/LOAD00000001.csv", T0 + dt.timedelta(minutes=5))
    second = _listed("CLAIMS/MEMBER/LOAD00000002.csv", T0)
    other = _listed("CLAIMS/PLAN/LOAD00000001.csv", T0 + dt.timedelta(minutes=1))
    cut = take_batch([first, second, other], max_files=1, max_bytes=10**9)
    assert cut.taken == [first]
    cut = take_batch([first, second, other], max_files=2, max_bytes=10**9)
    assert cut.taken == [first, second] and cut.left == [other]


def test_capped_batches_load_every_file_once_through_incremental_listings(tmp_path):
    """Runs listing after the front, each taking a capped batch: nothing lost, nothing twice,
    though modification times disagree with key order."""
    root = tmp_path / "landing"
    paths = [f"CLAIMS/MEMBER/LOAD0000000{i}.csv" for i in range(1, 5)]
    paths += [f"CLAIMS/MEMBER/2024010{i}-100000000.csv" for i in range(1, 5)]
    paths += [f"CLAIMS/CLAIM/2024/01/0{i}/2024010{i}-100000000.csv" for i in range(1, 5)]
    # Modification times in an order unlike the keys' (uploads finish out of order).
    for i, path in enumerate(paths):
        _land(root, path, T0 + dt.timedelta(minutes=(i * 7) % len(paths)))
    landing = LocalLanding(root)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_warehouse(con)
    runs = 0
    while True:
        screening = screen_landed_files(con, landing.list_files(after=ledger_front(con)))
        cut = take_batch(screening.to_read, max_files=5, max_bytes=10**9)
        if not cut.taken:
            break
        assert len(cut.taken) <= 5
        record_processed(con, cut.taken)
        runs += 1
    assert runs == 3
    recorded = con.execute(
        f"SELECT path, count(*) FROM {LEDGER_SCHEMA}.{ATTEMPTS_TABLE} GROUP BY path"
    ).fetchall()
    assert sorted(recorded) == sorted((p, 1) for p in paths)
    assert con.execute(f"SELECT count(*) FROM {LEDGER_SCHEMA}.{LEDGER_TABLE}").fetchone() == (
        len(paths),
    )


def test_the_front_moves_past_what_is_taken_but_never_past_a_file_left():
    member, plan = "CLAIMS/MEMBER/", "CLAIMS/PLAN/"
    front = front_past(
        LedgerFront(),
        [
            f"{member}20240102-100000000.csv",
            f"{member}2024/01/03/20240103-080000000.csv",  # dated: the newest by name
            f"{plan}LOAD00000002.csv",
            f"{plan}LOAD00000001.csv",
            "CLAIMS//MEMBER/20240104-000000000.csv",  # non-canonical: in no sequence
        ],
    )
    assert front == LedgerFront(
        newest_full_load={plan: f"{plan}LOAD00000002.csv"},
        newest_change={member: f"{member}2024/01/03/20240103-080000000.csv"},
    )
    # A file listed but left (over a tick's cap) caps its own sequence only: a listing from
    # the new front still sees it.
    left = f"{member}20240105-000000000.csv"
    moved = front_past(
        front,
        [
            f"{member}20240106-000000000.csv",
            f"{member}20240104-000000000.csv",
            f"{plan}LOAD00000003.csv",
        ],
        [left],
    )
    assert moved.newest_change == {member: f"{member}20240104-000000000.csv"}
    assert moved.newest_full_load == {plan: f"{plan}LOAD00000003.csv"}
    assert moved.admits(left)
    # Never backwards.
    assert front_past(moved, [f"{member}20240101-000000000.csv"]) == moved
