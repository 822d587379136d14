"""A tiny landed batch for the silver job tests: one good file (one row, one reject), one bad file.

What the job must report for it (counts only): MEMBER read 2 files, quarantined 1, wrote 1 row
and rejected 1.
"""

from __future__ import annotations

from pathlib import Path

from claims_platform.contracts import load_contracts
from claims_platform.simulator.dms_writer import DmsRow, write_dms_file

GOOD = "CLAIMS/MEMBER/20240102-100000000.csv"
BAD = "CLAIMS/MEMBER/20240102-110000000.csv"
EXPECTED_MEMBER = {
    "silver_job/files_read": 2,
    "silver_job/files_quarantined": 1,
    "silver_job/rows_written": 1,
    "silver_job/rows_rejected": 1,
}


def _member(mid: str, birth_date: str) -> dict[str, str]:
    return {
        "MEMBER_ID": mid,
        "SUBSCRIBER_ID": mid,
        "RELATIONSHIP_CODE": "18",
        "FIRST_NAME": "Ann",
        "LAST_NAME": "Doe",
        "BIRTH_DATE": birth_date,
        "GENDER": "F",
        "SSN": "123456789",
        "STATE": "TX",
        "ZIP5": "78701",
        "UPDATED_AT": "2024-01-02 10:00:00",
    }


def land_small_batch(landing: Path) -> list[str]:
    """Write the two files under `landing`; returns their landed paths."""
    member = load_contracts()["MEMBER"]
    write_dms_file(
        landing / GOOD,
        member,
        [
            DmsRow("I", "2024-01-02 10:00:00.000000", None, _member("M1", "1980-01-01")),
            # A date that does not exist: this row is a reject, the file goes on.
            DmsRow("I", "2024-01-02 10:00:01.000000", None, _member("M2", "1980-02-31")),
        ],
        include_change_seq=False,
    )
    bad = landing / BAD
    bad.parent.mkdir(parents=True, exist_ok=True)
    # An Op DMS never writes: the whole file is quarantined.
    bad.write_text(
        "Op,DMS_TIMESTAMP,MEMBER_ID\nX,2024-01-02 11:00:00.000000,M3\n", encoding="utf-8"
    )
    return [GOOD, BAD]
