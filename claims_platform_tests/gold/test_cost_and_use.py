"""Cost and use marts (dbt/models/marts/cost_and_use, mart_pmpm's pmpm_allowed, the member token),
built on a small simulated payer and checked against an independent computation.

The simulator's own record of every change (its truth files) is loaded into silver the way the
other gold tests write hand-made changes (``truth_silver``, through ``silver_changes.Silver``), and one ``dbt build`` per
module builds gold (seed included). The expectations come from the reference model
(``support/reference_model.py``: current claims and lines, final action, member months, the line of
business of a claim) and from the seed's rules applied in Python, not from the gold models.
Assertions print names and counts, never member ids or tokens.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from claims_platform.simulator import simulate
from claims_platform_tests.gold.dbt_cli import REPO_ROOT, run_dbt
from claims_platform_tests.gold.silver_changes import Silver
from claims_platform_tests.gold.truth_silver import silver_from_truth, write_silver
from claims_platform_tests.support import reference_model as ref
from claims_platform_tests.support.gold_compare import read_gold

CENT = Decimal("0.01")
CATEGORIES = {"inpatient", "outpatient", "professional", "emergency", "other"}
RULES_CSV = REPO_ROOT / "dbt" / "seeds" / "service_category_rules.csv"
# Low enough that a small simulated payer has several claimants per year and line of business.
THRESHOLD = Decimal("2000")
LOADED_AT = "2024-03-01 00:00:00"


# ------------------------------------------------------------------------------------------------
# Building gold from the simulator's truth
# ------------------------------------------------------------------------------------------------


def _read(database: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _tokens(database: Path) -> dict[str, str]:
    rows = _read(
        database, "select member_id, member_token from intermediate.int_member_tokens_assigned"
    )
    return dict(rows)


def _check(result, what: str) -> None:
    # dbt's output names models and tests; values appear only in compiled SQL paths, not here.
    assert result.returncode == 0, f"{what}:\n{result.stdout[-4000:]}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("cost_and_use")
    truth_dir = work / "truth"
    simulate(work / "landing", seed=23, members=300, days=20, history_days=60, truth_dir=truth_dir)
    events = ref.load_truth(truth_dir)
    silver = Silver()
    silver_from_truth(events, silver, LOADED_AT)
    database = work / "warehouse.duckdb"
    write_silver(silver, database)
    vars_ = json.dumps({"high_cost_claimant_threshold": str(THRESHOLD)})
    _check(run_dbt("build", work, database, "--vars", vars_), "dbt build")
    yield {
        "work": work,
        "database": database,
        "events": events,
        "gold": read_gold(database),
        "expected": ref.expected_gold(events),
        "tokens": _tokens(database),
        "vars": vars_,
    }


# ------------------------------------------------------------------------------------------------
# The independent computation
# ------------------------------------------------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    with RULES_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(rows, key=lambda r: (int(r["priority"]), r["rule_id"]))


def _category(rules: list[dict[str, Any]], claim: dict[str, Any], line: dict[str, Any]) -> str:
    """The first rule (by priority) whose every non-empty condition holds; else 'other'."""
    bill_type = (claim["bill_type_code"] or "").lstrip("0")

    def within(value: str | None, low: str, high: str) -> bool:
        return not low or (value is not None and low <= value <= high)

    for rule in rules:
        if rule["claim_form_type"] and rule["claim_form_type"] != claim["claim_form_type"]:
            continue
        if rule["bill_type_prefix"] and not (
            claim["bill_type_code"] and bill_type.startswith(rule["bill_type_prefix"])
        ):
            continue
        if not within(line.get("revenue_code"), rule["revenue_code_from"], rule["revenue_code_to"]):
            continue
        if rule["place_of_service"] and rule["place_of_service"] != line.get("place_of_service"):
            continue
        if not within(
            line.get("procedure_code"), rule["procedure_code_from"], rule["procedure_code_to"]
        ):
            continue
        return rule["service_category"]
    return "other"


def _claim_lines_of_business(events: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """claim_id → the line of business its dollars count in (the reference model's rule)."""
    history = {name: ref.ordered_changes(name, events.get(name, [])) for name in ref.SOURCE_TABLES}
    stamps = [
        c.dms_timestamp for per_key in history.values() for cs in per_key.values() for c in cs
    ]
    current = {name: ref.current_rows(history[name]) for name in ref.SOURCE_TABLES}
    plans = {p["PLAN_ID"]: p for p in current["PLAN"]}
    coverage = ref._Coverage(current["ENROLLMENT"], plans, ref._month_end(max(stamps).date()))
    return {
        c["CLAIM_ID"]: coverage.line_of_business_on(c["MEMBER_ID"], c["STATEMENT_FROM_DATE"])
        for c in current["CLAIM"]
        if c["STATEMENT_FROM_DATE"] is not None
    }


def _final_claims(built: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for c in built["expected"]["fct_claim"]
        if c["is_final_action"] and c["statement_from_date"] is not None
    ]


def _month(day: date) -> date:
    return day.replace(day=1)


def _cents(amount: Decimal, count: int) -> Decimal | None:
    return (Decimal(amount) / count).quantize(CENT, rounding=ROUND_HALF_UP) if count else None


@pytest.fixture(scope="module")
def expected_categories(built) -> dict[tuple[date, str, str], dict[str, Any]]:
    """(month, line of business, category) → paid, allowed and the set of claims, per line."""
    rules = _rules()
    lob = _claim_lines_of_business(built["events"])
    lines_by_claim: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in built["expected"]["fct_claim_line"]:
        lines_by_claim[line["claim_id"]].append(line)
    out: dict[tuple[date, str, str], dict[str, Any]] = defaultdict(
        lambda: {"paid": Decimal(0), "allowed": Decimal(0), "claims": set()}
    )
    for claim in _final_claims(built):
        lines = lines_by_claim.get(claim["claim_id"]) or [
            {"paid_amt": claim["total_paid"], "allowed_amt": claim["total_allowed"]}
        ]
        for line in lines:
            key = (
                _month(claim["statement_from_date"]),
                lob[claim["claim_id"]],
                _category(rules, claim, line),
            )
            out[key]["paid"] += line["paid_amt"] or 0
            out[key]["allowed"] += line["allowed_amt"] or 0
            out[key]["claims"].add(claim["claim_id"])
    return out


# ------------------------------------------------------------------------------------------------
# mart_pmpm: pmpm_allowed
# ------------------------------------------------------------------------------------------------


def test_mart_pmpm_equals_the_reference_model_and_pmpm_allowed_is_allowed_per_member_month(built):
    gold = {(r["year_month"], r["line_of_business"]): r for r in built["gold"]["mart_pmpm"]}
    expected = {(r["year_month"], r["line_of_business"]): r for r in built["expected"]["mart_pmpm"]}
    assert set(gold) == set(expected)
    for key, row in expected.items():
        for column in ("member_months", "paid_amount", "allowed_amount", "pmpm_paid"):
            assert gold[key][column] == row[column], (key, column)
        assert gold[key]["pmpm_allowed"] == _cents(row["allowed_amount"], row["member_months"])
    assert any(r["pmpm_allowed"] for r in gold.values())


# ------------------------------------------------------------------------------------------------
# mart_pmpm_by_service_category
# ------------------------------------------------------------------------------------------------


def test_every_month_and_line_of_business_has_every_category_with_mart_pmpm_member_months(built):
    pmpm = {(r["year_month"], r["line_of_business"]): r for r in built["gold"]["mart_pmpm"]}
    rows = built["gold"]["mart_pmpm_by_service_category"]
    by_key = Counter((r["year_month"], r["line_of_business"]) for r in rows)
    assert set(by_key) == set(pmpm)
    assert set(by_key.values()) == {len(CATEGORIES)}
    assert {r["service_category"] for r in rows} == CATEGORIES
    for row in rows:
        assert (
            row["member_months"]
            == pmpm[(row["year_month"], row["line_of_business"])]["member_months"]
        )


def test_categories_add_up_to_mart_pmpm(built):
    pmpm = {(r["year_month"], r["line_of_business"]): r for r in built["gold"]["mart_pmpm"]}
    paid: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    allowed: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for row in built["gold"]["mart_pmpm_by_service_category"]:
        paid[(row["year_month"], row["line_of_business"])] += row["paid_amount"]
        allowed[(row["year_month"], row["line_of_business"])] += row["allowed_amount"]
    # The simulator's claim totals are the sums of their lines (CONTRACT §3), so to the cent.
    assert {k: r["paid_amount"] for k, r in pmpm.items()} == dict(paid)
    assert {k: r["allowed_amount"] for k, r in pmpm.items()} == dict(allowed)


def test_service_categories_equal_the_rules_applied_independently(built, expected_categories):
    rows = built["gold"]["mart_pmpm_by_service_category"]
    populated = {k: v for k, v in expected_categories.items() if v["claims"]}
    # Every category is populated by the simulated payer (the seed covers what it bills).
    assert {category for _, _, category in populated} == CATEGORIES
    mismatches = []
    for row in rows:
        key = (row["year_month"], row["line_of_business"], row["service_category"])
        want = expected_categories.get(key, {"paid": 0, "allowed": 0, "claims": set()})
        months = row["member_months"]
        got = (
            row["paid_amount"],
            row["allowed_amount"],
            row["claim_count"],
            row["pmpm_paid"],
            row["pmpm_allowed"],
            row["utilization_per_1000"],
        )
        expected = (
            Decimal(want["paid"]).quantize(CENT),
            Decimal(want["allowed"]).quantize(CENT),
            len(want["claims"]),
            _cents(want["paid"], months),
            _cents(want["allowed"], months),
            _cents(Decimal(len(want["claims"]) * 1000), months),
        )
        if got != expected:
            mismatches.append(f"{key[0]} {key[1]} {key[2]}")
    assert mismatches == []


def test_rules_catch_the_standard_cases():
    rules = _rules()

    def category(form: str, bill_type: str | None, **line: str) -> str:
        return _category(rules, {"claim_form_type": form, "bill_type_code": bill_type}, line)

    assert category("I", "0111", revenue_code="0450") == "inpatient"  # admitted through the ER
    assert category("I", "111", revenue_code="0120") == "inpatient"  # leading zero dropped
    assert category("I", "0211", revenue_code="0120") == "inpatient"
    assert category("I", "0131", revenue_code="0456") == "emergency"
    assert category("I", "0131", revenue_code="0301") == "outpatient"
    assert category("I", "0831", revenue_code="0360") == "outpatient"
    assert category("P", None, place_of_service="23", procedure_code="93010") == "emergency"
    assert category("P", None, place_of_service="11", procedure_code="99284") == "emergency"
    assert category("P", None, place_of_service="41", procedure_code="A0427") == "other"
    assert category("P", None, place_of_service="12", procedure_code="E0601") == "other"
    assert category("P", None, place_of_service="11", procedure_code="99213") == "professional"
    assert category("", None, procedure_code="99213") == "other"  # the documented fallback


# ------------------------------------------------------------------------------------------------
# Member token and high-cost claimants
# ------------------------------------------------------------------------------------------------


def test_member_tokens_are_random_uuids_not_derived_from_the_member_id(built):
    tokens = built["tokens"]
    members = {m["member_id"] for m in built["expected"]["dim_member"]} | {
        c["member_id"] for c in built["expected"]["fct_claim"] if c["member_id"] is not None
    }
    assert set(tokens) == members
    assert len(set(tokens.values())) == len(tokens)
    leaks = sum(member_id.lower() in token.lower() for member_id, token in tokens.items())
    assert leaks == 0
    assert {uuid.UUID(token).version for token in tokens.values()} == {4}


def test_high_cost_claimants_rank_members_over_the_threshold(built):
    lob = _claim_lines_of_business(built["events"])
    totals: dict[tuple[int, str, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0), 0]
    )
    for claim in _final_claims(built):
        if claim["member_id"] is None:
            continue
        key = (claim["statement_from_date"].year, lob[claim["claim_id"]], claim["member_id"])
        totals[key][0] += claim["total_paid"] or 0
        totals[key][1] += claim["total_allowed"] or 0
        totals[key][2] += 1
    tokens = built["tokens"]
    groups: dict[tuple[int, str], list[tuple]] = defaultdict(list)
    for (year, line_of_business, member_id), (paid, allowed, count) in totals.items():
        if paid >= THRESHOLD:
            groups[(year, line_of_business)].append((paid, allowed, tokens[member_id], count))
    expected = []
    for (year, line_of_business), members in groups.items():
        ordered = sorted(members, key=lambda m: (-m[0], -m[1], m[2]))
        for rank, (paid, allowed, token, count) in enumerate(ordered, start=1):
            expected.append((year, line_of_business, rank, token, paid, allowed, count))
    actual = [
        (
            r["incurred_year"],
            r["line_of_business"],
            r["paid_rank"],
            r["member_token"],
            r["paid_amount"],
            r["allowed_amount"],
            r["claim_count"],
        )
        for r in built["gold"]["mart_high_cost_claimants"]
    ]
    assert len(expected) >= 3, "the simulated payer should have several high-cost claimants"
    assert sorted(actual) == sorted(expected)
    columns = set(built["gold"]["mart_high_cost_claimants"][0])
    assert not columns & {"member_id", "first_name", "last_name", "birth_date"}


