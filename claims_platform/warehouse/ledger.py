"""The file ledger's rules, the same in every warehouse (no SQL dialect here).

`audit.file_ledger` holds one row per landed path: its latest attempt. A quarantined file loads no
row, so it may be attempted again (replay) once it is fixed or re-delivered in place; a successful
attempt turns its ledger row from quarantined to processed. Every attempt, including the
quarantined ones with their reasons, stays in `audit.file_attempts`.

Landed files that changed after they were processed are recorded, surfaced, never read twice.
A processed file's rows are in silver and its ledger row is the exactly-once fact that keeps
them there once; bronze is immutable, so the same path with other bytes (a DMS table reload
reusing `LOAD00000001.csv`, a hand-made re-upload) is a second file under a used name. It is not
read (its rows would share `_source_file` and row positions with the loaded ones) and not
ignored: each changed version is one row of `audit.file_changes`, open (`changed`) until the file
is back as it was processed (`restored`) or an operator has dealt with it and says so
(`claims-platform replay --acknowledge-change`, status `acknowledged`). The `no_quarantined_files`
check of the step that finds it and the `processed_files_unchanged` check warn meanwhile.

What counts as changed: another size (always known from the listing), or, when the modification
time moved past the one the ledger recorded and the size is the same, another SHA-256 of the
bytes. Each listed version (path, size, modification time) is judged once: a version whose bytes
turn out identical is kept as `same_content`, so it is not read again on the next run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from claims_platform.silver.schema import ledger_columns

BATCHES_TABLE = "batches"
ATTEMPTS_TABLE = "file_attempts"
CHANGES_TABLE = "file_changes"
QUARANTINED = "quarantined"
# `replay` value meaning every quarantined file.
REPLAY_ALL = "*"

# Statuses of audit.file_changes.
CHANGED = "changed"  # open: the check warns
ACKNOWLEDGED = "acknowledged"
RESTORED = "restored"
SAME_CONTENT = "same_content"

CHANGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "string"),
    ("table_name", "string"),
    ("status", "string"),
    ("reason", "string"),
    ("processed_size_bytes", "integer"),
    ("processed_checksum_sha256", "string"),
    ("processed_batch_id", "string"),
    ("landed_size_bytes", "integer"),
    ("landed_modified_at", "timestamp"),
    ("landed_checksum_sha256", "string"),
    ("detected_at", "timestamp"),
    ("resolved_at", "timestamp"),
)

# Paths as DMS writes them (dms.files.parse_path): a non-canonical key recorded in the ledger
# (`CLAIMS/T//…`) must not become a front, it sorts before the folder's every canonical key.
FULL_LOAD_PATH = r"^[^/]+/[^/]+/LOAD[0-9A-Fa-f]{8}\.(csv|csv\.gz|parquet)$"
CHANGE_PATH = (
    r"^[^/]+/[^/]+/([0-9]{4}/[0-9]{2}/[0-9]{2}/)?[0-9]{8}-[0-9]{9}\.(csv|csv\.gz|parquet)$"
)


def attempts_columns() -> tuple[tuple[str, str], ...]:
    """The ledger's columns plus the attempt number of the path (1 = first time read)."""
    return (*ledger_columns(), ("attempt", "integer"))


@dataclass(frozen=True)
class Processed:
    """What the ledger recorded of a processed path."""

    table: str
    size_bytes: int | None
    checksum_sha256: str | None
    landed_at: dt.datetime | None
    batch_id: str | None


def change_reason(
    size_bytes: int, before: Processed, problem: str | None, landed_checksum: str | None
) -> str | None:
    """Why a listed file of `size_bytes` is not the file that was processed, or None when it is."""
    found = []
    if size_bytes != before.size_bytes:
        found.append(f"size {before.size_bytes} → {size_bytes} bytes")
    elif landed_checksum is not None and landed_checksum != before.checksum_sha256:
        found.append(f"same size ({size_bytes} bytes), different SHA-256")
    if problem:
        found.append(problem)
    return "changed after it was processed: " + "; ".join(found) if found else None


def unread_ledger_rows(files: list[Any]) -> list[dict[str, Any]]:
    """Ledger rows `quarantined` (reason: the file's `problem`) of listed files never opened,
    as both warehouses commit them in a batch of their own."""
    keep = {"landed_at", "_batch_id", "processed_at"}
    rows = []
    for f in files:
        row: dict[str, Any] = {n: None for n, _ in ledger_columns() if n not in keep}
        row.update(
            path=f.path,
            table_name=f.file.table,
            file_name=f.file.name,
            format=f.file.fmt,
            is_full_load=f.file.is_full_load,
            size_bytes=f.size_bytes,
            row_count=0,
            rows_loaded=0,
            rows_rejected=0,
            status=QUARANTINED,
            reason=f.problem,
        )
        rows.append(row)
    return rows
