"""The local warehouse: one DuckDB file holding silver, restricted, audit and (dbt's) gold.

Committing a finished silver batch: one DuckDB transaction per batch, so the batch's change rows,
children, rejects and the ledger entries of its files become visible together or not at all
(DESIGN principle 4). A file already in the ledger is never loaded twice: the check runs inside
the same transaction. The ledger's rules (attempts, replay, files changed in place) are in
warehouse/ledger.py; what the rest of the platform may ask of a warehouse is warehouse/base.py.

The restricted schema holds raw values no PHI class governs yet (default-deny, DESIGN
principle 8): rejected rows as landed (`record`, SSN included, before tokenization) and columns
added at the source that no contract knows yet. Both live in `restricted`, never in silver,
which dbt, every branch clone and, through staging, gold read. An added column is held in
`restricted.<table>__unclassified` beside the delivery it came with (`_change_id`, `_batch_id`,
`_source_file`, `_row_number`); once a contract classifies it, later files load it into silver.
Names are quoted everywhere: Oracle allows `ORDER`, `A#B`, `X$Y`.

Writers (runs, the CLI, tests) are serialised by a file lock beside the database: DuckDB allows
one writing process, and the OS releases a dead holder's lock.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock

from claims_platform.bronze.listing import LedgerFront
from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.values import parse_timestamp
from claims_platform.faults import checkpoint
from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.schema import (
    BATCH_COLUMNS,
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    RESTRICTED_SCHEMA,
    SILVER_SCHEMA,
    UNCLASSIFIED_KEY_COLUMNS,
    UNCLASSIFIED_SUFFIX,
    SilverTable,
    all_silver_tables,
    duckdb_type,
    ledger_columns,
    rejects_table,
    unclassified_table,
)
from claims_platform.warehouse.base import (
    BatchConflict,
    BatchOutput,
    CommitSummary,
    FileChange,
    LedgerTotals,
    Listed,
    QueryError,
    Screening,
    WarehouseKind,
    rows_of,
)
from claims_platform.warehouse.ledger import (
    ACKNOWLEDGED,
    ATTEMPTS_TABLE,
    BATCHES_TABLE,
    CHANGE_COLUMNS,
    CHANGE_PATH,
    CHANGED,
    CHANGES_TABLE,
    FULL_LOAD_PATH,
    QUARANTINED,
    REPLAY_ALL,
    RESTORED,
    SAME_CONTENT,
    Processed,
    attempts_columns,
    change_reason,
    unread_ledger_rows,
)


@contextmanager
def warehouse_lock(lock_path: Path, timeout_s: float = 3600) -> Iterator[None]:
    """Serialise writers of the single-writer DuckDB file across processes (runs, CLI, tests).

    Re-entrant within a thread: a step that holds it (the gold build) and reads the warehouse
    through it again (the actuarial pictures after their build) must not wait for itself, which
    separate FileLock objects on one path would do (flock on two descriptors); other threads and
    processes still wait."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path.resolve()), is_singleton=True).acquire(timeout=timeout_s):
        yield


def ident(name: str) -> str:
    """A quoted DuckDB identifier (any name, keywords and `#`, `$`, `"` included)."""
    return '"' + name.replace('"', '""') + '"'


