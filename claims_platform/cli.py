"""`claims-platform`: the command line of the platform.

claims-platform simulate --out <landing> [--seed N] [--members N] [--days N] [--history-days N] ...
claims-platform ledger            # what the file ledger holds, per table and status
claims-platform replay (--path P ... | --all) [--dry-run] [--acknowledge-change]
                                  # read quarantined files again once fixed; rebuild gold
                                  # (or close records of processed files changed in place)
claims-platform docs [--out DIR] [--static] [--serve] [--port N]
                                  # dbt docs of gold on this environment's warehouse

Each command parses its own options (`claims-platform <command> --help`) and is imported only
when run: `claims-platform --help` and `ledger` must not pay for pyarrow, Dagster or Spark.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

PROG = "claims-platform"
# One line per command for `claims-platform --help`; the commands' own parsers hold the details.
COMMANDS = {
    "simulate": "write AWS DMS-format landing files (full load, daily CDC) of a synthetic payer; "
    "same seed, same bytes",
    "ledger": "show what the file ledger holds, per table and status (files, rows, rejected rows)",
    "replay": "read quarantined landed files again once fixed or re-delivered, then rebuild gold",
    "docs": "generate the dbt docs site of gold on this environment's warehouse; --serve serves it",
}
_LEDGER_DESCRIPTION = (
    "Show what the file ledger (audit.file_ledger in the local warehouse) holds: files, rows "
    "loaded and rows rejected per table and status. Read-only. The warehouse is "
    "$CLAIMS_DUCKDB_PATH (default: $CLAIMS_DATA_DIR/warehouse.duckdb, CLAIMS_DATA_DIR "
    "defaulting to .data/ in the checkout)."
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: it lists the commands; each command parses its own options."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Command line of the claims platform.",
        epilog=f"Run '{PROG} <command> --help' for a command's options and their defaults.",
    )
    commands = parser.add_subparsers(dest="command", title="commands", metavar="<command>")
    for name, summary in COMMANDS.items():
        # add_help=False: `<command> --help` reaches the command's own parser, which knows its
        # options; this parser only names the command.
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def _ledger(argv: Sequence[str]) -> int:
    argparse.ArgumentParser(prog=f"{PROG} ledger", description=_LEDGER_DESCRIPTION).parse_args(
        list(argv)
    )
    from claims_platform.environment import get_settings
    from claims_platform.silver.schema import LEDGER_SCHEMA, LEDGER_TABLE
    from claims_platform.warehouse.choice import warehouse_for

    settings = get_settings()
    warehouse = warehouse_for(settings)
    if not warehouse.exists():
        where = f" at {settings.duckdb_path}" if warehouse.kind == "duckdb" else ""
        print(f"no warehouse yet{where}")
        return 0
    rows = warehouse.read_rows(
        "SELECT table_name, status, count(*) AS files, sum(rows_loaded) AS loaded, "
        f"sum(rows_rejected) AS rejected FROM {LEDGER_SCHEMA}.{LEDGER_TABLE} "
        "GROUP BY table_name, status ORDER BY table_name, status"
    )
    changed = warehouse.open_changes()
    print(f"{'table':<14}{'status':<13}{'files':>7}{'rows':>10}{'rejected':>10}")
    for r in rows:
        print(
            f"{r['table_name']:<14}{r['status']:<13}{r['files']:>7}"
            f"{r['loaded'] or 0:>10}{r['rejected'] or 0:>10}"
        )
    if changed:
        print(
            f"{len(changed)} processed file(s) changed in place since they were loaded "
            f"(audit.file_changes; not read again): see `{PROG} replay --all`"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run `claims-platform` with `argv` (default: the process arguments); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    # Only the command name goes through this parser (an unknown one exits 2 with the choices);
    # the rest goes untouched to the command, whose parser reports its own errors.
    parser.parse_args(argv[:1])
    command, rest = argv[0], argv[1:]
    if command == "simulate":
        from claims_platform.simulator.cli import main_simulate

        return main_simulate(rest)
    if command == "ledger":
        return _ledger(rest)
    if command == "docs":
        from claims_platform.docs import main_docs

        return main_docs(rest)
    # The one command that runs Dagster (the replay job, in-process): the command line is an
    # entry point like claims_platform.definitions, and only this command loads the definitions.
    from claims_platform.orchestration.cli import replay

    return replay(rest)


if __name__ == "__main__":
    sys.exit(main())
