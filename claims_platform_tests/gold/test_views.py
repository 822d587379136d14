"""Views on DuckDB are kept when their definition has not changed (dbt/macros/materializations/
view.sql) and re-created whenever it has: a source column added, a view altered by hand,
`--full-refresh`. What dbt ran for a model is its `main` statement, which dbt writes under
`target/run/`: a `create view`, or the fingerprint lookup when the view was kept."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from claims_platform_tests.gold import scenario as s
from claims_platform_tests.gold.dbt_cli import run_dbt

FINGERPRINT = "claims_platform view fingerprint "
VIEWS = {
    *(f"stg_silver__{t}" for t in (
        "claim", "claim_diagnosis", "claim_line", "claim_line_adjustment", "enrollment", "member",
        "plan", "provider",
    )),
    "int_calendar_months_generated", "int_valuation_month_derived",
    *(f"analyst_{t}" for t in ("dim_member", "fct_claim", "fct_claim_line", "fct_member_month")),
}  # fmt: skip


def _views(database: Path) -> dict[str, str | None]:
    """View name → comment (the fingerprint)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return dict(
            con.execute(
                "select view_name, comment from duckdb_views() where not internal"
            ).fetchall()
        )
    finally:
        con.close()


def _created(work: Path) -> set[str]:
    """The views the last dbt command created (the others it kept)."""
    created = set()
    for path in (work / "target" / "run").rglob("*.sql"):
        main = path.read_text().lower()
        if "create view" in main and path.stem in VIEWS:
            created.add(path.stem)
    return created


def _run(work: Path, database: Path, *args: str) -> None:
    result = run_dbt("run", work, database, *args)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    database = tmp_path / "warehouse.duckdb"
    silver, _ids = s.build_silver()
    silver.write(str(database))
    # `dbt run` builds models only; the marts read a seed, loaded once like a deployment does.
    seeded = run_dbt("seed", tmp_path, database)
    assert seeded.returncode == 0, seeded.stdout[-4000:]
    _run(tmp_path, database)
    return tmp_path, database


def test_unchanged_views_are_kept_and_changed_ones_recreated(built):
    work, database = built
    first = _views(database)
    assert set(first) == VIEWS
    assert all((c or "").startswith(FINGERPRINT) for c in first.values()), first
    assert _created(work) == VIEWS

    _run(work, database)
    assert _created(work) == set(), "a second run with nothing changed re-created views"
    assert _views(database) == first

    # A column no contract classifies, in silver: staging's SQL stays the same (the column is
    # not carried: default-deny), so the view is kept; a classified one changes the SQL and the
    # view is re-created (test_added_columns.py). A view replaced by hand keeps its name but not
    # its definition: re-created.
    con = duckdb.connect(str(database))
    con.execute("alter table silver.plan add column network_tier varchar")
    con.execute("create or replace view staging.stg_silver__member as select 1 as broken")
    con.close()
    _run(work, database)
    assert _created(work) == {"stg_silver__member"}
    after = _views(database)
    assert after["stg_silver__plan"] == first["stg_silver__plan"]
    assert after["stg_silver__member"] == first["stg_silver__member"]
    con = duckdb.connect(str(database), read_only=True)
    plan_columns = [d[0] for d in con.execute("select * from staging.stg_silver__plan").description]
    member_columns = len(con.execute("select * from staging.stg_silver__member").description)
    con.close()
    assert "network_tier" not in plan_columns and member_columns > 1


def test_full_refresh_recreates_every_view(built):
    work, database = built
    first = _views(database)
    _run(work, database, "--full-refresh")
    assert _created(work) == VIEWS
    assert _views(database) == first, "the same definitions give the same fingerprints"
