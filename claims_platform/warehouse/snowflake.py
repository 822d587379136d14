"""The Snowflake warehouse of branch and prod: silver batches loaded from the lake, with their
ledger rows, atomically (warehouse/base.py states the guarantees; warehouse/duckdb.py is the twin).

**Commit.** The Glue job writes a batch's Parquet parts and `_files.json` under the lake
(`batches/<batch_id>/<table>/`); `commit` copies the parts into the silver tables
(`COPY INTO … MATCH_BY_COLUMN_NAME` from an external S3 stage with a storage integration, the
objects SSE-KMS encrypted: the integration's role decrypts them; `point_stage_at_lake` keeps the
stage on this deployment's lake, which a clone's copy of production's is not) and inserts the
files' ledger rows, their attempts and the batch row in one Snowflake transaction, after checking
in that same transaction that no file of the batch is in the ledger as processed. A quarantined
file loaded nothing, so a later attempt (replay) deletes its ledger row and inserts the new one;
every attempt stays in AUDIT.FILE_ATTEMPTS. COPY uses FORCE: the ledger, not Snowflake's load
history, decides what loads, so a file whose first attempt rolled back loads on the retry.

DDL commits implicitly in Snowflake, so tables and the columns of the restricted table holding a
batch's unclassified added columns are created before the transaction; they are idempotent and
harmless if the batch then rolls back. Which columns were added comes from the job's manifest
(`extra_columns` of each file), the names the parser checked, not from reading Parquet footers.

**One writer: a lease row, not a held transaction.** Snowflake has no SELECT … FOR UPDATE and
no session-scoped advisory lock; an UPDATE holds its lock until COMMIT/ROLLBACK, but a transaction
cannot be held for a writer's life, because every DDL statement (`ensure`, a new restricted
column) commits it, and a held transaction of a killed client stays open, detached, with its
locks, until Snowflake aborts it (up to the session's idle timeout, hours). So `writer()` takes
a lease: it sets AUDIT.COMMIT_LOCK's `holder` (a fresh id per writer) and `expires_at` (now +
`lease_s`) where the row is free, expired or already its own, waits and retries while another
holds it, renews it from a heartbeat thread every `lease_s / 3`, and clears it on exit. A writer
that dies stops renewing, and its claim expires by itself after at most `lease_s` (120 s).
A writer killed inside a commit also leaves that transaction open, detached, holding its lock on
the COMMIT_LOCK row, so the next claim's UPDATE would wait for hours: the lease row records the
holder's session (`current_session()`), and a writer that finds the lease expired aborts that
session first (`SYSTEM$ABORT_SESSION`; the service user may abort its own sessions), which rolls
the dead commit back and frees the row.
A holder id starts with its database's name (`CLAIMS/<id>`): a branch deployment's database
is a clone of production's, made while production may hold the lease, and the clone's copy of
that row is renewed by no one. A holder of another database is neither waited for nor aborted
(its session is production's); the clone's writer takes the row at once.
The lease avoids two runs doing the same batch; exactly-once does not rest on it: each commit
transaction begins by updating the COMMIT_LOCK row where `holder` is this writer (which both
serialises commits, the update's lock being held to COMMIT, and fences a writer whose lease was
taken over: it updates no row and commits nothing), and checks the ledger after that.

**SQL** lives in `sql/*.sql`. Values are bound (`%(name)s`, the connector's client-side binding);
identifiers cannot be bound, so they are substituted as `${name}` only after `identifier()` (or,
for column names, `column_identifier()`: quoted, so Oracle's `A#B`, `X$Y` and keywords such as
`ORDER` are accepted) has checked them. Check queries come in DuckDB's dialect with `?` (the
seam's `read_rows`) and are transpiled here with sqlglot.

Default-deny, as locally: rejects and columns added at the source that no contract classifies go
to schema RESTRICTED, never to SILVER. COPY … MATCH_BY_COLUMN_NAME loads only the columns a table
has, so the same Parquet parts load the contract columns into SILVER and the delivery keys plus
the added columns into RESTRICTED.<TABLE>__UNCLASSIFIED.

Nothing here imports Dagster: connections come from a factory (`connect`), which the wiring
builds on dagster-snowflake's SnowflakeResource (orchestration/snowflake.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from claims_platform.bronze.listing import LedgerFront
from claims_platform.contracts import TableContract, load_contracts, parse_type
from claims_platform.dms.values import parse_timestamp
from claims_platform.faults import checkpoint
from claims_platform.silver.schema import (
    BATCH_COLUMNS,
    UNCLASSIFIED_KEY_COLUMNS,
    SilverTable,
    all_silver_tables,
    ledger_columns,
    unclassified_table,
)
from claims_platform.warehouse.base import (
    BatchConflict,
    BatchOutput,
    CommitSummary,
    FileChange,
    LedgerTotals,
    Listed,
    Screening,
    rows_of,
)
from claims_platform.warehouse.ledger import (
    ACKNOWLEDGED,
    CHANGE_COLUMNS,
    CHANGE_PATH,
    CHANGED,
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

if TYPE_CHECKING:
    from claims_platform.environment import Settings

__all__ = ["BatchConflict", "SnowflakeLake", "SnowflakeWarehouse", "SnowflakeWriter"]

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# Column names: what Oracle allows unquoted (`#`, `$`), plus the platform's `_` columns.
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$#]{0,127}$")
_LOCATION = re.compile(r"^[A-Za-z0-9_.=:/-]*$")
_STATEMENT_END = re.compile(r";\s*(?:\n|$)")
FILES_MANIFEST = "_files.json"  # silver.job.FILES_MANIFEST (not imported: it pulls in the job)
Connect = Callable[[], AbstractContextManager[Any]]


def identifier(name: str) -> str:
    """An unquoted Snowflake identifier (schema, table, stage), or a ValueError naming it."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain Snowflake identifier")
    return name.upper()


