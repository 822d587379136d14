"""Committing a finished silver batch into the warehouse, together with its ledger rows.

One DuckDB transaction per batch: the batch's change rows, children, rejects and the ledger
entries of its files become visible together or not at all (DESIGN principle 4). A file already in
the ledger is never loaded twice: the check runs inside the same transaction.

`audit.file_ledger` holds one row per landed path: its latest attempt. A quarantined file loads no
row, so it may be attempted again (replay) once it is fixed or re-delivered in place; a successful
attempt turns its ledger row from quarantined to processed. Every attempt, including the
quarantined ones with their reasons, stays in `audit.file_attempts`.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import duckdb
from filelock import FileLock

from claims_platform.bronze.listing import LedgerFront
from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.values import parse_timestamp
from claims_platform.faults import checkpoint
from claims_platform.silver.file_changes import FileChange, Processed, record_changed_files
from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.restricted import hold_unclassified_columns, move_rejects_out_of_silver
from claims_platform.silver.schema import (
    BATCH_COLUMNS,
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    RESTRICTED_SCHEMA,
    SILVER_SCHEMA,
    SilverTable,
    all_silver_tables,
    duckdb_type,
    ledger_columns,
)

BATCHES_TABLE = "batches"
ATTEMPTS_TABLE = "file_attempts"
QUARANTINED = "quarantined"
# `replay` value meaning every quarantined file.
REPLAY_ALL = "*"


def attempts_columns() -> tuple[tuple[str, str], ...]:
    """The ledger's columns plus the attempt number of the path (1 = first time read)."""
    return (*ledger_columns(), ("attempt", "integer"))


class BatchConflict(RuntimeError):
    """Another batch committed some of these files first; nothing of this batch was written."""


@contextmanager
def warehouse_lock(lock_path: Path, timeout_s: float = 3600) -> Iterator[None]:
    """Serialise writers of the single-writer DuckDB file across processes (runs, CLI, tests)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path), timeout=timeout_s):
        yield


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ensure_table(con: duckdb.DuckDBPyConnection, schema: str, table: SilverTable | Any) -> None:
    name, columns = table.name, table.columns
    cols = ", ".join(f"{_ident(n)} {duckdb_type(t)}" for n, t in columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{_ident(name)} ({cols})")
    existing = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }
    # A column added to a contract (source DDL) appears on the table; earlier rows read NULL.
    for n, t in columns:
        if n not in existing:
            con.execute(
                f"ALTER TABLE {schema}.{_ident(name)} ADD COLUMN {_ident(n)} {duckdb_type(t)}"
            )


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[tuple[str, str], ...]


def ensure_warehouse(
    con: duckdb.DuckDBPyConnection, contracts: dict[str, TableContract] | None = None
) -> None:
    """Create the silver and audit schemas and tables the contracts describe (idempotent)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SILVER_SCHEMA}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LEDGER_SCHEMA}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RESTRICTED_SCHEMA}")
    for table in all_silver_tables(contracts or load_contracts()):
        _ensure_table(con, table_schema(table), table)
    move_rejects_out_of_silver(con)
    _ensure_table(con, LEDGER_SCHEMA, _Table(LEDGER_TABLE, ledger_columns()))
    had_attempts = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [LEDGER_SCHEMA, ATTEMPTS_TABLE],
    ).fetchone()[0]
    _ensure_table(con, LEDGER_SCHEMA, _Table(ATTEMPTS_TABLE, attempts_columns()))
    if not had_attempts:
        # A warehouse from before attempts were kept: its ledger rows are the first attempts.
        names = ", ".join(n for n, _ in ledger_columns())
        con.execute(
            f"INSERT INTO {LEDGER_SCHEMA}.{ATTEMPTS_TABLE} ({names}, attempt) "
            f"SELECT {names}, 1 FROM {LEDGER_SCHEMA}.{LEDGER_TABLE}"
        )
    _ensure_table(
        con,
        LEDGER_SCHEMA,
        _Table(
            BATCHES_TABLE,
            BATCH_COLUMNS,
        ),
    )


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only)


