"""Only regular files directly under CLAIMS/<TABLE>/ (and its date folders) are read; anything
else named like a DMS file is listed with the reason it is not, and a FIFO never blocks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from claims_platform.bronze.landing import LocalLanding
from claims_platform.dms import io
from claims_platform.warehouse.duckdb import (
    ensure_warehouse,
    quarantined_files,
    screen_landed_files,
)
from claims_platform_tests.support.fifo import FifoGuard

MEMBER = Path("CLAIMS", "MEMBER")


@pytest.fixture
def landing(tmp_path: Path) -> Iterator[tuple[Path, FifoGuard]]:
    root = tmp_path / "landing"
    (root / MEMBER / "2024" / "01" / "02").mkdir(parents=True)
    (root / MEMBER / "LOAD00000001.csv").write_text("regular")
    (root / MEMBER / "2024" / "01" / "02" / "20240102-100000000.csv").write_text("dated")
    fifo = FifoGuard(root / MEMBER / "LOAD00000002.csv")
    outside = tmp_path / "outside.csv"
    outside.write_text("not in the landing zone")
    (root / MEMBER / "LOAD00000003.csv").symlink_to(outside)
    (root / MEMBER / "LOAD00000004.csv").mkdir()  # e.g. Spark output written here by mistake
    (root / MEMBER / "LOAD00000004.csv" / "part-0.csv").write_text("x")
    (root / MEMBER / "LOAD00000005.csv").symlink_to(tmp_path / "nowhere.csv")  # dangling
    (root / MEMBER / "extra").mkdir()
    (root / MEMBER / "extra" / "LOAD00000006.csv").write_text("one folder too deep")
    (root / "OTHER" / "MEMBER").mkdir(parents=True)
    (root / "OTHER" / "MEMBER" / "LOAD00000001.csv").write_text("another schema")
    linked_table = tmp_path / "plan_elsewhere"
    linked_table.mkdir()
    (linked_table / "LOAD00000001.csv").write_text("x")
    (root / "CLAIMS" / "PLAN").symlink_to(linked_table, target_is_directory=True)
    try:
        yield root, fifo
    finally:
        fifo.release()


@pytest.mark.timeout(60)
def test_only_regular_files_are_read_and_the_rest_is_listed_with_its_reason(landing):
    root, fifo = landing
    listed = {f.path: f.problem for f in LocalLanding(root).list_files()}
    not_regular = "not a regular file (only regular files under CLAIMS/<TABLE>/ are read)"
    assert listed == {
        "CLAIMS/MEMBER/2024/01/02/20240102-100000000.csv": None,
        "CLAIMS/MEMBER/LOAD00000001.csv": None,
        "CLAIMS/MEMBER/LOAD00000002.csv": f"not read: a named pipe (FIFO), {not_regular}",
        "CLAIMS/MEMBER/LOAD00000003.csv": f"not read: a symbolic link, {not_regular}",
        "CLAIMS/MEMBER/LOAD00000004.csv": f"not read: a directory, {not_regular}",
        "CLAIMS/MEMBER/LOAD00000005.csv": f"not read: a symbolic link, {not_regular}",
    }
    assert not fifo.opened.is_set(), "listing opened the FIFO"


@pytest.mark.timeout(60)
def test_a_fifo_is_quarantined_unread_once_and_never_blocks(landing):
    root, fifo = landing
    con = duckdb.connect()
    ensure_warehouse(con)
    local = LocalLanding(root)
    screening = screen_landed_files(con, local.list_files(), checksum=local.checksum)
    assert sorted(f.path for f in screening.to_read) == [
        "CLAIMS/MEMBER/2024/01/02/20240102-100000000.csv",
        "CLAIMS/MEMBER/LOAD00000001.csv",
    ]
    quarantined = {p: reason for p, _, reason in quarantined_files(con)}
    assert sorted(quarantined) == [f"CLAIMS/MEMBER/LOAD0000000{i}.csv" for i in (2, 3, 4, 5)]
    assert quarantined["CLAIMS/MEMBER/LOAD00000002.csv"].startswith("not read: a named pipe")
    again = screen_landed_files(con, local.list_files(), checksum=local.checksum)
    assert again.quarantined == [], "a quarantined file is not attempted again on every run"
    assert not fifo.opened.is_set(), "screening opened the FIFO"
    # Swapped in after listing, a FIFO fails a read at once instead of blocking it.
    with pytest.raises(OSError, match="not a regular file"):
        io.read_bytes(str(fifo.path))
    with pytest.raises(OSError):
        local.checksum("CLAIMS/MEMBER/LOAD00000002.csv")
    with pytest.raises(OSError):
        local.checksum("CLAIMS/MEMBER/LOAD00000003.csv")  # not through a symbolic link
    assert (
        local.checksum("CLAIMS/MEMBER/LOAD00000001.csv") == hashlib.sha256(b"regular").hexdigest()
    )
    assert io.read_bytes(str(root / MEMBER / "LOAD00000001.csv")) == b"regular"