def column_identifier(name: str) -> str:
    """A column name as a quoted Snowflake identifier, upper case like an unquoted name (so
    MATCH_BY_COLUMN_NAME and unquoted references find it): keywords (`ORDER`), `#` and `$` are
    accepted as Oracle allows them; anything else is a ValueError."""
    if not _COLUMN.match(name):
        raise ValueError(f"{name!r} is not a source column name")
    return f'"{name.upper()}"'


# The name the restricted-table code and its tests know.
quoted_identifier = column_identifier


def _location(path: str) -> str:
    if not _LOCATION.match(path) or ".." in path:
        raise ValueError(f"{path!r} is not a plain stage path")
    return path


@dataclass(frozen=True)
class SnowflakeLake:
    """Where silver lives in Snowflake and where the stage reads the lake from."""

    database: str
    lake_url: str  # s3://bucket/prefix/ (the stage root)
    storage_integration: str = "CLAIMS_LAKE"
    silver_schema: str = "SILVER"
    audit_schema: str = "AUDIT"
    # Rejects and unclassified added columns: raw values only the loading role reads.
    restricted_schema: str = "RESTRICTED"
    stage_name: str = "LAKE"

    @property
    def stage(self) -> str:
        return self.table(self.silver_schema, self.stage_name)

    @property
    def identifiers(self) -> dict[str, str]:
        return {
            "database": identifier(self.database),
            "silver_schema": identifier(self.silver_schema),
            "audit_schema": identifier(self.audit_schema),
            "restricted_schema": identifier(self.restricted_schema),
            "storage_integration": identifier(self.storage_integration),
        }

    def table(self, schema: str, name: str) -> str:
        return f"{identifier(self.database)}.{identifier(schema)}.{identifier(name)}"

    def schema_of(self, table: SilverTable) -> str:
        return self.restricted_schema if table.restricted else self.silver_schema


def sql_text(name: str, **identifiers: str) -> str:
    """The text of `sql/<name>.sql` with its `${…}` identifiers substituted."""
    text = resources.files(__package__).joinpath("sql", f"{name}.sql").read_text("utf-8")
    return string.Template(text).substitute(identifiers)


def statements(sql: str) -> list[str]:
    """Split a file of `;`-terminated statements (no `;` inside literals in our files)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in _STATEMENT_END.split(body) if s.strip()]


def snowflake_type(type_name: str) -> str:
    base, precision, scale = parse_type(type_name)
    if base == "decimal":
        return f"NUMBER({precision},{scale})"
    return {
        "string": "VARCHAR",
        "integer": "NUMBER(38,0)",
        "double": "FLOAT",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP_NTZ",
        "json": "VARCHAR",
        "binary": "BINARY",
    }[base]


def _audit_tables() -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    return [
        ("FILE_LEDGER", ledger_columns()),
        ("FILE_ATTEMPTS", attempts_columns()),
        ("FILE_CHANGES", CHANGE_COLUMNS),
        ("BATCHES", BATCH_COLUMNS),
    ]


def _table_statements(
    table: str, columns: Iterable[tuple[str, str]], existing: set[str] | None = None
) -> list[str]:
    """CREATE TABLE IF NOT EXISTS, then ADD COLUMN IF NOT EXISTS for each column; given the
    table's `existing` columns (upper case), only the statements for what is missing."""
    columns = list(columns)
    out: list[str] = []
    if existing is None or not existing:
        column_list = ", ".join(f"{column_identifier(n)} {snowflake_type(t)}" for n, t in columns)
        out.append(statements(sql_text("create_table", table=table, columns=column_list))[0])
        if existing is not None:
            return out
    for n, t in columns:
        if existing is not None and n.upper() in existing:
            continue
        add = sql_text(
            "add_column", table=table, column=column_identifier(n), type=snowflake_type(t)
        )
        out.append(statements(add)[0])
    return out


