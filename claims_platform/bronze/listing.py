"""Listing the landing zone in proportion to what is new, and cutting it into capped batches.

DMS names sort in time order within a table folder (CONTRACT §2), so what the ledger already
holds is a prefix of each folder's key order and a run lists only the keys after it. A table
folder `CLAIMS/<TABLE>/` holds two sequences, each in time order by name, that do not sort in
time order with each other:

- full-load files `LOAD<8 hex>.<ext>` directly in the folder: listed with `Prefix` = the folder +
  `LOAD`, `StartAfter` = the ledger's greatest such path;
- change (CDC) files `YYYYMMDD-HHMMSSmmm.<ext>`, directly in the folder or under `YYYY/MM/DD/`:
  digits sort before `L`, so all of them come before the full-load files. Listed from the path of
  the ledger's newest change file (greatest name, then path), under its first character (`2`
  until the year 3000). From a dated path this also re-lists the undated files of that year
  (`2026/` < `20260101-…`), a bounded cost that only a table that switched
  `DatePartitionEnabled` on pays.

What the ranges cannot see, by design: a file landed late under a key that sorts before its
sequence's front (a CDC file written after a newer one was processed; an undated file of the
same year after the table moved to date folders; a re-delivery in place of a quarantined file
behind the front; a non-canonical key such as `CLAIMS/T//…` or `./`). A landing run looks up
the ones the sensor saw land by name (its `paths`); the scheduled landing reconciliation
(orchestration/silver/reconcile.py) lists everything, compares it with the ledger, reports the
others and loads them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from claims_platform.dms.files import SCHEMA, parse_path

FULL_LOAD_PREFIX = "LOAD"


@dataclass(frozen=True)
class KeyRange:
    """The landing-relative paths under `prefix`, after `start_after` (when set) and before
    `stop` (when set): one `list_objects_v2(Prefix=, StartAfter=)` read until `stop`."""

    prefix: str
    start_after: str | None = None
    stop: str | None = None

    def admits(self, path: str) -> bool:
        return (
            path.startswith(self.prefix)
            and (self.start_after is None or path > self.start_after)
            and (self.stop is None or path < self.stop)
        )

    def may_hold_under(self, folder: str) -> bool:
        """Whether a path under `folder` (ending in `/`) can be in this range: a directory walk
        skips the folders entirely before the front (every date folder already processed)."""
        if not (folder.startswith(self.prefix) or self.prefix.startswith(folder)):
            return False
        # Every path under `folder` sorts before `folder + "\U0010ffff"`.
        if (
            self.start_after is not None
            and not self.start_after.startswith(folder)
            and folder + "\U0010ffff" <= self.start_after
        ):
            return False
        return self.stop is None or folder < self.stop


def table_folder(path: str) -> str:
    """`CLAIMS/<TABLE>/` of a landing-relative path (as written, not upper-cased)."""
    parts = path.split("/", 2)
    return f"{parts[0]}/{parts[1]}/" if len(parts) > 2 else path


@dataclass(frozen=True)
class LedgerFront:
    """Per table folder, the greatest full-load path and the newest change path in the ledger
    (WarehouseWriter.ledger_front); a folder the ledger does not know is listed whole."""

    newest_full_load: dict[str, str] = field(default_factory=dict)
    newest_change: dict[str, str] = field(default_factory=dict)

    def ranges(self, folder: str) -> list[KeyRange]:
        """What to list under the table folder `folder` (`CLAIMS/<TABLE>/`)."""
        load = folder + FULL_LOAD_PREFIX
        change = self.newest_change.get(folder)
        if change is None:
            # No change file processed yet: all of them are new; paging stops at the LOAD files
            # (one page may reach into them, until the table's first change file is loaded).
            change_range = KeyRange(folder, None, stop=load)
        else:
            # Under the front's first character (the millennium digit of its year): a page
            # after the last change file would otherwise return up to 1,000 LOAD keys per run.
            change_range = KeyRange(folder + change[len(folder)], change)
        return [KeyRange(load, self.newest_full_load.get(folder)), change_range]

    def admits(self, path: str) -> bool:
        """Whether an incremental listing lists `path` (the reconciliation reports those it
        does not: the files only a full listing finds)."""
        if not path.startswith(f"{SCHEMA}/"):
            return False
        return any(r.admits(path) for r in self.ranges(table_folder(path)))


def front_past(front: LedgerFront, taken: Iterable[str], left: Iterable[str] = ()) -> LedgerFront:
    """`front` moved past the paths `taken` in each of their key sequences, but never up to or
    past a path `left` in the same sequence (one not taken yet: a listing from the new front must
    still see it). Paths in no sequence, or under a non-canonical key (`CLAIMS//…`, which
    only a full listing names), move nothing."""
    full = dict(front.newest_full_load)
    change = dict(front.newest_change)
    ceiling: dict[tuple[str, str], tuple[str, str]] = {}
    for path in left:
        seq, place = _sequence_of(path)
        if seq is not None and (seq not in ceiling or place < ceiling[seq]):
            ceiling[seq] = place
    for path in taken:
        seq, place = _sequence_of(path)
        if parse_path(path) is None:  # not canonical: only a full listing names it
            continue
        if seq is None or (seq in ceiling and place >= ceiling[seq]):
            continue
        kind, folder = seq
        target = full if kind == "full" else change
        current = target.get(folder)
        if current is None or place > _sequence_of(current)[1]:
            target[folder] = path
    return LedgerFront(newest_full_load=full, newest_change=change)


class _Batchable(Protocol):
    path: str
    size_bytes: int
    modified_at: dt.datetime


_B = TypeVar("_B", bound=_Batchable)


def _sequence(f: _Batchable) -> tuple[tuple[str, str] | None, tuple[str, str]]:
    """The key-ordered sequence a file belongs to (LedgerFront's), and its place in it."""
    return _sequence_of(f.path)


def _sequence_of(path: str) -> tuple[tuple[str, str] | None, tuple[str, str]]:
    parts = path.split("/")
    name = parts[-1]
    folder = table_folder(path)
    if len(parts) == 3 and name.startswith(FULL_LOAD_PREFIX):
        return ("full", folder), (path, path)
    if name[:1].isdigit():
        return ("change", folder), (name, path)
    return None, (path, path)


@dataclass(frozen=True)
class BatchCut(Generic[_B]):
    """The files of this batch (`taken`, oldest first) and those left for the next run."""

    taken: list[_B]
    left: list[_B]


def take_batch(pending: Iterable[_B], max_files: int, max_bytes: int) -> BatchCut[_B]:
    """At most `max_files` files and `max_bytes` bytes of `pending`, oldest first (modification
    time, then path); always at least one file, however large, so a big file cannot block the
    landing.

    Within each key-ordered sequence (LedgerFront) a batch takes a prefix in key order: were a
    file taken while one of its sequence that sorts before it was left, the ledger's front would
    pass the one left and the next run's incremental listing would not see it. So taking a file
    takes the files before it in its sequence first (normally none: DMS writes in name order)."""
    files = sorted(pending, key=lambda f: (f.modified_at, f.path))
    sequences: dict[tuple[str, str], list[_B]] = {}
    for f in files:
        seq, _ = _sequence(f)
        if seq is not None:
            sequences.setdefault(seq, []).append(f)
    for members in sequences.values():
        members.sort(key=lambda f: _sequence(f)[1])
    taken_ids: set[int] = set()
    taken: list[_B] = []
    n_bytes = 0
    for f in files:
        if id(f) in taken_ids:
            continue
        seq, _ = _sequence(f)
        if seq is None:
            group = [f]
        else:
            members = sequences[seq]
            group = [g for g in members[: members.index(f) + 1] if id(g) not in taken_ids]
        group_bytes = sum(g.size_bytes for g in group)
        if taken and (len(taken) + len(group) > max_files or n_bytes + group_bytes > max_bytes):
            break
        if not taken and (len(group) > max_files or group_bytes > max_bytes):
            # The first group alone is over a cap: its key-order prefix within the caps.
            for g in group:
                if taken and (len(taken) >= max_files or n_bytes + g.size_bytes > max_bytes):
                    break
                taken.append(g)
                n_bytes += g.size_bytes
            break
        taken.extend(group)
        taken_ids.update(id(g) for g in group)
        n_bytes += group_bytes
    kept = {id(g) for g in taken}
    return BatchCut(taken=taken, left=[f for f in files if id(f) not in kept])
