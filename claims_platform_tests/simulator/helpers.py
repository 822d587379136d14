"""Reading landed DMS files back into canonical values, independently of the simulator's writer.

Canonical values are those of the truth files: text for strings, dates, timestamps, JSON and
decimals (two decimals), `int` for integers, `None` for NULL.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from claims_platform.contracts import TableContract

DMS_COLUMNS = ("Op", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ")


def data_files(root: Path) -> list[Path]:
    """Every landed file under `root` (hidden temporary files would be a bug, so they count)."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def file_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def _column_types(contract: TableContract, header: list[str]) -> list[str]:
    types = {c.name: c.base_type for c in contract.columns}
    return ["string" if name in DMS_COLUMNS else types.get(name, "string") for name in header]


def _from_csv(text: str, base: str) -> Any:
    if text == "":
        return None  # the simulator never writes an empty string, so an empty field is NULL
    return int(text) if base == "integer" else text


def _from_arrow(value: Any) -> Any:
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime):
        assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value))


def read_dms(path: Path, contract: TableContract) -> tuple[list[str], list[list[Any]]]:
    """(header, rows of canonical values) of a landed CSV, gzipped CSV or Parquet file."""
    if path.name.endswith(".parquet"):
        table = pq.read_table(path)
        header = table.column_names
        columns = [[_from_arrow(v) for v in col.to_pylist()] for col in table.columns]
        return header, [list(r) for r in zip(*columns, strict=True)] if columns else []
    reader = csv.reader(io.StringIO(file_text(path), newline=""))
    header = next(reader)
    types = _column_types(contract, header)
    rows = [[_from_csv(v, t) for v, t in zip(row, types, strict=True)] for row in reader]
    return header, rows


def read_jsonl(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def key_of(contract: TableContract, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values[k] for k in contract.primary_key)
