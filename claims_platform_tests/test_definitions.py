"""The code locations load offline, read like a catalogue, and their lineage changes only on
purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from claims_platform_tests.conftest import REPO_ROOT

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _graph_snapshot() -> dict:
    from claims_platform.definitions import defs

    graph = defs.resolve_asset_graph()
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        out[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "checks": sorted(c.name for c in graph.get_check_keys_for_assets({key})),
        }
    return out


def test_asset_graph_matches_the_reviewed_snapshot():
    """Regenerate with UPDATE_SNAPSHOTS=1 after a lineage change you meant to make."""
    current = _graph_snapshot()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected


def test_lineage_runs_from_oracle_to_dashboards():
    graph = _graph_snapshot()
    assert graph["bronze/member"]["deps"] == ["oracle/claims/member"]
    assert graph["silver/member"]["deps"] == ["bronze/member"]
    assert "silver/claim" in graph["silver/claim_diagnosis"]["deps"]
    for gold in ("gold/dim_member", "gold/fct_claim", "gold/fct_member_month", "gold/mart_pmpm"):
        assert gold in graph
    assert graph["gold/mart_pmpm"]["group"] == "marts"
    assert graph["gold/dim_member"]["group"] == "gold"
    dashboards = [k for k in graph if k.startswith("bi/")]
    assert len(dashboards) == 2
    assert any("gold/mart_pmpm" in graph[d]["deps"] for d in dashboards)
    assert graph["gold/dim_member"]["checks"], "dbt tests arrive as asset checks"


def test_every_asset_has_a_description_owner_group_and_kind():
    from claims_platform.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.group_name and node.group_name != "default", name
        if name.startswith(("oracle/", "bronze/", "silver/", "gold/")):
            assert node.description, name
            assert node.owners, name
            assert node.kinds, name


def test_silver_column_schema_carries_phi_tags():
    from claims_platform.definitions import defs

    spec = defs.resolve_assets_def(dg.AssetKey(["silver", "member"])).specs_by_key[
        dg.AssetKey(["silver", "member"])
    ]
    columns = {c.name: c for c in spec.metadata["dagster/column_schema"].columns}
    assert columns["first_name"].tags == {"phi": "P"}
    assert columns["ssn_token"].tags == {"phi": "token"}
    assert "ssn" not in columns


def test_definitions_validate_offline_without_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "DAGSTER_CLOUD"))}
    env["CLAIMS_ENV"] = "prod"  # no tokenization key, no warehouse: loading must not need them
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bin_dir / "dagster"), "definitions", "validate", "-m", "claims_platform.definitions"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


# --- the second code location: the actuarial marts (workspace.yaml, dagster_cloud.yaml) ---------


def test_actuarial_location_builds_on_the_platform_location():
    """The actuarial location defines only its partitioned marts; every asset it reads is one the
    platform location materializes (Dagster joins the two graphs in the workspace), and no asset
    is defined in both. The platform keeps no partitioned asset: the headless
    `asset materialize --select '*'` (CONTRACT §1) could not run it."""
    from claims_platform.definitions import defs as platform_defs
    from claims_platform.orchestration.actuarial.definitions import defs as actuarial_defs

    platform = platform_defs.resolve_asset_graph()
    platform_keys = {k for k in platform.get_all_asset_keys() if platform.get(k).is_materializable}
    assert not any(platform.get(k).partitions_def for k in platform_keys)

    actuarial = actuarial_defs.resolve_asset_graph()
    own = {k for k in actuarial.get_all_asset_keys() if actuarial.get(k).is_materializable}
    read = actuarial.get_all_asset_keys() - own
    assert {k.to_user_string() for k in own} == {
        "gold/mart_paid_lag_triangle",
        "gold/mart_completion_factors",
        "gold/mart_ibnr",
    }
    assert dg.AssetKey(["gold", "staging", "stg_silver__claim"]) in read
    assert read <= platform_keys, sorted(k.to_user_string() for k in read - platform_keys)
    assert not own & platform.get_all_asset_keys()
    for key in own:
        node = actuarial.get(key)
        assert node.partitions_def is not None, key
        assert node.group_name == "actuarial" and node.description and node.owners, key
        assert node.kinds, key
    assert actuarial_defs.resolve_sensor_def("actuarial_automation")


def test_workspace_loads_both_locations_offline(tmp_path):
    """`dagster dev -w workspace.yaml` (scripts/dev) loads the platform and the actuarial
    location, each under its Dagster+ name, with no setting beyond the local defaults."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAIMS_", "DAGSTER_CLOUD", "SNOWFLAKE_", "DBT_"))
    }
    env.update(
        {
            "CLAIMS_ENV": "local",
            "DAGSTER_HOME": str(tmp_path),
            "CLAIMS_DATA_DIR": str(tmp_path / "data"),
        }
    )
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bin_dir / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for location in ("claims_platform", "claims_platform_actuarial"):
        assert f"Validation successful for code location {location}." in out, out[-3000:]


