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
    if mode == "streamed":
        yield from invocation.stream().fetch_column_metadata()
        return
    if mode == "off":
        yield from invocation.stream()
        return
    # The class `stream()` returns (dagster-dbt's DbtEventIterator), over the finished build's
    # events: its column queries run once dbt has released the DuckDB file.
    from dagster_dbt.core.dbt_event_iterator import DbtEventIterator

    events = []
    try:
        for event in invocation.stream():
            events.append(event)
    except Exception:
        yield from events  # what dbt built before failing is still recorded
        raise
    try:
        yield from DbtEventIterator(iter(events), invocation).fetch_column_metadata()
    finally:
        # dbt-duckdb keeps its process-wide DuckDB connection open after the queries; left open,
        # it would lock the next dbt process (and any other connection) out of the file.
        adapter = invocation.adapter
        if adapter is not None:
            adapter.cleanup_connections()
            close_all = getattr(type(adapter.connections), "close_all_connections", None)
            if close_all is not None:
                close_all()
