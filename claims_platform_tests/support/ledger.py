"""A file ledger holding many landed files without running Spark over them: each file committed
`processed` (no rows) through the real `commit_batch`, as a batch the silver job wrote."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from claims_platform.bronze.landing import LandedFile
from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.schema import ledger_columns
from claims_platform.warehouse.duckdb import commit_batch, ensure_warehouse


def record_processed(con: duckdb.DuckDBPyConnection, files: Iterable[LandedFile]) -> None:
    files = list(files)
    ensure_warehouse(con)
    keep = {"landed_at", "_batch_id", "processed_at"}
    rows: list[dict[str, Any]] = []
    for f in files:
        row: dict[str, Any] = {n: None for n, _ in ledger_columns() if n not in keep}
        row.update(
            path=f.path,
            table_name=f.file.table,
            file_name=f.file.name,
            format=f.file.fmt,
            is_full_load=f.file.is_full_load,
            size_bytes=f.size_bytes,
            row_count=0,
            rows_loaded=0,
            rows_rejected=0,
            status="processed",
        )
        rows.append(row)
    with tempfile.TemporaryDirectory(prefix="claims_ledger_") as tmp:
        out = Path(tmp)
        manifest = {"batch_id": uuid.uuid4().hex, "files": rows}
        (out / FILES_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        commit_batch(con, out, {f.path: f.modified_at for f in files})