def test_tokens_survive_an_incremental_run_and_a_full_refresh(built):
    """A new member gets a token in the next incremental run; nobody's token ever changes, a
    --full-refresh included (full_refresh: false). Runs last: it adds a member."""
    work, database = built["work"], built["database"]
    before = _tokens(database)
    silver = Silver()
    member = next(e for e in built["events"]["MEMBER"] if e["op"] == "I")
    new_member = dict(member, values=dict(member["values"], MEMBER_ID="TEST-NEW-MEMBER"))
    new_member["file"] = "CLAIMS/MEMBER/20990101-000000000.csv"
    silver_from_truth({"MEMBER": [new_member]}, silver, "2099-01-02 00:00:00")
    silver.write(str(database))
    models = ("dim_member", "fct_claim", "int_member_tokens_assigned", "mart_high_cost_claimants")
    _check(
        run_dbt("run", work, database, "--select", *models, "--vars", built["vars"]),
        "incremental dbt run",
    )
    after = _tokens(database)
    assert set(after) == set(before) | {"TEST-NEW-MEMBER"}
    assert {m: after[m] for m in before} == before
    claimants = _read(database, "select member_token from gold.mart_high_cost_claimants")

    _check(
        run_dbt(
            "run", work, database, "--full-refresh", "--select", *models, "--vars", built["vars"]
        ),
        "dbt run --full-refresh",
    )
    assert _tokens(database) == after
    assert sorted(
        _read(database, "select member_token from gold.mart_high_cost_claimants")
    ) == sorted(claimants)
