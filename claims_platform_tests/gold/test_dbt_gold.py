"""The dbt project builds the gold tables of CONTRACT §4 exactly, on hand-written silver changes.

One ``dbt build`` per module (models and every dbt test) against a DuckDB file in a temporary
directory; each test then checks one gold table row for row. The changes cover the hard cases:
insert → update → no-op update → delete → re-insert of one member in one file, key-only and full
before-image deletes, changes at the same timestamp ordered by file and row, full-load rows before
CDC rows at the same timestamp, AR_H_CHANGE_SEQ beating DMS_TIMESTAMP and file order, a change
delivered twice, a claim replaced and one voided, lines with adjustments, enrollments spanning
months (one open through the valuation month), and a claim with no covering enrollment.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from claims_platform_tests.gold import scenario as s
from claims_platform_tests.gold.dbt_cli import run_dbt
from claims_platform_tests.gold.silver_changes import LOADED_AT, ts

# Provenance of a fact row: the delivery of the change that produced it (audit trail).
AUDIT_TRAIL = ["_source_file", "_source_row_number", "_source_change_at", "_change_id", "_batch_id"]
# Exact column names and order of every gold table (CONTRACT §4).
GOLD_COLUMNS: dict[str, list[str]] = {
    "dim_member": [
        "member_id", "subscriber_id", "relationship_code", "first_name", "last_name", "birth_date",
        "gender", "ssn_token", "address_line1", "city", "state", "zip5", "phone", "email",
        "updated_at", "member_sk", "valid_from", "valid_to", "is_current", "_silver_loaded_at"
    ],
    "dim_provider": [
        "provider_id", "npi", "entity_type_code", "provider_name", "taxonomy_code", "state", "zip5",
        "network_status", "updated_at", "provider_sk", "valid_from", "valid_to", "is_current",
        "_silver_loaded_at"
    ],
    "dim_plan": [
        "plan_id", "plan_name", "line_of_business", "product_type", "funding_type", "updated_at",
        "_silver_loaded_at"
    ],
    "fct_claim": [
        "claim_id", "original_claim_id", "frequency_code", "claim_form_type", "member_id",
        "billing_provider_id", "bill_type_code", "statement_from_date", "statement_thru_date",
        "received_date", "adjudicated_date", "paid_date", "claim_status", "total_billed",
        "total_allowed", "total_paid", "updated_at", "primary_dx_code", "is_final_action",
        "_silver_loaded_at", *AUDIT_TRAIL
    ],
    "fct_claim_line": [
        "claim_id", "line_number", "service_from_date", "service_thru_date", "procedure_code",
        "modifier_1", "modifier_2", "revenue_code", "place_of_service", "units",
        "rendering_provider_id", "billed_amt", "allowed_amt", "paid_amt", "deductible_amt",
        "copay_amt", "coinsurance_amt", "line_status", "updated_at", "_silver_loaded_at",
        *AUDIT_TRAIL
    ],
    "fct_claim_diagnosis": [
        "claim_id", "dx_seq", "dx_code", "poa", "_silver_loaded_at"
    ],
    "fct_claim_line_adjustment": [
        "claim_id", "line_number", "adj_seq", "group_code", "carc_code", "amount",
        "_silver_loaded_at"
    ],
    "fct_member_month": [
        "member_id", "year_month", "plan_id", "line_of_business", "_silver_loaded_at"
    ],
    "mart_pmpm": [
        "year_month", "line_of_business", "member_months", "paid_amount", "allowed_amount",
        "pmpm_paid", "pmpm_allowed", "_silver_loaded_at"
    ],
    "mart_claim_lag": [
        "incurred_month", "paid_month", "lag_months", "claim_count", "paid_amount",
        "_silver_loaded_at"
    ],
}  # fmt: skip

# Incremental bookkeeping column (dbt/macros/incremental.sql), after the contract's columns.
BOOKKEEPING = "_silver_loaded_at"

GOLD_ORDER: dict[str, str] = {
    "dim_member": "member_id, valid_from, valid_to nulls last",
    "dim_provider": "provider_id, valid_from, valid_to nulls last",
    "dim_plan": "plan_id",
    "fct_claim": "claim_id",
    "fct_claim_line": "claim_id, line_number",
    "fct_claim_diagnosis": "claim_id, dx_seq",
    "fct_claim_line_adjustment": "claim_id, line_number, adj_seq",
    "fct_member_month": "member_id, year_month",
    "mart_pmpm": "year_month, line_of_business",
    "mart_claim_lag": "incurred_month, paid_month",
}

# The one dbt test expected to warn on this data: enrollment E4 names plan P3, which was deleted.
EXPECTED_WARNINGS = {"relationships_fct_member_month_plan_id__plan_id__ref_dim_plan_"}


# ------------------------------------------------------------------------------------------------
# dbt
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work_dir = tmp_path_factory.mktemp("gold")
    database = work_dir / "warehouse.duckdb"
    silver, ids = s.build_silver()
    silver.write(str(database))
    result = run_dbt("build", work_dir, database)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    run_results = json.loads((work_dir / "target" / "run_results.json").read_text())
    con = duckdb.connect(str(database), read_only=True)
    try:
        gold = {}
        for table, order in GOLD_ORDER.items():
            cursor = con.execute(f"select * from gold.{table} order by {order}")
            names = [c[0] for c in cursor.description]
            gold[table] = {
                "columns": names,
                "rows": [dict(zip(names, row, strict=True)) for row in cursor.fetchall()],
            }
        catalog = con.execute(
            "select table_schema, table_name, column_name, data_type"
            " from information_schema.columns order by table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    manifest = json.loads((work_dir / "target" / "manifest.json").read_text())
    relations: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, _ in catalog:
        relations.setdefault((schema, table), []).append(column)
    return {
        "gold": gold,
        "ids": ids,
        "run_results": run_results,
        "manifest": manifest,
        "types": {(t, c): data_type for schema, t, c, data_type in catalog if schema == "gold"},
        "relations": relations,
    }


def rows(built: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The table's rows with the contract's columns (bookkeeping and audit trail left out)."""
    return [without(row, BOOKKEEPING, *AUDIT_TRAIL) for row in built["gold"][table]["rows"]]


