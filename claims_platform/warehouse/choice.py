"""The warehouse of the environment (DESIGN principle 1): the DuckDB file locally, Snowflake in
branch and prod. The Dagster resource (orchestration/resources.py) and the command line
(`claims-platform ledger`, `replay`) both take it from here, so they cannot disagree."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from claims_platform.environment import Settings
from claims_platform.warehouse.base import Warehouse


def warehouse_for(
    settings: Settings, snowflake_connect: Callable[[], AbstractContextManager[Any]] | None = None
) -> Warehouse:
    """`snowflake_connect`: a factory of Snowflake connections (the Dagster wiring passes
    dagster-snowflake's, orchestration/snowflake.py); None = snowflake-connector-python with the
    SNOWFLAKE_* variables (the command line)."""
    if settings.env == "local":
        from claims_platform.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(settings.duckdb_path, settings.lock_path)
    # Seconds of imports (the connector, sqlglot): only where Snowflake is the warehouse.
    from claims_platform.warehouse.snowflake import SnowflakeWarehouse

    return SnowflakeWarehouse.from_settings(settings, snowflake_connect)
