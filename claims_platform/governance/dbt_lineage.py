"""Column schemas and column-level lineage of the gold models, from dbt, on their materialisations.

dagster-dbt's `fetch_column_metadata()` asks the warehouse for each built model's columns (and its
parents') through an adapter opened in the Dagster process, while dbt is still running, then
derives column lineage with sqlglot (`dagster/column_lineage`). On Snowflake (branch, prod) that
streams alongside the build. The local DuckDB file admits one process at a time, and the dbt
process holds it until it exits, so locally the queries must wait for the build to finish; they
also cost about a second per model on a small machine. Hence:

- branch / prod: on, streamed (`CLAIMS_DBT_COLUMN_LINEAGE=0` turns it off);
- local: off unless `CLAIMS_DBT_COLUMN_LINEAGE=1`, and then fetched after the build.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Literal

from claims_platform.environment import Settings

COLUMN_LINEAGE_ENV = "CLAIMS_DBT_COLUMN_LINEAGE"
Mode = Literal["off", "streamed", "after_build"]


def column_lineage_mode(settings: Settings) -> Mode:
    value = os.environ.get(COLUMN_LINEAGE_ENV, "").strip().lower()
    if value in ("0", "false", "off", "no"):
        return "off"
    if settings.env != "local":
        return "streamed"
    return "after_build" if value in ("1", "true", "on", "yes") else "off"


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
