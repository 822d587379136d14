"""Three silver batches for the incremental gold tests, each loaded at its own ``_loaded_at``.

Batch 1 is an ordinary start. Batch 2 is what makes incremental gold hard: changes that arrive
late and belong between existing versions (or before the current change), a key-only delete, a
no-op update, a re-insert after a delete, a replacement claim, a replacement that moves to another
original, a void that is deleted, a deleted claim and claim line, diagnoses and adjustments that
empty, enrollments terminated, moved to another member and deleted, a plan whose line of business
changes, a re-delivered file, and changes in a new month (so the valuation month advances and open
enrollments gain a month, including one that started covering only now). Batch 3 carries two
columns added at the source (MEMBER.PREFERRED_LANGUAGE, CLAIM.CLAIM_SOURCE). Batch 4 changes old
months of the marts (incremental by month) without moving the valuation month: a late claim for an
old month, a claim moved to a month outside the enrollment calendar, a replacement and a void
dated in other months than the claims they take the final action from, an enrollment moved to a
plan of another line of business, and the deletion of the only coverage of the first months (so
those months disappear from mart_pmpm).

``TOUCHED`` names, per incremental gold table and batch, the keys whose rows the incremental run
must rebuild (write again) and ``UNTOUCHED`` keys whose rows it must leave alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from claims_platform_tests.gold import scenario as s
from claims_platform_tests.gold.silver_changes import Silver, d, seq

# Columns added at the source in batch 3 (upper-case source names).
ADDED_COLUMNS = {"MEMBER": ("PREFERRED_LANGUAGE",), "CLAIM": ("CLAIM_SOURCE",)}

LOADED_AT = {
    1: datetime(2024, 3, 5, 2, 0, 0),
    2: datetime(2024, 4, 3, 2, 0, 0),
    3: datetime(2024, 5, 2, 2, 0, 0),
    4: datetime(2024, 5, 20, 2, 0, 0),
}
FULL_LOAD = "LOAD00000001.csv"
FULL_LOAD_AT = "2024-01-01 00:00:00"


def member(member_id: str, **overrides: Any) -> dict[str, Any]:
    """A member's full row with a raw SSN (silver gets its token)."""
    values = s.member(member_id, **overrides)
    values.pop("ssn_token")
    return {"ssn": f"900-00-{int(member_id[1:]):04d}"} | values


M1_A = member("M1", phone="6175550100")
M1_B = M1_A | {"phone": "6175550199", "updated_at": s.ts("2024-01-20 09:00:00")}  # late
M1_C = M1_B | {"city": "Cambridge", "zip5": "02139", "updated_at": s.ts("2024-02-10 10:00:00")}
M2 = member("M2", gender="M")
M2_NOOP = M2 | {"updated_at": s.ts("2024-03-21 08:00:00")}
M3 = member("M3", relationship_code="01", subscriber_id="M2")
M4 = member("M4", last_name="Dunn")
M4_BACK = M4 | {"address_line1": "9 Elm St", "updated_at": s.ts("2024-03-20 00:00:00")}
M5 = member("M5", relationship_code="19", subscriber_id="M1", birth_date=d("2010-02-28"))
M6 = member("M6", first_name=None)
M8 = member("M8", state="NH", city="Nashua", zip5="03060")
M7 = member("M7", gender="U")

PR1 = s.provider("PR1", provider_name="Dr. Smith")
PR1_LATE = PR1 | {"taxonomy_code": "208D00000X", "updated_at": s.ts("2024-01-15 00:00:00")}
PR1_OUT = PR1_LATE | {"network_status": "OUT", "updated_at": s.ts("2024-02-01 00:00:00")}
PR2 = s.provider("PR2", npi="1245319599", entity_type_code="2", provider_name="General Hospital")

P1 = s.plan("P1", "Gold HMO", "COMMERCIAL", "HMO", "FULLY_INSURED")
P2 = s.plan("P2", "Senior PPO", "MEDICARE_ADVANTAGE", "PPO", "FULLY_INSURED")
P3 = s.plan("P3", "State Plan", "MEDICAID", "HMO", "FULLY_INSURED")
P3_COMMERCIAL = P3 | {"line_of_business": "COMMERCIAL", "updated_at": s.ts("2024-03-25 00:00:00")}