def setup_statements(
    lake: SnowflakeLake,
    contracts: Mapping[str, TableContract] | None = None,
    existing: Mapping[tuple[str, str], set[str]] | None = None,
) -> list[tuple[str, dict[str, Any] | None]]:
    """Schemas, lease row, silver and audit tables (idempotent), as (sql, params); the stage
    is `point_stage_at_lake`'s. `existing` ((schema, table) → columns, upper case, as
    `existing_columns` reads them) leaves out the DDL of tables and columns that are there
    already."""
    out: list[tuple[str, dict[str, Any] | None]] = [
        (statement, None) for statement in statements(sql_text("setup", **lake.identifiers))
    ]
    tables = [
        (lake.schema_of(t), t.name, t.columns)
        for t in all_silver_tables(dict(contracts or load_contracts()))
    ] + [(lake.audit_schema, name, columns) for name, columns in _audit_tables()]
    for schema, name, columns in tables:
        have = None if existing is None else existing.get((schema.upper(), name.upper()), set())
        out += [(s, None) for s in _table_statements(lake.table(schema, name), columns, have)]
    return out


def existing_columns(cursor: Any, lake: SnowflakeLake) -> dict[tuple[str, str], set[str]]:
    """(schema, table) → column names (upper case) of the platform's schemas in the database."""
    cursor.execute(
        statements(sql_text("existing_columns", database=identifier(lake.database)))[0],
        {
            "silver_schema": identifier(lake.silver_schema),
            "audit_schema": identifier(lake.audit_schema),
            "restricted_schema": identifier(lake.restricted_schema),
        },
    )
    found: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in cursor.fetchall():
        found.setdefault((schema.upper(), table.upper()), set()).add(column.upper())
    return found


def setup(
    cursor: Any, lake: SnowflakeLake, contracts: Mapping[str, TableContract] | None = None
) -> None:
    """Create what is missing: the statements of setup.sql (idempotent, a handful), then only the
    tables and columns `existing_columns` does not find."""
    try:
        existing = existing_columns(cursor, lake)
    except Exception as e:  # a database this platform has not set up yet: every statement
        if "does not exist" not in str(e):
            raise
        existing = None
    for sql, params in setup_statements(lake, contracts, existing):
        cursor.execute(sql, params)
    point_stage_at_lake(cursor, lake)


def stage_url(rows: Iterable[Mapping[str, Any]], name: str) -> str | None:
    """The URL of the stage `name` among SHOW STAGES rows (None: no such stage). A JSON list of
    one URL (the form DESC STAGE shows locations in) is read as that URL, so that a form other
    than the one given never makes every `ensure` create the stage again."""
    for row in rows:
        if str(row.get("name", "")).upper() == name.upper():
            url = str(row.get("url") or "").strip()
            if url.startswith("["):
                urls = json.loads(url)
                url = urls[0] if len(urls) == 1 else url
            return url
    return None


def point_stage_at_lake(cursor: Any, lake: SnowflakeLake) -> None:
    """Create the lake's stage, or create it again over this deployment's lake when it reads
    another: a branch deployment's database is a clone of production's, whose stage came with
    it, still reading production's lake, where the branch's batches are not (COPY would load
    nothing, without an error)."""
    ids = lake.identifiers | {"stage_name": identifier(lake.stage_name)}
    cursor.execute(statements(sql_text("lake_stage_url", **ids))[0])
    names = [d[0].lower() for d in cursor.description]
    found = stage_url(
        (dict(zip(names, row, strict=True)) for row in cursor.fetchall()), lake.stage_name
    )
    if found is not None and found.rstrip("/") == lake.lake_url.rstrip("/"):
        return
    if found is not None:
        log.warning(
            "the lake stage %s read another lake (a clone's, copied from its source): created "
            "again over this deployment's lake",
            lake.stage,
        )
    create = sql_text("lake_stage", **lake.identifiers, stage=lake.stage)
    cursor.execute(statements(create)[0], {"lake_url": lake.lake_url})


