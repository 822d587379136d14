"""Silver table layouts derived from the contracts, in DuckDB and Spark terms."""

from __future__ import annotations

from dataclasses import dataclass

from claims_platform.contracts import TableContract, load_contracts, parse_type
from claims_platform.dms.parse import FILE_COLUMNS, REJECT_COLUMNS, silver_columns

SILVER_SCHEMA = "silver"
REJECTS_TABLE = "rejects"
LEDGER_SCHEMA = "audit"
LEDGER_TABLE = "file_ledger"
# Raw values no PHI class governs yet: rejected rows as landed (SSNs before tokenization) and
# columns added at the source that no contract classifies. Only the platform role that loads the
# warehouse reads this schema; the dbt role, analysts and branch clones read silver, not this.
RESTRICTED_SCHEMA = "restricted"
# A change table's columns added at the source and not in its contract, held apart per table with
# the delivery they came in (the silver row they belong to).
UNCLASSIFIED_SUFFIX = "__unclassified"
UNCLASSIFIED_KEY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_change_id", "string"),
    ("_batch_id", "string"),
    ("_source_file", "string"),
    ("_row_number", "integer"),
)


@dataclass(frozen=True)
class SilverTable:
    """One silver table: its name and (column, contract type) list."""

    name: str
    columns: tuple[tuple[str, str], ...]
    description: str
    parent: str | None = None  # the change table a child table was flattened from
    source_column: str | None = None
    restricted: bool = False  # lives in RESTRICTED_SCHEMA, not in silver


def unclassified_table(table: str) -> str:
    """Where the unclassified added columns of the change table `table` are held."""
    return f"{table}{UNCLASSIFIED_SUFFIX}"


def duckdb_type(type_name: str) -> str:
    base, precision, scale = parse_type(type_name)
    if base == "decimal":
        return f"DECIMAL({precision},{scale})"
    return {
        "string": "VARCHAR",
        "integer": "BIGINT",
        "double": "DOUBLE",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "json": "VARCHAR",
        "binary": "BLOB",
    }[base]


def spark_type(type_name: str):
    from pyspark.sql import types as T

    base, precision, scale = parse_type(type_name)
    if base == "decimal":
        return T.DecimalType(precision or 38, scale or 0)
    return {
        "string": T.StringType(),
        "integer": T.LongType(),
        "double": T.DoubleType(),
        "boolean": T.BooleanType(),
        "date": T.DateType(),
        # Wall-clock UTC without a zone, so Parquet → DuckDB keeps TIMESTAMP (not TIMESTAMPTZ).
        "timestamp": T.TimestampNTZType(),
        "json": T.StringType(),
        "binary": T.BinaryType(),
    }[base]


def spark_struct(columns: tuple[tuple[str, str], ...] | list[tuple[str, str]]):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(n, spark_type(t), True) for n, t in columns])


def change_table(contract: TableContract) -> SilverTable:
    return SilverTable(
        name=contract.silver_table,
        columns=tuple(silver_columns(contract)),
        description=contract.description,
    )


def child_tables(contract: TableContract) -> list[SilverTable]:
    """Child change tables flattened from the contract's JSON array columns."""
    out = []
    keys = [(contract.column(k).silver_name, contract.column(k).type) for k in contract.primary_key]
    for col in contract.nested_columns:
        assert col.nested is not None
        cols = [
            ("_change_id", "string"),
            ("_batch_id", "string"),
            *keys,
            (col.nested.position, "integer"),
            *((f.column, f.type) for f in col.nested.fields),
        ]
        out.append(
            SilverTable(
                name=col.nested.child,
                columns=tuple(cols),
                description=col.nested.description,
                parent=contract.silver_table,
                source_column=col.name,
            )
        )
    return out


def rejects_table() -> SilverTable:
    # `record` holds the row as landed, SSN included: restricted, like any raw value.
    return SilverTable(
        name=REJECTS_TABLE,
        columns=REJECT_COLUMNS,
        description="Rows rejected by the silver job, with file, row, rule and original values.",
        restricted=True,
    )


def ledger_columns() -> tuple[tuple[str, str], ...]:
    return (
        *FILE_COLUMNS,
        ("landed_at", "timestamp"),
        ("_batch_id", "string"),
        ("processed_at", "timestamp"),
    )


def all_silver_tables(contracts: dict[str, TableContract] | None = None) -> list[SilverTable]:
    contracts = contracts or load_contracts()
    tables: list[SilverTable] = []
    for c in contracts.values():
        tables.append(change_table(c))
        tables.extend(child_tables(c))
    tables.append(rejects_table())
    return tables


# One row per committed batch (`audit.batches`), locally and on Snowflake.
BATCH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "string"),
    ("committed_at", "timestamp"),
    ("files", "integer"),
    ("quarantined_files", "integer"),
    ("rows_loaded", "integer"),
    ("rows_rejected", "integer"),
)