E1 = s.enrollment("E1", "M1", "P1", "2024-01-01", None)
E1_ENDED = E1 | {"termination_date": d("2024-03-15")}
E2 = s.enrollment("E2", "M2", "P2", "2024-01-01", "2024-06-30")
E2_MOVED = E2 | {"member_id": "M5"}
E3 = s.enrollment("E3", "M3", "P1", "2024-01-01", "2024-02-29")
E4 = s.enrollment("E4", "M4", "P3", "2024-01-01", None)
E5 = s.enrollment("E5", "M5", "P2", "2024-02-01", None)
E6 = s.enrollment("E6", "M6", "P1", "2024-04-01", None)  # open, starts after batch 1's month
E7 = s.enrollment("E7", "M2", "P3", "2023-12-01", "2024-01-15")
E8 = s.enrollment("E8", "M4", "P1", "2024-04-01", None)
E9 = s.enrollment("E9", "M8", "P1", "2024-01-01", "2024-02-29")


def paid(claim_id: str, member_id: str, start: str, amount: str, **kw: Any) -> dict[str, Any]:
    return (
        s.claim(
            claim_id,
            member_id,
            "PR1",
            start,
            received_date=d(start),
            adjudicated_date=d(start),
            paid_date=d(start),
            claim_status="PAID",
            total_billed=s.money(amount) * 2,
            total_allowed=s.money(amount),
            total_paid=s.money(amount),
            diagnosis_codes=s.dx({"seq": 1, "code": "J069", "poa": "Y"}),
            updated_at=s.ts(f"{start} 12:00:00"),
        )
        | kw
    )


C1 = paid("C1", "M1", "2024-01-20", "100.00")
C2 = paid("C2", "M2", "2024-01-25", "80.00")
C3 = paid("C3", "M4", "2024-02-05", "60.00", diagnosis_codes=s.dx({"seq": 1, "code": "I10"}))
C3_PENDED = C3 | {"claim_status": "PENDED", "paid_date": None}  # between its two changes
C3_PAID = C3 | {"total_paid": s.money("55.00"), "updated_at": s.ts("2024-02-15 00:00:00")}
C4 = paid(
    "C4",
    "M5",
    "2024-02-10",
    "40.00",
    diagnosis_codes=s.dx({"seq": 2, "code": "E119"}, {"seq": 1, "code": "R51", "poa": "N"}),
)
C6 = paid("C6", "M8", "2024-01-10", "30.00")
C5 = C6 | {
    "claim_id": "C5",
    "original_claim_id": "C6",
    "frequency_code": "8",
    "claim_status": "VOID",
    "total_paid": s.money("0.00"),
}
C7 = paid("C7", "M8", "2024-02-12", "20.00")
C7_NO_DX = C7 | {"diagnosis_codes": "[]", "updated_at": s.ts("2024-04-01 00:00:00")}
C8 = paid("C8", "M8", "2024-02-14", "10.00", diagnosis_codes=s.dx({"seq": 1, "code": "Z0000"}))
C9 = paid("C9", "M8", "2024-02-20", "15.00")
C10 = C1 | {"claim_id": "C10", "original_claim_id": "C1", "frequency_code": "7"}
C11 = C2 | {"claim_id": "C11", "original_claim_id": "C2", "frequency_code": "7"}
C11_TO_C3 = C11 | {"original_claim_id": "C3", "member_id": "M4"}
C12 = paid("C12", "M7", "2024-04-10", "25.00")
C13 = paid("C13", "M2", "2024-01-05", "7.00")  # late, for an old month
C9_MOVED = C9 | {"statement_from_date": d("2023-11-20"), "updated_at": s.ts("2024-04-21 00:00:00")}
# dated in April: February (C7's month) must be recomputed all the same
C15 = paid("C15", "M8", "2024-04-15", "18.00", original_claim_id="C7", frequency_code="7")
C16 = C2 | {
    "claim_id": "C16",
    "original_claim_id": "C2",
    "frequency_code": "8",
    "claim_status": "VOID",
    "statement_from_date": d("2024-04-22"),
    "total_paid": s.money("0.00"),
}
E9_P2 = E9 | {"plan_id": "P2"}  # COMMERCIAL → MEDICARE_ADVANTAGE for January and February

L_C1_1 = s.line("C1", 1, "2024-01-20", adjustments=s.adj(("CO", "45", "10.00")))
L_C1_2 = s.line("C1", 2, "2024-01-20", adjustments=s.adj(("CO", "45", "5.00"), ("PR", "3", "1")))
L_C4_1 = s.line("C4", 1, "2024-02-10")
L_C7_1 = s.line("C7", 1, "2024-02-12", adjustments=s.adj(("OA", "23", "2.00")))
L_C7_1_NO_ADJ = L_C7_1 | {"adjustments": "[]", "updated_at": s.ts("2024-04-01 00:00:00")}
L_C10_1 = s.line("C10", 1, "2024-01-20", adjustments=s.adj(("CO", "45", "9.00")))


