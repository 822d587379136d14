"""Loading silver batches from the lake into Snowflake, with their ledger rows, atomically.

The production twin of claims_platform/silver/commit.py (DESIGN principle 4): the Glue job writes
a batch's Parquet parts and `_files.json` under the lake; this module copies the parts into the
silver tables (`COPY INTO … MATCH_BY_COLUMN_NAME` from an external S3 stage with a storage
integration) and inserts the files' ledger rows in one Snowflake transaction, after checking in
that same transaction that no file was committed before. Committers are serialised by an UPDATE
on AUDIT.COMMIT_LOCK (Snowflake has no SELECT … FOR UPDATE; DML holds a table lock until commit).

DDL commits implicitly in Snowflake, so table creation and the columns of the restricted table
holding a batch's unclassified added columns happen before the transaction; they are idempotent
and harmless if the batch then rolls back.

Default-deny, as the local committer (silver/restricted.py): rejects and columns added at the
source that no contract classifies go to schema RESTRICTED (granted to the loading role alone by
dbt/macros/governance/role_layout.sql), never to SILVER. COPY … MATCH_BY_COLUMN_NAME loads only
the columns a table has, so the same Parquet parts load the contract columns into SILVER and the
delivery keys plus the added columns into RESTRICTED.<TABLE>__UNCLASSIFIED. Added column names are
quoted (Oracle allows `ORDER`, `A#B`, `X$Y`), in upper case, the case Snowflake stores unquoted
names in, so `MATCH_BY_COLUMN_NAME` and unquoted references elsewhere find them.

SQL lives in `sql/*.sql`. Values are bound (`%(name)s`, the connector's client-side binding);
identifiers cannot be bound, so they are substituted as `${name}` only after `identifier()`
has checked them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from claims_platform.contracts import TableContract, load_contracts, parse_type
from claims_platform.dms.values import parse_timestamp
from claims_platform.silver.commit import CommitSummary
from claims_platform.silver.schema import (
    BATCH_COLUMNS,
    UNCLASSIFIED_KEY_COLUMNS,
    SilverTable,
    all_silver_tables,
    ledger_columns,
    unclassified_table,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# What Oracle (the source) allows in a column name the silver job passes on as an added column.
_SOURCE_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$")
_LOCATION = re.compile(r"^[A-Za-z0-9_.=:/-]*$")
_STATEMENT_END = re.compile(r";\s*(?:\n|$)")


class Cursor(Protocol):
    def execute(self, command: str, params: Any = None) -> Any: ...
    def executemany(self, command: str, seqparams: Any) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class BatchConflict(RuntimeError):
    """Another batch committed some of these files first; nothing of this batch was written."""


def identifier(name: str) -> str:
    """An unquoted Snowflake identifier, or a ValueError naming it."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain Snowflake identifier")
    return name.upper()


def quoted_identifier(name: str) -> str:
    """A source column name as a quoted Snowflake identifier (keywords, `#` and `$` allowed),
    upper case like an unquoted name; a ValueError for anything else."""
    if not _SOURCE_COLUMN.match(name):
        raise ValueError(f"{name!r} is not a source column name")
    return f'"{name.upper()}"'


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
        ("BATCHES", BATCH_COLUMNS),
    ]


def setup_statements(
    lake: SnowflakeLake, contracts: Mapping[str, TableContract] | None = None
) -> list[tuple[str, dict[str, Any] | None]]:
    """Schemas, stage, lock, silver and audit tables (idempotent), as (sql, params)."""
    ids = lake.identifiers | {"stage": lake.stage}
    out: list[tuple[str, dict[str, Any] | None]] = []
    for statement in statements(sql_text("setup", **ids)):
        out.append(
            (statement, {"lake_url": lake.lake_url} if "%(lake_url)s" in statement else None)
        )
    tables = [
        (lake.schema_of(t), t.name, t.columns)
        for t in all_silver_tables(dict(contracts or load_contracts()))
    ] + [(lake.audit_schema, name, columns) for name, columns in _audit_tables()]
    for schema, name, columns in tables:
        table = lake.table(schema, name)
        column_list = ", ".join(f"{identifier(n)} {snowflake_type(t)}" for n, t in columns)
        out.append(
            (statements(sql_text("create_table", table=table, columns=column_list))[0], None)
        )
        for n, t in columns:
            add = sql_text("add_column", table=table, column=identifier(n), type=snowflake_type(t))
            out.append((statements(add)[0], None))
    return out


def setup(
    cursor: Cursor, lake: SnowflakeLake, contracts: Mapping[str, TableContract] | None = None
) -> None:
    for sql, params in setup_statements(lake, contracts):
        cursor.execute(sql, params)


ColumnLister = Callable[[str, str], Iterable[str]]


