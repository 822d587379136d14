"""The truth files agree with the landed files; the simulated payer data is realistic and valid."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

from claims_platform.contracts.rules import COLUMN_RULES, ROW_RULES, npi_is_valid
from claims_platform.simulator.codes import icd10cm_codes
from claims_platform_tests.simulator.helpers import key_of, read_dms, read_jsonl

TABLES = ("PLAN", "MEMBER", "ENROLLMENT", "PROVIDER", "CLAIM", "CLAIM_LINE")
_ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")


@pytest.fixture(scope="module")
def changes(demo) -> dict[str, list[dict[str, Any]]]:
    return {t: read_jsonl(demo.truth / f"{t}.changes.jsonl") for t in TABLES}


@pytest.fixture(scope="module")
def final(demo, contracts) -> dict[str, dict[tuple, dict[str, Any]]]:
    state = {}
    for t in TABLES:
        rows = read_jsonl(demo.truth / f"{t}.final.jsonl")
        state[t] = {key_of(contracts[t], r): r for r in rows}
        assert len(state[t]) == len(rows), f"{t}: a key twice in the final state"
    return state


def test_every_change_is_the_file_row_it_names(demo, changes, contracts):
    files: dict[str, tuple[list[str], list[list[Any]]]] = {}
    for table, events in changes.items():
        names = contracts[table].column_names
        for event in events:
            if event["file"] not in files:
                files[event["file"]] = read_dms(demo.landing / event["file"], contracts[table])
            header, rows = files[event["file"]]
            row = dict(zip(header, rows[event["row"] - 1], strict=True))
            assert row.get("Op", "I") == event["op"]
            assert row["DMS_TIMESTAMP"] == event["dms_timestamp"]
            assert row["AR_H_CHANGE_SEQ"] == event["change_seq"]
            assert [row[n] for n in names] == [event["values"][n] for n in names]
    # ... and every landed row is named by exactly one change
    named = Counter((e["file"], e["row"]) for events in changes.values() for e in events)
    assert set(named.values()) == {1}
    assert sum(len(rows) for _, rows in files.values()) == len(named)


def test_replaying_the_changes_gives_the_final_state(changes, final, contracts):
    for table, events in changes.items():
        state: dict[tuple, dict[str, Any]] = {}
        last_seq = ""
        for event in events:
            seq = event["change_seq"] or ""
            assert seq == "" or seq > last_seq, "changes.jsonl is in commit order"
            last_seq = seq or last_seq
            key = key_of(contracts[table], event["values"])
            if event["op"] == "D":
                assert state.pop(key, None) is not None, f"{table}: delete of a missing key"
            else:
                assert (key in state) == (event["op"] == "U"), f"{table}: {event['op']} of {key}"
                state[key] = event["values"]
        assert state == final[table], table


def test_summary_counts_the_changes(demo, changes):
    summary = json.loads((demo.truth / "summary.json").read_text())
    for table, events in changes.items():
        assert summary["rows"][table] == {op: sum(e["op"] == op for e in events) for op in "IUD"}
    latest = max(e["dms_timestamp"] for events in changes.values() for e in events)
    assert summary["valuation_timestamp"] == latest == demo.summary.valuation_timestamp
    assert summary["files_written"] == demo.summary.files_written > 0


def test_references_resolve_in_the_final_state(final):
    members, plans = final["MEMBER"], final["PLAN"]
    providers, claims = final["PROVIDER"], final["CLAIM"]
    for e in final["ENROLLMENT"].values():
        assert (e["MEMBER_ID"],) in members and (e["PLAN_ID"],) in plans
    for c in claims.values():
        assert (c["MEMBER_ID"],) in members and (c["BILLING_PROVIDER_ID"],) in providers
        assert c["ORIGINAL_CLAIM_ID"] is None or (c["ORIGINAL_CLAIM_ID"],) in claims
    for line in final["CLAIM_LINE"].values():
        assert (line["CLAIM_ID"],) in claims
        assert (
            line["RENDERING_PROVIDER_ID"] is None or (line["RENDERING_PROVIDER_ID"],) in providers
        )
    for m in members.values():
        subscriber = members[(m["SUBSCRIBER_ID"],)]
        assert (
            subscriber["RELATIONSHIP_CODE"] == "18"
            and subscriber["SUBSCRIBER_ID"] == subscriber["MEMBER_ID"]
        )


def test_money_balances_and_claim_totals_are_the_sum_of_lines(final):
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for line in final["CLAIM_LINE"].values():
        amounts = {k: Decimal(v) for k, v in line.items() if k.endswith("_AMT")}
        assert all(re.fullmatch(r"\d+\.\d\d", line[k]) for k in amounts)
        assert amounts["ALLOWED_AMT"] == (
            amounts["PAID_AMT"]
            + amounts["DEDUCTIBLE_AMT"]
            + amounts["COPAY_AMT"]
            + amounts["COINSURANCE_AMT"]
        )
        assert amounts["BILLED_AMT"] >= amounts["ALLOWED_AMT"]
        if line["LINE_STATUS"] != "PAID":
            assert amounts["ALLOWED_AMT"] == amounts["PAID_AMT"] == 0
        adjustments = json.loads(line["ADJUSTMENTS"])
        assert len(adjustments) <= 3
        assert {a["group"] for a in adjustments} <= {"CO", "PR", "OA"}
        sums = totals[line["CLAIM_ID"]]
        for i, name in enumerate(("BILLED_AMT", "ALLOWED_AMT", "PAID_AMT")):
            sums[i] += amounts[name]
    for (claim_id,), claim in final["CLAIM"].items():
        expected = totals.get(claim_id, [Decimal(0)] * 3)
        actual = [Decimal(claim[n]) for n in ("TOTAL_BILLED", "TOTAL_ALLOWED", "TOTAL_PAID")]
        assert actual == expected, claim_id


def test_every_value_obeys_its_contract(changes, contracts):
    """Accepted values, patterns and named rules of the contracts, on every non-NULL value."""
    for table, events in changes.items():
        contract = contracts[table]
        for event in events:
            values = event["values"]
            for column in contract.columns:
                v = values[column.name]
                if v is None:
                    assert column.nullable, (table, column.name)
                    continue
                if column.accepted_values:
                    assert v in column.accepted_values, (table, column.name, v)
                if column.pattern:
                    assert re.search(column.pattern, v), (table, column.name, v)
                for rule in column.rules:
                    assert COLUMN_RULES[rule][1](v), (table, column.name, rule, v)
                if column.nested is not None:
                    for element in json.loads(v):
                        for field in column.nested.fields:
                            x = element.get(field.name)
                            if x is None:
                                assert field.nullable, (table, column.name, field.name)
                                continue
                            if field.accepted_values:
                                assert x in field.accepted_values, (column.name, field.name, x)
                            if field.pattern:
                                assert re.search(field.pattern, str(x)), (field.name, x)
                            for rule in field.rules:
                                assert COLUMN_RULES[rule][1](x), (field.name, rule, x)
            for rule in contract.rules:
                assert ROW_RULES[rule][1](values), (table, rule)


def test_identifiers_and_codes_look_real(final):
    packaged = set(icd10cm_codes())
    assert len(packaged) >= 300 and all(_ICD10CM.match(c) for c in packaged)
    for p in final["PROVIDER"].values():
        assert npi_is_valid(p["NPI"]) and p["NPI"].startswith("99")
        assert re.fullmatch(r"P\d{6}", p["PROVIDER_ID"]) and re.fullmatch(
            r"[0-9A-Z]{9}X", p["TAXONOMY_CODE"]
        )
    for m in final["MEMBER"].values():
        assert re.fullmatch(r"M\d{7}", m["MEMBER_ID"])
        ssn = m["SSN"]
        assert re.fullmatch(r"\d{9}", ssn) and ssn[:3] not in ("000", "666") and ssn[0] != "9"
        assert ssn[3:5] != "00" and ssn[5:] != "0000"
        assert re.fullmatch(r"555-\d{3}-\d{4}", m["PHONE"])
        assert m["EMAIL"] is None or m["EMAIL"].endswith("@example.com")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", m["BIRTH_DATE"]) and re.fullmatch(
            r"\d{5}", m["ZIP5"]
        )
    assert all(re.fullmatch(r"PLN\d{3}", p) for (p,) in final["PLAN"])
    assert all(re.fullmatch(r"E\d{7}", e) for (e,) in final["ENROLLMENT"])
    for claim in final["CLAIM"].values():
        assert re.fullmatch(r"C\d{8}", claim["CLAIM_ID"])
        dx = json.loads(claim["DIAGNOSIS_CODES"])
        assert json.dumps(dx, separators=(",", ":")) == claim["DIAGNOSIS_CODES"]  # compact
        assert 1 <= len(dx) <= 4 and [d["seq"] for d in dx] == list(range(1, len(dx) + 1))
        assert all(d["code"] in packaged for d in dx)
        if claim["CLAIM_FORM_TYPE"] == "I":
            assert re.fullmatch(r"0?\d{3}", claim["BILL_TYPE_CODE"])
            assert claim["BILL_TYPE_CODE"][-1] == claim["FREQUENCY_CODE"]
        else:
            assert claim["BILL_TYPE_CODE"] is None
    forms = {c["CLAIM_ID"]: c["CLAIM_FORM_TYPE"] for c in final["CLAIM"].values()}
    for line in final["CLAIM_LINE"].values():
        if forms[line["CLAIM_ID"]] == "P":
            assert line["REVENUE_CODE"] is None and line["PLACE_OF_SERVICE"] is not None
        else:
            assert line["REVENUE_CODE"] is not None and line["PLACE_OF_SERVICE"] is None
        assert line["MODIFIER_1"] in (None, "25", "59", "LT", "RT")
        assert line["UNITS"] >= 1


def test_claims_move_through_their_life_cycle(changes, final):
    statuses = Counter(c["CLAIM_STATUS"] for c in final["CLAIM"].values())
    assert {"PAID", "DENIED", "PARTIAL", "VOID"} <= set(statuses), statuses
    steps = defaultdict(list)
    for event in changes["CLAIM"]:
        steps[event["values"]["CLAIM_ID"]].append(event["values"]["CLAIM_STATUS"])
    paths = Counter(tuple(dict.fromkeys(s)) for s in steps.values())
    assert paths[("RECEIVED", "PENDED", "PAID")] and paths[("RECEIVED", "PAID")]
    lines_by_claim = defaultdict(list)
    for line in final["CLAIM_LINE"].values():
        lines_by_claim[line["CLAIM_ID"]].append(line)
    for (claim_id,), claim in final["CLAIM"].items():
        lines = lines_by_claim[claim_id]
        line_status = {line["LINE_STATUS"] for line in lines}
        status = claim["CLAIM_STATUS"]
        assert sorted(line["LINE_NUMBER"] for line in lines) == list(range(1, len(lines) + 1))
        if status in ("RECEIVED", "PENDED"):
            assert line_status == {"PENDED"} and claim["ADJUDICATED_DATE"] is None
        elif status == "VOID":
            assert lines == [] and claim["FREQUENCY_CODE"] == "8" and claim["ORIGINAL_CLAIM_ID"]
        else:
            assert (
                line_status
                == {"PAID": {"PAID"}, "DENIED": {"DENIED"}, "PARTIAL": {"PAID", "DENIED"}}[status]
            )
            assert claim["RECEIVED_DATE"] <= claim["ADJUDICATED_DATE"]
            assert claim["PAID_DATE"] is None or claim["ADJUDICATED_DATE"] < claim["PAID_DATE"]
            assert status != "DENIED" or claim["PAID_DATE"] is None
        assert claim["STATEMENT_FROM_DATE"] <= claim["STATEMENT_THRU_DATE"] < claim["RECEIVED_DATE"]
        if claim["FREQUENCY_CODE"] == "7":
            assert final["CLAIM"][(claim["ORIGINAL_CLAIM_ID"],)]["CLAIM_STATUS"] != "VOID"
    assert any(c["FREQUENCY_CODE"] == "7" for c in final["CLAIM"].values())


def test_claims_fall_in_covered_enrollment_spans(final):
    spans = defaultdict(list)
    for e in final["ENROLLMENT"].values():
        assert e["EFFECTIVE_DATE"].endswith("-01")
        assert e["TERMINATION_DATE"] is None or e["EFFECTIVE_DATE"] <= e["TERMINATION_DATE"]
        spans[e["MEMBER_ID"]].append((e["EFFECTIVE_DATE"], e["TERMINATION_DATE"] or "9999-12-31"))
    originals = [c for c in final["CLAIM"].values() if c["FREQUENCY_CODE"] == "1"]
    covered = sum(
        any(lo <= c["STATEMENT_FROM_DATE"] <= hi for lo, hi in spans[c["MEMBER_ID"]])
        for c in originals
    )
    assert covered >= 0.9 * len(originals)
    assert any(e["TERMINATION_DATE"] for e in final["ENROLLMENT"].values())
    assert any(e["TERMINATION_DATE"] is None for e in final["ENROLLMENT"].values())


def test_updated_at_is_the_commit_time(changes):
    for events in changes.values():
        for e in events:
            if e["change_seq"] is not None and e["op"] != "D":
                assert e["values"]["UPDATED_AT"] == e["dms_timestamp"]
            elif e["change_seq"] is None:  # full load: rows last changed before the load
                assert e["values"]["UPDATED_AT"] < e["dms_timestamp"]


def test_source_behaviour_worth_testing_downstream(changes, contracts):
    # Deleted keys that come back under the same key.
    reinserted = set()
    for table, events in changes.items():
        deleted = set()
        for e in events:
            key = key_of(contracts[table], e["values"])
            if e["op"] == "D":
                deleted.add(key)
            elif e["op"] == "I" and key in deleted:
                reinserted.add(table)
    assert "MEMBER" in reinserted and len(reinserted) >= 3, reinserted
    # A member update that changes nothing but UPDATED_AT, and real demographic changes.
    last: dict[str, dict[str, Any]] = {}
    noop = changed = 0
    for e in changes["MEMBER"]:
        values, member_id = e["values"], e["values"]["MEMBER_ID"]
        if e["op"] == "U":
            before = {k: v for k, v in last[member_id].items() if k != "UPDATED_AT"}
            after = {k: v for k, v in values.items() if k != "UPDATED_AT"}
            noop += before == after
            changed += before != after
            assert values["UPDATED_AT"] == e["dms_timestamp"]
        last[member_id] = values
    assert noop and changed