def file_at(at: str) -> str:
    """A CDC file named by time (DMS naming), for a change committed at `at`."""
    return at.replace("-", "").replace(":", "").replace(" ", "-") + "000.csv"


def batch(number: int) -> Silver:
    """The silver rows of one batch (every row loaded at LOADED_AT[number])."""
    silver = Silver()
    b = {"batch": f"batch-{number}", "loaded_at": LOADED_AT[number]}

    def cdc(
        table: str,
        op: str,
        at: str,
        values: dict[str, Any],
        *,
        file: str | None = None,
        row: int = 1,
        **kw: Any,
    ) -> None:
        silver.change(table, op, at, file or file_at(at), row, values, **b, **kw)

    def load(table: str, rows: tuple[dict[str, Any], ...]) -> None:
        for row, values in enumerate(rows, start=1):
            silver.change(table, "I", FULL_LOAD_AT, FULL_LOAD, row, values, **b)

    if number == 1:
        load("plan", (P1, P2, P3))
        load("member", (M1_A, M2, M3, M4, M5, M6, M8))
        load("provider", (PR1, PR2))
        load("enrollment", (E1, E2, E3, E4, E5, E6, E7, E9))
        cdc("provider", "U", "2024-02-01 00:00:00", PR1_OUT, change_seq=seq(20))
        cdc("member", "D", "2024-02-01 00:00:00", {"member_id": "M4"})
        cdc("member", "U", "2024-02-10 10:00:00", M1_C)
        cdc("claim", "I", "2024-01-10 12:00:00", C6)
        cdc("claim", "I", "2024-01-12 12:00:00", C5)
        cdc("claim", "I", "2024-01-20 12:00:00", C1)
        cdc("claim_line", "I", "2024-01-20 12:00:00", L_C1_1)
        cdc("claim_line", "I", "2024-01-20 12:00:00", L_C1_2, row=2)
        cdc("claim", "I", "2024-01-25 12:00:00", C2)
        cdc("claim", "I", "2024-02-05 12:00:00", C3)
        cdc("claim", "U", "2024-02-15 00:00:00", C3_PAID)
        cdc("claim", "I", "2024-02-10 12:00:00", C4)
        cdc("claim_line", "I", "2024-02-10 12:00:00", L_C4_1)
        cdc("claim", "I", "2024-02-12 12:00:00", C7)
        cdc("claim_line", "I", "2024-02-12 12:00:00", L_C7_1)
        cdc("claim", "I", "2024-02-14 12:00:00", C8)
        cdc("claim", "I", "2024-02-20 12:00:00", C9)
        cdc("claim", "I", "2024-02-20 13:00:00", C11)
        # The latest DMS_TIMESTAMP of batch 1: valuation month 2024-03.
        cdc("claim", "U", "2024-03-04 00:00:00", C9 | {"updated_at": s.ts("2024-03-04 00:00:00")})
    elif number == 2:
        # Late files: changes that belong before changes already processed.
        cdc("member", "U", "2024-01-20 09:00:00", M1_B)
        cdc("provider", "U", "2024-01-15 00:00:00", PR1_LATE, change_seq=seq(15))
        cdc("claim", "U", "2024-02-12 00:00:00", C3_PENDED)
        # A file of batch 1 delivered again under a second name: nothing changes.
        cdc("claim", "I", "2024-02-14 12:00:00", C8, file="20240214-120000000-1.csv")
        cdc("member", "I", "2024-03-20 00:00:00", M4_BACK)  # re-insert after the delete
        cdc("member", "U", "2024-03-21 08:00:00", M2_NOOP)  # changes only updated_at
        cdc("member", "D", "2024-03-22 00:00:00", {"member_id": "M3"})  # key-only image
        cdc("enrollment", "U", "2024-03-20 00:00:00", E1_ENDED)
        cdc("enrollment", "U", "2024-03-21 00:00:00", E2_MOVED)
        cdc("enrollment", "D", "2024-03-22 00:00:00", {"enrollment_id": "E3"})
        cdc("plan", "U", "2024-03-25 00:00:00", P3_COMMERCIAL)
        cdc("claim", "I", "2024-03-25 00:00:00", C10)  # replaces C1
        cdc("claim_line", "I", "2024-03-25 00:00:00", L_C10_1)
        cdc("claim_line", "D", "2024-03-25 00:00:00", {"claim_id": "C1", "line_number": 2}, row=2)
        cdc("claim", "U", "2024-03-26 00:00:00", C11_TO_C3)  # now replaces C3, not C2
        cdc("claim", "D", "2024-03-27 00:00:00", {"claim_id": "C4"})  # its line stays
        cdc("claim", "D", "2024-03-28 00:00:00", {"claim_id": "C5"})  # the void of C6
        cdc("claim", "U", "2024-04-01 00:00:00", C7_NO_DX)
        cdc("claim_line", "U", "2024-04-01 00:00:00", L_C7_1_NO_ADJ)
        # The latest DMS_TIMESTAMP of batch 2: valuation month 2024-04.
        cdc("enrollment", "I", "2024-04-02 00:00:00", E8)
    elif number == 3:
        # Columns added at the source appear at the end of later files (text in silver).
        m1_spanish = M1_C | {"updated_at": s.ts("2024-04-10 00:00:00")}
        cdc("member", "U", "2024-04-10 00:00:00", m1_spanish, added={"preferred_language": "es"})
        cdc("member", "I", "2024-04-11 00:00:00", M7, added={"preferred_language": "en"})
        cdc("claim", "I", "2024-04-12 00:00:00", C12, added={"claim_source": "EDI"})
    elif number == 4:
        # Every change dated in April, the valuation month already: only the months these
        # changes reach may be recomputed, and they must be.
        cdc("claim", "I", "2024-04-20 00:00:00", C13)
        cdc("claim", "U", "2024-04-21 00:00:00", C9_MOVED)
        cdc("claim", "I", "2024-04-22 00:00:00", C15)
        cdc("claim", "I", "2024-04-23 00:00:00", C16)
        cdc("enrollment", "U", "2024-04-24 00:00:00", E9_P2)
        cdc("enrollment", "D", "2024-04-25 00:00:00", {"enrollment_id": "E7"})
    else:
        raise ValueError(number)
    return silver


