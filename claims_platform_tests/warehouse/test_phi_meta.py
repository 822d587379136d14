"""The PHI classes in the dbt YAML agree with the table contracts, and drift is caught."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from claims_platform.contracts import load_contracts
from claims_platform.warehouse.phi_meta import phi_meta_drift, silver_contract_columns


@pytest.fixture(scope="module")
def manifest(snowflake_dbt) -> dict[str, Any]:
    return snowflake_dbt.manifest


def _column(manifest: dict[str, Any], unique_id: str, name: str) -> dict[str, Any]:
    group = "sources" if unique_id.startswith("source.") else "nodes"
    return manifest[group][unique_id]["columns"][name]


def _set_meta(column: dict[str, Any], **values: Any) -> None:
    for meta in (column["meta"], column["config"]["meta"]):
        for key, value in values.items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value


def test_dbt_meta_agrees_with_the_contracts(manifest):
    assert [str(d) for d in phi_meta_drift(manifest)] == []


def test_every_contract_phi_column_is_classified_in_silver_and_gold(manifest):
    classified = {
        (node["name"], name): column["meta"].get("phi")
        for node in [*manifest["nodes"].values(), *manifest["sources"].values()]
        for name, column in node.get("columns", {}).items()
    }
    for contract in load_contracts().values():
        for column in contract.columns:
            if column.phi:
                assert classified[(contract.silver_table, column.silver_name)] == column.phi
    assert classified[("member", "ssn_token")] == "P"
    assert classified[("dim_member", "first_name")] == "P"
    assert classified[("dim_member", "birth_date")] == "Q"
    assert classified[("dim_provider", "zip5")] is None
    assert not any(phi for (node, _), phi in classified.items() if node.startswith("mart_"))


def test_silver_columns_map_to_their_contract_columns():
    silver = silver_contract_columns()
    assert silver["member"]["ssn_token"].name == "SSN"
    assert silver["member"]["_change_id"] is None
    assert silver["claim_diagnosis"]["claim_id"].name == "CLAIM_ID"
    assert silver["claim_diagnosis"]["dx_code"] is None


@pytest.mark.parametrize(
    ("unique_id", "column", "meta", "problem"),
    [
        ("model.claims_platform.dim_member", "first_name", {"phi": None}, "says phi: P"),
        ("model.claims_platform.dim_provider", "zip5", {"phi": "Q"}, "says no phi"),
        ("model.claims_platform.fct_claim", "paid_date", {"phi_mask": "zip3"}, "needs a string"),
        ("model.claims_platform.dim_member", "email", {"phi_mask": "year"}, "does not apply"),
        ("model.claims_platform.fct_claim", "member_id", {"phi": "X"}, "must be P or Q"),
        ("model.claims_platform.dim_member", "birth_date", {"phi_mask": None}, "date column"),
        ("model.claims_platform.mart_pmpm", "year_month", {"phi": "Q"}, "contains_phi"),
    ],
)
def test_drift_is_reported_with_file_node_and_column(manifest, unique_id, column, meta, problem):
    changed = copy.deepcopy(manifest)
    _set_meta(_column(changed, unique_id, column), **meta)
    drifts = [str(d) for d in phi_meta_drift(changed)]
    assert drifts, "the change went unnoticed"
    assert any(problem in d for d in drifts), drifts
    assert all(d.startswith("models/") for d in drifts)


def test_an_undocumented_silver_column_is_drift(manifest):
    changed = copy.deepcopy(manifest)
    del changed["sources"]["source.claims_platform.silver.member"]["columns"]["email"]
    assert [str(d) for d in phi_meta_drift(changed)] == [
        "models/staging/_silver__sources.yml: member: silver columns not documented: email"
    ]


def test_documenting_a_silver_column_no_contract_has_is_drift(manifest):
    """Documenting a silver column is what lets an added column into staging and gold
    (dbt's added_source_columns): only a contract may classify it."""
    changed = copy.deepcopy(manifest)
    columns = changed["sources"]["source.claims_platform.silver.member"]["columns"]
    columns["alt_ssn"] = copy.deepcopy(columns["state"]) | {"name": "alt_ssn"}
    assert [str(d) for d in phi_meta_drift(changed)] == [
        "models/staging/_silver__sources.yml: member: documents columns no contract has: "
        "alt_ssn (an unclassified column stays out of staging and gold until its contract "
        "classifies it)"
    ]


def test_an_analyst_view_must_mirror_its_masks(manifest):
    changed = copy.deepcopy(manifest)
    _set_meta(_column(changed, "model.claims_platform.analyst_dim_member", "zip5"), phi_mask=None)
    drifts = [str(d) for d in phi_meta_drift(changed)]
    assert drifts == [
        "models/marts/analyst/_analyst__models.yml: analyst_dim_member.zip5: "
        "phi_mask should be zip3 as in dim_member"
    ]