def ledger_rows(
    manifest: Mapping[str, Any], landed_at: Mapping[str, dt.datetime | None], now: dt.datetime
) -> list[dict[str, Any]]:
    """The ledger rows of a batch's files, as the local committer writes them."""
    timestamps = {n for n, t in ledger_columns() if t == "timestamp"}
    rows = []
    for f in manifest["files"]:
        row = {
            **f,
            "landed_at": landed_at.get(f["path"]),
            "_batch_id": manifest["batch_id"],
            "processed_at": now,
        }
        rows.append(
            {
                n: parse_timestamp(row[n])
                if n in timestamps and isinstance(row[n], str)
                else row[n]
                for n, _ in ledger_columns()
            }
        )
    return rows


def added_columns(
    manifest: Mapping[str, Any], contracts: Mapping[str, TableContract]
) -> dict[str, list[str]]:
    """Per change table, the columns its files added at the source (the manifest's
    `extra_columns`, which the parser checked), in first-seen order."""
    silver_name = {c.name.upper(): c.silver_table for c in contracts.values()}
    found: dict[str, list[str]] = {}
    for f in manifest["files"]:
        if f.get("status") == QUARANTINED or not f.get("extra_columns"):
            continue
        table = silver_name.get(str(f["table_name"]).upper())
        if table is None:
            continue
        seen = found.setdefault(table, [])
        seen += [c for c in str(f["extra_columns"]).split(",") if c and c not in seen]
    return found


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _paths_param(paths: Iterable[str]) -> str:
    # One bound JSON array instead of one placeholder per path: the statement text stays the
    # same whatever the number of paths.
    return json.dumps(list(paths))


def _rows_loaded(cursor: Any) -> int:
    """Rows loaded by the COPY just run: the sum of `rows_loaded` over its per-file results."""
    description = [c[0].lower() for c in (getattr(cursor, "description", None) or [])]
    results = cursor.fetchall()
    if "rows_loaded" not in description:
        return 0
    position = description.index("rows_loaded")
    return sum(int(r[position] or 0) for r in results)


