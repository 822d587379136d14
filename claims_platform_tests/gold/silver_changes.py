"""Hand-written silver change tables for the dbt gold tests.

The silver layout (metadata columns, typed source columns, child tables flattened from the JSON
arrays) is written out here rather than imported from the silver job, so the gold models are tested
against the layout the brief promises, not against whatever the silver code does today.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import duckdb

METADATA: tuple[tuple[str, str], ...] = (
    ("_change_id", "VARCHAR"),
    ("_op", "VARCHAR"),
    ("_dms_timestamp", "TIMESTAMP"),
    ("_change_seq", "VARCHAR"),
    ("_is_full_load", "BOOLEAN"),
    ("_source_file", "VARCHAR"),
    ("_source_file_name", "VARCHAR"),
    ("_row_number", "BIGINT"),
    ("_batch_id", "VARCHAR"),
    ("_loaded_at", "TIMESTAMP"),
)

_S, _I, _A, _D, _T = "VARCHAR", "BIGINT", "DECIMAL(12,2)", "DATE", "TIMESTAMP"

SOURCE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "plan": (
        ("plan_id", _S),
        ("plan_name", _S),
        ("line_of_business", _S),
        ("product_type", _S),
        ("funding_type", _S),
        ("updated_at", _T),
    ),
    "member": (
        ("member_id", _S),
        ("subscriber_id", _S),
        ("relationship_code", _S),
        ("first_name", _S),
        ("last_name", _S),
        ("birth_date", _D),
        ("gender", _S),
        ("ssn_token", _S),
        ("address_line1", _S),
        ("city", _S),
        ("state", _S),
        ("zip5", _S),
        ("phone", _S),
        ("email", _S),
        ("updated_at", _T),
    ),
    "enrollment": (
        ("enrollment_id", _S),
        ("member_id", _S),
        ("plan_id", _S),
        ("effective_date", _D),
        ("termination_date", _D),
        ("updated_at", _T),
    ),
    "provider": (
        ("provider_id", _S),
        ("npi", _S),
        ("entity_type_code", _S),
        ("provider_name", _S),
        ("taxonomy_code", _S),
        ("state", _S),
        ("zip5", _S),
        ("network_status", _S),
        ("updated_at", _T),
    ),
    "claim": (
        ("claim_id", _S),
        ("original_claim_id", _S),
        ("frequency_code", _S),
        ("claim_form_type", _S),
        ("member_id", _S),
        ("billing_provider_id", _S),
        ("bill_type_code", _S),
        ("statement_from_date", _D),
        ("statement_thru_date", _D),
        ("received_date", _D),
        ("adjudicated_date", _D),
        ("paid_date", _D),
        ("claim_status", _S),
        ("total_billed", _A),
        ("total_allowed", _A),
        ("total_paid", _A),
        ("diagnosis_codes", _S),
        ("updated_at", _T),
    ),
    "claim_line": (
        ("claim_id", _S),
        ("line_number", _I),
        ("service_from_date", _D),
        ("service_thru_date", _D),
        ("procedure_code", _S),
        ("modifier_1", _S),
        ("modifier_2", _S),
        ("revenue_code", _S),
        ("place_of_service", _S),
        ("units", _I),
        ("rendering_provider_id", _S),
        ("billed_amt", _A),
        ("allowed_amt", _A),
        ("paid_amt", _A),
        ("deductible_amt", _A),
        ("copay_amt", _A),
        ("coinsurance_amt", _A),
        ("line_status", _S),
        ("adjustments", _S),
        ("updated_at", _T),
    ),
}

CHILD_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "claim_diagnosis": (
        ("_change_id", _S),
        ("_batch_id", _S),
        ("claim_id", _S),
        ("dx_position", _I),
        ("dx_seq", _I),
        ("dx_code", _S),
        ("poa", _S),
    ),
    "claim_line_adjustment": (
        ("_change_id", _S),
        ("_batch_id", _S),
        ("claim_id", _S),
        ("line_number", _I),
        ("adj_seq", _I),
        ("group_code", _S),
        ("carc_code", _S),
        ("amount", _A),
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "plan": ("plan_id",),
    "member": ("member_id",),
    "enrollment": ("enrollment_id",),
    "provider": ("provider_id",),
    "claim": ("claim_id",),
    "claim_line": ("claim_id", "line_number"),
}

LOADED_AT = datetime(2024, 3, 31, 23, 0, 0)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def d(text: str) -> date:
    return date.fromisoformat(text)


def seq(number: int) -> str:
    """A 35-digit AR_H_CHANGE_SEQ."""
    return f"{number:035d}"


def _canonical(value: Any) -> Any:
    if isinstance(value, date | datetime | Decimal):
        return str(value)
    return value


@dataclass
class Silver:
    """Change rows per silver table, in delivery order; write() creates schema ``silver``."""

    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {t: [] for t in (*SOURCE_COLUMNS, *CHILD_COLUMNS)}
    )

    def change(
        self,
        table: str,
        op: str,
        at: str,
        file: str,
        row: int,
        values: dict[str, Any],
        *,
        change_seq: str | None = None,
        batch: str = "batch-1",
    ) -> dict[str, Any]:
        """Deliver one change; the same change delivered again gets the same _change_id."""
        columns = [name for name, _ in SOURCE_COLUMNS[table]]
        unknown = set(values) - set(columns)
        assert not unknown, f"{table}: unknown columns {unknown}"
        assert all(values.get(k) is not None for k in KEYS[table]), f"{table}: key missing"
        typed = {c: values.get(c) for c in columns}
        dms_timestamp = ts(at)
        change_id = hashlib.md5(
            json.dumps(
                [op, str(dms_timestamp), change_seq, [_canonical(typed[c]) for c in columns]]
            ).encode()
        ).hexdigest()
        name = PurePosixPath(file).name
        record = {
            "_change_id": change_id,
            "_op": op,
            "_dms_timestamp": dms_timestamp,
            "_change_seq": change_seq,
            "_is_full_load": name.startswith("LOAD"),
            "_source_file": f"CLAIMS/{table.upper()}/{file}",
            "_source_file_name": name,
            "_row_number": row,
            "_batch_id": batch,
            "_loaded_at": LOADED_AT,
            **typed,
        }
        self.rows[table].append(record)
        self._flatten(table, record)
        return record

    def _flatten(self, table: str, record: dict[str, Any]) -> None:
        if table == "claim" and record["diagnosis_codes"]:
            for position, element in enumerate(json.loads(record["diagnosis_codes"]), start=1):
                self.rows["claim_diagnosis"].append(
                    {
                        "_change_id": record["_change_id"],
                        "_batch_id": record["_batch_id"],
                        "claim_id": record["claim_id"],
                        "dx_position": position,
                        "dx_seq": element.get("seq"),
                        "dx_code": element.get("code"),
                        "poa": element.get("poa"),
                    }
                )
        if table == "claim_line" and record["adjustments"]:
            for position, element in enumerate(json.loads(record["adjustments"]), start=1):
                self.rows["claim_line_adjustment"].append(
                    {
                        "_change_id": record["_change_id"],
                        "_batch_id": record["_batch_id"],
                        "claim_id": record["claim_id"],
                        "line_number": record["line_number"],
                        "adj_seq": position,
                        "group_code": element.get("group"),
                        "carc_code": element.get("carc"),
                        "amount": Decimal(str(element["amount"])),
                    }
                )

    def write(self, database: str) -> None:
        layouts = {t: (*METADATA, *cols) for t, cols in SOURCE_COLUMNS.items()} | CHILD_COLUMNS
        con = duckdb.connect(database)
        try:
            con.execute("create schema if not exists silver")
            for table, columns in layouts.items():
                ddl = ", ".join(f"{name} {type_}" for name, type_ in columns)
                con.execute(f"create or replace table silver.{table} ({ddl})")
                rows = [tuple(r[name] for name, _ in columns) for r in self.rows[table]]
                if rows:
                    marks = ", ".join("?" for _ in columns)
                    con.executemany(f"insert into silver.{table} values ({marks})", rows)
        finally:
            con.close()
