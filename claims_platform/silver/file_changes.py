"""Landed files that changed after they were processed: recorded, surfaced, never read twice.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from claims_platform.silver.schema import LEDGER_SCHEMA, duckdb_type

CHANGES_TABLE = "file_changes"
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
_TABLE = f"{LEDGER_SCHEMA}.{CHANGES_TABLE}"


class _Listed(Protocol):
    path: str
    size_bytes: int
    modified_at: dt.datetime


@dataclass(frozen=True)
class Processed:
    """What the ledger recorded of a processed path."""

    table: str
    size_bytes: int | None
    checksum_sha256: str | None
    landed_at: dt.datetime | None
    batch_id: str | None


@dataclass(frozen=True)
class FileChange:
    path: str
    table: str
    reason: str
    detected_at: dt.datetime


def ensure_changes_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LEDGER_SCHEMA}")
    cols = ", ".join(f"{n} {duckdb_type(t)}" for n, t in CHANGE_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} ({cols})")


def has_changes_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [LEDGER_SCHEMA, CHANGES_TABLE],
        ).fetchone()[0]
    )


def _change_reason(
    f: _Listed, before: Processed, problem: str | None, landed_checksum: str | None
) -> str | None:
    """Why `f` is not the file that was processed, or None when it is."""
    found = []
    if f.size_bytes != before.size_bytes:
        found.append(f"size {before.size_bytes} → {f.size_bytes} bytes")
    elif landed_checksum is not None and landed_checksum != before.checksum_sha256:
        found.append(f"same size ({f.size_bytes} bytes), different SHA-256")
    if problem:
        found.append(problem)
    return "changed after it was processed: " + "; ".join(found) if found else None


def record_changed_files(
    con: duckdb.DuckDBPyConnection,
    seen: Iterable[tuple[_Listed, Processed]],
    checksum: Callable[[str], str] | None = None,
    now: dt.datetime | None = None,
) -> list[FileChange]:
    """Compare each listed file with what the ledger recorded when it was processed; record each
    version found changed (and each same-size version whose bytes were compared); mark the open
    changes of a file that is back as processed `restored`. Returns the changes recorded now.

    `checksum(path)` (the landing's) is only called for a regular file of the processed size
    whose modification time is newer than the ledger's, once per such version."""
    ensure_changes_table(con)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    recorded = con.execute(
        f"SELECT path, landed_size_bytes, landed_modified_at, status FROM {_TABLE}"
    ).fetchall()
    judged = {(p, s, m) for p, s, m, _ in recorded}
    still_open = {p for p, _, _, status in recorded if status == CHANGED}
    rows: list[list[Any]] = []
    changes: list[FileChange] = []
    as_processed: list[str] = []
    for f, before in seen:
        problem = getattr(f, "problem", None)
        touched = before.landed_at is not None and f.modified_at > before.landed_at
        if f.size_bytes == before.size_bytes and not problem and not touched:
            if f.path in still_open:
                as_processed.append(f.path)
            continue
        if (f.path, f.size_bytes, f.modified_at) in judged:
            continue
        landed_checksum = None
        if f.size_bytes == before.size_bytes and not problem:
            if checksum is None or before.checksum_sha256 is None:
                continue  # nothing cheaper than the bytes tells a same-size change apart
            try:
                landed_checksum = checksum(f.path)
            except Exception:  # unreadable just now (removed, S3 throttled): the next run
                continue
        reason = _change_reason(f, before, problem, landed_checksum)
        if reason is None:
            if f.path in still_open:
                as_processed.append(f.path)
        else:
            changes.append(FileChange(f.path, before.table, reason, now))
        rows.append(
            [
                f.path,
                before.table,
                SAME_CONTENT if reason is None else CHANGED,
                reason or "modification time changed, bytes identical to the processed version",
                before.size_bytes,
                before.checksum_sha256,
                before.batch_id,
                f.size_bytes,
                f.modified_at,
                landed_checksum,
                now,
                now if reason is None else None,
            ]
        )
    # No transaction of its own (a caller may hold one): each statement is atomic, and a
    # version left unrecorded by a crash between them is judged again by the next run.
    if as_processed:
        con.execute(
            f"UPDATE {_TABLE} SET status = ?, resolved_at = ? WHERE status = ? AND path IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [RESTORED, now, CHANGED, as_processed],
        )
    if rows:
        con.executemany(
            f"INSERT INTO {_TABLE} ({', '.join(n for n, _ in CHANGE_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in CHANGE_COLUMNS)})",
            rows,
        )
    return changes


def open_changes(con: duckdb.DuckDBPyConnection, table: str | None = None) -> list[FileChange]:
    """The changes not resolved yet (all tables, or the contract table `table`), oldest first."""
    if not has_changes_table(con):
        return []
    rows = con.execute(
        f"SELECT path, table_name, reason, detected_at FROM {_TABLE} "
        "WHERE status = ? AND (?::VARCHAR IS NULL OR upper(table_name) = upper(?)) "
        "ORDER BY detected_at, path, landed_modified_at",
        [CHANGED, table, table],
    ).fetchall()
    return [FileChange(*r) for r in rows]


def acknowledge_changes(
    con: duckdb.DuckDBPyConnection, paths: Sequence[str], every: bool = False
) -> list[str]:
    """Close the open changes of `paths` (or all of them): an operator has dealt with them.
    Returns the paths closed; the rows stay, with the time."""
    if not has_changes_table(con):
        return []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = con.execute(
        f"UPDATE {_TABLE} SET status = ?, resolved_at = ? WHERE status = ? AND "
        "(? OR path IN (SELECT unnest(?::VARCHAR[]))) RETURNING path",
        [ACKNOWLEDGED, now, CHANGED, every, list(paths)],
    ).fetchall()
    return sorted({r[0] for r in rows})
