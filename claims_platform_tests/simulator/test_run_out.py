"""Run-out in the simulated claims: what lag triangles, completion factors and IBNR need to see.

One run with a long claim history (the demo's setting, scaled down), read back from the truth files.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from claims_platform.simulator import FileReport, main_simulate, simulate
from claims_platform.simulator.cli import Progress
from claims_platform.simulator.triangle import build_triangle, format_triangle, read_claims

from .helpers import read_jsonl


@pytest.fixture(scope="module")
def history_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run_out")
    simulate(root / "landing", seed=11, members=150, days=20, history_days=300, truth_dir=root)
    return root


def _days(later: str, earlier: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days


def test_the_paid_triangle_has_a_year_of_incurred_months_and_a_decaying_tail(history_run):
    triangle = build_triangle(read_claims(history_run))
    assert triangle.first_received is not None
    observed = [m for m in triangle.incurred_months if m >= triangle.first_received]
    assert len(observed) >= 9
    assert max(d for m, d in triangle.paid if m >= triangle.first_received) >= 6
    shares = triangle.share_by_development()
    assert shares[0] + shares[1] >= 0.6  # most paid in the month of service or the next
    tail = sum(s for d, s in shares.items() if d >= 3)
    assert 0.005 <= tail <= 0.15, shares  # a few percent paid three or more months later
    text = format_triangle(triangle)
    assert text.splitlines()[0].startswith("incurred") and "dev 6" in text


def test_late_receipts_long_pends_and_old_originals(history_run):
    claims = read_claims(history_run)
    originals = [c for c in claims if c["FREQUENCY_CODE"] == "1"]
    lags = [_days(c["RECEIVED_DATE"], c["STATEMENT_THRU_DATE"]) for c in originals]
    assert 0 < max(lags) <= 400
    late = sum(lag > 90 for lag in lags) / len(lags)
    assert 0.01 <= late <= 0.08, late  # a few percent received months after service
    # Past the longest timely-filing limit a claim is mostly denied for timely filing (CARC 29).
    lines = read_jsonl(history_run / "CLAIM_LINE.final.jsonl")
    assert any('"carc":"29"' in line["ADJUSTMENTS"] for line in lines)
    reviews = [
        c
        for c in originals
        if c["ADJUDICATED_DATE"] and _days(c["ADJUDICATED_DATE"], c["RECEIVED_DATE"]) >= 30
    ]
    assert reviews  # medical review: decided a month or more after receipt
    triangle = build_triangle(claims)
    ages = triangle.adjustment_age["7"] + triangle.adjustment_age["8"]
    assert sum(n for age, n in ages.items() if age >= 2) >= 3, ages  # originals months old
    # No claim is replaced or voided twice.
    named = [c["ORIGINAL_CLAIM_ID"] for c in claims if c["ORIGINAL_CLAIM_ID"]]
    assert len(named) == len(set(named))


def test_history_days_is_validated_and_reaches_the_full_load(tmp_path, capsys):
    with pytest.raises(ValueError, match="history_days"):
        simulate(tmp_path / "x", members=5, days=0, history_days=-1)
    assert main_simulate(["--out", str(tmp_path / "y"), "--history-days", "5000"]) == 2
    assert "--history-days" in capsys.readouterr().err
    code = main_simulate(
        ["--out", str(tmp_path / "z"), "--members", "20", "--days", "1", "--history-days", "90"]
    )
    assert code == 0
    out = capsys.readouterr()
    assert out.out.startswith("wrote ") and out.err == ""  # a short run prints no progress
    with open(tmp_path / "z/CLAIMS/CLAIM/LOAD00000001.csv", newline="") as handle:
        received = min(row["RECEIVED_DATE"] for row in csv.DictReader(handle))
    # 90 days before the 2024-01-01 start, and not just the default 21.
    assert "2023-10-03" <= received < "2023-11-01"


def test_progress_prints_a_line_every_interval_only():
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(60, every=5.0, stream=stream, clock=lambda: now[0])
    progress.load(FileReport(3, 0, 1_000))
    for k in range(60):
        now[0] += 0.5  # 0.5 s a day: a line every 10 days
        progress.day(k, FileReport(2, 0, 20_000))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6
    assert lines[0] == "day 10/60 · 201,000 changes · 5 s"
    assert lines[-1] == "day 60/60 · 1,201,000 changes · 30 s"
