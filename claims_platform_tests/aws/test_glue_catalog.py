import uuid

import boto3
import pytest

from claims_platform.aws.glue_catalog import glue_type, sync_silver_catalog
from claims_platform.contracts import Column, load_contracts
from claims_platform.orchestration.aws.jobs import glue_catalog_sync_job
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.silver.schema import all_silver_tables


@pytest.fixture
def glue(aws_env):
    return boto3.client("glue")


@pytest.fixture
def database() -> str:
    return f"claims_silver_{uuid.uuid4().hex[:8]}"


def _table(glue, database, name):
    return glue.get_table(DatabaseName=database, Name=name)["Table"]


def _columns(table) -> dict[str, dict]:
    return {c["Name"]: c for c in table["StorageDescriptor"]["Columns"]}


def test_glue_types_follow_the_contract_types():
    assert glue_type("decimal(12,2)") == "decimal(12,2)"
    assert glue_type("integer") == "bigint"
    assert glue_type("timestamp") == "timestamp"
    assert glue_type("json") == "string"


def test_contracts_register_every_silver_table_with_types_and_phi(glue, database):
    sync = sync_silver_catalog(glue, database, "s3://lake-bucket/lake")
    expected = {t.name for t in all_silver_tables()}
    assert set(sync.created) == expected and not sync.updated
    names = {t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert names == expected

    member = _table(glue, database, "member")
    assert member["StorageDescriptor"]["Location"] == "s3://lake-bucket/lake/silver/member/"
    assert member["Parameters"]["classification"] == "parquet"
    assert member["Parameters"]["claims_platform.phi"] == "direct"
    cols = _columns(member)
    assert cols["first_name"]["Parameters"] == {"phi": "P"}
    assert cols["birth_date"]["Parameters"] == {"phi": "Q"}
    assert cols["birth_date"]["Type"] == "date"
    assert "ssn" not in cols and cols["ssn_token"]["Parameters"] == {"phi": "token"}
    assert "ssn_token:token" in member["Parameters"]["claims_platform.phi_columns"]
    assert cols["_dms_timestamp"]["Type"] == "timestamp"
    claim_line = _columns(_table(glue, database, "claim_line"))
    assert claim_line["paid_amt"]["Type"] == "decimal(12,2)"
    assert _table(glue, database, "plan")["Parameters"]["claims_platform.phi"] == "none"
    assert _table(glue, database, "rejects")["Parameters"]["claims_platform.phi"] == "direct"

    again = sync_silver_catalog(glue, database, "s3://lake-bucket/lake")
    assert again.created == [] and again.updated == [] and set(again.unchanged) == expected


def test_a_column_added_at_the_source_updates_only_its_table(glue, database):
    contracts = load_contracts()
    sync_silver_catalog(glue, database, "s3://lake-bucket/lake", contracts)
    member = contracts["MEMBER"]
    widened = member.model_copy(
        update={
            "columns": (
                *member.columns,
                Column(name="MIDDLE_NAME", type="string", description="Middle name.", phi="P"),
            )
        }
    )
    changed = {**contracts, "MEMBER": widened}

    sync = sync_silver_catalog(glue, database, "s3://lake-bucket/lake", changed)
    assert sync.updated == ["member"] and sync.created == []
    cols = list(_columns(_table(glue, database, "member")))
    assert cols[-1] == "middle_name"
    assert _columns(_table(glue, database, "member"))["middle_name"]["Parameters"] == {"phi": "P"}

    # Files already carrying a column no contract types yet: listed as untyped text.
    sync = sync_silver_catalog(
        glue, database, "s3://lake-bucket/lake", changed, {"claim": ["NEW_SOURCE_COL"]}
    )
    assert sync.updated == ["claim"]
    new_col = _columns(_table(glue, database, "claim"))["NEW_SOURCE_COL"]
    assert new_col["Type"] == "string" and new_col["Parameters"] == {"untyped": "true"}

    # A contract that no longer lists a column does not hide it from the catalog.
    sync = sync_silver_catalog(glue, database, "s3://lake-bucket/lake", contracts)
    assert "middle_name" in _columns(_table(glue, database, "member"))


def test_catalog_job_is_off_locally_and_registers_when_configured(
    glue, database, platform_env, monkeypatch
):
    monkeypatch.delenv("CLAIMS_GLUE_DATABASE", raising=False)
    resources = {"platform": PlatformResource()}
    assert glue_catalog_sync_job.execute_in_process(resources=resources).success
    assert database not in {d["Name"] for d in glue.get_databases()["DatabaseList"]}

    monkeypatch.setenv("CLAIMS_GLUE_DATABASE", database)
    monkeypatch.setenv("CLAIMS_LAKE_URI", "s3://lake-bucket/lake")
    assert glue_catalog_sync_job.execute_in_process(resources=resources).success
    assert _table(glue, database, "claim")["StorageDescriptor"]["Location"] == (
        "s3://lake-bucket/lake/silver/claim/"
    )
