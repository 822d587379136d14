"""profiles.yml rendered as dbt renders it: the branch clone database and the query tag."""

from __future__ import annotations

import json
from argparse import Namespace

import pytest

from claims_platform.warehouse.query_tag import MAX_ASSET_KEYS_CHARS, query_tag_environ
from claims_platform_tests.conftest import REPO_ROOT


def _credentials(target: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    import os

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    for name in (
        "SNOWFLAKE_DATABASE",
        "DAGSTER_CLOUD_PULL_REQUEST_ID",
        "DAGSTER_RUN_ID",
        "DAGSTER_ASSET_KEYS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    set_from_args(Namespace(), None)
    set_invocation_context(dict(os.environ))
    raw = read_profile(str(REPO_ROOT / "dbt"))
    profile = Profile.from_raw_profiles(
        raw, "claims_platform", ProfileRenderer({}), target_override=target
    )
    return profile.credentials


def test_a_branch_deployment_builds_in_its_pull_requests_clone(monkeypatch):
    env = {"SNOWFLAKE_DATABASE": "claims", "DAGSTER_CLOUD_PULL_REQUEST_ID": "417"}
    assert _credentials("branch", env, monkeypatch).database == "CLAIMS_CLONE_417"
    assert _credentials("prod", env, monkeypatch).database == "claims"


def test_sessions_are_tagged_with_the_dagster_run_and_asset_keys(monkeypatch):
    tag = query_tag_environ("run-42", ["gold/fct_claim", "gold/dim_member"])
    assert tag == {
        "DAGSTER_RUN_ID": "run-42",
        "DAGSTER_ASSET_KEYS": "gold/dim_member,gold/fct_claim",
    }
    for target in ("branch", "prod"):
        credentials = _credentials(target, tag, monkeypatch)
        assert isinstance(credentials.query_tag, str)
        assert json.loads(credentials.query_tag) == {
            "dagster_run_id": "run-42",
            "dagster_asset_keys": "gold/dim_member,gold/fct_claim",
        }


def test_a_long_selection_is_cut_and_says_so():
    keys = [f"gold/model_{i:03d}_with_a_long_name" for i in range(200)]
    tag = query_tag_environ("run", keys)["DAGSTER_ASSET_KEYS"]
    assert len(tag) <= MAX_ASSET_KEYS_CHARS
    assert tag.startswith("gold/model_000_with_a_long_name,")
    shown = tag.split(",")[:-1]
    assert tag.endswith(f",+{200 - len(shown)} more")
    assert query_tag_environ("run", [])["DAGSTER_ASSET_KEYS"] == ""
