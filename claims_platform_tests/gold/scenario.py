"""The silver changes the dbt gold tests build from, and the row values they expect back.

Each constant is the full column image of one change (or of several, when a no-op update repeats
it); the expectations in test_dbt_gold.py refer to the same constants, so a version row is stated
as "the values of this change, valid from … to …".
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from claims_platform_tests.gold.silver_changes import Silver, d, seq, ts

FULL_LOAD = "LOAD00000001.csv"
FULL_LOAD_AT = "2024-01-01 00:00:00"


def member(member_id: str, **overrides: Any) -> dict[str, Any]:
    values = {
        "member_id": member_id,
        "subscriber_id": member_id,
        "relationship_code": "18",
        "first_name": f"First{member_id}",
        "last_name": f"Last{member_id}",
        "birth_date": d("1980-05-17"),
        "gender": "F",
        "ssn_token": f"token-{member_id}",
        "address_line1": "1 Main St",
        "city": "Boston",
        "state": "MA",
        "zip5": "02108",
        "phone": "6175550100",
        "email": f"{member_id.lower()}@example.com",
        "updated_at": ts("2023-12-01 00:00:00"),
    }
    return values | overrides


def provider(provider_id: str, **overrides: Any) -> dict[str, Any]:
    values = {
        "provider_id": provider_id,
        "npi": "1234567893",
        "entity_type_code": "1",
        "provider_name": f"Provider {provider_id}",
        "taxonomy_code": "207Q00000X",
        "state": "MA",
        "zip5": "02114",
        "network_status": "IN",
        "updated_at": ts("2023-12-01 00:00:00"),
    }
    return values | overrides


def plan(plan_id: str, name: str, lob: str, product: str, funding: str, **kw: Any) -> dict:
    return {
        "plan_id": plan_id,
        "plan_name": name,
        "line_of_business": lob,
        "product_type": product,
        "funding_type": funding,
        "updated_at": ts("2023-12-01 00:00:00"),
    } | kw


def enrollment(
    enrollment_id: str,
    member_id: str,
    plan_id: str,
    effective: str,
    termination: str | None,
    **kw: Any,
) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment_id,
        "member_id": member_id,
        "plan_id": plan_id,
        "effective_date": d(effective),
        "termination_date": d(termination) if termination else None,
        "updated_at": ts("2023-12-01 00:00:00"),
    } | kw


def claim(claim_id: str, member_id: str, provider_id: str, statement_from: str, **kw: Any) -> dict:
    values = {
        "claim_id": claim_id,
        "original_claim_id": None,
        "frequency_code": "1",
        "claim_form_type": "P",
        "member_id": member_id,
        "billing_provider_id": provider_id,
        "bill_type_code": None,
        "statement_from_date": d(statement_from),
        "statement_thru_date": d(statement_from),
        "received_date": None,
        "adjudicated_date": None,
        "paid_date": None,
        "claim_status": "RECEIVED",
        "total_billed": None,
        "total_allowed": None,
        "total_paid": None,
        "diagnosis_codes": None,
        "updated_at": None,
    }
    return values | kw


def dx(*elements: dict[str, Any]) -> str:
    return json.dumps(list(elements))


def adj(*elements: tuple[str, str, str]) -> str:
    return json.dumps([{"group": g, "carc": c, "amount": float(a)} for g, c, a in elements])


def line(claim_id: str, line_number: int, service: str, **kw: Any) -> dict[str, Any]:
    values = {
        "claim_id": claim_id,
        "line_number": line_number,
        "service_from_date": d(service),
        "service_thru_date": d(service),
        "procedure_code": "99213",
        "modifier_1": None,
        "modifier_2": None,
        "revenue_code": None,
        "place_of_service": "11",
        "units": 1,
        "rendering_provider_id": "PR1",
        "billed_amt": None,
        "allowed_amt": None,
        "paid_amt": None,
        "deductible_amt": None,
        "copay_amt": None,
        "coinsurance_amt": None,
        "line_status": "PENDED",
        "adjustments": None,
        "updated_at": None,
    }
    return values | kw


def money(text: str) -> Decimal:
    return Decimal(text)


# Values of every version/current row the expectations refer to.
M1_BOSTON = member("M1", updated_at=ts("2024-01-15 08:00:00"))
M1_CAMBRIDGE = M1_BOSTON | {
    "city": "Cambridge",
    "zip5": "02139",
    "updated_at": ts("2024-01-20 09:00:00"),
}
M1_NOOP = M1_CAMBRIDGE | {"updated_at": ts("2024-01-25 10:00:00")}
M1_SOMERVILLE = M1_BOSTON | {
    "city": "Somerville",
    "zip5": "02143",
    "updated_at": ts("2024-02-05 00:00:00"),
}
M2_AUSTIN = member("M2", gender="M", city="Austin", state="TX", zip5="73301")
M2_ROUND_ROCK = M2_AUSTIN | {"city": "Round Rock", "zip5": "78664"}
M2_NEW_PHONE = M2_ROUND_ROCK | {"phone": "5125550199"}
M3_FIRST = member("M3", relationship_code="01", subscriber_id="M2")
M3_EMAIL_B = M3_FIRST | {"email": "m3-b@example.com"}
M3_EMAIL_C = M3_FIRST | {"email": "m3-c@example.com"}
M4_DUNN = member("M4", last_name="Dunn", gender="U")
M4_DUNNE = M4_DUNN | {"last_name": "Dunne"}
M5 = member("M5", relationship_code="19", subscriber_id="M1", birth_date=d("2010-02-28"))
M6 = member("M6", first_name=None, phone=None)

PR1_START = provider("PR1", provider_name="Dr. Smith")
PR1_OUT = PR1_START | {"network_status": "OUT"}
PR1_JANE = PR1_START | {"provider_name": "Dr. Jane Smith"}
PR1_NOOP = PR1_JANE | {"updated_at": ts("2024-01-15 00:00:00")}
PR2 = provider(
    "PR2",
    npi="1245319599",
    entity_type_code="2",
    provider_name="General Hospital",
    taxonomy_code="282N00000X",
)

P1 = plan("P1", "Gold HMO", "COMMERCIAL", "HMO", "FULLY_INSURED")
P1_RENAMED = P1 | {"plan_name": "Gold HMO Plus", "updated_at": ts("2024-02-10 10:00:00")}
P2 = plan("P2", "Senior PPO", "MEDICARE_ADVANTAGE", "PPO", "FULLY_INSURED")
P2_ASO = P2 | {"funding_type": "ASO", "updated_at": ts("2024-02-01 11:00:00")}
P2_HMO = P2 | {"product_type": "HMO", "updated_at": ts("2024-02-01 12:00:00")}
P3 = plan("P3", "Temp EPO", "COMMERCIAL", "EPO", "ASO")

C1_RECEIVED = claim(
    "C1",
    "M1",
    "PR1",
    "2024-01-20",
    received_date=d("2024-01-24"),
    total_billed=money("200.00"),
    diagnosis_codes=dx({"seq": 1, "code": "J069", "poa": "Y"}),
    updated_at=ts("2024-01-25 00:00:00"),
)
C1_PAID = C1_RECEIVED | {
    "adjudicated_date": d("2024-02-03"),
    "paid_date": d("2024-02-05"),
    "claim_status": "PAID",
    "total_allowed": money("120.00"),
    "total_paid": money("100.00"),
    "diagnosis_codes": dx(
        {"seq": 2, "code": "I10", "poa": "Y"}, {"seq": 1, "code": "E119", "poa": "N"}
    ),
    "updated_at": ts("2024-02-05 00:00:00"),
}
C2 = claim(
    "C2",
    "M1",
    "PR1",
    "2024-01-20",
    original_claim_id="C1",
    frequency_code="7",
    received_date=d("2024-02-20"),
    adjudicated_date=d("2024-03-01"),
    paid_date=d("2024-03-02"),
    claim_status="PAID",
    total_billed=money("200.00"),
    total_allowed=money("110.00"),
    total_paid=money("100.10"),
    diagnosis_codes=dx({"seq": 1, "code": "E119", "poa": "Y"}),
    updated_at=ts("2024-03-02 00:00:00"),
)
C3 = claim(
    "C3",
    "M2",
    "PR2",
    "2024-01-05",
    claim_form_type="I",
    bill_type_code="0111",
    statement_thru_date=d("2024-01-07"),
    received_date=d("2024-01-08"),
    adjudicated_date=d("2024-01-20"),
    paid_date=d("2024-01-25"),
    claim_status="PAID",
    total_billed=money("500.00"),
    total_allowed=money("60.00"),
    total_paid=money("50.00"),
    diagnosis_codes=dx({"seq": 1, "code": "A099", "poa": "Y"}),
    updated_at=ts("2024-01-10 00:00:00"),
)
C4_VOID = C3 | {
    "claim_id": "C4",
    "original_claim_id": "C3",
    "frequency_code": "8",
    "bill_type_code": "0118",
    "received_date": d("2024-01-30"),
    "adjudicated_date": d("2024-02-01"),
    "paid_date": None,
    "claim_status": "VOID",
    "total_allowed": money("0.00"),
    "total_paid": money("0.00"),
    "updated_at": ts("2024-02-01 00:00:00"),
}
C5 = claim(
    "C5",
    "M4",
    "PR1",
    "2024-02-15",
    received_date=d("2024-02-18"),
    adjudicated_date=d("2024-02-20"),
    paid_date=d("2024-02-20"),
    claim_status="PAID",
    total_billed=money("50.00"),
    total_allowed=money("40.00"),
    total_paid=money("30.00"),
    diagnosis_codes="[]",
    updated_at=ts("2024-02-21 00:00:00"),
)
C6 = claim(
    "C6",
    "M1",
    "PR1",
    "2024-02-20",
    claim_status="PENDED",
    total_billed=money("80.00"),
    updated_at=ts("2024-02-25 00:00:00"),
)
C7 = claim("C7", "M2", "PR2", "2024-02-01", diagnosis_codes=dx({"seq": 1, "code": "R51"}))
C8 = claim(
    "C8",
    "M1",
    "PR1",
    "2024-02-10",
    received_date=d("2024-03-01"),
    adjudicated_date=d("2024-03-09"),
    paid_date=d("2024-03-10"),
    claim_status="PAID",
    total_billed=money("15.00"),
    total_allowed=money("12.00"),
    total_paid=money("10.00"),
    diagnosis_codes=dx({"seq": 1, "code": "Z0000", "poa": "U"}),
    updated_at=ts("2024-03-10 00:00:00"),
)
C9 = claim(
    "C9",
    "M6",
    "PR1",
    "2024-01-03",
    received_date=d("2024-02-01"),
    adjudicated_date=d("2024-03-04"),
    paid_date=d("2024-03-05"),
    claim_status="PARTIAL",
    total_billed=money("40.00"),
    total_allowed=money("25.00"),
    total_paid=money("20.00"),
    diagnosis_codes=dx(
        {"seq": 1, "code": "M545", "poa": "Y"},
        {"seq": 3, "code": "G8929"},
        {"seq": 2, "code": "M5416", "poa": "N"},
    ),
    updated_at=ts("2024-03-05 00:00:00"),
)

L_C1_1_PENDED = line(
    "C1", 1, "2024-01-20", billed_amt=money("200.00"), adjustments=adj(("CO", "45", "20.00"))
)
L_C1_1_PAID = L_C1_1_PENDED | {
    "modifier_1": "25",
    "allowed_amt": money("120.00"),
    "paid_amt": money("100.00"),
    "deductible_amt": money("0.00"),
    "copay_amt": money("20.00"),
    "coinsurance_amt": money("0.00"),
    "line_status": "PAID",
    "adjustments": adj(("CO", "45", "80.00"), ("PR", "3", "20.00")),
    "updated_at": ts("2024-02-05 00:00:00"),
}
L_C1_2 = line("C1", 2, "2024-01-20", procedure_code="36415", billed_amt=money("0.00"))
L_C2_1 = line(
    "C2",
    1,
    "2024-01-20",
    modifier_1="25",
    modifier_2="GT",
    units=2,
    billed_amt=money("200.00"),
    allowed_amt=money("110.00"),
    paid_amt=money("100.10"),
    deductible_amt=money("9.90"),
    copay_amt=money("0.00"),
    coinsurance_amt=money("0.00"),
    line_status="PAID",
    adjustments=adj(("CO", "45", "90.00")),
    updated_at=ts("2024-03-02 00:00:00"),
)
L_C3_1 = line(
    "C3",
    1,
    "2024-01-05",
    procedure_code="99284",
    revenue_code="0450",
    place_of_service="23",
    rendering_provider_id="PR2",
    billed_amt=money("500.00"),
    allowed_amt=money("60.00"),
    paid_amt=money("50.00"),
    deductible_amt=money("10.00"),
    copay_amt=money("0.00"),
    coinsurance_amt=money("0.00"),
    line_status="PAID",
    adjustments="[]",
)


def build_silver() -> tuple[Silver, dict[str, str]]:
    """All silver changes; returns the silver builder and the _change_id of named changes."""
    s = Silver()
    ids: dict[str, str] = {}

    # PLAN: CDC files carry AR_H_CHANGE_SEQ. P2's two updates: seq order (HMO, then ASO) is the
    # reverse of timestamp order; the current row follows seq. P3 is deleted (key only).
    for row, values in enumerate((P1, P2, P3), start=1):
        s.change("plan", "I", FULL_LOAD_AT, FULL_LOAD, row, values)
    s.change(
        "plan", "U", "2024-02-01 11:00:00", "20240201-110000000.csv", 1, P2_ASO, change_seq=seq(200)
    )
    s.change(
        "plan", "U", "2024-02-01 12:00:00", "20240201-120000000.csv", 1, P2_HMO, change_seq=seq(150)
    )
    s.change(
        "plan",
        "U",
        "2024-02-10 10:00:00",
        "20240210-100000000.csv",
        1,
        P1_RENAMED,
        change_seq=seq(300),
    )
    s.change(
        "plan",
        "D",
        "2024-02-20 00:00:00",
        "20240220-000000000.csv",
        1,
        {"plan_id": "P3"},
        change_seq=seq(400),
    )

    # MEMBER (no change sequence).
    for row, values in enumerate((M2_AUSTIN, M3_FIRST, M4_DUNN, M5, M6), start=1):
        ids[f"{values['member_id']}_load"] = s.change(
            "member", "I", FULL_LOAD_AT, FULL_LOAD, row, values
        )["_change_id"]
    # M1 in one file: insert, update, no-op update, key-only delete, re-insert.
    m1_file = "2024/01/15/20240115-080000000.csv"
    ids["M1_insert"] = s.change("member", "I", "2024-01-15 08:00:00", m1_file, 1, M1_BOSTON)[
        "_change_id"
    ]
    ids["M1_update"] = s.change("member", "U", "2024-01-20 09:00:00", m1_file, 2, M1_CAMBRIDGE)[
        "_change_id"
    ]
    s.change("member", "U", "2024-01-25 10:00:00", m1_file, 3, M1_NOOP)
    s.change("member", "D", "2024-02-01 00:00:00", m1_file, 4, {"member_id": "M1"})
    ids["M1_reinsert"] = s.change("member", "I", "2024-02-05 00:00:00", m1_file, 5, M1_SOMERVILLE)[
        "_change_id"
    ]
    # The update delivered again, in a second file of a later batch: one change.
    dup = s.change(
        "member",
        "U",
        "2024-01-20 09:00:00",
        "20240120-090000000.csv",
        1,
        M1_CAMBRIDGE,
        batch="batch-2",
    )
    assert dup["_change_id"] == ids["M1_update"]
    # M2: two updates at one timestamp in one file: row order decides.
    ids["M2_row1"] = s.change(
        "member", "U", "2024-02-10 12:00:00", "20240210-120000000.csv", 1, M2_ROUND_ROCK
    )["_change_id"]
    ids["M2_row2"] = s.change(
        "member", "U", "2024-02-10 12:00:00", "20240210-120000000.csv", 2, M2_NEW_PHONE
    )["_change_id"]
    # M3: two updates at one timestamp in two files, delivered in reverse: file name decides.
    ids["M3_c"] = s.change(
        "member", "U", "2024-03-01 09:00:00", "20240301-090000000.csv", 1, M3_EMAIL_C
    )["_change_id"]
    ids["M3_b"] = s.change(
        "member", "U", "2024-03-01 09:00:00", "20240301-085959999.csv", 1, M3_EMAIL_B
    )["_change_id"]
    # M4: a CDC update at the full load's own timestamp, in a file whose name sorts before
    # LOAD…: the full-load row still comes first.
    ids["M4_cdc"] = s.change("member", "U", FULL_LOAD_AT, "20231231-235959000.csv", 1, M4_DUNNE)[
        "_change_id"
    ]

    # PROVIDER: CDC with change sequence. PR1's two updates share a timestamp and their file
    # names sort against seq order: seq decides (OUT first, then Jane). Then a no-op update.
    ids["PR1_load"] = s.change("provider", "I", FULL_LOAD_AT, FULL_LOAD, 1, PR1_START)["_change_id"]
    ids["PR2_load"] = s.change("provider", "I", FULL_LOAD_AT, FULL_LOAD, 2, PR2)["_change_id"]
    ids["PR1_jane"] = s.change(
        "provider",
        "U",
        "2024-01-10 10:00:00",
        "20240110-100000000.csv",
        1,
        PR1_JANE,
        change_seq=seq(11),
    )["_change_id"]
    ids["PR1_out"] = s.change(
        "provider",
        "U",
        "2024-01-10 10:00:00",
        "20240110-100000500.csv",
        1,
        PR1_OUT,
        change_seq=seq(10),
    )["_change_id"]
    s.change(
        "provider",
        "U",
        "2024-01-15 00:00:00",
        "20240115-000000000.csv",
        1,
        PR1_NOOP,
        change_seq=seq(12),
    )
    # PR2 deleted with its full before-image.
    s.change(
        "provider", "D", "2024-02-15 00:00:00", "20240215-000000000.csv", 1, PR2, change_seq=seq(20)
    )

    # ENROLLMENT (no change sequence).
    enrollments = (
        enrollment("E1", "M1", "P1", "2024-01-15", "2024-02-10"),
        enrollment("E2", "M1", "P2", "2024-02-11", None),
        enrollment("E3", "M2", "P1", "2024-01-01", "2024-03-31"),
        enrollment("E5", "M3", "P1", "2023-12-15", "2024-01-31"),
        enrollment("E6", "M4", "P1", "2024-03-01", "2024-03-31"),
        enrollment("E7", "M4", "P2", "2024-03-01", None),
        enrollment("E8", "M5", "P1", "2024-01-16", "2024-01-31"),
        enrollment("E9", "M5", "P2", "2024-01-01", "2024-01-16"),
        enrollment("E10", "M6", "P1", "2023-11-01", "2024-01-05"),
    )
    for row, values in enumerate(enrollments, start=1):
        s.change("enrollment", "I", FULL_LOAD_AT, FULL_LOAD, row, values)
    # E3 shortened by a CDC update at the full load's timestamp (full load first, so it wins).
    s.change(
        "enrollment",
        "U",
        FULL_LOAD_AT,
        "20231231-235959000.csv",
        1,
        enrollment("E3", "M2", "P1", "2024-01-01", "2024-01-31"),
    )
    s.change(
        "enrollment",
        "D",
        "2024-02-01 00:00:00",
        "20240201-000000000.csv",
        1,
        {"enrollment_id": "E5"},
    )
    s.change(
        "enrollment",
        "I",
        "2024-03-01 00:00:00",
        "20240301-000000000.csv",
        1,
        enrollment("E4", "M2", "P3", "2024-03-01", None),
    )

    # CLAIM and CLAIM_LINE (no change sequence).
    s.change("claim", "I", "2024-01-10 00:00:00", "20240110-000000000.csv", 1, C3)
    s.change("claim_line", "I", "2024-01-10 00:00:00", "20240110-000000000.csv", 1, L_C3_1)
    s.change("claim", "I", "2024-01-25 00:00:00", "20240125-000000000.csv", 1, C1_RECEIVED)
    s.change("claim_line", "I", "2024-01-25 00:00:00", "20240125-000000000.csv", 1, L_C1_1_PENDED)
    s.change("claim_line", "I", "2024-01-25 00:00:00", "20240125-000000000.csv", 2, L_C1_2)
    s.change("claim", "I", "2024-02-01 00:00:00", "20240201-000000000.csv", 1, C4_VOID)
    s.change("claim", "U", "2024-02-05 00:00:00", "20240205-000000000.csv", 1, C1_PAID)
    s.change("claim_line", "U", "2024-02-05 00:00:00", "20240205-000000000.csv", 1, L_C1_1_PAID)
    s.change(
        "claim_line",
        "D",
        "2024-02-05 00:00:00",
        "20240205-000000000.csv",
        2,
        {"claim_id": "C1", "line_number": 2},
    )
    s.change("claim", "I", "2024-02-21 00:00:00", "20240221-000000000.csv", 1, C5)
    s.change("claim", "I", "2024-02-25 00:00:00", "20240225-000000000.csv", 1, C6)
    s.change("claim", "I", "2024-02-26 00:00:00", "20240226-000000000.csv", 1, C7)
    # C2 replaces C1; its file lands twice under two names (child rows twice too).
    for name, batch in (
        ("20240302-000000000.csv", "batch-1"),
        ("20240302-000000000-1.csv", "batch-2"),
    ):
        s.change("claim", "I", "2024-03-02 00:00:00", name, 1, C2, batch=batch)
        s.change("claim_line", "I", "2024-03-02 00:00:00", name, 1, L_C2_1, batch=batch)
    s.change("claim", "I", "2024-03-05 00:00:00", "20240305-000000000.csv", 1, C9)
    s.change("claim", "I", "2024-03-10 00:00:00", "20240310-000000000.csv", 1, C8)
    # The latest DMS_TIMESTAMP of all: valuation month 2024-03.
    s.change("claim", "D", "2024-03-15 00:00:00", "20240315-000000000.csv", 1, {"claim_id": "C7"})
    return s, ids
