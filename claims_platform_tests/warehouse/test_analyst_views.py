"""What an analyst sees locally: the analyst views mask PHI by class, and the dbt tests guarding
the analyst-facing marts and views fail when PHI gets through.

Gold tables are written by hand (one row per PHI-bearing model, every documented column), so the
test runs only the analyst views and the governance tests, not the whole gold build.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from claims_platform.warehouse.phi_meta import effective_mask
from claims_platform_tests.conftest import REPO_ROOT

MASKED = ("dim_member", "fct_claim", "fct_claim_line", "fct_member_month")
BIRTH = dt.date(1980, 5, 17)


def _value(column: dict[str, Any]) -> str:
    mask = effective_mask(column["meta"])
    if mask == "year":
        return f"date '{BIRTH.isoformat()}'"
    if mask == "zip3":
        return "'02108'"
    return f"'value of {column['name']}'"


def _gold_columns() -> dict[str, list[dict[str, Any]]]:
    """Documented columns (name, meta) of the gold models, from their YAML."""
    text = (REPO_ROOT / "dbt" / "models" / "marts" / "_marts__models.yml").read_text()
    return {
        model["name"]: [
            {"name": c["name"], "meta": (c.get("config") or {}).get("meta") or {}}
            for c in model["columns"]
        ]
        for model in yaml.safe_load(text)["models"]
    }


def _dbt(work: Path, *args: str) -> Any:
    """dbt in-process (the imports are paid once per session), on the local DuckDB target."""
    from dbt.cli.main import dbtRunner

    dbt_dir = str(REPO_ROOT / "dbt")
    return dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            dbt_dir,
            "--profiles-dir",
            dbt_dir,
            "--target",
            "local",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ]
    )


@pytest.fixture(scope="module")
def analyst(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("analyst")
    database = work / "warehouse.duckdb"
    columns = _gold_columns()
    con = duckdb.connect(str(database))
    try:
        con.execute("create schema gold")
        for name in MASKED:
            values = ", ".join(f"{_value(c)} as {c['name']}" for c in columns[name])
            con.execute(f"create table gold.{name} as select {values}")
        # An analyst-facing mart that leaks a direct identifier, and one that does not.
        con.execute("create table gold.mart_pmpm as select 'M1' as member_id, 1 as member_months")
        con.execute("create table gold.mart_claim_lag as select 1 as lag_months")
    finally:
        con.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMS_DUCKDB_PATH", str(database))
        built = _dbt(work, "run", "--select", "marts.analyst")
        assert built.success, built.exception
        con = duckdb.connect(str(database))
        try:
            views = {}
            for name in MASKED:
                cursor = con.execute(f"select * from analyst.analyst_{name}")
                names = [c[0] for c in cursor.description]
                views[name] = dict(zip(names, cursor.fetchone(), strict=True))
            # Tamper with one view: service dates shown as they are.
            con.execute(
                "create or replace view analyst.analyst_fct_claim_line as "
                "select * from gold.fct_claim_line"
            )
        finally:
            con.close()
        tested = _dbt(work, "test", "--select", "marts.analyst", "test_name:no_direct_identifiers")
    return {
        "columns": columns,
        "views": views,
        "tests": {
            r.node.unique_id.split(".")[2]: str(r.status)
            for r in tested.result.results
            if r.node.resource_type == "test"
        },
        "log": (work / "logs" / "dbt.log").read_text(),
    }


def test_analyst_views_mask_each_phi_column_by_its_class(analyst):
    member = analyst["views"]["dim_member"]
    for name in ("member_id", "subscriber_id", "first_name", "last_name", "ssn_token", "phone"):
        assert member[name] is None, name
    assert member["city"] is None
    assert member["birth_date"] == dt.date(1980, 1, 1)
    assert member["zip5"] == "021"
    assert member["gender"] == "value of gender"
    claim = analyst["views"]["fct_claim"]
    assert claim["member_id"] is None
    assert claim["paid_date"] == dt.date(1980, 1, 1)
    assert claim["claim_id"] == "value of claim_id"
    assert analyst["views"]["fct_member_month"]["year_month"] == dt.date(1980, 1, 1)


def test_analyst_views_list_the_gold_models_columns_but_bookkeeping(analyst):
    for name in MASKED:
        documented = [c["name"] for c in analyst["columns"][name]]
        assert list(analyst["views"][name]) == [c for c in documented if not c.startswith("_")]


def test_governance_tests_fail_exactly_where_phi_gets_through(analyst):
    tests = analyst["tests"]
    assert tests == {
        "no_direct_identifiers_mart_pmpm_": "fail",
        "no_direct_identifiers_mart_claim_lag_": "pass",
        "no_direct_identifiers_mart_pmpm_by_service_category_": "pass",
        "no_direct_identifiers_mart_high_cost_claimants_": "pass",
        "no_direct_identifiers_mart_paid_lag_triangle_": "pass",
        "no_direct_identifiers_mart_completion_factors_": "pass",
        "no_direct_identifiers_mart_ibnr_": "pass",
        "phi_masked_analyst_dim_member_dim_member": "pass",
        "phi_masked_analyst_fct_claim_fct_claim": "pass",
        "phi_masked_analyst_fct_claim_line_fct_claim_line": "fail",
        "phi_masked_analyst_fct_member_month_fct_member_month": "pass",
    }
    # Failures name columns, never values.
    assert "value of" not in analyst["log"]
