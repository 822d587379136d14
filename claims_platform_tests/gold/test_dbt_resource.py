"""The platform's dbt resource skips dagster-dbt's `dbt --version` process and, unless column
lineage is on, its in-process adapter, without changing what dagster-dbt learns."""

from __future__ import annotations

import inspect
import re
import subprocess

import pytest
from dagster_dbt import DbtCliResource
from dagster_dbt.core import resource as dagster_dbt_resource_module
from packaging import version

from claims_platform.gold.warm_dbt import plain_dbt
from claims_platform.governance.dbt_lineage import COLUMN_LINEAGE_ENV
from claims_platform.orchestration.gold.dbt_resource import (
    PlatformDbtCliResource,
    bundled_dbt_executable,
)
from claims_platform.orchestration.gold.project import dbt_project


@pytest.fixture
def resource() -> PlatformDbtCliResource:
    return PlatformDbtCliResource(project_dir=dbt_project, dbt_executable=bundled_dbt_executable())


def test_dagster_dbt_still_asks_the_two_methods_the_resource_overrides():
    # Renamed or inlined in a dagster-dbt upgrade, the overrides would silently stop applying.
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source


def test_the_version_is_the_one_dbt_prints_and_asks_no_process(resource, monkeypatch):
    printed = subprocess.run(
        [bundled_dbt_executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    core = re.search(r"(\d+\.\d+\.\d+)", printed)
    assert core is not None, printed

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    # Where dagster-dbt's own `_cli_version` starts `dbt --version` (imported by name there).
    monkeypatch.setattr(dagster_dbt_resource_module, "check_output", no_process)
    with pytest.raises(AssertionError, match="a process was started"):
        _ = DbtCliResource(
            project_dir=dbt_project, dbt_executable=bundled_dbt_executable()
        )._cli_version
    assert resource._cli_version == version.parse(core.group(1))


def test_the_platform_runs_its_warm_dbt_and_knows_the_plain_one(resource):
    assert bundled_dbt_executable().endswith("claims-dbt")
    plain = PlatformDbtCliResource(project_dir=dbt_project, dbt_executable=plain_dbt())
    assert plain._cli_version == resource._cli_version


def test_another_dbt_executable_is_asked(tmp_path):
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'Core:\n  - installed: 9.8.7'\n")
    fake.chmod(0o755)
    other = PlatformDbtCliResource(project_dir=dbt_project, dbt_executable=str(fake))
    assert other._cli_version == version.parse("9.8.7")


def test_no_adapter_in_process_unless_column_lineage_is_on(resource, monkeypatch, tmp_path):
    monkeypatch.setenv("CLAIMS_ENV", "local")
    monkeypatch.setenv("CLAIMS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(COLUMN_LINEAGE_ENV, raising=False)
    assert resource._initialize_dbt_core_adapter(["build"]) is None

    monkeypatch.setenv(COLUMN_LINEAGE_ENV, "1")
    monkeypatch.chdir(dbt_project.project_dir)  # as dagster-dbt calls it
    adapter = resource._initialize_dbt_core_adapter(["build"])
    assert adapter is not None and adapter.type() == "duckdb"


def test_the_adapter_is_the_environments_target_not_the_profiles_default(
    resource, monkeypatch, tmp_path
):
    """Column lineage in prod reads Snowflake: the adapter opens on the run's target (dbt's
    `--target prod`), not on profiles.yml's default `local` (a DuckDB file under the data dir)."""
    for name, value in {
        "CLAIMS_ENV": "prod",
        "CLAIMS_DATA_DIR": str(tmp_path),
        "CLAIMS_LANDING_URI": "s3://landing/dms",
        "CLAIMS_LAKE_URI": "s3://lake/claims",
        "CLAIMS_KMS_KEY_ID": "alias/claims",
        "CLAIMS_TOKENIZATION_KEY": "k" * 40,
        "SNOWFLAKE_ACCOUNT": "acme-claims",
        "SNOWFLAKE_USER": "claims_platform",
        "SNOWFLAKE_DATABASE": "CLAIMS",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(COLUMN_LINEAGE_ENV, raising=False)  # streamed outside local
    monkeypatch.chdir(dbt_project.project_dir)
    adapter = resource._initialize_dbt_core_adapter(["build", "--target", "prod"])
    assert adapter is not None and adapter.type() == "snowflake"
    assert adapter.config.target_name == "prod"
