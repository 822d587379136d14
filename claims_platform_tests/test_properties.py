"""Property: for random change streams split over files and batches in any arrival order, gold
equals the independent reference model of the source (current state and every SCD2 version).

Each example lands its files batch by batch (late files, duplicates, re-sent changes, ties,
with and without AR_H_CHANGE_SEQ, csv/csv.gz/parquet, date folders or not) and runs the real
pipeline (Dagster → PySpark silver → dbt gold) after each batch, as the landing sensor requests
it (only the gold that reads the tables of the batch's files).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims_platform.contracts import load_contracts
from claims_platform.simulator import write_dms_file
from claims_platform_tests.support.gold_compare import assert_surrogate_keys, diff_gold, read_gold
from claims_platform_tests.support.pipeline import LandingBatches
from claims_platform_tests.support.reference_model import expected_gold

pytestmark = pytest.mark.slow
CONTRACTS = load_contracts()
T0 = dt.datetime(2024, 3, 1, 12, 0, 0)
LAST_NAMES = ["Able", "Baker", "Cole"]
CITIES = ["Austin", "Dallas"]


def _member(mid: str, last: str, city: str, ts: dt.datetime) -> dict[str, Any]:
    return {
        "MEMBER_ID": mid,
        "SUBSCRIBER_ID": mid,
        "RELATIONSHIP_CODE": "18",
        "FIRST_NAME": "Pat",
        "LAST_NAME": last,
        "BIRTH_DATE": "1975-05-05",
        "GENDER": "U",
        "SSN": "123450000",
        "ADDRESS_LINE1": "9 Elm St",
        "CITY": city,
        "STATE": "TX",
        "ZIP5": "78701",
        "PHONE": "555-010-0001",
        "EMAIL": "pat@example.com",
        "UPDATED_AT": ts.isoformat(sep=" "),
    }


def _line(cid: str, n: int, paid: int, ts: dt.datetime) -> dict[str, Any]:
    paid_amt = Decimal(paid)
    return {
        "CLAIM_ID": cid,
        "LINE_NUMBER": n,
        "SERVICE_FROM_DATE": "2024-02-01",
        "SERVICE_THRU_DATE": "2024-02-01",
        "PROCEDURE_CODE": "99213",
        "PLACE_OF_SERVICE": "11",
        "UNITS": 1,
        "RENDERING_PROVIDER_ID": "PR1",
        "BILLED_AMT": paid_amt + 50,
        "ALLOWED_AMT": paid_amt + 10,
        "PAID_AMT": paid_amt,
        "DEDUCTIBLE_AMT": Decimal("10.00"),
        "COPAY_AMT": Decimal("0.00"),
        "COINSURANCE_AMT": Decimal("0.00"),
        "LINE_STATUS": "PAID",
        "ADJUSTMENTS": [{"group": "CO", "carc": "45", "amount": 40.0}] if paid % 2 else [],
        "UPDATED_AT": ts.isoformat(sep=" "),
    }


@st.composite
def key_history(draw, table: str, key: str) -> list[tuple[int, str, dict | None]]:
    """(tick, op, values) steps of one key; values None = key-only delete image."""
    steps = []
    exists = False
    tick = draw(st.integers(0, 3))
    for _ in range(draw(st.integers(1, 6))):
        tick += draw(st.sampled_from([0, 0, 1, 2]))  # ties are common
        when = T0 + dt.timedelta(seconds=tick)
        if table == "MEMBER":
            values = _member(
                key, draw(st.sampled_from(LAST_NAMES)), draw(st.sampled_from(CITIES)), when
            )
        else:
            cid, n = key.split("#")
            values = _line(cid, int(n), draw(st.integers(1, 3)) * 10, when)
        if not exists:
            steps.append((tick, "I", values))
            exists = True
        elif draw(st.booleans()):
            steps.append((tick, "U", values))
        else:
            steps.append((tick, "D", None if draw(st.booleans()) else values))
            exists = False
    return steps


@st.composite
def scenario(draw):
    with_seq = draw(st.booleans())
    changes = []  # (tick, table, op, values)
    for i in range(draw(st.integers(1, 4))):
        for tick, op, values in draw(key_history("MEMBER", f"M{i}")):
            changes.append((tick, "MEMBER", op, values or {"MEMBER_ID": f"M{i}"}))
    for i in range(draw(st.integers(0, 3))):
        key = f"C{i}#{draw(st.integers(1, 2))}"
        for tick, op, values in draw(key_history("CLAIM_LINE", key)):
            cid, n = key.split("#")
            changes.append(
                (tick, "CLAIM_LINE", op, values or {"CLAIM_ID": cid, "LINE_NUMBER": int(n)})
            )
    changes.sort(key=lambda c: c[0])  # commit order; equal ticks keep generation order
    n_files = draw(st.integers(1, 4))
    file_of = [draw(st.integers(0, n_files - 1)) for _ in changes]
    # Re-sent changes: some changes appear again in another file (a restarted DMS task).
    resent = [i for i in range(len(changes)) if draw(st.integers(0, 5)) == 0]
    batch_of_file = [draw(st.integers(0, 2)) for _ in range(n_files)]
    fmt = [draw(st.sampled_from(["csv", "csv.gz", "parquet"])) for _ in range(n_files)]
    folders = [draw(st.booleans()) for _ in range(n_files)]
    return with_seq, changes, file_of, resent, batch_of_file, fmt, folders


def _land(root: Path, example) -> list[list[tuple[str, str, list[dict]]]]:
    """Files per batch: (relative path, table, rows); also the reference events."""
    with_seq, changes, file_of, resent, batch_of_file, fmt, folders = example
    rows_by_file: dict[tuple[int, str], list[dict]] = {}
    for i, (tick, table, op, values) in enumerate(changes):
        when = T0 + dt.timedelta(seconds=tick)
        row = {
            "op": op,
            "dms_timestamp": when.isoformat(sep=" ", timespec="microseconds"),
            # Increasing in commit order, as DMS numbers changes.
            "change_seq": f"{i + 1:035d}" if with_seq else None,
            "values": values,
        }
        rows_by_file.setdefault((file_of[i], table), []).append(row)
        if i in resent:
            rows_by_file.setdefault(((file_of[i] + 1) % len(fmt), table), []).append(row)
    batches: list[list[tuple[str, str, list[dict]]]] = [[], [], []]
    for (f, table), rows in sorted(rows_by_file.items()):
        rows.sort(key=lambda r: (r["dms_timestamp"], r["change_seq"] or ""))
        last = dt.datetime.fromisoformat(rows[-1]["dms_timestamp"])
        name = f"{last:%Y%m%d-%H%M%S}{f:03d}.{fmt[f]}"
        folder = f"{last:%Y/%m/%d}/" if folders[f] else ""
        batches[batch_of_file[f]].append((f"CLAIMS/{table}/{folder}{name}", table, rows))
    return [b for b in batches if b]


@pytest.fixture
def fresh_data_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CLAIMS_ENV", "local")
    for var in ("CLAIMS_LANDING_URI", "CLAIMS_DUCKDB_PATH", "CLAIMS_TOKENIZATION_KEY"):
        monkeypatch.delenv(var, raising=False)

    def make() -> Path:
        data = tmp_path_factory.mktemp("prop") / "data"
        monkeypatch.setenv("CLAIMS_DATA_DIR", str(data))
        return data

    return make


@settings(
    max_examples=int(os.environ.get("CLAIMS_PROPERTY_EXAMPLES", "3")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("CI") == "true",
)
@given(example=scenario())
def test_gold_equals_the_model_for_any_interleaving_of_files_and_batches(fresh_data_dir, example):
    data = fresh_data_dir()
    try:
        events: dict[str, list[dict]] = {t: [] for t in CONTRACTS}
        batches = LandingBatches()
        for batch in _land(data / "landing", example):
            for rel, table, rows in batch:
                path = data / "landing" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                write_dms_file(path, CONTRACTS[table], rows, include_change_seq=example[0])
                events[table].extend({**r, "file": rel, "row": i} for i, r in enumerate(rows, 1))
            assert batches.run(quality_checks=False).success
            gold = read_gold(data / "warehouse.duckdb")
            problems = diff_gold(expected_gold(events), gold)
            assert problems == [], "\n".join(problems)
            assert_surrogate_keys(gold)
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
