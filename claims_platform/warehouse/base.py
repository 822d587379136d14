"""The warehouse seam: what silver, the checks, the sensor and the CLI need of a warehouse.

Two implementations sit behind it, chosen by the environment switch (orchestration/resources.py):
DuckDB locally (`warehouse/duckdb.py`, one file, writers serialised by a file lock) and Snowflake
in branch and prod (`warehouse/snowflake.py`, writers serialised inside Snowflake, batches loaded
by COPY INTO from the lake's stage). Nothing outside an implementation opens a warehouse
connection: what differs between the two (SQL dialect, how a batch's rows reach the tables, how
writers are kept apart) stays behind these methods, and what is the same (which files a batch
reads, what a commit guarantees) is stated here once.

The guarantees every implementation keeps (DESIGN principle 4, CONTRACT §3):
- `WarehouseWriter.commit` makes a batch's change rows, children, rejects, ledger rows and batch
  record visible together or not at all, and refuses (BatchConflict, nothing written) a batch
  holding a file the ledger already has as processed. A quarantined file may be committed again
  (replay); its ledger row is replaced and the attempt is kept.
- One writer at a time: `Warehouse.writer()` waits for the others (runs, CLI, tests) and a dead
  writer's claim is released by the system (OS file lock; Snowflake transaction), never by a person.
- No PHI value leaves through this interface into logs or metadata: what comes back is counts,
  paths, table and column names, reasons.

Read-only users (quality checks, reconciliation, the CLI) need only a `WarehouseReader`: `kind`,
`read_rows` (DuckDB's dialect, `?` placeholders, a `QueryError` naming the error type when a
query fails) and `open_changes`. Every Warehouse is one. `reading(warehouse)` gives the reader a
check uses for several queries that must see one state: an implementation that needs more than
itself for that provides a `reading()` method (DuckDB: the writer lock and one read-only
connection, since DuckDB opens no reader while another process writes the file).
`ledger_paths(reader, paths)` asks the ledger about listed paths with plain placeholders, so
it needs nothing of an implementation beyond `read_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from claims_platform.bronze.listing import LedgerFront
from claims_platform.contracts import TableContract

WarehouseKind = Literal["duckdb", "snowflake"]


@dataclass(frozen=True)
class BatchOutput:
    """A finished silver job run, as the committer reads it.

    `local_dir` holds at least the job's `_files.json` (silver.job.FILES_MANIFEST); the DuckDB
    committer reads the Parquet parts there too. `lake_location` is the batch's folder relative
    to the lake root (`batches/<batch_id>`), where Snowflake's stage reads the same parts; None
    when the lake is a local directory."""

    batch_id: str
    local_dir: Path
    lake_location: str | None = None


@dataclass(frozen=True)
class CommitSummary:
    batch_id: str
    files: int
    quarantined: list[dict[str, Any]]
    rows_by_table: dict[str, int]


@dataclass(frozen=True)
class LedgerTotals:
    files: int
    full_load_files: int
    size_bytes: int
    newest_landed_at: dt.datetime | None


@dataclass(frozen=True)
class FileChange:
    """A processed file found changed in place after it was processed (no values, a reason)."""

    path: str
    table: str
    reason: str
    detected_at: dt.datetime | None = None


class BatchConflict(RuntimeError):
    """Another batch committed some of these files first; nothing of this batch was written."""


class QueryError(RuntimeError):
    """A read-only query the warehouse could not run. The message is the driver's error type
    (`CatalogException`, `ProgrammingError`), never its text, which may quote a value."""


class Listed(Protocol):
    """A landed file as a listing gives it (bronze.landing.LandedFile)."""

    path: str
    size_bytes: int
    modified_at: dt.datetime


@dataclass(frozen=True)
class Screening:
    """What a batch does with the listed files: read some, and what it recorded instead."""

    to_read: list[Any]
    # Not read and recorded quarantined now (their `problem` is the ledger's reason).
    quarantined: list[Any]
    # Processed files found changed in place and recorded now (audit.file_changes).
    changed: list[FileChange]


class WarehouseWriter(Protocol):
    """Exclusive write access to the warehouse, held for the duration of `Warehouse.writer()`."""

    def ensure(self, contracts: Mapping[str, TableContract]) -> None:
        """Create or extend the silver, restricted and audit schemas and tables (idempotent)."""
        ...

    def ledger_front(self) -> LedgerFront:
        """Per table folder, where the next incremental listing starts (one aggregate query)."""
        ...

    def screen(
        self,
        listed: Iterable[Listed],
        replay: Iterable[str] = (),
        checksum: Callable[[str], str] | None = None,
    ) -> Screening:
        """Sort listed files into to-read / quarantined-unread / changed-in-place, reading only
        the ledger rows of the listed paths (warehouse/duckdb.py's screen_landed_files states the rules)."""
        ...

    def commit(
        self,
        batch: BatchOutput,
        landed_at: Mapping[str, dt.datetime | None],
        contracts: Mapping[str, TableContract],
    ) -> CommitSummary:
        """Load one batch and its ledger rows atomically (see the module's guarantees)."""
        ...

    def row_counts(self, tables: Iterable[str]) -> dict[str, int]:
        """Rows of silver (or restricted, for rejects) tables by name."""
        ...

    def unclassified_columns(self) -> dict[str, list[str]]:
        """Per silver table, the added columns held in restricted until a contract names them."""
        ...


class WarehouseReader(Protocol):
    """Read-only queries: what the quality checks and reconciliation need (quality/*.py)."""

    kind: WarehouseKind

    def read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows (lower-case column names) of a read-only query written in DuckDB's dialect with
        `?` placeholders; the Snowflake implementation transpiles it (sqlglot). Give every
        selected expression a distinct name: rows are dicts. Raises QueryError."""
        ...

    def open_changes(self, table: str | None = None) -> list[FileChange]:
        """Open records of processed files changed in place (all tables, or contract `table`)."""
        ...


class Warehouse(WarehouseReader, Protocol):
    """The warehouse of one environment."""

    def writer(self) -> AbstractContextManager[WarehouseWriter]:
        """Wait for and hold the single-writer claim; released on exit or when the holder dies."""
        ...

    def exists(self) -> bool:
        """Whether the warehouse has been created (a check run before any load finds none)."""
        ...

    def ledger_totals(self) -> dict[str, LedgerTotals]: ...

    def quarantined_files(self) -> list[tuple[str, str, str | None]]:
        """(path, table, reason) of every file whose latest attempt was quarantined."""
        ...

    def acknowledge_changes(self, paths: Sequence[str], every: bool = False) -> list[str]:
        """Close the open changes of `paths` (or all); the paths closed. Takes the writer claim."""
        ...


def reading(warehouse: Warehouse) -> AbstractContextManager[WarehouseReader]:
    """A reader whose queries see one state of the warehouse (no batch commits between them):
    a check reads several tables and compares them. An implementation whose separate queries
    could see different states, or cannot read while a writer works, provides `reading()`
    (DuckDB: the writer lock and one read-only connection); otherwise the warehouse itself."""
    own = getattr(warehouse, "reading", None)
    return own() if own is not None else nullcontext(_ReportingErrors(warehouse))


class _ReportingErrors:
    """A warehouse's reads with its driver's errors as QueryError (the error type's name): a
    check then fails saying it could not read, instead of failing its step."""

    def __init__(self, warehouse: WarehouseReader) -> None:
        self._warehouse = warehouse
        self.kind = warehouse.kind

    def read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            return self._warehouse.read_rows(sql, params)
        except QueryError:
            raise
        except Exception as e:  # the driver's own classes (connector, sqlglot) vary
            raise QueryError(type(e).__name__) from e

    def open_changes(self, table: str | None = None) -> list[FileChange]:
        try:
            return self._warehouse.open_changes(table)
        except Exception as e:
            raise QueryError(type(e).__name__) from e


def ledger_paths(reader: WarehouseReader, paths: Iterable[str], chunk: int = 500) -> set[str]:
    """Those of `paths` the ledger holds: a placeholder per path, `chunk` paths a query, so the
    statement is plain SQL in every dialect and the ledger never comes into Python whole."""
    from claims_platform.silver.schema import LEDGER_SCHEMA, LEDGER_TABLE

    wanted = sorted(set(paths))
    found: set[str] = set()
    for i in range(0, len(wanted), chunk):
        part = wanted[i : i + chunk]
        found.update(
            r["path"]
            for r in reader.read_rows(
                f"SELECT path FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} "
                f"WHERE path IN ({', '.join('?' for _ in part)})",
                part,
            )
        )
    return found


def rows_of(cursor: Any) -> Iterator[dict[str, Any]]:
    """A DB-API cursor's result as dicts with lower-case keys."""
    names = [d[0].lower() for d in cursor.description]
    for row in cursor.fetchall():
        yield dict(zip(names, row, strict=True))