# Keys each incremental run must rebuild, and keys whose rows it must not write again.
TOUCHED: dict[int, dict[str, set[tuple]]] = {
    2: {
        "dim_member": {("M1",), ("M2",), ("M3",), ("M4",)},
        "dim_provider": {("PR1",)},
        "dim_plan": {("P3",)},
        # changed, plus the originals C1 (of C10), C2 and C3 (of C11), C6 (of the deleted C5)
        "fct_claim": {("C1",), ("C2",), ("C3",), ("C6",), ("C7",), ("C8",), ("C10",), ("C11",)},
        "fct_claim_diagnosis": {("C3",), ("C8",), ("C10",), ("C11",)},
        "fct_claim_line": {("C7", 1), ("C10", 1)},
        "fct_claim_line_adjustment": {("C10", 1)},
        # M1, M2, M3, M5 (enrollments), M2, M4 (plan P3), M4, M5, M6 (valuation month)
        "fct_member_month": {("M1",), ("M2",), ("M4",), ("M5",), ("M6",)},
    },
    3: {
        "dim_member": {("M1",), ("M7",)},
        "dim_provider": set(),
        "dim_plan": set(),
        "fct_claim": {("C12",)},
        "fct_claim_diagnosis": {("C12",)},
        "fct_claim_line": set(),
        "fct_claim_line_adjustment": set(),
        "fct_member_month": set(),
    },
    4: {
        "dim_member": set(),
        "dim_provider": set(),
        "dim_plan": set(),
        # changed, plus C7 (replaced by C15) and C2 (voided by C16)
        "fct_claim": {("C2",), ("C7",), ("C9",), ("C13",), ("C15",), ("C16",)},
        "fct_claim_diagnosis": {("C9",), ("C13",), ("C15",), ("C16",)},
        "fct_claim_line": set(),
        "fct_claim_line_adjustment": set(),
        # M8 (E9's plan); M2 lost its only enrollment E7 and has no row left to rewrite
        "fct_member_month": {("M8",)},
    },
}
UNTOUCHED: dict[int, dict[str, set[tuple]]] = {
    2: {
        "dim_member": {("M5",), ("M6",), ("M8",)},
        "dim_provider": {("PR2",)},
        "dim_plan": {("P1",), ("P2",)},
        "fct_claim": {("C9",)},
        "fct_claim_diagnosis": {("C1",), ("C2",), ("C6",), ("C9",)},
        "fct_claim_line": {("C1", 1), ("C4", 1)},
        "fct_claim_line_adjustment": {("C1", 1)},
        "fct_member_month": {("M8",)},
    },
    4: {
        "fct_claim": {("C1",), ("C3",), ("C10",)},
        "fct_member_month": {("M1",), ("M4",), ("M5",)},
    },
}
