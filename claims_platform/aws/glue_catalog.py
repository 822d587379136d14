"""Registering the silver tables in the AWS Glue Data Catalog, from the table contracts.

Athena, Redshift Spectrum and Lake Formation see silver through the catalog; the contracts are
the one source of its schemas, so a column added at the source (a contract gains a column, or
files carry a column no contract types yet) reaches the catalog on the next sync. Columns carry
their PHI class in `Parameters`, so catalog consumers (Lake Formation tag policies, Macie) can
act on it; tables carry their overall PHI class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from claims_platform.contracts import TableContract, load_contracts, parse_type
from claims_platform.dms.io import join_uri
from claims_platform.silver.schema import SilverTable, all_silver_tables

PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}
PARAM_PREFIX = "claims_platform."
_GLUE_TYPES = {
    "string": "string",
    "integer": "bigint",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "json": "string",
    "binary": "binary",
}


def glue_type(contract_type: str) -> str:
    """The Hive/Glue type of a contract type, as the silver Parquet stores it."""
    base, precision, scale = parse_type(contract_type)
    if base == "decimal":
        return f"decimal({precision},{scale})"
    return _GLUE_TYPES[base]


def _phi_by_column(contracts: Mapping[str, TableContract]) -> dict[str, dict[str, str]]:
    """Silver table → column → PHI mark (`P`, `Q`, or `token` for a keyed HMAC token)."""
    out: dict[str, dict[str, str]] = {}
    for c in contracts.values():
        marks = {
            col.silver_name: "token" if col.tokenize else col.phi
            for col in c.columns
            if col.phi or col.tokenize
        }
        out[c.silver_table] = marks
        for nested_col in c.nested_columns:
            assert nested_col.nested is not None
            # A child table repeats its parent's key columns, and their marks with them.
            out[nested_col.nested.child] = {
                k: v
                for k, v in marks.items()
                if k in {c.column(p).silver_name for p in c.primary_key}
            }
    return out


def _table_phi(table: SilverTable, marks: Mapping[str, str]) -> str:
    if table.name == "rejects":
        return "direct"  # rejected rows keep their original values, raw SSNs included
    values = set(marks.values())
    return "direct" if "P" in values else "quasi" if "Q" in values else "none"


def table_input(
    table: SilverTable,
    location: str,
    phi_marks: Mapping[str, str],
    extra_columns: Sequence[str] = (),
) -> dict[str, Any]:
    """The Glue `TableInput` of a silver table: Parquet at `location`, typed by contract.

    `extra_columns` are columns the source added that no contract types yet: the silver job
    carries them as text, so the catalog lists them as `string`, marked untyped.
    """
    known = {n for n, _ in table.columns}
    columns = [
        {
            "Name": name,
            "Type": glue_type(type_name),
            **({"Parameters": {"phi": phi_marks[name]}} if name in phi_marks else {}),
        }
        for name, type_name in table.columns
    ]
    columns += [
        {"Name": name, "Type": "string", "Parameters": {"untyped": "true"}}
        for name in extra_columns
        if name not in known
    ]
    phi_columns = ",".join(f"{n}:{m}" for n, m in phi_marks.items() if n in known)
    return {
        "Name": table.name,
        "Description": table.description[:2048],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            f"{PARAM_PREFIX}phi": _table_phi(table, phi_marks),
            f"{PARAM_PREFIX}phi_columns": phi_columns,
            f"{PARAM_PREFIX}managed_by": "claims_platform contracts",
            **({f"{PARAM_PREFIX}parent": table.parent} if table.parent else {}),
        },
        "StorageDescriptor": {"Columns": columns, "Location": location, **PARQUET_STORAGE},
    }


@dataclass
class CatalogSync:
    database: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _columns(table: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    cols = table.get("StorageDescriptor", {}).get("Columns", [])
    return [(c["Name"], c["Type"], c.get("Parameters") or {}) for c in cols]


def _differs(existing: dict[str, Any], desired: dict[str, Any]) -> bool:
    # Glue adds parameters of its own (crawlers, Lake Formation); only ours are compared.
    ours = desired["Parameters"]
    theirs = {k: v for k, v in (existing.get("Parameters") or {}).items() if k in ours}
    return (
        _columns(existing) != _columns(desired)
        or existing.get("StorageDescriptor", {}).get("Location")
        != desired["StorageDescriptor"]["Location"]
        or theirs != ours
    )


def _keep_dropped_columns(existing: dict[str, Any], desired: dict[str, Any]) -> None:
    """A column the catalog has and the contract no longer lists stays (at the end): silver
    Parquet written before still holds it, and dropping it would hide that history."""
    names = {c["Name"] for c in desired["StorageDescriptor"]["Columns"]}
    for col in existing.get("StorageDescriptor", {}).get("Columns", []):
        if col["Name"] not in names:
            desired["StorageDescriptor"]["Columns"].append(
                {k: v for k, v in col.items() if k in ("Name", "Type", "Comment", "Parameters")}
            )


def sync_silver_catalog(
    glue: Any,
    database: str,
    lake_uri: str,
    contracts: Mapping[str, TableContract] | None = None,
    extra_columns: Mapping[str, Sequence[str]] | None = None,
) -> CatalogSync:
    """Create or update the database and one table per silver table; idempotent.

    `glue` is a boto3 Glue client; tables live at `<lake_uri>/silver/<table>/`.
    """
    contracts = contracts or load_contracts()
    marks = _phi_by_column(contracts)
    sync = CatalogSync(database)
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": "Silver change tables of the claims platform (contains PHI).",
                "Parameters": {f"{PARAM_PREFIX}phi": "direct"},
            }
        )
    for table in all_silver_tables(dict(contracts)):
        desired = table_input(
            table,
            join_uri(lake_uri, "silver", table.name) + "/",
            marks.get(table.name, {}),
            (extra_columns or {}).get(table.name, ()),
        )
        try:
            existing = glue.get_table(DatabaseName=database, Name=table.name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=database, TableInput=desired)
            sync.created.append(table.name)
            continue
        _keep_dropped_columns(existing, desired)
        if _differs(existing, desired):
            glue.update_table(DatabaseName=database, TableInput=desired)
            sync.updated.append(table.name)
        else:
            sync.unchanged.append(table.name)
    return sync