def md5(*parts: str) -> str:
    return hashlib.md5("|".join(parts).encode()).hexdigest()


def version(
    values: dict[str, Any], key: str, change_id: str, valid_from: str, valid_to: str | None
) -> dict[str, Any]:
    return values | {
        f"{key.removesuffix('_id')}_sk": md5(values[key], change_id),
        "valid_from": ts(valid_from),
        "valid_to": ts(valid_to) if valid_to else None,
        "is_current": valid_to is None,
    }


def version_order(key: str):
    """The gold query's order: key, valid_from, valid_to with the open version last."""
    return lambda row: (row[key], row["valid_from"], row["valid_to"] is None, row["valid_to"])


def without(values: dict[str, Any], *columns: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in columns}


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------


def test_dbt_parse(tmp_path: Path):
    result = run_dbt("parse", tmp_path, tmp_path / "unused.duckdb")
    assert result.returncode == 0, result.stdout[-6000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert set(GOLD_COLUMNS) <= set(models)
    for node in models.values():
        assert node["description"], f"{node['name']} has no description"
        assert all(c["description"] for c in node["columns"].values()), node["name"]
    for source in manifest["sources"].values():
        assert source["meta"]["dagster"]["asset_key"] == ["silver", source["name"]]
    assert {e["name"] for e in manifest["exposures"].values()} == {
        "actuarial_pmpm_dashboard",
        "claims_operations_dashboard",
    }


def test_every_dbt_test_passes_and_only_the_late_parent_warns(built):
    statuses = {r["unique_id"]: r["status"] for r in built["run_results"]["results"]}
    assert statuses
    bad = {k: v for k, v in statuses.items() if v not in ("success", "pass", "warn", "no-op")}
    assert bad == {}
    warned = {k.split(".")[2] for k, v in statuses.items() if v == "warn"}
    assert warned == EXPECTED_WARNINGS


def test_every_model_documents_exactly_its_columns(built):
    models = [n for n in built["manifest"]["nodes"].values() if n["resource_type"] == "model"]
    intermediate = {
        "int_silver_loads_summarized",
        "int_valuation_month_derived",
        "int_enrollment_coverage_resolved",
        "int_calendar_months_generated",
    }
    assert {n["name"] for n in models} >= set(GOLD_ORDER) | intermediate
    for node in models:
        actual = built["relations"][(node["schema"], node["alias"])]
        assert list(node["columns"]) == actual, node["name"]


def test_gold_columns_and_order(built):
    assert {t: built["gold"][t]["columns"] for t in GOLD_COLUMNS} == GOLD_COLUMNS


def test_bookkeeping_column_is_the_latest_silver_load_of_each_row(built):
    # One silver load time in this scenario: every row of an incremental table carries it.
    for table, columns in GOLD_COLUMNS.items():
        if BOOKKEEPING in columns:
            loads = {row[BOOKKEEPING] for row in built["gold"][table]["rows"]}
            assert loads == {LOADED_AT}, table
    assert built["types"][("dim_member", BOOKKEEPING)] == "TIMESTAMP"


def test_gold_types(built):
    types = built["types"]
    assert types[("fct_claim", "total_paid")] == "DECIMAL(12,2)"
    assert types[("fct_claim_line", "allowed_amt")] == "DECIMAL(12,2)"
    assert types[("fct_claim_line_adjustment", "amount")] == "DECIMAL(12,2)"
    assert types[("mart_pmpm", "paid_amount")] == "DECIMAL(18,2)"
    assert types[("mart_pmpm", "pmpm_paid")] == "DECIMAL(18,2)"
    assert types[("mart_claim_lag", "paid_amount")] == "DECIMAL(18,2)"
    assert types[("fct_member_month", "year_month")] == "DATE"
    assert types[("dim_member", "valid_from")] == "TIMESTAMP"
    assert types[("dim_member", "is_current")] == "BOOLEAN"


def test_dim_member(built):
    ids = built["ids"]
    expected = [
        # insert → update → no-op update (opens nothing) → key-only delete → re-insert
        version(s.M1_BOSTON, "member_id", ids["M1_insert"], "2024-01-15 08:00", "2024-01-20 09:00"),
        version(
            s.M1_CAMBRIDGE, "member_id", ids["M1_update"], "2024-01-20 09:00", "2024-02-01 00:00"
        ),
        version(s.M1_SOMERVILLE, "member_id", ids["M1_reinsert"], "2024-02-05 00:00", None),
        # same timestamp, same file: row 1 then row 2 (a version that lasts no time)
        version(s.M2_AUSTIN, "member_id", ids["M2_load"], s.FULL_LOAD_AT, "2024-02-10 12:00"),
        version(
            s.M2_ROUND_ROCK, "member_id", ids["M2_row1"], "2024-02-10 12:00", "2024-02-10 12:00"
        ),
        version(s.M2_NEW_PHONE, "member_id", ids["M2_row2"], "2024-02-10 12:00", None),
        # same timestamp, two files: the file name decides, not the delivery order
        version(s.M3_FIRST, "member_id", ids["M3_load"], s.FULL_LOAD_AT, "2024-03-01 09:00"),
        version(s.M3_EMAIL_B, "member_id", ids["M3_b"], "2024-03-01 09:00", "2024-03-01 09:00"),
        version(s.M3_EMAIL_C, "member_id", ids["M3_c"], "2024-03-01 09:00", None),
        # full load before CDC at the same timestamp
        version(s.M4_DUNN, "member_id", ids["M4_load"], s.FULL_LOAD_AT, s.FULL_LOAD_AT),
        version(s.M4_DUNNE, "member_id", ids["M4_cdc"], s.FULL_LOAD_AT, None),
        version(s.M5, "member_id", ids["M5_load"], s.FULL_LOAD_AT, None),
        version(s.M6, "member_id", ids["M6_load"], s.FULL_LOAD_AT, None),
    ]
    assert rows(built, "dim_member") == sorted(expected, key=version_order("member_id"))


def test_dim_provider(built):
    ids = built["ids"]
    expected = [
        version(s.PR1_START, "provider_id", ids["PR1_load"], s.FULL_LOAD_AT, "2024-01-10 10:00"),
        # change sequence beats file order at one timestamp; the later no-op opens nothing
        version(s.PR1_OUT, "provider_id", ids["PR1_out"], "2024-01-10 10:00", "2024-01-10 10:00"),
        version(s.PR1_JANE, "provider_id", ids["PR1_jane"], "2024-01-10 10:00", None),
        # delete with a full before-image closes the version and changes nothing else
        version(s.PR2, "provider_id", ids["PR2_load"], s.FULL_LOAD_AT, "2024-02-15 00:00"),
    ]
    assert rows(built, "dim_provider") == sorted(expected, key=version_order("provider_id"))


def test_dim_plan(built):
    # P2: seq order puts the ASO update last although its timestamp is earlier; P3 deleted.
    assert rows(built, "dim_plan") == [s.P1_RENAMED, s.P2_ASO]


def test_fct_claim(built):
    def fact(values: dict[str, Any], primary_dx: str | None, final: bool) -> dict[str, Any]:
        return without(values, "diagnosis_codes") | {
            "primary_dx_code": primary_dx,
            "is_final_action": final,
        }

    assert rows(built, "fct_claim") == [
        fact(s.C1_PAID, "E119", False),  # replaced by C2; dx from its current change
        fact(s.C2, "E119", True),  # delivered twice, one row
        fact(s.C3, "A099", False),  # voided by C4
        fact(s.C4_VOID, "A099", False),  # a void
        fact(s.C5, None, True),  # empty DIAGNOSIS_CODES
        fact(s.C6, None, True),  # NULL DIAGNOSIS_CODES
        fact(s.C8, "Z0000", True),
        fact(s.C9, "M545", True),  # lowest seq among three; C7 is deleted
    ]


def test_fct_claim_diagnosis(built):
    assert rows(built, "fct_claim_diagnosis") == [
        {"claim_id": "C1", "dx_seq": 1, "dx_code": "E119", "poa": "N"},
        {"claim_id": "C1", "dx_seq": 2, "dx_code": "I10", "poa": "Y"},
        {"claim_id": "C2", "dx_seq": 1, "dx_code": "E119", "poa": "Y"},
        {"claim_id": "C3", "dx_seq": 1, "dx_code": "A099", "poa": "Y"},
        {"claim_id": "C4", "dx_seq": 1, "dx_code": "A099", "poa": "Y"},
        {"claim_id": "C8", "dx_seq": 1, "dx_code": "Z0000", "poa": "U"},
        {"claim_id": "C9", "dx_seq": 1, "dx_code": "M545", "poa": "Y"},
        {"claim_id": "C9", "dx_seq": 2, "dx_code": "M5416", "poa": "N"},
        {"claim_id": "C9", "dx_seq": 3, "dx_code": "G8929", "poa": None},
    ]


def test_fct_claim_line(built):
    # (C1, 2) is deleted with a key-only image; (C2, 1) arrived twice.
    assert rows(built, "fct_claim_line") == [
        without(s.L_C1_1_PAID, "adjustments"),
        without(s.L_C2_1, "adjustments"),
        without(s.L_C3_1, "adjustments"),
    ]


def test_fct_claim_line_adjustment(built):
    def a(claim_id: str, line_number: int, adj_seq: int, group: str, carc: str, amount: str):
        return {
            "claim_id": claim_id,
            "line_number": line_number,
            "adj_seq": adj_seq,
            "group_code": group,
            "carc_code": carc,
            "amount": Decimal(amount),
        }

    assert rows(built, "fct_claim_line_adjustment") == [
        a("C1", 1, 1, "CO", "45", "80.00"),  # the current change's adjustments only
        a("C1", 1, 2, "PR", "3", "20.00"),
        a("C2", 1, 1, "CO", "45", "90.00"),  # once, though delivered twice
    ]


def test_fct_member_month(built):
    def mm(member_id: str, month: str, plan_id: str, lob: str) -> dict[str, Any]:
        return {
            "member_id": member_id,
            "year_month": date.fromisoformat(month + "-01"),
            "plan_id": plan_id,
            "line_of_business": lob,
        }

    assert rows(built, "fct_member_month") == [
        mm("M1", "2024-01", "P1", "COMMERCIAL"),  # E1 from Jan 15
        mm("M1", "2024-02", "P2", "MEDICARE_ADVANTAGE"),  # E2 19 days beats E1 10 days
        mm("M1", "2024-03", "P2", "MEDICARE_ADVANTAGE"),  # E2 open: through valuation month
        mm("M2", "2024-01", "P1", "COMMERCIAL"),  # E3 shortened to Jan by the CDC update
        mm("M2", "2024-03", "P3", "UNKNOWN"),  # E4's plan P3 was deleted
        mm("M4", "2024-03", "P2", "MEDICARE_ADVANTAGE"),  # E6/E7 tie: highest enrollment_id
        mm("M5", "2024-01", "P1", "COMMERCIAL"),  # E8/E9 16 days each: latest effective_date
        mm("M6", "2023-11", "P1", "COMMERCIAL"),
        mm("M6", "2023-12", "P1", "COMMERCIAL"),
        mm("M6", "2024-01", "P1", "COMMERCIAL"),
    ]  # M3's only enrollment E5 is deleted


def test_mart_pmpm(built):
    def pm(
        month: str,
        lob: str,
        members: int,
        paid: str,
        allowed: str,
        pmpm: str | None,
        pmpm_allowed: str | None,
    ):
        return {
            "year_month": date.fromisoformat(month + "-01"),
            "line_of_business": lob,
            "member_months": members,
            "paid_amount": Decimal(paid),
            "allowed_amount": Decimal(allowed),
            "pmpm_paid": None if pmpm is None else Decimal(pmpm),
            "pmpm_allowed": None if pmpm_allowed is None else Decimal(pmpm_allowed),
        }

    assert rows(built, "mart_pmpm") == [
        pm("2023-11", "COMMERCIAL", 1, "0.00", "0.00", "0.00", "0.00"),
        pm("2023-12", "COMMERCIAL", 1, "0.00", "0.00", "0.00", "0.00"),
        # C2 (100.10; C1 it replaces does not count) + C9 (20.00): 120.10 / 4 = 30.025 → 30.03;
        # allowed 110.00 + 25.00 = 135.00 / 4 = 33.75
        pm("2024-01", "COMMERCIAL", 4, "120.10", "135.00", "30.03", "33.75"),
        # C8 on Feb 10: E1 (COMMERCIAL) covers that day, though E2 wins the member month
        pm("2024-02", "COMMERCIAL", 0, "10.00", "12.00", None, None),
        pm("2024-02", "MEDICARE_ADVANTAGE", 1, "0.00", "0.00", "0.00", "0.00"),  # C6: NULL amounts
        pm("2024-02", "UNKNOWN", 0, "30.00", "40.00", None, None),  # C5: M4 not covered in Feb
        pm("2024-03", "MEDICARE_ADVANTAGE", 2, "0.00", "0.00", "0.00", "0.00"),
        pm("2024-03", "UNKNOWN", 1, "0.00", "0.00", "0.00", "0.00"),
    ]


def test_mart_claim_lag(built):
    def lag(incurred: str, paid: str, months: int, count: int, amount: str) -> dict[str, Any]:
        return {
            "incurred_month": date.fromisoformat(incurred + "-01"),
            "paid_month": date.fromisoformat(paid + "-01"),
            "lag_months": months,
            "claim_count": count,
            "paid_amount": Decimal(amount),
        }

    assert rows(built, "mart_claim_lag") == [
        lag("2024-01", "2024-03", 2, 2, "120.10"),  # C2 and C9
        lag("2024-02", "2024-02", 0, 1, "30.00"),  # C5
        lag("2024-02", "2024-03", 1, 1, "10.00"),  # C8; C6 has no paid_date
    ]
