"""DMS landing paths: `<SCHEMA>/<TABLE>/[YYYY/MM/DD/]<LOAD########|YYYYMMDD-HHMMSSmmm>.<ext>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMATS = ("csv.gz", "csv", "parquet")
_LOAD = re.compile(r"^LOAD[0-9A-Fa-f]{8}$")
_CDC = re.compile(r"^\d{8}-\d{9}$")
_DATE_DIRS = re.compile(r"^\d{4}/\d{2}/\d{2}$")


@dataclass(frozen=True)
class DmsFile:
    """A landed file, named by its path relative to the landing root (posix separators)."""

    path: str
    schema: str
    table: str
    name: str
    fmt: str
    is_full_load: bool


def parse_path(path: str) -> DmsFile | None:
    """The DMS file a landing-relative path names, or None when it is not a DMS data file."""
    parts = path.strip("/").split("/")
    if len(parts) not in (3, 6):
        return None
    if len(parts) == 6 and not _DATE_DIRS.match("/".join(parts[2:5])):
        return None
    name = parts[-1]
    fmt = next((f for f in FORMATS if name.endswith("." + f)), None)
    if fmt is None:
        return None
    stem = name[: -len(fmt) - 1]
    if _LOAD.match(stem):
        full_load = True
    elif _CDC.match(stem):
        full_load = False
    else:
        return None
    return DmsFile(
        path="/".join(parts),
        schema=parts[0].upper(),
        table=parts[1].upper(),
        name=name,
        fmt=fmt,
        is_full_load=full_load,
    )
