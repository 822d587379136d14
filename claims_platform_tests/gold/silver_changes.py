"""Hand-written silver change tables for the dbt gold tests.

The silver layout (metadata columns, typed source columns, child tables flattened from the JSON
arrays) is written out here rather than imported from the silver job, so the gold models are tested
against the layout the brief promises, not against whatever the silver code does today.

Every change is also recorded as a change event in the format of the reference model
(``claims_platform_tests.support.reference_model.expected_gold``), so a test can compare gold with
the independent oracle. The reference model needs the raw SSN: pass ``ssn`` in a member's values
and the silver row gets its token (``ssn_token``) the way the silver job computes it.
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

from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY, tokenize

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
    """Change rows per silver table, in delivery order; write() appends them to schema ``silver``.

    ``events`` holds the same changes as reference-model change events, per source table.
    """

    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {t: [] for t in (*SOURCE_COLUMNS, *CHILD_COLUMNS)}
    )
    events: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {t.upper(): [] for t in SOURCE_COLUMNS}
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
        loaded_at: datetime = LOADED_AT,
        added: dict[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Deliver one change; the same change delivered again gets the same _change_id.

        ``added``: values of columns added at the source (DDL) after the contract was written;
        silver holds them as text, and they are part of the change identity.
        """
        source_values = dict(values)
        if table == "member" and "ssn" in source_values:
            ssn = source_values.pop("ssn")
            source_values["ssn_token"] = tokenize(ssn, LOCAL_DEVELOPMENT_KEY)
            event_values = {"SSN": ssn}
        else:
            event_values = {}
        columns = [name for name, _ in SOURCE_COLUMNS[table]]
        unknown = set(source_values) - set(columns)
        assert not unknown, f"{table}: unknown columns {unknown}"
        assert all(source_values.get(k) is not None for k in KEYS[table]), f"{table}: key missing"
        typed = {c: source_values.get(c) for c in columns}
        added = dict(added or {})
        dms_timestamp = ts(at)
        identity = [op, str(dms_timestamp), change_seq, [_canonical(typed[c]) for c in columns]]
        if added:
            identity.append(sorted(added.items()))
        change_id = hashlib.md5(json.dumps(identity).encode()).hexdigest()
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
            "_loaded_at": loaded_at,
            **typed,
            **added,
        }
        self.rows[table].append(record)
        self._flatten(table, record)
        event_values |= {c.upper(): v for c, v in typed.items() if c != "ssn_token"}
        event_values |= {c.upper(): v for c, v in added.items()}
        self.events[table.upper()].append(
            {
                "op": op,
                "dms_timestamp": at,
                "change_seq": change_seq,
                "file": record["_source_file"],
                "row": row,
                "values": event_values,
            }
        )
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
        """Append the rows to the silver tables, creating schema and tables when missing.

        Like the silver job, a column added at the source joins its table as VARCHAR (earlier
        rows read NULL) the first time a change carries it.
        """
        layouts = {t: (*METADATA, *cols) for t, cols in SOURCE_COLUMNS.items()} | CHILD_COLUMNS
        con = duckdb.connect(database)
        try:
            con.execute("create schema if not exists silver")
            for table, layout in layouts.items():
                ddl = ", ".join(f"{name} {type_}" for name, type_ in layout)
                con.execute(f"create table if not exists silver.{table} ({ddl})")
                existing = [
                    r[0]
                    for r in con.execute(
                        "select column_name from information_schema.columns"
                        " where table_schema = 'silver' and table_name = ?"
                        " order by ordinal_position",
                        [table],
                    ).fetchall()
                ]
                columns = list(existing)
                for record in self.rows[table]:
                    for name in record:
                        if name not in columns:
                            # Quoted, as the committer does: Oracle allows ORDER, A#B, X$Y.
                            quoted = '"' + name.replace('"', '""') + '"'
                            con.execute(f"alter table silver.{table} add column {quoted} VARCHAR")
                            columns.append(name)
                rows = [tuple(r.get(name) for name in columns) for r in self.rows[table]]
                if rows:
                    marks = ", ".join("?" for _ in columns)
                    con.executemany(f"insert into silver.{table} values ({marks})", rows)
        finally:
            con.close()
