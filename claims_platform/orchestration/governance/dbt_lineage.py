"""The Dagster events of the gold dbt build, with column metadata and lineage as the mode says
(claims_platform.governance.dbt_lineage.column_lineage_mode: streamed, after the build, or off)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from claims_platform.environment import Settings
from claims_platform.governance.dbt_lineage import column_lineage_mode


def dbt_build_events(invocation: Any, settings: Settings) -> Iterator[Any]:
    """The Dagster events of a dbt invocation, with column metadata where the mode asks for it."""
    mode = column_lineage_mode(settings)
    if mode == "off":
        yield from invocation.stream()
        return
    if mode == "streamed":
        yield from invocation.stream().fetch_column_metadata()
        return
    # After the build: on DuckDB, `fetch_column_metadata()` itself lets dbt finish (and release
    # the file) before it queries, and still yields what dbt built before a failure.
    try:
        yield from invocation.stream().fetch_column_metadata()
    finally:
        # dbt-duckdb keeps its process-wide DuckDB connection open after the queries; left open,
        # it would lock the next dbt process (and any other connection) out of the file.
        adapter = invocation.adapter
        if adapter is not None:
            adapter.cleanup_connections()
            close_all = getattr(type(adapter.connections), "close_all_connections", None)
            if close_all is not None:
                close_all()