def table_schema(table: SilverTable) -> str:
    """The schema a table of the silver job's output lives in (silver, or restricted)."""
    return RESTRICTED_SCHEMA if table.restricted else SILVER_SCHEMA


@dataclass(frozen=True)
class CommitSummary:
    batch_id: str
    files: int
    quarantined: list[dict[str, Any]]
    rows_by_table: dict[str, int]


def commit_batch(
    con: duckdb.DuckDBPyConnection,
    output_dir: Path,
    landed_at: dict[str, dt.datetime | None],
    contracts: dict[str, TableContract] | None = None,
) -> CommitSummary:
    """Load one batch's output and its ledger rows in a single transaction."""
    contracts = contracts or load_contracts()
    ensure_warehouse(con, contracts)
    manifest = json.loads((output_dir / FILES_MANIFEST).read_text(encoding="utf-8"))
    batch_id = manifest["batch_id"]
    files = manifest["files"]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ledger_names = [n for n, _ in ledger_columns()]
    ts_cols = {n for n, t in ledger_columns() if t == "timestamp"}
    con.execute("BEGIN TRANSACTION")
    checkpoint("silver.commit.begun")
    try:
        paths = [f["path"] for f in files]
        if paths:
            # A quarantined file loaded nothing, so a later attempt (replay) may replace it.
            clash = con.execute(
                f"SELECT count(*) FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} WHERE path IN "
                "(SELECT unnest(?::VARCHAR[])) AND status <> ?",
                [paths, QUARANTINED],
            ).fetchone()[0]
            if clash:
                raise BatchConflict(
                    f"batch {batch_id}: {clash} of its files were committed by another batch"
                )
        rows: dict[str, int] = {}
        for table in all_silver_tables(contracts):
            parts = sorted(glob.glob(str(output_dir / table.name / "*.parquet")))
            if not parts:
                continue
            # Columns no contract classifies (added at the source) go to restricted, not silver.
            own = hold_unclassified_columns(con, table, parts)
            rows[table.name] = con.execute(
                f"INSERT INTO {table_schema(table)}.{_ident(table.name)} BY NAME "
                f"SELECT {own} FROM read_parquet(?, union_by_name = true)",
                [parts],
            ).fetchone()[0]
            checkpoint(f"silver.commit.inserted:{table.name}")
        ledger_rows = []
        for f in files:
            row = {
                **f,
                "landed_at": landed_at.get(f["path"]),
                "_batch_id": batch_id,
                "processed_at": now,
            }
            ledger_rows.append(
                [
                    parse_timestamp(row[n]) if n in ts_cols and isinstance(row[n], str) else row[n]
                    for n in ledger_names
                ]
            )
        if ledger_rows:
            previous = dict(
                con.execute(
                    f"SELECT path, max(attempt) FROM {LEDGER_SCHEMA}.{ATTEMPTS_TABLE} "
                    "WHERE path IN (SELECT unnest(?::VARCHAR[])) GROUP BY path",
                    [paths],
                ).fetchall()
            )
            con.execute(
                f"DELETE FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} WHERE path IN "
                "(SELECT unnest(?::VARCHAR[]))",
                [paths],
            )
            placeholders = ", ".join("?" for _ in ledger_names)
            con.executemany(
                f"INSERT INTO {LEDGER_SCHEMA}.{LEDGER_TABLE} ({', '.join(ledger_names)}) "
                f"VALUES ({placeholders})",
                ledger_rows,
            )
            con.executemany(
                f"INSERT INTO {LEDGER_SCHEMA}.{ATTEMPTS_TABLE} ({', '.join(ledger_names)}, "
                f"attempt) VALUES ({placeholders}, ?)",
                [
                    [*row, previous.get(f["path"], 0) + 1]
                    for row, f in zip(ledger_rows, files, strict=True)
                ],
            )
        checkpoint("silver.commit.ledger_inserted")
        quarantined = [f for f in files if f["status"] == QUARANTINED]
        con.execute(
            f"INSERT INTO {LEDGER_SCHEMA}.{BATCHES_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
            [
                batch_id,
                now,
                len(files),
                len(quarantined),
                sum(int(f["rows_loaded"]) for f in files),
                sum(int(f["rows_rejected"]) for f in files),
            ],
        )
        checkpoint("silver.commit.before_commit")
        con.execute("COMMIT")
        checkpoint("silver.commit.committed")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return CommitSummary(
        batch_id=batch_id, files=len(files), quarantined=quarantined, rows_by_table=rows
    )