def _infer_columns(cursor: Cursor, lake: SnowflakeLake) -> ColumnLister:
    def columns(table: str, location: str) -> list[str]:
        sql = sql_text(
            "batch_columns",
            stage=lake.stage,
            location=_location(location),
            file_format=lake.table(lake.silver_schema, "PARQUET"),
        )
        cursor.execute(statements(sql)[0])
        return [row[0] for row in cursor.fetchall()]

    return columns


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


def commit_batch(
    connection: Any,
    lake: SnowflakeLake,
    batch_location: str,
    manifest: Mapping[str, Any],
    landed_at: Mapping[str, dt.datetime | None],
    contracts: Mapping[str, TableContract] | None = None,
    list_columns: ColumnLister | None = None,
) -> CommitSummary:
    """Load one batch (`<stage>/<batch_location>/<table>/*.parquet`) and its ledger rows in one
    Snowflake transaction; BatchConflict if another batch committed one of its files first.

    `list_columns(table, location)` gives the columns of the batch's files of a table (default:
    INFER_SCHEMA over the stage); columns the table's layout lacks (added at the source, no
    contract classifies them) are held in RESTRICTED.<TABLE>__UNCLASSIFIED, added there as VARCHAR
    first.
    """
    contracts = contracts or load_contracts()
    batch_id = manifest["batch_id"]
    files: Sequence[Mapping[str, Any]] = manifest["files"]
    location = _location(batch_location.strip("/"))
    ids = lake.identifiers
    cursor = connection.cursor()
    columns_of = list_columns or _infer_columns(cursor, lake)
    tables = all_silver_tables(dict(contracts))
    held: list[tuple[SilverTable, str]] = []  # (table, its unclassified table) to copy into
    for table in tables:
        known = {n.lower() for n, _ in table.columns}
        incoming = list(columns_of(table.name, f"{location}/{table.name}/"))
        added = [c for c in incoming if c.lower() not in known]
        if added:
            target = lake.table(lake.restricted_schema, unclassified_table(table.name))
            present = {c.lower() for c in incoming}
            keys = [(n, t) for n, t in UNCLASSIFIED_KEY_COLUMNS if n in present]
            columns = ", ".join(f"{identifier(n)} {snowflake_type(t)}" for n, t in keys)
            create = sql_text("create_table", table=target, columns=columns)
            cursor.execute(statements(create)[0])
            for column in added:
                add = sql_text(
                    "add_column", table=target, column=quoted_identifier(column), type="VARCHAR"
                )
                cursor.execute(statements(add)[0])
            held.append((table, target))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for statement in statements(sql_text("commit_begin", **ids)):
        cursor.execute(statement)
    try:
        paths = [f["path"] for f in files]
        if paths:
            cursor.execute(
                statements(sql_text("ledger_conflicts", **ids))[0], {"paths": json.dumps(paths)}
            )
            clash = cursor.fetchone()[0]
            if clash:
                raise BatchConflict(
                    f"batch {batch_id}: {clash} of its files were committed by another batch"
                )
        rows: dict[str, int] = {}
        for table in tables:
            copy = sql_text(
                "copy_table",
                table=lake.table(lake.schema_of(table), table.name),
                stage=lake.stage,
                location=f"{location}/{table.name}/",
            )
            cursor.execute(statements(copy)[0])
            rows[table.name] = _rows_loaded(cursor)
        for table, target in held:
            copy = sql_text(
                "copy_table", table=target, stage=lake.stage, location=f"{location}/{table.name}/"
            )
            cursor.execute(statements(copy)[0])
            cursor.fetchall()
        ledger = ledger_rows(manifest, landed_at, now)
        if ledger:
            names = [identifier(n) for n, _ in ledger_columns()]
            insert = sql_text(
                "ledger_insert",
                **ids,
                columns=", ".join(names),
                placeholders=", ".join(f"%({n})s" for n, _ in ledger_columns()),
            )
            cursor.executemany(statements(insert)[0], ledger)
        quarantined = [dict(f) for f in files if f["status"] == "quarantined"]
        cursor.execute(
            statements(sql_text("batch_insert", **ids))[0],
            {
                "batch_id": batch_id,
                "committed_at": now,
                "files": len(files),
                "quarantined_files": len(quarantined),
                "rows_loaded": sum(int(f["rows_loaded"]) for f in files),
                "rows_rejected": sum(int(f["rows_rejected"]) for f in files),
            },
        )
        cursor.execute("commit")
    except BaseException:
        cursor.execute("rollback")
        raise
    return CommitSummary(
        batch_id=batch_id, files=len(files), quarantined=quarantined, rows_by_table=rows
    )


def _rows_loaded(cursor: Cursor) -> int:
    """Rows loaded by the COPY just run: the sum of `rows_loaded` over its per-file results."""
    description = [c[0].lower() for c in (getattr(cursor, "description", None) or [])]
    results = cursor.fetchall()
    if "rows_loaded" not in description:
        return 0
    position = description.index("rows_loaded")
    return sum(int(r[position] or 0) for r in results)