# --- kinds and descriptions name the engines of the environment the definitions load in ---------

_KINDS_BY_LAYER = """
import json
import dagster as dg
from pyspark.sql import SparkSession
from claims_platform.definitions import defs
from claims_platform.orchestration.actuarial.definitions import defs as actuarial

out = {}
for name, d in (("platform", defs), ("actuarial", actuarial)):
    graph = d.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            kinds = out.setdefault(name, {}).setdefault(key.path[0], set())
            kinds.add(",".join(sorted(node.kinds)))
silver = defs.resolve_assets_def(dg.AssetKey(["silver", "member"]))
print(json.dumps({
    "kinds": {n: {layer: sorted(k) for layer, k in v.items()} for n, v in out.items()},
    "silver_description": silver.specs_by_key[dg.AssetKey(["silver", "member"])].description,
    "spark_started": SparkSession.getActiveSession() is not None,
}))
"""


def _load_in(environment: dict[str, str]) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAIMS_", "DAGSTER_CLOUD", "SNOWFLAKE_"))
    }
    env.update(environment)
    proc = subprocess.run(
        [sys.executable, "-c", _KINDS_BY_LAYER],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_production_definitions_name_glue_and_snowflake_offline():
    """Loaded as a Dagster+ prod code server loads them (no CLAIMS_ENV: the deployment's own
    variable decides), with no setting, secret or network: kinds say Glue and Snowflake, and
    loading started no Spark."""
    loaded = _load_in({"DAGSTER_CLOUD_DEPLOYMENT_NAME": "prod"})
    assert loaded["kinds"]["platform"]["silver"] == ["glue,snowflake,spark"]
    assert loaded["kinds"]["platform"]["gold"] == ["dbt,snowflake"]
    assert loaded["kinds"]["actuarial"]["gold"] == ["dbt,snowflake"]
    assert "AWS Glue" in loaded["silver_description"]
    assert "Snowflake" in loaded["silver_description"]
    assert "DuckDB" not in loaded["silver_description"]
    assert not loaded["spark_started"]


def test_each_environment_builds_the_kinds_of_its_engines():
    from claims_platform.contracts import load_contracts
    from claims_platform.orchestration.gold.assets import ClaimsDbtTranslator
    from claims_platform.orchestration.gold.project import dbt_project
    from claims_platform.orchestration.silver.assets import build_silver_assets

    contracts = load_contracts()
    manifest = json.loads(dbt_project.manifest_path.read_text())
    model = next(u for u, n in manifest["nodes"].items() if n["name"] == "dim_member")
    expected = {
        "local": ({"spark", "duckdb"}, {"dbt", "duckdb"}, "DuckDB"),
        "branch": ({"spark", "glue", "snowflake"}, {"dbt", "snowflake"}, "Snowflake"),
        "prod": ({"spark", "glue", "snowflake"}, {"dbt", "snowflake"}, "Snowflake"),
    }
    for env, (silver_kinds, gold_kinds, warehouse) in expected.items():
        silver = build_silver_assets(contracts, env=env)
        for spec in silver.specs:
            assert set(spec.kinds) == silver_kinds, (env, spec.key)
            assert warehouse in (spec.description or ""), (env, spec.key)
        assert warehouse in (silver.op.description or ""), env
        gold = ClaimsDbtTranslator(env=env).get_asset_spec(manifest, model, dbt_project)
        assert set(gold.kinds) == gold_kinds, env
