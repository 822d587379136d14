"""Branch deployments get their own S3 prefix and Snowflake clone; stale clones are dropped."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import pytest
import sqlglot
from sqlglot import exp

from claims_platform.environment import (
    ConfigurationError,
    branch_clone_database,
    branch_s3_prefix,
    get_settings,
    snowflake_database,
)
from claims_platform.orchestration.ops import branch_clones as bc
from claims_platform_tests.conftest import REPO_ROOT

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def branch_env(platform_env, monkeypatch):
    monkeypatch.setenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "1")
    monkeypatch.setenv("DAGSTER_CLOUD_PULL_REQUEST_ID", "42")
    monkeypatch.setenv("SNOWFLAKE_DATABASE", "CLAIMS")
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "test-key-" + "k" * 32)
    monkeypatch.setenv("CLAIMS_KMS_KEY_ID", "alias/claims-test")
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme-test")
    monkeypatch.setenv("SNOWFLAKE_USER", "CLAIMS_CI")
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PATH", "/nonexistent/key.p8")
    return platform_env


# --- names --------------------------------------------------------------------------------------


def test_branch_names_follow_the_pull_request(branch_env, monkeypatch):
    assert branch_clone_database("CLAIMS", "42") == "CLAIMS_CLONE_42"
    assert branch_s3_prefix("42") == "branches/42/"
    assert snowflake_database() == "CLAIMS_CLONE_42"
    assert snowflake_database(base=True) == "CLAIMS"
    monkeypatch.setenv("CLAIMS_LAKE_URI", "s3://claims-lake/silver")
    settings = get_settings()
    assert settings.env == "branch" and settings.pull_request_id == "42"
    assert settings.lake_uri == "s3://claims-lake/silver/branches/42"
    # prod writes to the lake itself and builds in the production database
    monkeypatch.delenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT")
    monkeypatch.delenv("DAGSTER_CLOUD_PULL_REQUEST_ID")
    monkeypatch.setenv("DAGSTER_CLOUD_DEPLOYMENT_NAME", "prod")
    assert get_settings().lake_uri == "s3://claims-lake/silver"
    assert snowflake_database() == "CLAIMS"


def test_a_pull_request_id_cannot_inject_sql_or_paths(branch_env, monkeypatch):
    monkeypatch.setenv("DAGSTER_CLOUD_PULL_REQUEST_ID", "42; DROP DATABASE CLAIMS")
    with pytest.raises(ConfigurationError, match="DAGSTER_CLOUD_PULL_REQUEST_ID"):
        snowflake_database()
    monkeypatch.setenv("DAGSTER_CLOUD_PULL_REQUEST_ID", "../prod")
    with pytest.raises(ConfigurationError):
        get_settings()
    with pytest.raises(ConfigurationError):
        bc.create_clone_sql("CLAIMS", "X CLONE PROD; DROP DATABASE CLAIMS")
    with pytest.raises(ConfigurationError):
        bc.list_clones_sql("CLAIMS' OR '1'='1")


def test_the_dbt_branch_target_renders_the_same_clone_name(monkeypatch):
    """profiles.yml computes the clone in Jinja; it must agree with branch_clone_database."""
    from dbt.config.profile import read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    for database, pr_id in (("CLAIMS", "42"), ("claims_analytics", "1077")):
        monkeypatch.setenv("SNOWFLAKE_DATABASE", database)
        monkeypatch.setenv("DAGSTER_CLOUD_PULL_REQUEST_ID", pr_id)
        monkeypatch.setenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "1")
        set_invocation_context(dict(os.environ))
        outputs = read_profile(str(REPO_ROOT / "dbt"))["claims_platform"]["outputs"]
        rendered = ProfileRenderer({}).render_data(outputs["branch"])
        assert str(rendered["database"]) == branch_clone_database(database, pr_id)
        assert str(ProfileRenderer({}).render_data(outputs["prod"])["database"]) == database


# --- SQL ------------------------------------------------------------------------------------


def _one(sql: str) -> exp.Expression:
    statements = sqlglot.parse(sql, read="snowflake")
    assert len(statements) == 1, sql
    return statements[0]


def test_generated_sql_is_one_valid_snowflake_statement_each():
    create = _one(bc.create_clone_sql("CLAIMS", "CLAIMS_CLONE_42"))
    assert isinstance(create, exp.Create) and create.args["kind"] == "DATABASE"
    assert create.args["exists"] is True and not create.args.get("replace")
    assert create.this.name == "CLAIMS_CLONE_42"
    assert create.args["clone"].this.name == "CLAIMS"

    replace = _one(bc.create_clone_sql("CLAIMS", "CLAIMS_CLONE_42", replace=True))
    assert replace.args["replace"] is True and replace.args["clone"].this.name == "CLAIMS"

    show = _one(bc.list_clones_sql("claims"))
    assert isinstance(show, exp.Show) and show.this == "DATABASES"
    assert show.args["like"].name == "CLAIMS_CLONE_%"

    drop = _one(bc.drop_clone_sql("CLAIMS_CLONE_42"))
    assert isinstance(drop, exp.Drop) and drop.args["kind"] == "DATABASE"
    assert drop.args["exists"] is True
    assert [t.name for t in drop.args["tables"]] == ["CLAIMS_CLONE_42"]


# --- policy -------------------------------------------------------------------------------------


def _clone(pr: str, days_old: float | None) -> bc.CloneInfo:
    created = None if days_old is None else NOW - dt.timedelta(days=days_old)
    return bc.CloneInfo(f"CLAIMS_CLONE_{pr}", pr, created)


def test_parse_clones_keeps_only_exact_clone_names():
    rows = [
        {"name": "CLAIMS", "created_on": NOW},
        {"name": "CLAIMS_CLONE_42", "created_on": NOW},
        {"name": "claims_clone_7", "created_on": NOW},
        {"name": "CLAIMSXCLONEX9", "created_on": NOW},  # matched by LIKE's `_` wildcard
        {"name": "CLAIMS_CLONE_", "created_on": NOW},
        {"name": "OTHER_CLONE_1", "created_on": NOW},
    ]
    assert [(c.name, c.pull_request_id) for c in bc.parse_clones("CLAIMS", rows)] == [
        ("CLAIMS_CLONE_42", "42"),
        ("claims_clone_7", "7"),
    ]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (bc.ClonePolicy(max_age_days=7), {"1": True, "2": False, "3": False, "4": False}),
        (bc.ClonePolicy(max_age_days=1), {"1": True, "2": True, "3": False, "4": False}),
        (
            bc.ClonePolicy(max_age_days=7, open_pull_requests=frozenset({"1", "3"})),
            {"1": False, "2": True, "3": False, "4": True},
        ),
        (
            bc.ClonePolicy(max_age_days=1, keep=frozenset({"CLAIMS_CLONE_2"})),
            {"1": True, "2": False, "3": False, "4": False},
        ),
    ],
)
def test_stale_clone_policy(policy, expected):
    clones = [_clone("1", 30), _clone("2", 3), _clone("3", 0.5), _clone("4", None)]
    decisions = {d.clone.pull_request_id: d for d in bc.decide(clones, policy, NOW)}
    assert {pr: d.drop for pr, d in decisions.items()} == expected
    assert all(d.reason for d in decisions.values())


def test_policy_rejects_a_zero_age():
    with pytest.raises(ConfigurationError):
        bc.ClonePolicy(max_age_days=0)


# --- against fakesnow ---------------------------------------------------------------------------


def test_clone_lifecycle_against_fakesnow(branch_env):
    import fakesnow

    with fakesnow.patch():
        with bc.snowflake_cursor() as cursor:
            cursor.execute("CREATE DATABASE IF NOT EXISTS CLAIMS")
            cursor.execute("CREATE DATABASE IF NOT EXISTS CLAIMS_CLONE_7 CLONE CLAIMS")
        # the job a branch deployment runs; twice, because CI and the sensor may both ask
        for _ in range(2):
            result = bc.create_branch_clone.execute_in_process()
            assert result.success
            assert result.output_for_node("create_branch_clone_op") == "CLAIMS_CLONE_42"
        with bc.snowflake_cursor() as cursor:
            clones = bc.list_clones(cursor, "CLAIMS")
            assert [c.name for c in clones] == ["CLAIMS_CLONE_42", "CLAIMS_CLONE_7"]
            # fakesnow has no DROP DATABASE: the sweep runs dry here (drop SQL is checked above)
            decisions = bc.drop_stale_clones(
                cursor,
                "CLAIMS",
                bc.ClonePolicy(open_pull_requests=frozenset({"42"})),
                dry_run=True,
            )
        assert {d.clone.name: d.drop for d in decisions} == {
            "CLAIMS_CLONE_42": False,
            "CLAIMS_CLONE_7": True,
        }
        sweep = bc.drop_stale_branch_clones.execute_in_process(
            run_config={
                "ops": {
                    "drop_stale_branch_clones_op": {
                        "config": {"open_pull_requests": ["42"], "dry_run": True}
                    }
                }
            }
        )
        assert sweep.success and sweep.output_for_node("drop_stale_branch_clones_op") == 1


# --- sensor and schedule --------------------------------------------------------------------


def test_sensor_requests_the_clone_only_in_a_branch_deployment(branch_env, monkeypatch):
    request = bc.branch_clone_sensor(dg.build_sensor_context())
    assert isinstance(request, dg.RunRequest) and request.run_key == "CLAIMS_CLONE_42"
    schedule_ctx = dg.build_schedule_context()
    assert isinstance(bc.drop_stale_branch_clones_daily(schedule_ctx), dg.SkipReason)

    monkeypatch.delenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT")
    monkeypatch.delenv("DAGSTER_CLOUD_PULL_REQUEST_ID")
    assert isinstance(bc.branch_clone_sensor(dg.build_sensor_context()), dg.SkipReason)
    monkeypatch.setenv("DAGSTER_CLOUD_DEPLOYMENT_NAME", "prod")
    assert isinstance(bc.drop_stale_branch_clones_daily(schedule_ctx), dg.RunRequest)
