"""Snowflake connections of branch and prod through dagster-snowflake's SnowflakeResource.

The warehouse core (warehouse/snowflake.py) takes a connection factory and imports no Dagster;
this module builds that factory on `SnowflakeResource.get_connection()`, from the same SNOWFLAKE_*
variables as dbt/profiles.yml (environment.snowflake_connection_params). dagster_snowflake costs
about 5 s to import, so it is imported when the first connection is made, never at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from claims_platform.environment import Settings


def snowflake_connections(settings: Settings) -> Callable[[], AbstractContextManager[Any]]:
    """A factory of Snowflake connections (context managers) for SnowflakeWarehouse."""
    del settings  # the SNOWFLAKE_* variables, read when a connection is made, not at load time
    resource: list[Any] = []

    def connect() -> AbstractContextManager[Any]:
        if not resource:
            from dagster_snowflake import SnowflakeResource

            from claims_platform.environment import (
                snowflake_connection_params,
                snowflake_database,
            )

            params = snowflake_connection_params()
            resource.append(
                SnowflakeResource(
                    account=params["account"],
                    user=params["user"],
                    role=params.get("role"),
                    warehouse=params.get("warehouse"),
                    database=snowflake_database(),
                    private_key_path=params.get("private_key_file"),
                    private_key_password=params.get("private_key_file_pwd"),
                    # The warehouse opens its own transactions (BEGIN … COMMIT per batch).
                    autocommit=True,
                    additional_snowflake_connection_args={
                        k: params[k] for k in ("host", "port", "protocol") if k in params
                    }
                    or None,
                )
            )
        return resource[0].get_connection()

    return connect
