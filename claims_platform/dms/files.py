"""DMS landing paths: `CLAIMS/<TABLE>/[YYYY/MM/DD/]<LOAD########|YYYYMMDD-HHMMSSmmm>.<ext>`."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

FORMATS = ("csv.gz", "csv", "parquet")
# The one source schema (CONTRACT §2): a DMS task replicating other schemas writes them beside
# it, and their tables are not ours even when their names match.
SCHEMA = "CLAIMS"
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
    """The DMS file a landing-relative path names, or None when it is not a DMS data file of
    schema CLAIMS written in canonical form (no leading, trailing or doubled `/`, no `.` folder:
    see `noncanonical_dms_path`)."""
    parts = path.split("/")
    if len(parts) not in (3, 6) or parts[0] != SCHEMA or not parts[1]:
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
        path=path,
        schema=SCHEMA,
        table=parts[1].upper(),
        name=name,
        fmt=fmt,
        is_full_load=full_load,
    )


def canonical_path(path: str) -> str:
    """`path` without empty and `.` segments (what `a//b`, `/a/b` and `a/./b` all mean on a disk)."""
    return "/".join(p for p in path.split("/") if p not in ("", "."))


def noncanonical_dms_path(path: str) -> DmsFile | None:
    """The DMS file an S3 key names only once written in canonical form (`CLAIMS/T//LOAD….csv`,
    `/CLAIMS/T/…`), with `path` kept exactly as listed; None for a canonical path or no DMS file.

    Such a key is its own object on S3, distinct from the canonical one, but every path join on
    the way to reading it (URIs, Spark, `join_uri`) normalises it into another key: it is
    recorded, never read (bronze/landing)."""
    if parse_path(path) is not None:
        return None
    found = parse_path(canonical_path(path))
    return None if found is None else dataclasses.replace(found, path=path)
