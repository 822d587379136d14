"""Silver written straight from the simulator's truth files, for gold tests that need a realistic
payer without running bronze and Spark: every truth change event becomes a silver change row,
typed as CONTRACT §3 types it (``silver_changes.Silver``), written through Arrow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import pyarrow as pa

from claims_platform_tests.gold.silver_changes import Silver
from claims_platform_tests.support import reference_model as ref

Event = dict[str, Any]


def silver_from_truth(
    events: dict[str, list[Event]],
    silver: Silver,
    at: str,
    keep: Callable[[Event], bool] | None = None,
) -> None:
    """Every truth change event (those `keep` accepts) as a silver change row loaded at `at`."""
    loaded_at = datetime.fromisoformat(at)
    for table_name, table_events in events.items():
        table = ref.SOURCE_TABLES[table_name]
        for event in table_events:
            if keep is not None and not keep(event):
                continue
            values = {
                name.lower(): ref._typed(kind, event["values"].get(name))
                for name, kind in table.columns
            }
            if any(values[k.lower()] is None for k in table.key):
                continue
            file = PurePosixPath(event["file"])
            silver.change(
                table_name.lower(),
                event.get("op") or "I",
                event["dms_timestamp"],
                "/".join(file.parts[2:]),  # below CLAIMS/<TABLE>/
                event["row"],
                values,
                change_seq=event.get("change_seq"),
                loaded_at=loaded_at,
            )


def write_silver(silver: Silver, database: Path) -> None:
    """Append Silver's rows to the silver tables (created when missing), through Arrow: its
    row-by-row insert takes a minute at a few hundred members."""
    Silver().write(str(database))  # the tables, empty
    con = duckdb.connect(str(database))
    try:
        for table, rows in silver.rows.items():
            if rows:
                con.register("batch", pa.Table.from_pylist(rows))
                con.execute(f"insert into silver.{table} by name select * from batch")
                con.unregister("batch")
    finally:
        con.close()