def _ensure_table(con: duckdb.DuckDBPyConnection, schema: str, table: SilverTable | Any) -> None:
    name, columns = table.name, table.columns
    cols = ", ".join(f"{ident(n)} {duckdb_type(t)}" for n, t in columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{ident(name)} ({cols})")
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
                f"ALTER TABLE {schema}.{ident(name)} ADD COLUMN {ident(n)} {duckdb_type(t)}"
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
                f"INSERT INTO {table_schema(table)}.{ident(table.name)} BY NAME "
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


def screen_landed_files(
    con: duckdb.DuckDBPyConnection,
    listed: Iterable[Listed],
    replay: Iterable[str] = (),
    checksum: Callable[[str], str] | None = None,
) -> Screening:
    """Sort the listed files: a batch reads every file the ledger has not seen, plus each
    quarantined file that was re-delivered in place (its size or modification time changed since
    the attempt) or that `replay` names (a path, or REPLAY_ALL); a quarantined file is not read
    again otherwise, so a bad file costs one attempt, not one per run.

    A processed file is never read again. One whose size or bytes changed since (a DMS table
    reload reusing LOAD file names) is recorded in `audit.file_changes` (warehouse/ledger.py;
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
    to_read: list[Any] = []
    unreadable: list[Any] = []
    processed: list[tuple[Listed, Processed]] = []
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
    rows = unread_ledger_rows(files)
    with tempfile.TemporaryDirectory(prefix="claims_unread_") as tmp:
        out = Path(tmp)
        manifest = {"batch_id": uuid.uuid4().hex, "files": rows}
        (out / FILES_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        commit_batch(con, out, {f.path: f.modified_at for f in files})


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
        [FULL_LOAD_PATH, CHANGE_PATH],
    ).fetchall()
    return LedgerFront(
        newest_full_load={folder: full for folder, full, _ in rows if full},
        newest_change={folder: change for folder, _, change in rows if change},
    )


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


def quarantined_files(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str | None]]:
    """(path, table, reason) of every file whose latest attempt was quarantined."""
    return con.execute(
        f"SELECT path, table_name, reason FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} "
        "WHERE status = ? ORDER BY path",
        [QUARANTINED],
    ).fetchall()


# ------------------------------------------------------------------------------------------
# processed files changed in place (warehouse/ledger.py says what counts as changed)

_CHANGES = f"{LEDGER_SCHEMA}.{CHANGES_TABLE}"


def ensure_changes_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LEDGER_SCHEMA}")
    cols = ", ".join(f"{n} {duckdb_type(t)}" for n, t in CHANGE_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {_CHANGES} ({cols})")


def has_changes_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [LEDGER_SCHEMA, CHANGES_TABLE],
        ).fetchone()[0]
    )


def record_changed_files(
    con: duckdb.DuckDBPyConnection,
    seen: Iterable[tuple[Listed, Processed]],
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
        f"SELECT path, landed_size_bytes, landed_modified_at, status FROM {_CHANGES}"
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
        reason = change_reason(f.size_bytes, before, problem, landed_checksum)
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
            f"UPDATE {_CHANGES} SET status = ?, resolved_at = ? WHERE status = ? AND path IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [RESTORED, now, CHANGED, as_processed],
        )
    if rows:
        con.executemany(
            f"INSERT INTO {_CHANGES} ({', '.join(n for n, _ in CHANGE_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in CHANGE_COLUMNS)})",
            rows,
        )
    return changes


def open_changes(con: duckdb.DuckDBPyConnection, table: str | None = None) -> list[FileChange]:
    """The changes not resolved yet (all tables, or the contract table `table`), oldest first."""
    if not has_changes_table(con):
        return []
    rows = con.execute(
        f"SELECT path, table_name, reason, detected_at FROM {_CHANGES} "
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
        f"UPDATE {_CHANGES} SET status = ?, resolved_at = ? WHERE status = ? AND "
        "(? OR path IN (SELECT unnest(?::VARCHAR[]))) RETURNING path",
        [ACKNOWLEDGED, now, CHANGED, every, list(paths)],
    ).fetchall()
    return sorted({r[0] for r in rows})


# ------------------------------------------------------------------------------------------
# the restricted schema


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def hold_unclassified_columns(
    con: duckdb.DuckDBPyConnection, table: SilverTable, parts: list[str]
) -> str:
    """Insert the columns of a batch's Parquet `parts` of `table` that the table's layout lacks
    (added at the source, unclassified) into the restricted table that holds them, adding
    columns to it as needed; return the select list of the columns `table` itself takes.

    Runs inside the batch's transaction, so the held values commit with the silver rows.
    """
    incoming = [
        r[0]
        for r in con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [parts]
        ).fetchall()
    ]
    layout = {n.lower() for n, _ in table.columns}
    own = [n for n in incoming if n.lower() in layout]
    added = [n for n in incoming if n.lower() not in layout]
    if added:
        present = {n.lower() for n in incoming}
        keys = [(n, t) for n, t in UNCLASSIFIED_KEY_COLUMNS if n in present]
        name = unclassified_table(table.name)
        target = f"{RESTRICTED_SCHEMA}.{ident(name)}"
        key_list = ", ".join(f"{ident(n)} {duckdb_type(t)}" for n, t in keys)
        con.execute(f"CREATE TABLE IF NOT EXISTS {target} ({key_list})")
        existing = {c.lower() for c in _columns(con, RESTRICTED_SCHEMA, name)}
        for column in added:
            if column.lower() not in existing:
                con.execute(f"ALTER TABLE {target} ADD COLUMN {ident(column)} VARCHAR")
        held = ", ".join(ident(c) for c in [*(n for n, _ in keys), *added])
        con.execute(
            f"INSERT INTO {target} BY NAME SELECT {held} FROM read_parquet(?, union_by_name = true)",
            [parts],
        )
    return ", ".join(ident(c) for c in own)


def move_rejects_out_of_silver(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse from before the restricted schema kept its rejects in silver: move them."""
    legacy = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SILVER_SCHEMA, rejects_table().name],
    ).fetchone()[0]
    if not legacy:
        return
    name = ident(rejects_table().name)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"INSERT INTO {RESTRICTED_SCHEMA}.{name} BY NAME SELECT * FROM {SILVER_SCHEMA}.{name}"
        )
        con.execute(f"DROP TABLE {SILVER_SCHEMA}.{name}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def unclassified_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Change table → the unclassified columns held for it (names only, never values)."""
    out: dict[str, list[str]] = {}
    for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
        "AND ends_with(table_name, ?) ORDER BY table_name",
        [RESTRICTED_SCHEMA, UNCLASSIFIED_SUFFIX],
    ).fetchall():
        keys = {n for n, _ in UNCLASSIFIED_KEY_COLUMNS}
        columns = [c for c in _columns(con, RESTRICTED_SCHEMA, name) if c not in keys]
        out[name.removesuffix(UNCLASSIFIED_SUFFIX)] = columns
    return out


