"""dagster-dbt's CLI resource, minus two costs every run paid for nothing.

Before each dbt command, dagster-dbt 0.29:

1. runs `<dbt> --version` to learn the dbt-core version. That is a second dbt process, and
   `dbt --version` also asks the package index for the newest release of dbt-core and of every
   adapter (a network call from every run; seconds offline, measured 6-7 s per run here);
2. opens a dbt adapter in the Dagster process, loading every macro (~3 s), for the column
   metadata queries of `fetch_column_metadata()`.

The dbt this platform runs is the one installed beside its interpreter (`claims-dbt`, which runs
that dbt warm: gold/warm_dbt.py), so (1) is the installed dbt-core's version; and (2) is only used
when column lineage is on (governance/dbt_lineage).
PRIVATE DAGSTER-DBT API, kept to this class: both are private methods of `DbtCliResource`, and
dagster-dbt 0.29 has no public switch for either (`DbtCliResource.cli`, the one public way to run
dbt with Dagster events, always asks `_cli_version` and `_initialize_dbt_core_adapter`).
`claims_platform_tests/gold/test_dbt_resource.py` pins their behaviour against the real
`dbt --version` so a dagster-dbt upgrade that changes them fails a test instead of silently
running the slow path again.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version

from claims_platform.environment import get_settings
from claims_platform.gold.warm_dbt import plain_dbt
from claims_platform.governance.dbt_lineage import column_lineage_mode


def bundled_dbt_executable() -> str:
    """The platform's dbt beside this interpreter (the venv need not be activated): `claims-dbt`,
    the installed dbt run warm where that helps (gold/warm_dbt.py), else the plain `dbt`."""
    warm = Path(sys.executable).parent / "claims-dbt"
    return str(warm) if warm.exists() else plain_dbt()


class PlatformDbtCliResource(DbtCliResource):
    """`DbtCliResource` for the platform's own dbt: no `dbt --version` process per run, and no
    in-process adapter unless column lineage needs one."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) in (Path(bundled_dbt_executable()), Path(plain_dbt())):
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version  # another dbt: ask it

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        settings = get_settings()
        if column_lineage_mode(settings) == "off":
            return None  # what dagster-dbt passes on when it has no adapter
        if self.target is None:
            # dagster-dbt opens the adapter on the resource's target, not the command's
            # `--target`: without this, the column metadata of a prod build were read from the
            # profile's default target (the local DuckDB file), not from Snowflake.
            with_target = self.model_copy(update={"target": settings.dbt_target})
            return DbtCliResource._initialize_dbt_core_adapter(with_target, args)
        return super()._initialize_dbt_core_adapter(args)