def transpile(sql: str, params: Sequence[Any] = ()) -> tuple[str, dict[str, Any]]:
    """A read-only query in DuckDB's dialect with `?` placeholders as Snowflake SQL with the
    connector's `%(pN)s` placeholders, and the params by name.

    Quoted identifiers are upper-cased: DuckDB resolves `silver."claim"` and `"claim_id"`
    whatever their case, Snowflake only in the case written, and the platform's tables and
    columns are stored upper case there (unquoted DDL, `column_identifier`). Result keys are
    lower-cased again by `rows_of`."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    names: list[str] = []

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Identifier) and node.quoted:
            return exp.to_identifier(node.this.upper(), quoted=True)
        if isinstance(node, exp.Placeholder) and not node.this:
            names.append(f"p{len(names)}")
            return exp.var(f"%({names[-1]})s")
        if params and isinstance(node, exp.Literal) and node.is_string and "%" in node.this:
            # The connector's pyformat binding reads `%` as a placeholder start.
            return exp.Literal.string(node.this.replace("%", "%%"))
        return node

    tree = tree.transform(bind)
    if len(names) != len(params):
        raise ValueError(f"the query has {len(names)} placeholders for {len(params)} values")
    return tree.sql(dialect="snowflake"), dict(zip(names, params, strict=True))


class SnowflakeWarehouse:
    """The warehouse seam (warehouse/base.py Warehouse) on Snowflake."""

    kind = "snowflake"

    def __init__(
        self,
        lake: SnowflakeLake,
        connect: Connect,
        *,
        contracts: Mapping[str, TableContract] | None = None,
        lease_s: int = 120,
        wait_s: float = 3600,
        poll_s: float = 5,
    ) -> None:
        self.lake = lake
        self.connect = connect
        self._contracts = dict(contracts) if contracts is not None else None
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.poll_s = poll_s

    @classmethod
    def from_settings(
        cls, settings: Settings, connect: Connect | None = None
    ) -> SnowflakeWarehouse:
        """The environment's Snowflake warehouse: database from SNOWFLAKE_DATABASE (the pull
        request's clone in a branch deployment), stage over `settings.lake_uri`. `connect`
        defaults to snowflake-connector-python with the SNOWFLAKE_* variables; the Dagster
        wiring passes dagster-snowflake's (orchestration/snowflake.py)."""
        from claims_platform.environment import (
            ConfigurationError,
            snowflake_connection_params,
            snowflake_database,
            snowflake_writer_lease_seconds,
        )

        if not settings.lake_is_s3:
            raise ConfigurationError(
                "the Snowflake warehouse loads from an S3 lake: set CLAIMS_LAKE_URI to s3://…"
            )
        database = snowflake_database()
        if connect is None:

            def connect() -> AbstractContextManager[Any]:
                import snowflake.connector

                params = snowflake_connection_params()
                return closing(snowflake.connector.connect(**params, database=database))

        lake = SnowflakeLake(database=database, lake_url=settings.lake_uri.rstrip("/") + "/")
        return cls(lake, connect, lease_s=snowflake_writer_lease_seconds())

    @property
    def contracts(self) -> dict[str, TableContract]:
        if self._contracts is None:
            self._contracts = load_contracts()
        return self._contracts

    def _sql(self, name: str, **identifiers: str) -> str:
        return statements(sql_text(name, **self.lake.identifiers, **identifiers))[0]

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self.connect() as connection:
            yield connection.cursor()

    @contextmanager
    def writer(self) -> Iterator[SnowflakeWriter]:
        holder = f"{self._holder_database}{uuid.uuid4().hex}"
        with self.connect() as connection:
            cursor = connection.cursor()
            self._claim(cursor, holder)
            stop = threading.Event()
            heartbeat = threading.Thread(
                target=self._renew, args=(holder, stop), name="snowflake-writer-lease", daemon=True
            )
            heartbeat.start()
            try:
                yield SnowflakeWriter(self, connection, holder)
            finally:
                stop.set()
                heartbeat.join()
                cursor.execute(self._sql("writer_release"), {"holder": holder})

    def _claim(self, cursor: Any, holder: str) -> None:
        """Take the lease, waiting while another live writer holds it.

        The lease row is read before it is updated: an UPDATE would wait (up to LOCK_TIMEOUT,
        12 h by default) behind a commit a dead writer left open, so it is issued only when the
        row is free, ours, or expired, and an expired holder's session is aborted first."""
        deadline = time.monotonic() + self.wait_s
        params = {
            "holder": holder,
            "lease_s": self.lease_s,
            "holder_database": self._holder_database,
        }
        bootstrapped = False
        while True:
            try:
                if self._free_or_freed(cursor, holder):
                    cursor.execute(self._sql("writer_claim"), params)
                    if cursor.rowcount == 1:
                        return
            except Exception as e:
                if bootstrapped or not (
                    "does not exist" in str(e) or "invalid identifier" in str(e)
                ):
                    raise
                # A new database (or one from before the lease recorded its session): schemas,
                # tables and the lease row first (setup.sql, idempotent).
                setup(cursor, self.lake, {})
                bootstrapped = True
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"another writer held the Snowflake warehouse for {self.wait_s:.0f} s "
                    "(AUDIT.COMMIT_LOCK); its lease expires unless it is still running"
                )
            time.sleep(self.poll_s)

    def _free_or_freed(self, cursor: Any, holder: str) -> bool:
        """Whether the lease can be claimed now: free, ours, or expired, in which case the dead
        holder's session is aborted first (a commit it left open rolls back, freeing the row)."""
        cursor.execute(self._sql("writer_holder"))
        row = cursor.fetchone()
        if row is None:
            raise LookupError("AUDIT.COMMIT_LOCK has no lease row: it does not exist yet")
        other, session, expired = row
        if not other or other == holder:
            return True
        if "/" in other and not other.startswith(self._holder_database):
            # Held in the database this one was cloned from (production, for a branch): no
            # writer of this database holds it, and that session is never ours to abort.
            log.info("the Snowflake writer lease came with a clone of another database: taken")
            return True
        if not expired:
            return False
        if session:
            abort = self._sql("abort_session")
            try:
                cursor.execute(abort, {"session": session})
                cursor.fetchall()
                log.warning(
                    "the Snowflake writer lease of %s expired: its session was aborted (a "
                    "commit it left open rolls back; its files load again)",
                    other,
                )
            except Exception as e:  # already gone: the session ended, nothing holds the row
                log.info("could not abort the expired writer's session: %s", type(e).__name__)
        return True

    @property
    def _holder_database(self) -> str:
        """The prefix of this database's lease holders: a clone copies the lease row, and the
        prefix tells a holder of the source database (whose writer renews only its own row) from
        one of this database. Holders without one (before the prefix) count as this database's."""
        return f"{self.lake.database.upper()}/"

    def _renew(self, holder: str, stop: threading.Event) -> None:
        while not stop.wait(self.lease_s / 3):
            try:
                with self._cursor() as cursor:
                    cursor.execute(
                        self._sql("writer_renew"), {"holder": holder, "lease_s": self.lease_s}
                    )
            except Exception as e:  # the next beat (or the commit's own renewal) retries
                log.warning("could not renew the Snowflake writer lease: %s", type(e).__name__)

    def exists(self) -> bool:
        try:
            with self._cursor() as cursor:
                cursor.execute(
                    self._sql("warehouse_exists"), {"schema": identifier(self.lake.audit_schema)}
                )
                return bool(cursor.fetchone()[0])
        except Exception as e:
            if "does not exist" in str(e) or "not authorized" in str(e):
                return False
            raise

    def read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        text, bound = transpile(sql, params)
        with self._cursor() as cursor:
            cursor.execute(text, bound or None)
            return list(rows_of(cursor))

    def ledger_totals(self) -> dict[str, LedgerTotals]:
        with self._cursor() as cursor:
            cursor.execute(self._sql("ledger_totals"))
            return {
                table: LedgerTotals(int(files), int(full or 0), int(size or 0), newest)
                for table, files, full, size, newest in cursor.fetchall()
            }

    def quarantined_files(self) -> list[tuple[str, str, str | None]]:
        with self._cursor() as cursor:
            cursor.execute(self._sql("quarantined_files"))
            return [tuple(r) for r in cursor.fetchall()]  # type: ignore[misc]

    def open_changes(self, table: str | None = None) -> list[FileChange]:
        with self._cursor() as cursor:
            cursor.execute(self._sql("changes_open"), {"table": table})
            return [FileChange(*r) for r in cursor.fetchall()]

    def acknowledge_changes(self, paths: Sequence[str], every: bool = False) -> list[str]:
        with self.writer() as writer:
            return writer.acknowledge_changes(paths, every)


class SnowflakeWriter:
    """The writer of `SnowflakeWarehouse.writer()`: one session, the lease held."""

    def __init__(self, warehouse: SnowflakeWarehouse, connection: Any, holder: str) -> None:
        self.warehouse = warehouse
        self.lake = warehouse.lake
        self.connection = connection
        self.holder = holder

    def _sql(self, name: str, **identifiers: str) -> str:
        return self.warehouse._sql(name, **identifiers)

    def cursor(self) -> Any:
        return self.connection.cursor()

    def ensure(self, contracts: Mapping[str, TableContract]) -> None:
        setup(self.cursor(), self.lake, contracts)

    def ledger_front(self) -> LedgerFront:
        cursor = self.cursor()
        cursor.execute(
            self._sql("ledger_front"), {"full_load": FULL_LOAD_PATH, "change": CHANGE_PATH}
        )
        front = LedgerFront()
        for kind, folder, path in cursor.fetchall():
            if folder and path:
                target = front.newest_full_load if kind == "full_load" else front.newest_change
                target[folder] = path
        return front

    def screen(
        self,
        listed: Iterable[Listed],
        replay: Iterable[str] = (),
        checksum: Callable[[str], str] | None = None,
    ) -> Screening:
        """warehouse/duckdb.py's screen_landed_files, on Snowflake."""
        listed = list(listed)
        cursor = self.cursor()
        cursor.execute(self._sql("ledger_listed"), {"paths": _paths_param(f.path for f in listed)})
        ledger = {row[0]: row[1:] for row in cursor.fetchall()}
        replay = set(replay)
        to_read: list[Any] = []
        unreadable: list[Any] = []
        processed: list[tuple[Any, Processed]] = []
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
        changed = self._record_changed_files(processed, checksum)
        if unreadable:
            self._quarantine_unread(unreadable)
        return Screening(to_read=to_read, quarantined=unreadable, changed=changed)

    def _record_changed_files(
        self, seen: list[tuple[Any, Processed]], checksum: Callable[[str], str] | None
    ) -> list[FileChange]:
        """warehouse/duckdb.py's record_changed_files, reading only the listed paths' rows."""
        if not seen:
            return []
        now = _now()
        cursor = self.cursor()
        cursor.execute(
            self._sql("changes_judged"), {"paths": _paths_param(f.path for f, _ in seen)}
        )
        recorded = cursor.fetchall()
        judged = {(p, s, m) for p, s, m, _ in recorded}
        still_open = {p for p, _, _, status in recorded if status == CHANGED}
        rows: list[dict[str, Any]] = []
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
                    continue
                try:
                    landed_checksum = checksum(f.path)
                except Exception:  # unreadable just now: the next run judges it
                    continue
            reason = change_reason(f.size_bytes, before, problem, landed_checksum)
            if reason is None:
                if f.path in still_open:
                    as_processed.append(f.path)
            else:
                changes.append(FileChange(f.path, before.table, reason, now))
            rows.append(
                {
                    "path": f.path,
                    "table_name": before.table,
                    "status": SAME_CONTENT if reason is None else CHANGED,
                    "reason": reason
                    or "modification time changed, bytes identical to the processed version",
                    "processed_size_bytes": before.size_bytes,
                    "processed_checksum_sha256": before.checksum_sha256,
                    "processed_batch_id": before.batch_id,
                    "landed_size_bytes": f.size_bytes,
                    "landed_modified_at": f.modified_at,
                    "landed_checksum_sha256": landed_checksum,
                    "detected_at": now,
                    "resolved_at": now if reason is None else None,
                }
            )
        # Each statement is atomic; a version left unrecorded by a crash between them is judged
        # again by the next run.
        if as_processed:
            cursor.execute(
                self._sql("changes_resolve"),
                {"status": RESTORED, "now": now, "paths": _paths_param(as_processed)},
            )
        if rows:
            cursor.executemany(self._insert("changes_insert", CHANGE_COLUMNS), rows)
        return changes

    def _insert(self, name: str, columns: Iterable[tuple[str, str]]) -> str:
        columns = list(columns)
        return self._sql(
            name,
            columns=", ".join(column_identifier(n) for n, _ in columns),
            placeholders=", ".join(f"%({n})s" for n, _ in columns),
        )

    def _quarantine_unread(self, files: list[Any]) -> None:
        """Ledger rows `quarantined` (reason: the file's `problem`) for files never opened,
        committed as a batch of their own: the same attempts, conflict check and batch row."""
        rows = unread_ledger_rows(files)
        manifest = {"batch_id": uuid.uuid4().hex, "files": rows}
        self.commit_manifest(manifest, None, {f.path: f.modified_at for f in files})

    def commit(
        self,
        batch: BatchOutput,
        landed_at: Mapping[str, dt.datetime | None],
        contracts: Mapping[str, TableContract],
    ) -> CommitSummary:
        manifest = json.loads((batch.local_dir / FILES_MANIFEST).read_text(encoding="utf-8"))
        if batch.lake_location is None:
            raise ValueError(
                f"batch {batch.batch_id}: no lake location; Snowflake loads batches from the "
                "S3 lake's stage"
            )
        return self.commit_manifest(manifest, batch.lake_location, landed_at, contracts)

    def commit_manifest(
        self,
        manifest: Mapping[str, Any],
        lake_location: str | None,
        landed_at: Mapping[str, dt.datetime | None],
        contracts: Mapping[str, TableContract] | None = None,
    ) -> CommitSummary:
        """Load one batch (`<stage>/<lake_location>/<table>/*.parquet`; None: ledger rows only)
        and its ledger rows in one transaction; BatchConflict if a file is already processed."""
        contracts = dict(contracts or self.warehouse.contracts)
        batch_id = manifest["batch_id"]
        files: Sequence[Mapping[str, Any]] = manifest["files"]
        cursor = self.cursor()
        tables = all_silver_tables(contracts) if lake_location is not None else []
        location = _location(lake_location.strip("/")) if lake_location is not None else ""
        added = added_columns(manifest, contracts)
        held: list[tuple[SilverTable, str]] = []  # (table, its unclassified table)
        for table in tables:
            if not added.get(table.name):
                continue
            target = self.lake.table(self.lake.restricted_schema, unclassified_table(table.name))
            columns = [*UNCLASSIFIED_KEY_COLUMNS, *((c, "string") for c in added[table.name])]
            for statement in _table_statements(target, columns):
                cursor.execute(statement)
            held.append((table, target))
        now = _now()
        paths = [f["path"] for f in files]
        ledger = ledger_rows(manifest, landed_at, now)
        quarantined = [dict(f) for f in files if f["status"] == QUARANTINED]
        begin, lock = statements(sql_text("commit_begin", **self.lake.identifiers))
        cursor.execute(begin)
        try:
            checkpoint("silver.commit.begun")
            cursor.execute(lock, {"holder": self.holder, "lease_s": self.warehouse.lease_s})
            if cursor.rowcount != 1:
                raise RuntimeError(
                    f"batch {batch_id}: this writer's Snowflake lease expired and another "
                    "writer holds it; nothing of the batch was written"
                )
            if paths:
                cursor.execute(self._sql("ledger_conflicts"), {"paths": _paths_param(paths)})
                clash = cursor.fetchone()[0]
                if clash:
                    raise BatchConflict(
                        f"batch {batch_id}: {clash} of its files were committed by another batch"
                    )
            rows: dict[str, int] = {}
            for table in tables:
                copy = sql_text(
                    "copy_table",
                    table=self.lake.table(self.lake.schema_of(table), table.name),
                    stage=self.lake.stage,
                    location=f"{location}/{table.name}/",
                )
                cursor.execute(statements(copy)[0])
                rows[table.name] = _rows_loaded(cursor)
                checkpoint(f"silver.commit.inserted:{table.name}")
            for table, target in held:
                copy = sql_text(
                    "copy_table",
                    table=target,
                    stage=self.lake.stage,
                    location=f"{location}/{table.name}/",
                )
                cursor.execute(statements(copy)[0])
                cursor.fetchall()
            # The job's own count of each table's rows (child tables have none): a stage that
            # reads another lake, or parts missing from S3, loads fewer without an error, and
            # the ledger would then call the files loaded.
            short = [
                f"{name}: {rows.get(name, 0)} of {int(n)}"
                for name, n in sorted((manifest.get("tables") or {}).items())
                if rows.get(name, 0) != int(n)
            ]
            if short:
                raise RuntimeError(
                    f"batch {batch_id}: COPY loaded other row counts than the silver job wrote "
                    f"({'; '.join(short)}); nothing of the batch was committed. The stage "
                    f"{self.lake.stage} must read this deployment's lake, {self.lake.lake_url}"
                )
            checkpoint("silver.commit.copied")
            if ledger:
                cursor.execute(self._sql("attempts_previous"), {"paths": _paths_param(paths)})
                previous = dict(cursor.fetchall())
                cursor.execute(self._sql("ledger_delete"), {"paths": _paths_param(paths)})
                cursor.executemany(self._insert("ledger_insert", ledger_columns()), ledger)
                cursor.executemany(
                    self._insert("attempts_insert", attempts_columns()),
                    [{**r, "attempt": int(previous.get(r["path"]) or 0) + 1} for r in ledger],
                )
            checkpoint("silver.commit.ledger_inserted")
            cursor.execute(
                self._sql("batch_insert"),
                {
                    "batch_id": batch_id,
                    "committed_at": now,
                    "files": len(files),
                    "quarantined_files": len(quarantined),
                    "rows_loaded": sum(int(f["rows_loaded"] or 0) for f in files),
                    "rows_rejected": sum(int(f["rows_rejected"] or 0) for f in files),
                },
            )
            checkpoint("silver.commit.before_commit")
            cursor.execute("commit")
            checkpoint("silver.commit.committed")
        except BaseException:
            cursor.execute("rollback")
            raise
        return CommitSummary(
            batch_id=batch_id, files=len(files), quarantined=quarantined, rows_by_table=rows
        )

    def row_counts(self, tables: Iterable[str]) -> dict[str, int]:
        by_name = {t.name: t for t in all_silver_tables(self.warehouse.contracts)}
        cursor = self.cursor()
        counts = {}
        for name in tables:
            table = by_name.get(name)
            schema = self.lake.schema_of(table) if table else self.lake.silver_schema
            cursor.execute(self._sql("row_count", table=self.lake.table(schema, name)))
            counts[name] = int(cursor.fetchone()[0])
        return counts

    def unclassified_columns(self) -> dict[str, list[str]]:
        """Per silver table (lower case), the added columns (lower case) held in restricted."""
        cursor = self.cursor()
        cursor.execute(
            self._sql("unclassified_columns"),
            {"schema": identifier(self.lake.restricted_schema)},
        )
        keys = {n for n, _ in UNCLASSIFIED_KEY_COLUMNS}
        suffix = unclassified_table("").upper()
        found: dict[str, list[str]] = {}
        for table, column in cursor.fetchall():
            if column.lower() not in keys:
                found.setdefault(table[: -len(suffix)].lower(), []).append(column.lower())
        return found

    def acknowledge_changes(self, paths: Sequence[str], every: bool = False) -> list[str]:
        cursor = self.cursor()
        params = {"every": every, "paths": _paths_param(paths)}
        cursor.execute("begin transaction")
        try:
            cursor.execute(self._sql("changes_open_paths"), params)
            closed = sorted({r[0] for r in cursor.fetchall()})
            if closed:
                cursor.execute(
                    self._sql("changes_resolve"),
                    {"status": ACKNOWLEDGED, "now": _now(), "paths": _paths_param(closed)},
                )
            cursor.execute("commit")
        except BaseException:
            cursor.execute("rollback")
            raise
        return closed
