"""Incremental gold: batch after batch, gold equals the oracle and a full refresh, and each run
rewrites only the keys its batch touched.

Four silver batches (``batches.py``) are appended to one DuckDB file, each followed by a plain
``dbt run`` of every model for the first, then by an incremental ``dbt build`` of the models the
landing sensor selects for the tables the batch wrote (batches 3 and 4 leave claim lines, plans
and providers alone, so their models are not built). After each:

* gold equals the independent reference model (``support/reference_model.py``) computed from every
  change event so far;
* from batch 2 on, gold (and the incremental enrollment coverage) equals, row for row and column
  for column including surrogate keys and bookkeeping, a ``dbt run --full-refresh`` of the same
  silver (run on a copy; the incremental file goes on);
* before batches 2 and 3 every row of the incremental gold tables is marked in an extra column the
  models do not know; the rows a run writes come back unmarked, so the marks tell exactly which
  keys the run rebuilt.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from claims_platform.orchestration.bronze.sensor import gold_selection
from claims_platform.orchestration.definitions import gold_reads, silver_keys_by_table
from claims_platform_tests.gold import batches
from claims_platform_tests.gold.dbt_cli import run_dbt
from claims_platform_tests.support import reference_model
from claims_platform_tests.support.gold_compare import diff_gold, read_gold

# Incremental gold tables and their keys (the unit an incremental run rebuilds).
INCREMENTAL_KEYS: dict[str, tuple[str, ...]] = {
    "dim_member": ("member_id",),
    "dim_provider": ("provider_id",),
    "dim_plan": ("plan_id",),
    "fct_claim": ("claim_id",),
    "fct_claim_diagnosis": ("claim_id",),
    "fct_claim_line": ("claim_id", "line_number"),
    "fct_claim_line_adjustment": ("claim_id", "line_number"),
    "fct_member_month": ("member_id",),
}
MARK = "_test_not_rewritten"
BATCHES = (1, 2, 3, 4)
# Compared with a full refresh besides the gold schema: the incremental coverage table.
COMPARED_SCHEMAS = ("gold", "intermediate")


def _expected_gold(events: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The oracle. The reference model knows the columns of CONTRACT §3 only and ignores any
    other, as gold does with a column added at the source that no contract classifies (it stays
    out of staging and gold: default-deny, dbt/macros/incremental.sql added_source_columns)."""
    return reference_model.expected_gold(events)


def _platform_selection(silver: batches.Silver) -> list[str]:
    """`--select` for the dbt models a platform run of this batch builds: the gold the landing
    sensor selects for the tables the batch has changes of (orchestration/bronze/sensor.gold_selection)."""
    changed = {
        k for table, rows in silver.events.items() if rows for k in silver_keys_by_table[table]
    }
    return ["--select", *sorted(k.path[-1] for k in gold_selection(gold_reads, changed))]


# Budget vars for batch 2 that make the DuckDB memory budget of an incremental model tell how
# many changes it counted (macros/incremental_memory.sql): 64 MB a change, at least 64 MB.
BUDGET_VARS = (
    "--vars",
    '{"incremental_memory_floor_mb": 64, "incremental_memory_kb_per_change": 65536}',
)
_MEMORY_LIMIT = re.compile(
    r'"node_id": "model\.claims_platform\.(\w+)"\} \*/\s+set memory_limit = \'(\d+)MB\''
)


def _log_since(log: Path, offset: int) -> str:
    """What dbt wrote to its debug log (every statement it ran) after `offset`."""
    with log.open(encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def _memory_limits(dbt_log: str) -> dict[str, int]:
    """Model → the memory_limit (MB) its pre-hook set."""
    return {m[1]: int(m[2]) for m in _MEMORY_LIMIT.finditer(dbt_log)}


def _check(result, what: str) -> None:
    assert result.returncode == 0, f"{what}:\n{result.stdout[-6000:]}{result.stderr[-3000:]}"


def _all_rows(database: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table of the compared schemas: (column names in order, rows sorted)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema in (?, ?)"
            " order by table_schema, table_name",
            list(COMPARED_SCHEMAS),
        ).fetchall()
        out = {}
        for schema, table in tables:
            cursor = con.execute(f'select * from "{schema}"."{table}"')
            columns = [c[0] for c in cursor.description]
            out[f"{schema}.{table}"] = (columns, sorted(cursor.fetchall(), key=repr))
        return out
    finally:
        con.close()


def _mark_rows(database: Path) -> None:
    con = duckdb.connect(str(database))
    try:
        for table in INCREMENTAL_KEYS:
            con.execute(f"alter table gold.{table} add column {MARK} boolean")
            con.execute(f"update gold.{table} set {MARK} = true")
    finally:
        con.close()


def _collect_marks(database: Path) -> dict[str, dict[str, set[tuple]]]:
    """Per table, the keys with rows the run wrote and with rows it left; then drop the marks."""
    con = duckdb.connect(str(database))
    try:
        marks: dict[str, dict[str, set[tuple]]] = {}
        for table, keys in INCREMENTAL_KEYS.items():
            key_list = ", ".join(keys)
            marks[table] = {
                state: set(
                    con.execute(
                        f"select distinct {key_list} from gold.{table} where {condition}"
                    ).fetchall()
                )
                for state, condition in (
                    ("rewritten", f"{MARK} is null"),
                    ("kept", f"{MARK}"),
                )
            }
            con.execute(f"alter table gold.{table} drop column {MARK}")
        return marks
    finally:
        con.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    work_dir = tmp_path_factory.mktemp("incremental")
    database = work_dir / "warehouse.duckdb"
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    results: dict[int, dict[str, Any]] = {}
    # `dbt run` builds models only: the seeds the marts read are loaded once, as a deployment
    # does before its first run (the platform's `dbt build` loads them itself).
    _check(run_dbt("seed", work_dir, database), "dbt seed")
    for number in BATCHES:
        silver = batches.batch(number)
        silver.write(str(database))
        for table, table_events in silver.events.items():
            events[table].extend(table_events)
        if number > 1:
            _mark_rows(database)
        # Batch 1 is an ordinary full build (its dbt tests run in test_dbt_gold.py); later
        # batches run the tests on the incremental result too.
        command = "run" if number == 1 else "build"
        selection = [] if number == 1 else _platform_selection(silver)
        budget_vars = BUDGET_VARS if number == 2 else ()
        log = work_dir / "logs" / "dbt.log"
        offset = log.stat().st_size if log.exists() else 0
        started = time.perf_counter()
        _check(
            run_dbt(command, work_dir, database, *selection, *budget_vars),
            f"dbt {command} after batch {number}",
        )
        print(f"batch {number}: dbt {command} {time.perf_counter() - started:.1f}s")
        run_results = json.loads((work_dir / "target" / "run_results.json").read_text())
        result: dict[str, Any] = {
            "statuses": {r["unique_id"]: r["status"] for r in run_results["results"]},
            "dbt_log": _log_since(log, offset),
            "silver_rows": {table: len(rows) for table, rows in silver.rows.items()},
            "marks": _collect_marks(database) if number > 1 else None,
            "gold": read_gold(database),
            "expected": _expected_gold(events),
            "incremental": _all_rows(database),
        }
        if number > 1:
            # Full refresh of the same silver, on the same path (so dbt reuses its parse): set
            # the incremental file aside, rebuild, read, and put the incremental file back.
            kept = work_dir / "incremental.duckdb"
            shutil.copyfile(database, kept)
            started = time.perf_counter()
            _check(
                # The actuarial marts are partitions built by valuation month, never by a
                # refresh (full_refresh false; tested in claims_platform_tests/actuarial).
                run_dbt("run", work_dir, database, "--full-refresh", "--exclude", "tag:actuarial"),
                f"dbt run --full-refresh after batch {number}",
            )
            print(f"batch {number}: dbt run --full-refresh {time.perf_counter() - started:.1f}s")
            result["full_refresh"] = _all_rows(database)
            shutil.copyfile(kept, database)
        results[number] = result
    return results


@pytest.mark.parametrize("number", BATCHES)
def test_gold_equals_the_reference_model_after_each_batch(runs, number):
    problems = diff_gold(runs[number]["expected"], runs[number]["gold"])
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("number", BATCHES[1:])
def test_incremental_gold_equals_a_full_refresh(runs, number):
    incremental, full = runs[number]["incremental"], runs[number]["full_refresh"]
    assert set(incremental) == set(full)
    assert "intermediate.int_enrollment_coverage_resolved" in incremental
    for table in sorted(full):
        columns, rows = incremental[table]
        assert columns == full[table][0], table
        assert rows == full[table][1], table


def test_a_batch_builds_only_the_models_that_read_its_tables(runs):
    def built(number: int) -> set[str]:
        return {
            uid.rsplit(".", 1)[-1] for uid in runs[number]["statuses"] if uid.startswith("model.")
        }

    # Batch 2 changes every table; batch 3 members and claims; batch 4 claims and enrollments.
    assert {"dim_plan", "dim_provider", "fct_claim_line", "mart_pmpm"} <= built(2)
    assert {"dim_member", "fct_claim", "fct_member_month", "mart_pmpm"} <= built(3)
    assert built(3).isdisjoint(
        {"dim_plan", "dim_provider", "fct_claim_line", "fct_claim_line_adjustment"}
    )
    assert {"fct_claim", "fct_member_month", "mart_claim_lag"} <= built(4)
    assert built(4).isdisjoint({"dim_member", "dim_plan", "dim_provider", "fct_claim_line"})


def test_an_incremental_model_gets_a_duckdb_memory_budget_that_follows_its_batch(runs):
    # A full build keeps DuckDB's default (a full refresh needs GBs).
    assert _memory_limits(runs[1]["dbt_log"]) == {}
    limits, rows = _memory_limits(runs[2]["dbt_log"]), runs[2]["silver_rows"]
    # 64 MB for each change loaded after the model's watermark into its staging parents.
    assert limits["fct_claim_line"] == 64 * rows["claim_line"]
    assert limits["dim_member"] == 64 * rows["member"]
    assert limits["fct_claim"] == 64 * rows["claim"]
    assert rows["plan"] == 1 and limits["dim_plan"] == 64
    # Incremental models only (the marts are incremental too), never a view; a model with only
    # a few changes gets the floor.
    assert set(INCREMENTAL_KEYS) | {"int_enrollment_coverage_resolved", "mart_pmpm"} <= set(limits)
    assert not any(name.startswith(("stg_", "analyst_")) for name in limits)
    assert min(limits.values()) == 64
    # Each set is undone after the model (DuckDB's default for whatever runs next).
    assert runs[2]["dbt_log"].count("reset memory_limit") >= len(limits)


@pytest.mark.parametrize("number", BATCHES[1:])
def test_dbt_tests_pass_on_incremental_runs(runs, number):
    statuses = runs[number]["statuses"]
    bad = {k: v for k, v in statuses.items() if v not in ("success", "pass", "warn", "no-op")}
    assert bad == {}


@pytest.mark.parametrize("number", BATCHES[1:])
def test_a_run_rewrites_exactly_the_keys_its_batch_touched(runs, number):
    marks = runs[number]["marks"]
    for table, expected in batches.TOUCHED[number].items():
        assert marks[table]["rewritten"] == expected, table
        # a key is rebuilt as a whole or not at all
        assert not marks[table]["rewritten"] & marks[table]["kept"], table
        assert batches.UNTOUCHED.get(number, {}).get(table, set()) <= marks[table]["kept"], table


def _rows(runs, number: int, table: str, **where: Any) -> list[dict[str, Any]]:
    return [
        row
        for row in runs[number]["gold"][table]
        if all(row[column] == value for column, value in where.items())
    ]


def test_a_late_change_lands_between_versions_and_surrogate_keys_stay(runs):
    before = sorted(_rows(runs, 1, "dim_member", member_id="M1"), key=lambda r: r["valid_from"])
    after = sorted(_rows(runs, 2, "dim_member", member_id="M1"), key=lambda r: r["valid_from"])
    assert [(r["city"], r["phone"]) for r in after] == [
        ("Boston", "6175550100"),
        ("Boston", "6175550199"),  # the late change, between the two versions of batch 1
        ("Cambridge", "6175550199"),
    ]
    assert [r["valid_to"] for r in after][:2] == [after[1]["valid_from"], after[2]["valid_from"]]
    assert {r["member_sk"] for r in before} < {r["member_sk"] for r in after}
    # a late update between a claim's changes does not replace its current state
    assert _rows(runs, 2, "fct_claim", claim_id="C3")[0]["claim_status"] == "PAID"


def test_deleted_keys_disappear_on_an_incremental_run(runs):
    for table, where in (
        ("fct_claim", {"claim_id": "C4"}),
        ("fct_claim", {"claim_id": "C5"}),
        ("fct_claim_diagnosis", {"claim_id": "C4"}),
        ("fct_claim_diagnosis", {"claim_id": "C7"}),  # DIAGNOSIS_CODES emptied
        ("fct_claim_line", {"claim_id": "C1", "line_number": 2}),
        ("fct_claim_line_adjustment", {"claim_id": "C1", "line_number": 2}),
        ("fct_claim_line_adjustment", {"claim_id": "C7", "line_number": 1}),  # emptied
        ("fct_member_month", {"member_id": "M3"}),  # its only enrollment deleted
    ):
        assert _rows(runs, 1, table, **where), (table, where)
        assert not _rows(runs, 2, table, **where), (table, where)
    # the line of a deleted claim exists by its own changes
    assert _rows(runs, 2, "fct_claim_line", claim_id="C4", line_number=1)


def test_final_action_follows_replacements_and_voids_across_batches(runs):
    def final(number: int) -> dict[str, bool]:
        return {r["claim_id"]: r["is_final_action"] for r in runs[number]["gold"]["fct_claim"]}

    assert {k: final(1)[k] for k in ("C1", "C2", "C3", "C6")} == {
        "C1": True,
        "C2": False,  # replaced by C11
        "C3": True,
        "C6": False,  # voided by C5
    }
    assert {k: final(2)[k] for k in ("C1", "C2", "C3", "C6", "C10", "C11")} == {
        "C1": False,  # replaced by C10 (new)
        "C2": True,  # C11 now replaces C3 instead
        "C3": False,
        "C6": True,  # its void C5 was deleted
        "C10": True,
        "C11": True,
    }


def test_the_valuation_month_advancing_extends_open_enrollments(runs):
    def months(number: int, member_id: str) -> list[str]:
        return sorted(
            r["year_month"].isoformat()[:7]
            for r in _rows(runs, number, "fct_member_month", member_id=member_id)
        )

    assert months(1, "M6") == []  # its open enrollment starts in April, after batch 1's month
    assert months(2, "M6") == ["2024-04"]
    assert months(1, "M4")[-1] == "2024-03"  # E4 open since January
    assert months(2, "M4")[-1] == "2024-04"
    assert months(2, "M5")[-1] == "2024-06"  # E2 moved to M5 from M2, terminated in June
    assert months(2, "M1") == ["2024-01", "2024-02", "2024-03"]  # terminated in March


def test_an_unclassified_column_added_at_the_source_reaches_no_gold_table(runs):
    """Batch 3's silver carries PREFERRED_LANGUAGE and CLAIM_SOURCE, which no contract
    classifies: no gold table or analyst view gets them, nor their values."""
    added = {c.lower() for columns in batches.ADDED_COLUMNS.values() for c in columns}
    for number in (3, 4):
        for table, (columns, _) in runs[number]["incremental"].items():
            assert not added & set(columns), table
        for table, rows in runs[number]["gold"].items():
            assert not any(added & set(row) for row in rows), table
    # A change of an unclassified column alone is no tracked change: M1 opened no version.
    m1 = sorted(_rows(runs, 3, "dim_member", member_id="M1"), key=lambda r: r["valid_from"])
    assert len(m1) == len(_rows(runs, 2, "dim_member", member_id="M1"))


def test_marts_follow_changes_to_old_months(runs):
    def pmpm(number: int) -> dict[tuple[str, str], tuple]:
        return {
            (r["year_month"].isoformat()[:7], r["line_of_business"]): (
                r["member_months"],
                r["paid_amount"],
            )
            for r in runs[number]["gold"]["mart_pmpm"]
        }

    before, after = pmpm(3), pmpm(4)
    # E7, the only coverage of December 2023, deleted: the month leaves the mart
    assert any(month == "2023-12" for month, _ in before)
    assert not any(month == "2023-12" for month, _ in after)
    # C9 moved to November 2023, where nobody is covered
    assert ("2023-11", "UNKNOWN") not in before
    assert after[("2023-11", "UNKNOWN")] == (0, Decimal("15.00"))
    # E9 moved to a MEDICARE_ADVANTAGE plan: M8's January member month follows it
    members_before = before.get(("2024-01", "MEDICARE_ADVANTAGE"), (0,))[0]
    assert after[("2024-01", "MEDICARE_ADVANTAGE")][0] == members_before + 1
    lag_months = {r["incurred_month"].isoformat()[:7] for r in runs[4]["gold"]["mart_claim_lag"]}
    assert "2023-11" in lag_months