class _Listed(Protocol):
    path: str
    size_bytes: int
    modified_at: dt.datetime


_L = TypeVar("_L", bound=_Listed)


@dataclass(frozen=True)
class Screening(Generic[_L]):
    """What a batch does with the listed files: read some, and what it recorded instead."""

    to_read: list[_L]
    # Not read and recorded quarantined now (their `problem` is the ledger's reason).
    quarantined: list[_L]
    # Processed files found changed in place and recorded now (silver.file_changes).
    changed: list[FileChange]


def screen_landed_files(
    con: duckdb.DuckDBPyConnection,
    listed: Iterable[_L],
    replay: Iterable[str] = (),
    checksum: Callable[[str], str] | None = None,
) -> Screening[_L]:
    """Sort the listed files: a batch reads every file the ledger has not seen, plus each
    quarantined file that was re-delivered in place (its size or modification time changed since
    the attempt) or that `replay` names (a path, or REPLAY_ALL); a quarantined file is not read
    again otherwise, so a bad file costs one attempt, not one per run.

    A processed file is never read again. One whose size or bytes changed since (a DMS table
    reload reusing LOAD file names) is recorded in `audit.file_changes` (silver.file_changes;
    `checksum` is the landing's, for same-size versions) and the step's checks warn. A file
    that must not be opened (its `problem`: not a regular file, an S3 key no path names) is
    recorded quarantined with that reason, in a batch of its own, instead of being read.

    Only the ledger rows of the listed paths are read: a run that lists a few new files reads a
    few rows, not years of ledger."""
    listed = list(listed)
    ledger = {
        path: (status, size, landed_at, digest, table, batch)
        for path, status, size, landed_at, digest, table, batch in con.execute(
            "SELECT path, status, size_bytes, landed_at, checksum_sha256, table_name, _batch_id "
            f"FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} WHERE path IN (SELECT unnest(?::VARCHAR[]))",
            [[f.path for f in listed]],
        ).fetchall()
    }
    replay = set(replay)
    to_read: list[_L] = []
    unreadable: list[_L] = []
    processed: list[tuple[_L, Processed]] = []
    for f in listed:
        entry = ledger.get(f.path)
        if entry is not None:
            status, size, landed_at, digest, table, batch = entry
            if status != QUARANTINED:
                processed.append((f, Processed(table, size, digest, landed_at, batch)))
                continue
            redelivered = f.size_bytes != size or (
                landed_at is not None and f.modified_at > landed_at
            )
            if not (redelivered or REPLAY_ALL in replay or f.path in replay):
                continue
        (unreadable if getattr(f, "problem", None) else to_read).append(f)
    changed = record_changed_files(con, processed, checksum)
    if unreadable:
        _quarantine_unread(con, unreadable)
    return Screening(to_read=to_read, quarantined=unreadable, changed=changed)


