"""A tiny valid warehouse built directly in DuckDB (no Spark, no dbt), for breaking checks on.

One change per contract table, one child row per nested column, one ledger file per table, one
batch, and gold tables holding the keys the silver current state says exist. Every value follows
the contracts; PHI columns hold marker values a test can look for in check results.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb

from claims_platform.contracts import TableContract, parse_type
from claims_platform.quality.sql import ident
from claims_platform.silver.schema import child_tables, ledger_columns
from claims_platform.warehouse.duckdb import ensure_warehouse

BATCH = "batch-0001"
PROCESSED_AT = dt.datetime(2024, 3, 1, 12, 0, 0)
CHANGED_AT = dt.datetime(2024, 3, 1, 10, 0, 0)
PHI_MARKER = "phi-secret"  # the value of every free-text PHI column, key or not

# Valid sample values of the contract's patterns and rules; a new pattern or rule needs one here.
PATTERN_SAMPLES = {
    "^[0-9]{3,4}$": "0131",
    "^[0-9A-Z]{2}$": "25",
    "^[A-Z]{2}$": "IL",
    "^[0-9]{5}$": "60601",
    "^[0-9A-Z]{9}X$": "207Q00000X",
    "^[A-Z]?[0-9]{1,3}$": "45",
}
RULE_SAMPLES = {
    "npi": "1234567893",
    "icd10cm": "E119",
    "cpt_hcpcs": "99213",
    "place_of_service": "11",
    "revenue_code": "0450",
}


def valid_value(column: Any, *, is_key: bool = False) -> Any:
    if column.accepted_values:
        return column.accepted_values[0]
    if column.pattern:
        return PATTERN_SAMPLES[column.pattern]
    for rule in column.rules:
        return RULE_SAMPLES[rule]
    base = parse_type(column.type)[0]
    if getattr(column, "phi", None) and base == "string":
        return PHI_MARKER
    return {
        "string": "K1" if is_key else "text",
        "json": "[]",
        "integer": 1,
        "double": 1.0,
        "boolean": True,
        "decimal": Decimal("0.00"),
        "date": dt.date(2024, 2, 1),
        "timestamp": CHANGED_AT,
        "binary": b"x",
    }[base]


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    cols = ", ".join(ident(c) for c in row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


def _path(contract: TableContract) -> str:
    return f"CLAIMS/{contract.name}/LOAD00000001.csv"


def build(con: duckdb.DuckDBPyConnection, contracts: dict[str, TableContract]) -> None:
    ensure_warehouse(con, contracts)
    con.execute("CREATE SCHEMA IF NOT EXISTS gold")
    for c in contracts.values():
        keys = set(c.primary_key)
        values = {col.silver_name: valid_value(col, is_key=col.name in keys) for col in c.columns}
        change_id = f"chg-{c.silver_table}"
        _insert(
            con,
            f"silver.{ident(c.silver_table)}",
            {
                "_change_id": change_id,
                "_op": "I",
                "_dms_timestamp": CHANGED_AT,
                "_change_seq": None,
                "_is_full_load": True,
                "_source_file": _path(c),
                "_source_file_name": "LOAD00000001.csv",
                "_row_number": 1,
                "_batch_id": BATCH,
                "_loaded_at": PROCESSED_AT,
                **values,
            },
        )
        for child in child_tables(c):
            source = c.column(child.source_column or "")
            assert source.nested is not None
            row = {
                "_change_id": change_id,
                "_batch_id": BATCH,
                **{c.column(k).silver_name: values[c.column(k).silver_name] for k in c.primary_key},
                source.nested.position: 1,
                **{f.column: valid_value(f) for f in source.nested.fields},
            }
            _insert(con, f"silver.{ident(child.name)}", row)
        ledger = {n: None for n, _ in ledger_columns()}
        ledger.update(
            path=_path(c),
            table_name=c.name,
            file_name="LOAD00000001.csv",
            format="csv",
            is_full_load=True,
            size_bytes=100,
            checksum_sha256="0" * 64,
            row_count=1,
            rows_loaded=1,
            rows_rejected=0,
            first_change_at=CHANGED_AT,
            last_change_at=CHANGED_AT,
            status="processed",
            landed_at=PROCESSED_AT,
            _batch_id=BATCH,
            processed_at=PROCESSED_AT,
        )
        _insert(con, "audit.file_ledger", ledger)
        if c.gold is not None and c.gold.model:
            key_cols = [c.column(k) for k in c.primary_key]
            defs = ", ".join(
                f"{ident(k.silver_name)} {'BIGINT' if k.base_type == 'integer' else 'VARCHAR'}"
                for k in key_cols
            )
            scd2 = c.gold.kind == "scd2"
            con.execute(
                f"CREATE TABLE gold.{ident(c.gold.model)} ({defs}"
                + (", is_current BOOLEAN)" if scd2 else ")")
            )
            row = {k.silver_name: values[k.silver_name] for k in key_cols}
            if scd2:
                row["is_current"] = True
            _insert(con, f"gold.{ident(c.gold.model)}", row)
    con.execute(
        "INSERT INTO audit.batches VALUES (?, ?, ?, 0, ?, 0)",
        [BATCH, PROCESSED_AT, len(contracts), len(contracts)],
    )


def gold_keys(contracts: dict[str, TableContract]) -> list[dg.AssetKey]:
    return [
        dg.AssetKey(["gold", c.gold.model])
        for c in contracts.values()
        if c.gold is not None and c.gold.model
    ]
