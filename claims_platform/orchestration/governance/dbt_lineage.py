"""The Dagster events of the gold dbt build, with column metadata and lineage as the mode says
(claims_platform.governance.dbt_lineage.column_lineage_mode: streamed, after the build, or off)."""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg

from claims_platform.environment import Settings
from claims_platform.governance.dbt_lineage import column_lineage_mode

# Threads asking the warehouse for built models' columns (dagster-dbt's own default).
METADATA_THREADS = 4


def dbt_build_events(invocation: Any, settings: Settings) -> Iterator[Any]:
    """The Dagster events of a dbt invocation, with column metadata where the mode asks for it."""
    mode = column_lineage_mode(settings)
    if mode == "off":
        yield from invocation.stream()
        return
    if mode == "streamed":
        yield from with_column_metadata(invocation, invocation.stream())
        return
    # After the build: the DuckDB file is dbt's until dbt exits, so every event is in before the
    # first query; what dbt built before a failure is still reported, then the failure raised.
    events: list[Any] = []
    failure: Exception | None = None
    try:
        events.extend(invocation.stream())
    except Exception as e:
        failure = e
    try:
        yield from with_column_metadata(invocation, events)
    finally:
        # dbt-duckdb keeps its process-wide DuckDB connection open after the queries; left open,
        # it would lock the next dbt process (and any other connection) out of the file.
        adapter = invocation.adapter
        if adapter is not None:
            adapter.cleanup_connections()
            close_all = getattr(type(adapter.connections), "close_all_connections", None)
            if close_all is not None:
                close_all()
    if failure is not None:
        raise failure


def with_column_metadata(invocation: Any, events: Iterable[Any]) -> Iterator[Any]:
    """`events` in their order, each built model's with its column schema and lineage
    (dagster-dbt's `fetch_column_metadata`, asked one event at a time on a small pool).

    Why not `invocation.stream().fetch_column_metadata()` itself: dagster-dbt 0.29 maps it with
    Dagster's internal `imap`, which loops without waiting whenever no event is in hand, that
    is for the whole time dbt works on the next model: one core at 100 % for the length of the
    build (measured in the production end-to-end test: 38 % of the run process's CPU), taken
    from the dbt process beside it in the same run task. Here the build's events are read as
    they come, each model's columns fetched on the pool, and every event yielded once it and
    all before it are ready; a failure of the build is raised after what was built."""
    from dagster_dbt.core.dbt_event_iterator import DbtEventIterator

    built_with: list[Any] = []

    def fetched(event: Any) -> list[Any]:
        return list(DbtEventIterator(iter([event]), built_with[0]).fetch_column_metadata())

    def ready(event: Any) -> Future:
        future: Future = Future()
        future.set_result([event])
        return future

    queue: deque[Future] = deque()
    with ThreadPoolExecutor(METADATA_THREADS, thread_name_prefix="dbt_column_metadata") as pool:
        failure: Exception | None = None
        try:
            for event in events:
                built = isinstance(event, dg.Output | dg.AssetMaterialization)
                if built and not built_with:
                    # dbt wrote its manifest before it built anything.
                    built_with.append(with_build_manifest(invocation))
                queue.append(pool.submit(fetched, event) if built else ready(event))
                while queue and queue[0].done():
                    yield from queue.popleft().result()
        except Exception as e:
            failure = e
        while queue:
            yield from queue.popleft().result()
    if failure is not None:
        raise failure


def with_build_manifest(invocation: Any) -> Any:
    """The invocation, reading the manifest dbt wrote for this build (in its target path).

    The definitions' manifest of a deployed image is parsed without a database (the database is
    the deployment's, or a pull request's clone: only known when the run starts), so its relation
    names (`staging.stg_silver__claim`) never equal the fully qualified ones in the SQL dbt
    compiles at run time (`CLAIMS.staging.stg_silver__claim`), and dagster-dbt's column lineage,
    which matches the two, found no dependency at all on Snowflake. The build's own manifest names
    the relations as the compiled SQL does; nodes and unique ids are the same."""
    path = Path(invocation.target_path) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return invocation
    if not isinstance(manifest, dict) or not {"nodes", "sources", "parent_map"} <= manifest.keys():
        return invocation
    lineage = copy.copy(invocation)
    lineage.manifest = manifest
    return lineage
