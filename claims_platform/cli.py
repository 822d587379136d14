"""`claims-platform`: the command line of the platform.

claims-platform simulate --out <landing> [--seed N] [--members N] [--days N] [--format F]
claims-platform ledger            # what the file ledger holds, per table and status
claims-platform replay (--path P ... | --all) [--dry-run]
                                  # read quarantined files again once fixed; rebuild gold
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _ledger(_argv: Sequence[str]) -> int:
    from claims_platform.environment import get_settings
    from claims_platform.silver.commit import connect

    settings = get_settings()
    if not settings.duckdb_path.exists():
        print(f"no warehouse yet at {settings.duckdb_path}")
        return 0
    con = connect(settings.duckdb_path, read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, status, count(*), sum(rows_loaded), sum(rows_rejected) "
            "FROM audit.file_ledger GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    print(f"{'table':<14}{'status':<13}{'files':>7}{'rows':>10}{'rejected':>10}")
    for table, status, files, loaded, rejected in rows:
        print(f"{table:<14}{status:<13}{files:>7}{loaded or 0:>10}{rejected or 0:>10}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="claims-platform", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["simulate", "ledger", "replay"])
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    command, rest = argv[0], argv[1:]
    if command == "simulate":
        from claims_platform.simulator.cli import main_simulate

        return main_simulate(rest)
    if command == "ledger":
        return _ledger(rest)
    if command == "replay":
        from claims_platform.silver.replay import main_replay

        return main_replay(rest)
    parser.error(f"unknown command {command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