def _quarantine_unread(con: duckdb.DuckDBPyConnection, files: list[Any]) -> None:
    """Commit ledger rows `quarantined` (reason: the file's `problem`) for files never opened,
    as a batch of their own through `commit_batch`: the same attempts, conflict check and audit
    row as a batch the silver job read."""
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
    with tempfile.TemporaryDirectory(prefix="claims_unread_") as tmp:
        out = Path(tmp)
        manifest = {"batch_id": uuid.uuid4().hex, "files": rows}
        (out / FILES_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        commit_batch(con, out, {f.path: f.modified_at for f in files})


# Paths as DMS writes them (dms.files.parse_path): a non-canonical key recorded in the ledger
# (`CLAIMS/T//…`) must not become a front, it sorts before the folder's every canonical key.
_FULL_LOAD_PATH = r"^[^/]+/[^/]+/LOAD[0-9A-Fa-f]{8}\.(csv|csv\.gz|parquet)$"
_CHANGE_PATH = (
    r"^[^/]+/[^/]+/([0-9]{4}/[0-9]{2}/[0-9]{2}/)?[0-9]{8}-[0-9]{9}\.(csv|csv\.gz|parquet)$"
)


def ledger_front(con: duckdb.DuckDBPyConnection) -> LedgerFront:
    """Per table folder, the greatest full-load path and the newest change path (by name, then
    path) the ledger holds, processed or quarantined: where the next incremental listing starts
    (bronze.listing). One aggregate query; the ledger never comes into Python."""
    rows = con.execute(
        f"""
        SELECT regexp_extract(path, '^[^/]+/[^/]+/') AS folder,
               max(path) FILTER (WHERE regexp_full_match(path, ?)) AS full_load,
               arg_max(path, [file_name, path]) FILTER (WHERE regexp_full_match(path, ?))
                   AS change
        FROM {LEDGER_SCHEMA}.{LEDGER_TABLE}
        GROUP BY folder
        """,
        [_FULL_LOAD_PATH, _CHANGE_PATH],
    ).fetchall()
    return LedgerFront(
        newest_full_load={folder: full for folder, full, _ in rows if full},
        newest_change={folder: change for folder, _, change in rows if change},
    )


@dataclass(frozen=True)
class LedgerTotals:
    files: int
    full_load_files: int
    size_bytes: int
    newest_landed_at: dt.datetime | None


def ledger_totals(con: duckdb.DuckDBPyConnection) -> dict[str, LedgerTotals]:
    """Per table, the files the ledger holds (one aggregate, the rows stay in the warehouse)."""
    return {
        table: LedgerTotals(int(files), int(full), int(size or 0), newest)
        for table, files, full, size, newest in con.execute(
            "SELECT table_name, count(*), count(*) FILTER (WHERE is_full_load), "
            f"sum(size_bytes), max(landed_at) FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} "
            "GROUP BY table_name"
        ).fetchall()
    }


def ledger_paths(con: duckdb.DuckDBPyConnection, paths: Iterable[str]) -> set[str]:
    """Those of `paths` the ledger holds."""
    return {
        path
        for (path,) in con.execute(
            f"SELECT path FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} "
            "WHERE path IN (SELECT unnest(?::VARCHAR[]))",
            [list(paths)],
        ).fetchall()
    }


def newest_ledger_files(
    con: duckdb.DuckDBPyConnection, per_table: int
) -> dict[str, list[tuple[str, dt.datetime | None]]]:
    """Per table, the (path, landed_at) of the `per_table` files landed last that the ledger holds."""
    found: dict[str, list[tuple[str, dt.datetime | None]]] = {}
    for table, path, landed_at in con.execute(
        f"SELECT table_name, path, landed_at FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} "
        "QUALIFY row_number() OVER (PARTITION BY table_name "
        "ORDER BY landed_at DESC NULLS LAST, path DESC) <= ?",
        [per_table],
    ).fetchall():
        found.setdefault(table, []).append((path, landed_at))
    return found


def quarantined_files(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str | None]]:
    """(path, table, reason) of every file whose latest attempt was quarantined."""
    return con.execute(
        f"SELECT path, table_name, reason FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} "
        "WHERE status = ? ORDER BY path",
        [QUARANTINED],
    ).fetchall()
