"""Hand-worked scenarios for the reference model of gold, and for the gold comparison helpers."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY, tokenize
from claims_platform_tests.support.gold_compare import (
    assert_surrogate_keys,
    diff_gold,
    read_gold,
)
from claims_platform_tests.support.reference_model import GOLD_TABLES, expected_gold, load_truth

D = Decimal


def ev(op, ts, values, *, file="CLAIMS/X/20240101-000000000.csv", row=1, seq=None):
    if len(ts) == 19:
        ts += ".000000"
    return {
        "op": op,
        "dms_timestamp": ts,
        "change_seq": None if seq is None else f"{seq:035d}",
        "file": file,
        "row": row,
        "values": values,
    }


def cdc(table, stamp):
    return f"CLAIMS/{table}/{stamp}.csv"


def plan(plan_id, name="Gold PPO", lob="COMMERCIAL"):
    return {
        "PLAN_ID": plan_id,
        "PLAN_NAME": name,
        "LINE_OF_BUSINESS": lob,
        "PRODUCT_TYPE": "PPO",
        "FUNDING_TYPE": "ASO",
        "UPDATED_AT": "2024-01-01 00:00:00.000000",
    }


def member(member_id, city="Springfield", updated_at="2024-01-01 07:00:00.000000"):
    return {
        "MEMBER_ID": member_id,
        "SUBSCRIBER_ID": member_id,
        "RELATIONSHIP_CODE": "18",
        "FIRST_NAME": "Ann",
        "LAST_NAME": "Lee",
        "BIRTH_DATE": "1980-02-03",
        "GENDER": "F",
        "SSN": "123456789",
        "ADDRESS_LINE1": "1 Main St",
        "CITY": city,
        "STATE": "IL",
        "ZIP5": "62701",
        "PHONE": "5555550100",
        "EMAIL": "ann@example.com",
        "UPDATED_AT": updated_at,
    }


def member_row(member_id, city, updated_at, valid_from, valid_to):
    return {
        "member_id": member_id,
        "subscriber_id": member_id,
        "relationship_code": "18",
        "first_name": "Ann",
        "last_name": "Lee",
        "birth_date": date(1980, 2, 3),
        "gender": "F",
        "ssn_token": tokenize("123456789", LOCAL_DEVELOPMENT_KEY),
        "address_line1": "1 Main St",
        "city": city,
        "state": "IL",
        "zip5": "62701",
        "phone": "5555550100",
        "email": "ann@example.com",
        "updated_at": updated_at,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "is_current": valid_to is None,
    }


def provider(provider_id, name="Clinic"):
    return {
        "PROVIDER_ID": provider_id,
        "NPI": "1234567893",
        "ENTITY_TYPE_CODE": "2",
        "PROVIDER_NAME": name,
        "TAXONOMY_CODE": "207Q00000X",
        "STATE": "IL",
        "ZIP5": "62701",
        "NETWORK_STATUS": "IN",
        "UPDATED_AT": "2024-01-01 00:00:00.000000",
    }


def enrollment(enrollment_id, member_id, plan_id, effective, termination):
    return {
        "ENROLLMENT_ID": enrollment_id,
        "MEMBER_ID": member_id,
        "PLAN_ID": plan_id,
        "EFFECTIVE_DATE": effective,
        "TERMINATION_DATE": termination,
        "UPDATED_AT": "2024-01-01 00:00:00.000000",
    }


def claim(
    claim_id,
    member_id="M1",
    *,
    frequency="1",
    original=None,
    status="PAID",
    from_date="2024-03-01",
    paid_date=None,
    paid="10.00",
    allowed="12.00",
    dx=None,
):
    return {
        "CLAIM_ID": claim_id,
        "ORIGINAL_CLAIM_ID": original,
        "FREQUENCY_CODE": frequency,
        "CLAIM_FORM_TYPE": "P",
        "MEMBER_ID": member_id,
        "BILLING_PROVIDER_ID": "P1",
        "BILL_TYPE_CODE": None,
        "STATEMENT_FROM_DATE": from_date,
        "STATEMENT_THRU_DATE": from_date,
        "RECEIVED_DATE": "2024-03-05",
        "ADJUDICATED_DATE": "2024-03-10",
        "PAID_DATE": paid_date,
        "CLAIM_STATUS": status,
        "TOTAL_BILLED": "20.00",
        "TOTAL_ALLOWED": allowed,
        "TOTAL_PAID": paid,
        "DIAGNOSIS_CODES": dx,
        "UPDATED_AT": "2024-03-10 12:00:00.000000",
    }


def key_only(**key):
    return key


def gold(**events):
    return expected_gold(events)


def plan_names(result):
    return {row["plan_id"]: row["plan_name"] for row in result["dim_plan"]}


# ------------------------------------------------------------------------------------------
# Change order, duplicates, SCD2
# ------------------------------------------------------------------------------------------


def test_every_gold_table_is_returned_even_without_events():
    result = expected_gold({})
    assert set(result) == set(GOLD_TABLES)
    assert all(rows == [] for rows in result.values())


def test_scd2_insert_update_noop_update_delete_reinsert():
    f = "CLAIMS/MEMBER"
    events = [
        ev(
            "D",
            "2024-04-01 10:00:00",
            member("M1", "Shelbyville", "2024-03-01 09:00:00"),
            file=f"{f}/20240401-100000000.csv",
        ),
        ev(
            "U",
            "2024-03-01 10:00:00",
            member("M1", "Shelbyville", "2024-03-01 09:00:00"),
            file=f"{f}/20240301-100000000.csv",
        ),
        ev("I", "2024-01-01 08:00:00", member("M1"), file=f"{f}/LOAD00000001.csv"),
        ev(
            "I",
            "2024-05-01 10:00:00",
            member("M1", "Ogdenville", "2024-05-01 09:00:00"),
            file=f"{f}/20240501-100000000.csv",
        ),
        ev(
            "U",
            "2024-02-01 10:00:00",
            member("M1", "Shelbyville", "2024-02-01 09:59:00"),
            file=f"{f}/20240201-100000000.csv",
        ),
    ]
    result = gold(MEMBER=events)
    assert result["dim_member"] == [
        member_row(
            "M1",
            "Springfield",
            datetime(2024, 1, 1, 7),
            datetime(2024, 1, 1, 8),
            datetime(2024, 2, 1, 10),
        ),
        # The no-op update of 2024-03-01 opens nothing: the version keeps its UPDATED_AT.
        member_row(
            "M1",
            "Shelbyville",
            datetime(2024, 2, 1, 9, 59),
            datetime(2024, 2, 1, 10),
            datetime(2024, 4, 1, 10),
        ),
        member_row("M1", "Ogdenville", datetime(2024, 5, 1, 9), datetime(2024, 5, 1, 10), None),
    ]
    assert "ssn" not in result["dim_member"][0]


def test_key_only_delete_closes_the_version_and_keeps_its_values():
    events = {
        "PROVIDER": [
            ev("I", "2024-01-02 00:00:00", provider("P1"), file="CLAIMS/PROVIDER/LOAD00000001.csv"),
            ev(
                "D",
                "2024-02-02 00:00:00",
                key_only(PROVIDER_ID="P1"),
                file="CLAIMS/PROVIDER/20240202-000000000.csv",
            ),
        ],
        "PLAN": [
            ev("I", "2024-01-02 00:00:00", plan("PL1"), file="CLAIMS/PLAN/LOAD00000001.csv"),
            ev("I", "2024-01-02 00:00:00", plan("PL2"), file="CLAIMS/PLAN/LOAD00000001.csv", row=2),
            ev(
                "D",
                "2024-02-02 00:00:00",
                key_only(PLAN_ID="PL1"),
                file="CLAIMS/PLAN/20240202-000000000.csv",
            ),
        ],
        "CLAIM": [
            ev("I", "2024-01-03 00:00:00", claim("C1", dx='[{"seq":1,"code":"E119","poa":"Y"}]')),
            ev(
                "D",
                "2024-01-04 00:00:00",
                key_only(CLAIM_ID="C1"),
                file="CLAIMS/CLAIM/20240104-000000000.csv",
            ),
        ],
    }
    result = expected_gold(events)
    assert result["dim_provider"] == [
        {
            "provider_id": "P1",
            "npi": "1234567893",
            "entity_type_code": "2",
            "provider_name": "Clinic",
            "taxonomy_code": "207Q00000X",
            "state": "IL",
            "zip5": "62701",
            "network_status": "IN",
            "updated_at": datetime(2024, 1, 1),
            "valid_from": datetime(2024, 1, 2),
            "valid_to": datetime(2024, 2, 2),
            "is_current": False,
        }
    ]
    assert result["dim_plan"] == [
        {
            "plan_id": "PL2",
            "plan_name": "Gold PPO",
            "line_of_business": "COMMERCIAL",
            "product_type": "PPO",
            "funding_type": "ASO",
            "updated_at": datetime(2024, 1, 1),
        }
    ]
    assert result["fct_claim"] == []
    assert result["fct_claim_diagnosis"] == []


def test_duplicates_across_files_count_once():
    # Insert, delete and the same insert delivered again under another name, all at one instant:
    # counted twice the key would be re-inserted; counted once it stays deleted.
    first = "CLAIMS/{}/20240110-120000000.csv"
    again = "CLAIMS/{}/2024/01/10/20240110-120000500.csv"
    ts = "2024-01-10 12:00:00"
    result = expected_gold(
        {
            "PLAN": [
                ev("I", ts, plan("PL1"), file=again.format("PLAN"), row=1),
                ev("D", ts, plan("PL1"), file=first.format("PLAN"), row=2),
                ev("I", ts, plan("PL1"), file=first.format("PLAN"), row=1),
            ],
            "MEMBER": [
                ev("I", ts, member("M1"), file=first.format("MEMBER"), row=1),
                ev("D", ts, key_only(MEMBER_ID="M1"), file=first.format("MEMBER"), row=2),
                ev("I", ts, member("M1"), file=again.format("MEMBER"), row=7),
            ],
        }
    )
    assert result["dim_plan"] == []
    stamp = datetime(2024, 1, 10, 12)
    assert result["dim_member"] == [
        member_row("M1", "Springfield", datetime(2024, 1, 1, 7), stamp, stamp)
    ]
    assert result["dim_member"][0]["is_current"] is False


def test_duplicate_detection_compares_typed_values():
    ts = "2024-01-10 12:00:00"
    c1 = claim("C1", paid="12.30")
    c1_again = {**c1, "TOTAL_PAID": "12.3"}
    result = gold(
        CLAIM=[
            ev("I", ts, c1, file="CLAIMS/CLAIM/20240110-120000000.csv", row=1),
            ev("D", ts, c1, file="CLAIMS/CLAIM/20240110-120000000.csv", row=2),
            ev("I", ts, c1_again, file="CLAIMS/CLAIM/20240110-130000000.csv", row=1),
        ]
    )
    assert result["fct_claim"] == []


def test_same_timestamp_orders_by_file_base_name_then_row():
    ts = "2024-01-02 10:15:00.123000"
    early = "CLAIMS/PLAN/20240102-101500111.csv"
    # In a date folder: by full path it would sort first, by base name it sorts last.
    late = "CLAIMS/PLAN/2024/01/02/20240102-101500999.csv"
    events = [
        ev("U", ts, plan("PL1", "B1"), file=late, row=1),
        ev("U", ts, plan("PL1", "A2"), file=early, row=2),
        ev("U", ts, plan("PL1", "A1"), file=early, row=1),
        ev("U", ts, plan("PL2", "X2"), file=early, row=4),
        ev("U", ts, plan("PL2", "X1"), file=early, row=3),
    ]
    assert plan_names(gold(PLAN=events)) == {"PL1": "B1", "PL2": "X2"}


def test_change_seq_orders_before_timestamp():
    f = "CLAIMS/PLAN/20240102-000000000.csv"
    events = [
        ev("U", "2024-01-02 10:00:00", plan("PL1", "second"), file=f, row=1, seq=2),
        ev("U", "2024-01-02 11:00:00", plan("PL1", "first"), file=f, row=2, seq=1),
    ]
    assert plan_names(gold(PLAN=events)) == {"PL1": "second"}


def test_full_load_rows_come_first():
    load = "CLAIMS/PLAN/LOAD00000001.csv"
    with_seq = [
        # The full load ran after the change's commit time, but full-load rows come first.
        ev("I", "2024-01-05 00:00:00", plan("PL1", "load"), file=load),
        ev(
            "U",
            "2024-01-04 00:00:00",
            plan("PL1", "cdc"),
            file=cdc("PLAN", "20240104-000000000"),
            seq=1,
        ),
    ]
    ts = "2024-01-05 00:00:00"
    without_seq = [
        # "20240105-…" sorts before "LOAD…" by name: the full-load rule must win.
        ev("U", ts, plan("PL2", "cdc"), file=cdc("PLAN", "20240105-000000000")),
        ev("I", ts, plan("PL2", "load"), file=load, row=2),
        # Full-load files sort by their hex counter: LOAD0000000A after LOAD00000009.
        ev("I", ts, plan("PL3", "A"), file="CLAIMS/PLAN/LOAD0000000A.csv"),
        ev("I", ts, plan("PL3", "9"), file="CLAIMS/PLAN/LOAD00000009.csv"),
    ]
    assert plan_names(gold(PLAN=with_seq + without_seq)) == {"PL1": "cdc", "PL2": "cdc", "PL3": "A"}


def test_update_without_insert_and_full_load_without_op():
    events = [
        ev(
            "U",
            "2024-01-05 00:00:00",
            plan("PL1", "only update"),
            file=cdc("PLAN", "20240105-000000000"),
        ),
        {
            **ev(
                "I",
                "2024-01-01 00:00:00",
                plan("PL2", "no op column"),
                file="CLAIMS/PLAN/LOAD00000001.csv",
            ),
            "op": None,
        },
    ]
    assert plan_names(gold(PLAN=events)) == {"PL1": "only update", "PL2": "no op column"}


# ------------------------------------------------------------------------------------------
# Arrival order never matters
# ------------------------------------------------------------------------------------------

_FILES = (
    "LOAD00000001.csv",
    "LOAD0000000A.parquet",
    "20240101-000000000.csv",
    "2024/01/01/20240101-000000500.csv.gz",
    "20240102-000000000.parquet",
)
_STAMPS = (
    "2024-01-01 00:00:00",
    "2024-01-01 00:00:00.5",
    "2024-02-03 04:05:06",
    "2024-03-31 23:59:59",
)


@st.composite
def _event_lists(draw):
    events: dict[str, list[dict]] = {"PLAN": [], "MEMBER": [], "ENROLLMENT": [], "CLAIM": []}
    use_seq = draw(st.booleans())
    row = 0
    flat = []
    for _ in range(draw(st.integers(1, 30))):
        table = draw(st.sampled_from(sorted(events)))
        key = draw(st.sampled_from(["1", "2", "3"]))
        op = draw(st.sampled_from("IUD"))
        variant = draw(st.sampled_from(["A", "B"]))
        if table == "PLAN":
            values = plan("PL" + key, lob=draw(st.sampled_from(["COMMERCIAL", "MEDICAID"])))
        elif table == "MEMBER":
            values = member("M" + key, city=variant, updated_at=draw(st.sampled_from(_STAMPS)))
        elif table == "ENROLLMENT":
            start = draw(st.dates(date(2023, 11, 1), date(2024, 3, 31)))
            end = draw(st.one_of(st.none(), st.dates(date(2023, 10, 1), date(2024, 4, 30))))
            values = enrollment(
                "E" + key,
                draw(st.sampled_from(["M1", "M2"])),
                "PL" + draw(st.sampled_from("12")),
                start.isoformat(),
                None if end is None else end.isoformat(),
            )
        else:
            values = claim(
                "C" + key,
                draw(st.sampled_from(["M1", "M2"])),
                frequency=draw(st.sampled_from("178")),
                original="C" + draw(st.sampled_from("123")),
                from_date=draw(st.dates(date(2024, 1, 1), date(2024, 3, 31))).isoformat(),
                paid_date=draw(st.sampled_from([None, "2024-04-02"])),
                dx='[{"seq":2,"code":"I10","poa":"N"},{"seq":1,"code":"E119"}]',
            )
        if op == "D" and draw(st.booleans()):
            values = {f"{table}_ID": values[f"{table}_ID"]}  # key-only delete
        file = draw(st.sampled_from(_FILES))
        row += 1
        seq = None if not use_seq or file.startswith("LOAD") else draw(st.integers(1, 40))
        event = ev(
            op,
            draw(st.sampled_from(_STAMPS)),
            values,
            file=f"CLAIMS/{table}/{file}",
            row=row,
            seq=seq,
        )
        events[table].append(event)
        flat.append((table, event))
    for table, event in draw(st.lists(st.sampled_from(flat), max_size=5)):
        row += 1
        again = f"CLAIMS/{table}/2024/05/05/{draw(st.sampled_from(_FILES))}"
        events[table].append({**event, "file": again, "row": row})
    return events


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_result_does_not_depend_on_arrival_order(data):
    events = data.draw(_event_lists())
    shuffled = {table: data.draw(st.permutations(evs)) for table, evs in events.items()}
    assert expected_gold(shuffled) == expected_gold(events)


# ------------------------------------------------------------------------------------------
# Claims
# ------------------------------------------------------------------------------------------


def test_final_action_of_replacements_and_voids():
    ts = "2024-03-20 00:00:00"
    claims = [
        claim("C1"),
        claim("C2", frequency="7", original="C1"),
        claim("C3"),
        claim("C4", frequency="8", original="C3", status="VOID"),
        claim("C5", status="VOID"),
        claim("C6"),
        claim("C7", frequency="7", original="C6"),
        claim("C8"),
        claim("C9", frequency="7", original="C99"),
        claim("C10", frequency="8", original="C10x"),
        claim("C11", frequency="7", original="C11"),
    ]
    events = [ev("I", ts, c, row=i) for i, c in enumerate(claims, start=1)]
    events.append(ev("D", "2024-03-21 00:00:00", key_only(CLAIM_ID="C7"), row=99))
    result = gold(CLAIM=events)
    flags = {row["claim_id"]: row["is_final_action"] for row in result["fct_claim"]}
    assert flags == {
        "C1": False,  # replaced by C2
        "C2": True,
        "C3": False,  # voided by C4
        "C4": False,  # a void
        "C5": False,  # status VOID
        "C6": True,  # its replacement C7 was deleted
        "C8": True,
        "C9": True,  # replaces a claim we do not have
        "C10": False,  # frequency 8
        "C11": True,  # names itself: not "another" claim
    }


def test_claim_columns_diagnoses_lines_and_adjustments():
    dx = (
        '[{"seq":2,"code":"I10","poa":"N"},{"seq":1,"code":"E119","poa":"Y"},'
        '{"seq":3,"code":"Z79"}]'
    )
    line = {
        "CLAIM_ID": "C1",
        "LINE_NUMBER": 1,
        "SERVICE_FROM_DATE": "2024-03-01",
        "SERVICE_THRU_DATE": "2024-03-01",
        "PROCEDURE_CODE": "99213",
        "MODIFIER_1": "25",
        "MODIFIER_2": None,
        "REVENUE_CODE": None,
        "PLACE_OF_SERVICE": "11",
        "UNITS": 1,
        "RENDERING_PROVIDER_ID": "P1",
        "BILLED_AMT": "20.00",
        "ALLOWED_AMT": "12.00",
        "PAID_AMT": "10.00",
        "DEDUCTIBLE_AMT": "0.00",
        "COPAY_AMT": "2.00",
        "COINSURANCE_AMT": "0.00",
        "LINE_STATUS": "PAID",
        "ADJUSTMENTS": (
            '[{"group":"CO","carc":"45","amount":8.00},{"group":"PR","carc":"3","amount":2}]'
        ),
        "UPDATED_AT": "2024-03-10 12:00:00.000000",
    }
    line2 = {**line, "LINE_NUMBER": 2, "ADJUSTMENTS": None}
    line3 = {**line, "LINE_NUMBER": 3}
    lf = "CLAIMS/CLAIM_LINE/20240320-000000000.csv"
    result = expected_gold(
        {
            "CLAIM": [
                ev("I", "2024-03-20 00:00:00", claim("C1", dx=dx, paid_date="2024-03-15")),
                ev("I", "2024-03-20 00:00:00", claim("C2", dx="[]"), row=2),
            ],
            "CLAIM_LINE": [
                ev("I", "2024-03-20 00:00:00", line, file=lf, row=1),
                ev("I", "2024-03-20 00:00:00", line2, file=lf, row=2),
                ev("I", "2024-03-20 00:00:00", line3, file=lf, row=3),
                ev(
                    "D",
                    "2024-03-21 00:00:00",
                    key_only(CLAIM_ID="C1", LINE_NUMBER=3),
                    file=cdc("CLAIM_LINE", "20240321-000000000"),
                ),
            ],
        }
    )
    assert result["fct_claim"][0] == {
        "claim_id": "C1",
        "original_claim_id": None,
        "frequency_code": "1",
        "claim_form_type": "P",
        "member_id": "M1",
        "billing_provider_id": "P1",
        "bill_type_code": None,
        "statement_from_date": date(2024, 3, 1),
        "statement_thru_date": date(2024, 3, 1),
        "received_date": date(2024, 3, 5),
        "adjudicated_date": date(2024, 3, 10),
        "paid_date": date(2024, 3, 15),
        "claim_status": "PAID",
        "total_billed": D("20.00"),
        "total_allowed": D("12.00"),
        "total_paid": D("10.00"),
        "updated_at": datetime(2024, 3, 10, 12),
        "primary_dx_code": "E119",
        "is_final_action": True,
    }
    assert result["fct_claim"][1]["primary_dx_code"] is None
    assert result["fct_claim_diagnosis"] == [
        {"claim_id": "C1", "dx_seq": 1, "dx_code": "E119", "poa": "Y"},
        {"claim_id": "C1", "dx_seq": 2, "dx_code": "I10", "poa": "N"},
        {"claim_id": "C1", "dx_seq": 3, "dx_code": "Z79", "poa": None},
    ]
    assert [row["line_number"] for row in result["fct_claim_line"]] == [1, 2]
    assert result["fct_claim_line"][0] == {
        "claim_id": "C1",
        "line_number": 1,
        "service_from_date": date(2024, 3, 1),
        "service_thru_date": date(2024, 3, 1),
        "procedure_code": "99213",
        "modifier_1": "25",
        "modifier_2": None,
        "revenue_code": None,
        "place_of_service": "11",
        "units": 1,
        "rendering_provider_id": "P1",
        "billed_amt": D("20.00"),
        "allowed_amt": D("12.00"),
        "paid_amt": D("10.00"),
        "deductible_amt": D("0.00"),
        "copay_amt": D("2.00"),
        "coinsurance_amt": D("0.00"),
        "line_status": "PAID",
        "updated_at": datetime(2024, 3, 10, 12),
    }
    assert result["fct_claim_line_adjustment"] == [
        {
            "claim_id": "C1",
            "line_number": 1,
            "adj_seq": 1,
            "group_code": "CO",
            "carc_code": "45",
            "amount": D("8.00"),
        },
        {
            "claim_id": "C1",
            "line_number": 1,
            "adj_seq": 2,
            "group_code": "PR",
            "carc_code": "3",
            "amount": D("2.00"),
        },
    ]
    assert str(result["fct_claim_line_adjustment"][1]["amount"]) == "2.00"


# ------------------------------------------------------------------------------------------
# Member months, PMPM, claim lag: one payer scenario, worked by hand
# ------------------------------------------------------------------------------------------

ENROLLED = "2024-05-20 12:00:00"  # the latest DMS_TIMESTAMP: valuation month May 2024


@pytest.fixture(scope="module")
def payer():
    ef = "CLAIMS/ENROLLMENT/20240520-120000000.csv"
    enrollments = [
        enrollment("E1", "M1", "PL1", "2024-01-15", "2024-03-15"),
        enrollment("E2", "M1", "PL2", "2024-03-10", None),  # open: runs through May
        enrollment("E21", "M2", "PL1", "2024-01-01", "2024-04-30"),
        enrollment(
            "E20", "M2", "PL2", "2024-04-01", "2024-04-30"
        ),  # April tie: later effective wins
        enrollment("E31", "M3", "PL1", "2024-02-01", "2024-02-29"),
        enrollment("E32", "M3", "PL2", "2024-02-01", "2024-02-29"),  # tie: higher id
        enrollment("E41", "M4", "PL1", "2024-03-10", "2024-03-01"),  # ends before it starts
        enrollment("E42", "M4", "PL1", "2024-01-01", "2024-12-31"),  # deleted below
        enrollment("E51", "M5", "PL9", "2024-05-01", None),  # plan PL9 does not exist
        enrollment("E52", "M5", "PL1", "2024-06-01", None),  # starts after the valuation month
    ]
    claims = [
        claim(
            "CL1",
            "M1",
            from_date="2024-03-12",
            paid="100.00",
            allowed="150.00",
            paid_date="2024-03-30",
        ),
        claim(
            "CL2",
            "M1",
            from_date="2024-03-05",
            paid="10.00",
            allowed="20.00",
            paid_date="2024-05-02",
        ),
        claim(
            "CL3", "MX", from_date="2024-03-01", paid="7.50", allowed=None, paid_date="2024-04-10"
        ),
        claim("CL4", "M1", from_date="2024-04-02", paid=None, allowed="30.00"),
        claim(
            "CL5",
            "M1",
            frequency="8",
            original="CL6",
            status="VOID",
            from_date="2024-01-20",
            paid="999.00",
            allowed="999.00",
            paid_date="2024-02-01",
        ),
        claim(
            "CL6",
            "M1",
            from_date="2024-01-20",
            paid="999.00",
            allowed="999.00",
            paid_date="2024-02-01",
        ),
        claim(
            "CL7", "M5", from_date="2024-05-03", paid="20.00", allowed=None, paid_date="2024-05-25"
        ),
        claim("CL8", "M1", from_date=None, paid="5.00", paid_date="2024-04-01"),
        claim(
            "CL9", "M2", from_date="2024-04-15", paid="0.01", allowed="0.01", paid_date="2024-05-01"
        ),
        claim(
            "CL10",
            "MX",
            from_date="2023-12-20",
            paid="5.00",
            allowed="6.00",
            paid_date="2024-01-05",
        ),
        claim(
            "CL11", "MX", from_date="2023-12-21", paid=None, allowed=None, paid_date="2024-01-06"
        ),
        # Covered by the open E2, which runs through the end of the valuation month.
        claim("CL12", "M1", from_date="2024-05-31", paid="3.00", allowed="4.00"),
    ]
    events = {
        "PLAN": [
            ev(
                "I",
                "2024-01-01 00:00:00",
                plan("PL1", lob="COMMERCIAL"),
                file="CLAIMS/PLAN/LOAD00000001.csv",
                row=1,
            ),
            ev(
                "I",
                "2024-01-01 00:00:00",
                plan("PL2", lob="MEDICAID"),
                file="CLAIMS/PLAN/LOAD00000001.csv",
                row=2,
            ),
        ],
        "ENROLLMENT": [
            *(ev("I", ENROLLED, e, file=ef, row=i) for i, e in enumerate(enrollments, start=1)),
            ev("D", ENROLLED, key_only(ENROLLMENT_ID="E42"), file=ef, row=99),
        ],
        "CLAIM": [
            ev("I", "2024-05-01 00:00:00", c, file="CLAIMS/CLAIM/20240501-000000000.csv", row=i)
            for i, c in enumerate(claims, start=1)
        ],
    }
    return expected_gold(events)


def _mm(member_id, month, plan_id, lob):
    return {
        "member_id": member_id,
        "year_month": month,
        "plan_id": plan_id,
        "line_of_business": lob,
    }


def test_member_months(payer):
    jan, feb, mar, apr, may = (date(2024, m, 1) for m in range(1, 6))
    assert payer["fct_member_month"] == [
        _mm("M1", jan, "PL1", "COMMERCIAL"),
        _mm("M1", feb, "PL1", "COMMERCIAL"),
        _mm("M1", mar, "PL2", "MEDICAID"),  # E2 covers 22 days of March, E1 15
        _mm("M1", apr, "PL2", "MEDICAID"),
        _mm("M1", may, "PL2", "MEDICAID"),  # open enrollment runs through the valuation month
        _mm("M2", jan, "PL1", "COMMERCIAL"),
        _mm("M2", feb, "PL1", "COMMERCIAL"),
        _mm("M2", mar, "PL1", "COMMERCIAL"),
        _mm("M2", apr, "PL2", "MEDICAID"),
        _mm("M3", feb, "PL2", "MEDICAID"),
        _mm("M5", may, "PL9", "UNKNOWN"),
    ]


def test_valuation_month_follows_the_latest_timestamp_of_any_table():
    events = {
        "ENROLLMENT": [
            ev("I", "2024-01-10 00:00:00", enrollment("E1", "M1", "PL1", "2024-01-01", None))
        ],
        "MEMBER": [ev("U", "2024-03-02 00:00:00", member("M1"))],
    }
    months = [row["year_month"] for row in expected_gold(events)["fct_member_month"]]
    assert months == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]


def _pmpm(month, lob, member_months, paid, allowed, pmpm):
    return {
        "year_month": month,
        "line_of_business": lob,
        "member_months": member_months,
        "paid_amount": D(paid),
        "allowed_amount": D(allowed),
        "pmpm_paid": None if pmpm is None else D(pmpm),
    }


def test_pmpm(payer):
    dec = date(2023, 12, 1)
    jan, feb, mar, apr, may = (date(2024, m, 1) for m in range(1, 6))
    assert payer["mart_pmpm"] == [
        _pmpm(dec, "UNKNOWN", 0, "5.00", "6.00", None),  # CL10, CL11: no enrollment
        _pmpm(jan, "COMMERCIAL", 2, "0.00", "0.00", "0.00"),  # CL5 void, CL6 voided
        _pmpm(feb, "COMMERCIAL", 2, "0.00", "0.00", "0.00"),
        _pmpm(feb, "MEDICAID", 1, "0.00", "0.00", "0.00"),
        _pmpm(mar, "COMMERCIAL", 1, "10.00", "20.00", "10.00"),  # CL2: only E1 covers 03-05
        _pmpm(mar, "MEDICAID", 1, "100.00", "150.00", "100.00"),  # CL1: E2 wins March
        _pmpm(mar, "UNKNOWN", 0, "7.50", "0.00", None),  # CL3: member without enrollment
        _pmpm(apr, "MEDICAID", 2, "0.01", "30.01", "0.01"),  # CL4 paid NULL; 0.01/2 rounds up
        _pmpm(may, "MEDICAID", 1, "3.00", "4.00", "3.00"),  # CL12
        _pmpm(may, "UNKNOWN", 1, "20.00", "0.00", "20.00"),  # CL7: plan PL9 unknown
    ]


def test_claim_lag(payer):
    dec = date(2023, 12, 1)
    jan, mar, apr, may = (date(2024, m, 1) for m in (1, 3, 4, 5))

    def lag(incurred, paid_month, months, count, amount):
        return {
            "incurred_month": incurred,
            "paid_month": paid_month,
            "lag_months": months,
            "claim_count": count,
            "paid_amount": D(amount),
        }

    assert payer["mart_claim_lag"] == [
        lag(dec, jan, 1, 2, "5.00"),  # CL10 and CL11 (paid NULL), across the year end
        lag(mar, mar, 0, 1, "100.00"),
        lag(mar, apr, 1, 1, "7.50"),
        lag(mar, may, 2, 1, "10.00"),
        lag(apr, may, 1, 1, "0.01"),
        lag(may, may, 0, 1, "20.00"),
    ]


# ------------------------------------------------------------------------------------------
# Truth files and gold comparison
# ------------------------------------------------------------------------------------------


def test_load_truth_reads_the_simulator_format(tmp_path):
    events = [ev("I", "2024-01-01 00:00:00", plan("PL1"), file="CLAIMS/PLAN/LOAD00000001.csv")]
    (tmp_path / "PLAN.changes.jsonl").write_text(
        "\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8"
    )
    truth = load_truth(tmp_path)
    assert truth["PLAN"] == events
    assert truth["MEMBER"] == []
    assert plan_names(expected_gold(truth)) == {"PL1": "Gold PPO"}


@pytest.fixture()
def small_gold():
    f = "CLAIMS/MEMBER/20240201-000000000.csv"
    return expected_gold(
        {
            "MEMBER": [
                ev("I", "2024-01-01 00:00:00", member("M1"), file="CLAIMS/MEMBER/LOAD00000001.csv"),
                ev("U", "2024-02-01 00:00:00", member("M1", "Shelbyville"), file=f),
                ev("I", "2024-02-01 00:00:00", member("M2"), file=f, row=2),
            ],
            "PLAN": [ev("I", "2024-01-01 00:00:00", plan("PL1"))],
        }
    )


def _with_surrogate_keys(expected):
    actual = copy.deepcopy(expected)
    for i, row in enumerate(actual["dim_member"]):
        row["member_sk"] = f"sk{i}"
    return actual


def test_diff_gold_is_empty_when_equal_and_ignores_surrogate_keys(small_gold):
    actual = _with_surrogate_keys(small_gold)
    actual["dim_member"].reverse()
    assert diff_gold(small_gold, actual) == []
    assert_surrogate_keys(actual)


def test_diff_gold_reports_a_changed_value(small_gold):
    actual = _with_surrogate_keys(small_gold)
    actual["dim_member"][0]["city"] = "Capital City"
    messages = diff_gold(small_gold, actual)
    assert messages[0].startswith("dim_member: 1 expected row(s) missing, 1 unexpected row(s)")
    assert any(
        "changed row" in m and "city: expected 'Springfield', actual 'Capital City'" in m
        for m in messages
    )


def test_diff_gold_reports_missing_and_extra_rows(small_gold):
    actual = _with_surrogate_keys(small_gold)
    del actual["dim_member"][2]
    actual["dim_plan"].append({**actual["dim_plan"][0], "plan_id": "PL9"})
    messages = diff_gold(small_gold, actual)
    assert any(
        m.startswith("dim_member: 1 expected row(s) missing, 0 unexpected") for m in messages
    )
    assert any(m.startswith("dim_member: missing row {member_id='M2'") for m in messages)
    assert any(m.startswith("dim_plan: 0 expected row(s) missing, 1 unexpected") for m in messages)
    assert any(m.startswith("dim_plan: unexpected row {plan_id='PL9'") for m in messages)


def test_diff_gold_counts_duplicate_rows_and_missing_tables(small_gold):
    actual = _with_surrogate_keys(small_gold)
    actual["dim_plan"].append(dict(actual["dim_plan"][0]))
    del actual["mart_pmpm"]
    messages = diff_gold(small_gold, actual)
    assert any(m.startswith("dim_plan: 0 expected row(s) missing, 1 unexpected") for m in messages)
    assert any(m.startswith("mart_pmpm: table missing") for m in messages)


def test_assert_surrogate_keys_rejects_nulls_and_duplicates(small_gold):
    actual = _with_surrogate_keys(small_gold)
    actual["dim_member"][1]["member_sk"] = actual["dim_member"][0]["member_sk"]
    with pytest.raises(AssertionError, match="duplicated member_sk"):
        assert_surrogate_keys(actual)
    actual["dim_member"][1]["member_sk"] = None
    with pytest.raises(AssertionError, match="NULL member_sk"):
        assert_surrogate_keys(actual)


def test_read_gold_converts_duckdb_types(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema gold")
    con.execute(
        "create table gold.mart_pmpm as select date '2024-03-01' as year_month,"
        " 'MEDICAID' as line_of_business, 2::bigint as member_months,"
        " 0.01::decimal(38, 2) as paid_amount, 30.01::decimal(18, 2) as allowed_amount,"
        " 0.005::double as pmpm_paid, timestamp '2024-03-01 10:00:00.5' as loaded_at"
    )
    con.execute("create table main.other as select 1 as x")
    con.close()
    assert read_gold(path) == {
        "mart_pmpm": [
            {
                "year_month": date(2024, 3, 1),
                "line_of_business": "MEDICAID",
                "member_months": 2,
                "paid_amount": D("0.01"),
                "allowed_amount": D("30.01"),
                "pmpm_paid": D("0.01"),
                "loaded_at": datetime(2024, 3, 1, 10, 0, 0, 500000),
            }
        ]
    }