# ------------------------------------------------------------------------------------------
# the Warehouse (warehouse/base.py) over the functions above


class DuckDBReader:
    """Read-only queries on one open connection (a WarehouseReader): what `DuckDBWarehouse.
    reading()` yields, and what tests wrap around a connection of their own."""

    kind: WarehouseKind = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            return list(rows_of(self.con.execute(sql, list(params))))
        except duckdb.Error as e:
            raise QueryError(type(e).__name__) from e

    def read_arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A query's result as an Arrow table (DuckDB only: GX validates a pandas frame locally,
        and Arrow keeps decimals `Decimal` on the way)."""
        try:
            return self.con.sql(sql, params=list(params)).to_arrow_table()
        except duckdb.Error as e:
            raise QueryError(type(e).__name__) from e

    def open_changes(self, table: str | None = None) -> list[FileChange]:
        return open_changes(self.con, table)


class DuckDBWriter(DuckDBReader):
    """The WarehouseWriter of the DuckDB file: a read-write connection held under the lock."""

    def ensure(self, contracts: Mapping[str, TableContract]) -> None:
        ensure_warehouse(self.con, dict(contracts))

    def ledger_front(self) -> LedgerFront:
        return ledger_front(self.con)

    def screen(
        self,
        listed: Iterable[Listed],
        replay: Iterable[str] = (),
        checksum: Callable[[str], str] | None = None,
    ) -> Screening:
        return screen_landed_files(self.con, listed, replay, checksum)

    def commit(
        self,
        batch: BatchOutput,
        landed_at: Mapping[str, dt.datetime | None],
        contracts: Mapping[str, TableContract],
    ) -> CommitSummary:
        # The Parquet parts are read where the job (or the copy from the S3 lake) left them.
        return commit_batch(self.con, batch.local_dir, dict(landed_at), dict(contracts))

    def row_counts(self, tables: Iterable[str]) -> dict[str, int]:
        schema_of = {rejects_table().name: RESTRICTED_SCHEMA}
        return {
            name: self.con.execute(
                f"SELECT count(*) FROM {schema_of.get(name, SILVER_SCHEMA)}.{ident(name)}"
            ).fetchone()[0]
            for name in tables
        }

    def unclassified_columns(self) -> dict[str, list[str]]:
        return unclassified_columns(self.con)


class DuckDBWarehouse:
    """The local warehouse: the DuckDB file at `path`, writers serialised by the file lock at
    `lock_path` (Settings.duckdb_path and Settings.lock_path)."""

    kind: WarehouseKind = "duckdb"

    def __init__(self, path: Path, lock_path: Path) -> None:
        self.path = Path(path)
        self.lock_path = Path(lock_path)

    def lock(self, timeout_s: float = 3600) -> AbstractContextManager[None]:
        """The single-writer claim without a connection: for dbt, which opens the file itself."""
        return warehouse_lock(self.lock_path, timeout_s)

    @contextmanager
    def writer(self) -> Iterator[DuckDBWriter]:
        with warehouse_lock(self.lock_path):
            con = connect(self.path)
            try:
                yield DuckDBWriter(con)
            finally:
                con.close()

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def reading(self) -> Iterator[DuckDBReader]:
        """One read-only connection under the lock: no batch commits between its queries, and
        DuckDB opens no read-only connection while another process writes the file."""
        with warehouse_lock(self.lock_path):
            con = connect(self.path, read_only=True)
            try:
                yield DuckDBReader(con)
            finally:
                con.close()

    def read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.reading() as reader:
            return reader.read_rows(sql, params)

    def read_arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.reading() as reader:
            return reader.read_arrow(sql, params)

    def ledger_totals(self) -> dict[str, LedgerTotals]:
        if not self.exists():
            return {}
        with self.reading() as reader:
            if not _has_table(reader.con, LEDGER_SCHEMA, LEDGER_TABLE):
                return {}
            return ledger_totals(reader.con)

    def quarantined_files(self) -> list[tuple[str, str, str | None]]:
        if not self.exists():
            return []
        with self.reading() as reader:
            if not _has_table(reader.con, LEDGER_SCHEMA, LEDGER_TABLE):
                return []
            return quarantined_files(reader.con)

    def open_changes(self, table: str | None = None) -> list[FileChange]:
        if not self.exists():
            return []
        with self.reading() as reader:
            return reader.open_changes(table)

    def acknowledge_changes(self, paths: Sequence[str], every: bool = False) -> list[str]:
        if not self.exists():
            return []
        with self.writer() as w:
            return acknowledge_changes(w.con, paths, every=every)


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )
