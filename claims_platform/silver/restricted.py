"""The restricted schema of the local warehouse: raw values no PHI class governs yet.

Default-deny (DESIGN principle 8): a value reaches a role only through a column a contract has
classified. Two kinds of values have no class:

- rejected rows, kept as landed (`record` holds the raw row, SSN included, before tokenization);
- columns added at the source (DDL) that no contract knows yet: the silver job carries them as
  text, and whether one holds an SSN or a diagnosis is unknown until someone classifies it.

Both live in `restricted` (Snowflake: RESTRICTED, granted to the loading role alone), never in
silver, which the dbt role, every branch clone and, through staging, gold read. An added column is
held in `restricted.<table>__unclassified` beside the delivery it came with (`_change_id`,
`_batch_id`, `_source_file`, `_row_number`: the silver row it belongs to), so nothing landed is
lost; once a contract classifies it, later files load it into silver, typed, and its class
governs every layer after. Names are quoted everywhere: Oracle allows `ORDER`, `A#B`, `X$Y`.
"""

from __future__ import annotations

import duckdb

from claims_platform.silver.schema import (
    RESTRICTED_SCHEMA,
    SILVER_SCHEMA,
    UNCLASSIFIED_KEY_COLUMNS,
    UNCLASSIFIED_SUFFIX,
    SilverTable,
    duckdb_type,
    rejects_table,
    unclassified_table,
)


def ident(name: str) -> str:
    """A quoted DuckDB identifier (any name, keywords and `#`, `$`, `"` included)."""
    return '"' + name.replace('"', '""') + '"'


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
