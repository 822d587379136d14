"""The dbt project on the Snowflake `prod` target, offline (fakesnow; see conftest.py).

Validated here: every model builds (full path) and compiles (incremental path) through
dbt-snowflake; every compiled model, test and hook, every statement dbt sent, the masking policies
and the role layout are Snowflake SQL (sqlglot, snowflake_sql.py); no DuckDB-only SQL outside
`duckdb__` macros. Not validated offline: Snowflake's own semantics (fakesnow executes on DuckDB,
and masking policies, roles and grants are no-ops there).
"""

from __future__ import annotations

import json
import re

from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.warehouse.conftest import SNOWFLAKE_ENV, SnowflakeDbt
from claims_platform_tests.warehouse.snowflake_sql import DUCKDB_ONLY, problems

POLICIES = {
    "redact": "CLAIMS.GOVERNANCE.PHI_P_REDACT",
    "suppress": "CLAIMS.GOVERNANCE.PHI_Q_SUPPRESS",
    "year": "CLAIMS.GOVERNANCE.PHI_Q_YEAR",
    "zip3": "CLAIMS.GOVERNANCE.PHI_Q_ZIP3",
}
_QUERY_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def _statements(run: SnowflakeDbt) -> list[str]:
    """The statements sent, without dbt's query comment, on one line, without the final `;`."""
    return [
        " ".join(_QUERY_COMMENT.sub(" ", s).split()).rstrip(";").strip() for s in run.statements
    ]


def test_dbt_builds_compiles_and_renders_the_role_layout_on_snowflake(snowflake_dbt):
    failed = {
        name: str(result.exception or result.result)[:2000]
        for name, result in snowflake_dbt.results.items()
        if not result.success
    }
    assert failed == {}
    compiled = snowflake_dbt.target / "compiled" / "claims_platform" / "models"
    models = [n for n in snowflake_dbt.manifest["nodes"].values() if n["resource_type"] == "model"]
    assert {p.stem for p in compiled.rglob("*.sql")} >= {n["name"] for n in models}


def test_everything_dbt_sends_to_snowflake_is_snowflake_sql(snowflake_dbt):
    found = []
    for root in ("compiled", "run"):
        for path in sorted((snowflake_dbt.target / root).rglob("*.sql")):
            found += problems(path.read_text(), str(path.relative_to(snowflake_dbt.target)))
    for number, statement in enumerate(snowflake_dbt.statements):
        found += problems(statement, f"statement {number}")
    assert found == []
    assert len(snowflake_dbt.statements) > 100


def test_the_validator_rejects_what_snowflake_would():
    assert problems("select a from t", "ok") == []
    assert problems("select cast(x as hugeint) // 2 from t", "q")
    assert problems("select to_months(3)", "q")
    assert problems("select from where", "q")
    assert problems("alter table t modify column c set masking policy p force", "ok") == []
    assert problems("alter table t modify column c set masking policy", "q")
    assert problems("grant everything to everyone", "q")
    body = "case when is_role_in_session('PHI_READER') then val else left(val, 3) end"
    assert problems(f"alter masking policy p set body -> {body}", "ok") == []
    assert problems("alter masking policy p set body -> case when then", "q")


def test_no_duckdb_only_sql_outside_duckdb_macros():
    dbt = REPO_ROOT / "dbt"
    found = []
    for path in sorted([*dbt.glob("models/**/*.sql"), *dbt.glob("macros/**/*.sql")]):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.DOTALL)
        text = re.sub(
            r"\{%-?\s*macro duckdb__.*?\{%-?\s*endmacro\s*-?%\}", "", text, flags=re.DOTALL
        )
        text = re.sub(r"'(?:[^']|'')*'", "''", text)
        found += [f"{path.relative_to(dbt)}: {m.group(0)}" for m in DUCKDB_ONLY.finditer(text)]
    assert found == []


def test_masking_policies_are_created_and_set_on_every_phi_column(snowflake_dbt):
    statements = _statements(snowflake_dbt)
    created = {
        m[1]: m[2]
        for s in statements
        if (m := re.match(r"create masking policy if not exists (\S+) .*?-> (.*?) comment", s))
    }
    assert set(created) == set(POLICIES.values())
    for body in created.values():
        assert body.startswith("case when is_role_in_session('PHI_READER') then val else")
    assert "cast(date_trunc('year', val) as date)" in created[POLICIES["year"]]
    assert "left(val, 3)" in created[POLICIES["zip3"]]
    assert "cast(null as varchar)" in created[POLICIES["redact"]]

    applied = {
        (m[2].lower(), m[3], m[4])
        for s in statements
        if (
            m := re.match(
                r"alter (table|view) (\S+) modify column (\w+) set masking policy (\S+)", s
            )
        )
    }
    expected = set()
    for node in snowflake_dbt.manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        relation = f"claims.{node['schema']}.{node['alias']}".lower()
        for name, column in node["columns"].items():
            meta = column["meta"]
            if meta.get("phi"):
                mask = meta.get("phi_mask") or {"P": "redact", "Q": "suppress"}[meta["phi"]]
                expected.add((relation, name, POLICIES[mask]))
    assert applied == expected
    assert ("claims.gold.dim_member", "birth_date", POLICIES["year"]) in applied
    assert ("claims.gold.dim_member", "ssn_token", POLICIES["redact"]) in applied
    assert not any(relation.startswith("claims.analyst.") for relation, _, _ in applied)
    assert not any("mart_" in relation for relation, _, _ in applied)


def test_role_layout_is_least_privilege(snowflake_dbt):
    grants = [s.lower() for s in _statements(snowflake_dbt) if s.lower().startswith("grant ")]
    assert grants

    def to_role(role: str) -> list[str]:
        return [g for g in grants if g.endswith(f" to role {role}")]

    analyst = " ".join(to_role("analyst"))
    for schema in ("silver", "audit", "restricted", "staging", "intermediate", "governance"):
        assert f"claims.{schema} " not in analyst + " "
    # Rejects and unclassified added columns (raw values, SSNs among them): the loading role
    # alone, and no future grant on the schema for anyone.
    statements = [s.lower() for s in _statements(snowflake_dbt)]
    assert "create schema if not exists claims.restricted" in statements
    assert [g for g in grants if "claims.restricted" in g] == [
        "grant usage, create table on schema claims.restricted to role loader"
    ]
    assert "grant select on future tables in schema claims.gold to role analyst" in grants
    assert "grant select on future views in schema claims.analyst to role analyst" in grants
    assert [g for g in grants if g.startswith("grant role phi_reader")] == [
        "grant role phi_reader to role sysadmin",
        "grant role phi_reader to role transformer",
    ]
    assert not [g for g in to_role("phi_reader") if " on " in g], "PHI_READER holds no object"
    loader = " ".join(to_role("loader"))
    assert "claims.gold" not in loader and "masking" not in loader
    assert not any("all privileges" in g or "ownership" in g for g in grants)


def test_every_snowflake_session_carries_the_dagster_query_tag(snowflake_dbt):
    tags = [p.get("QUERY_TAG") for p in snowflake_dbt.session_parameters]
    dbt_sessions = [t for t in tags if t is not None]
    assert dbt_sessions and len(set(dbt_sessions)) == 1
    assert json.loads(dbt_sessions[0]) == {
        "dagster_run_id": SNOWFLAKE_ENV["DAGSTER_RUN_ID"],
        "dagster_asset_keys": SNOWFLAKE_ENV["DAGSTER_ASSET_KEYS"],
    }
