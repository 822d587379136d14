"""Replaying quarantined files: read them again once fixed or re-delivered, exactly once.

A quarantined file loaded no row, so reading it again cannot double anything; the commit replaces
its ledger row only while it is still quarantined (warehouse/base.py's guarantees), so two
replays at once load it once, and a file that reached `processed` is never read again. The attempts (with the quarantine
reasons) stay in `audit.file_attempts`.

Two ways in, one mechanism (the silver step's `replay` config):
- the job `replay_quarantined_files` (Dagster UI / `dagster job execute`;
  claims_platform.orchestration.silver.replay): silver + gold, by default for every quarantined
  file;
- `claims-platform replay [--path P ...] [--all]`: runs that job in-process for the named (or all)
  quarantined files of their tables, then reports each file's new status.
Re-delivering a fixed file in place also works without either: the next landing batch reads a
quarantined file whose size or modification time changed.

A *processed* file changed in place afterwards (warehouse/ledger.py) is not replayed: its first
version is loaded, and a path is loaded once. The operator lands the new version under a new name
if it must be loaded, then closes the record with `claims-platform replay --acknowledge-change`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence

from claims_platform.warehouse.base import QueryError, Warehouse
from claims_platform.warehouse.ledger import REPLAY_ALL


def _warehouse() -> Warehouse:
    from claims_platform.environment import get_settings
    from claims_platform.warehouse.choice import warehouse_for

    return warehouse_for(get_settings())


def _ledger_status(paths: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    from claims_platform.silver.schema import LEDGER_SCHEMA, LEDGER_TABLE

    warehouse = _warehouse()
    if not warehouse.exists():
        return {}
    wanted = sorted(set(paths))
    sql = f"SELECT path, status, reason FROM {LEDGER_SCHEMA}.{LEDGER_TABLE}"
    if REPLAY_ALL in wanted:
        wanted = []
    elif wanted:
        # A placeholder per path (a few named on the command line): plain SQL in any dialect.
        sql += f" WHERE path IN ({', '.join('?' for _ in wanted)})"
    else:
        return {}
    try:
        rows = warehouse.read_rows(sql, wanted)
    except QueryError:  # a warehouse without a ledger yet: nothing was ever read
        return {}
    return {r["path"]: (r["status"], r["reason"]) for r in rows}


def _open_changes() -> dict[str, str]:
    """path → reason of every processed file changed in place whose record is still open."""
    return {c.path: c.reason for c in _warehouse().open_changes()}


def _acknowledge(paths: Sequence[str], every: bool) -> int:
    warehouse = _warehouse()
    closed = warehouse.acknowledge_changes(paths, every=every) if warehouse.exists() else []
    for p in closed:
        print(f"{p}: change acknowledged (its first version stays loaded; nothing was read)")
    for p in sorted(set(paths) - set(closed)):
        print(f"{p}: no open change recorded: nothing to acknowledge")
    if not closed and every:
        print("no open change recorded: nothing to acknowledge")
    return 0


def tables_of(paths: Iterable[str]) -> set[str]:
    """The source tables the landed `paths` belong to."""
    from claims_platform.dms.files import noncanonical_dms_path, parse_path

    return {f.table for p in paths if (f := parse_path(p) or noncanonical_dms_path(p)) is not None}


def main_replay(argv: Sequence[str], run_replay: Callable[[Sequence[str]], bool]) -> int:
    """`claims-platform replay`: exit 0 when every named file is loaded (or nothing to do).

    `run_replay(paths)` runs the replay (silver for those files, then gold) and says whether the
    run succeeded: the Dagster job, in claims_platform.orchestration.cli.
    """
    parser = argparse.ArgumentParser(
        prog="claims-platform replay",
        description="Read quarantined landed files again, once fixed or re-delivered, and "
        "rebuild gold. Files already processed are never read again.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--path",
        action="append",
        metavar="P",
        help="landed path as the ledger names it (CLAIMS/<TABLE>/<file>); repeatable "
        "(default: none; give --path or --all)",
    )
    which.add_argument(
        "--all", action="store_true", help="every quarantined file (default: off; only --path)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be replayed, run nothing (default: off, replay and rebuild gold)",
    )
    parser.add_argument(
        "--acknowledge-change",
        action="store_true",
        help="instead of replaying: close the open records of processed files changed in place "
        "(audit.file_changes) for --path (or --all), once dealt with; reads nothing "
        "(default: off)",
    )
    args = parser.parse_args(list(argv))

    requested = [REPLAY_ALL] if args.all else list(dict.fromkeys(args.path))
    if args.acknowledge_change:
        return _acknowledge([] if args.all else requested, every=args.all)
    before = _ledger_status(requested)
    changed = _open_changes()
    targets = sorted(p for p, (status, _) in before.items() if status == "quarantined")
    unresolved = []
    if not args.all:
        for p in requested:
            if p not in before:
                print(f"{p}: not in the ledger (never read): the next landing batch reads it")
            elif p in changed:
                unresolved.append(p)
            elif before[p][0] != "quarantined":
                print(f"{p}: already {before[p][0]}: nothing to replay")
    else:
        unresolved = sorted(changed)
    for p in unresolved:
        print(
            f"{p}: {changed[p]}: not replayed (a path is loaded once; its first version stays): "
            "to load the new version, land it under a new name; then run "
            f"`claims-platform replay --acknowledge-change --path {p}`"
        )
    if not targets:
        print("nothing to replay")
        return 1 if unresolved and not args.all else 0
    for p in targets:
        print(f"replaying {p} (quarantined: {before[p][1]})")
    if args.dry_run:
        return 0

    run_ok = run_replay(targets)
    after = _ledger_status(targets)
    still = []
    for p in targets:
        status, reason = after.get(p, ("missing", None))
        if status == "quarantined":
            still.append(p)
            print(f"{p}: still quarantined: {reason}")
        else:
            print(f"{p}: {status}")
    if not run_ok:
        print("the replay run failed: see the Dagster run's event log")
        return 2
    return 1 if still or (unresolved and not args.all) else 0
