"""PHI classes and descriptions reach Dagster column metadata, from the contracts and dbt."""

from __future__ import annotations

import dagster as dg
import pytest

from claims_platform.contracts import load_contracts
from claims_platform.governance.phi import PHI_TAG, asset_phi_tag
from claims_platform.orchestration.governance.phi import gold_column_schema


@pytest.fixture(scope="module")
def graph():
    from claims_platform.definitions import defs

    return defs.resolve_asset_graph()


def _columns(graph, *path: str) -> dict[str, dg.TableColumn]:
    schema = graph.get(dg.AssetKey(list(path))).metadata["dagster/column_schema"]
    schema = getattr(schema, "schema", schema)
    return {c.name: c for c in schema.columns}


def test_silver_columns_carry_the_contract_phi_class_and_description(graph):
    for contract in load_contracts().values():
        cols = _columns(graph, "silver", contract.silver_table)
        for c in contract.columns:
            col = cols[c.silver_name]
            assert col.description == c.description
            expected = "token" if c.tokenize else c.phi
            assert col.tags.get(PHI_TAG) == expected, (contract.name, c.name)
    member = _columns(graph, "silver", "member")
    assert "ssn" not in member and member["ssn_token"].tags == {PHI_TAG: "token"}
    assert graph.get(dg.AssetKey(["silver", "member"])).tags[PHI_TAG] == "direct"


def test_gold_columns_carry_the_dbt_phi_meta_and_the_audit_trail_is_described(graph):
    dim_member = _columns(graph, "gold", "dim_member")
    tagged = {n for n, c in dim_member.items() if c.tags.get(PHI_TAG)}
    assert {"member_id", "first_name", "last_name"} <= tagged
    assert graph.get(dg.AssetKey(["gold", "dim_member"])).tags[PHI_TAG] == "direct"
    for fact in ("fct_claim", "fct_claim_line"):
        cols = _columns(graph, "gold", fact)
        for name in ("_source_file", "_source_change_at", "_change_id", "_batch_id"):
            assert cols[name].description.startswith("Audit trail"), (fact, name)


def test_dbt_column_meta_becomes_column_tags():
    props = {
        "columns": {
            "member_id": {"description": "Member.", "meta": {"phi": "P"}, "tags": ["key"]},
            "zip5": {"description": "ZIP.", "config": {"meta": {"phi": "Q"}}},
            "plan_id": {"description": "Plan.", "data_type": "varchar"},
        }
    }
    schema = gold_column_schema(props)
    assert [(c.name, c.type, c.tags) for c in schema.columns] == [
        ("member_id", "?", {"key": "", "phi": "P"}),
        ("zip5", "?", {"phi": "Q"}),
        ("plan_id", "varchar", {}),
    ]
    assert gold_column_schema({"columns": {}}) is None
    assert [asset_phi_tag(x) for x in (["Q", "P"], ["Q"], ["token"], [])] == [
        "direct",
        "quasi",
        "none",
        "none",
    ]


def test_dbt_column_lineage_is_streamed_in_production_and_opt_in_locally(monkeypatch):
    from claims_platform.environment import get_settings
    from claims_platform.governance.dbt_lineage import COLUMN_LINEAGE_ENV, column_lineage_mode

    monkeypatch.delenv(COLUMN_LINEAGE_ENV, raising=False)
    monkeypatch.setenv("CLAIMS_ENV", "local")
    assert column_lineage_mode(get_settings()) == "off"
    monkeypatch.setenv(COLUMN_LINEAGE_ENV, "1")
    assert column_lineage_mode(get_settings()) == "after_build"
    monkeypatch.setenv("CLAIMS_ENV", "branch")
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "k" * 32)
    monkeypatch.delenv(COLUMN_LINEAGE_ENV)
    assert column_lineage_mode(get_settings()) == "streamed"
    monkeypatch.setenv(COLUMN_LINEAGE_ENV, "0")
    assert column_lineage_mode(get_settings()) == "off"
