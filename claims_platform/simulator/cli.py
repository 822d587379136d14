"""`claims-platform simulate`: argument parsing and signal handling around `simulate` / `follow`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from types import FrameType

from .dms_writer import FORMATS
from .runner import DEFAULT_START, FileReport, SimulationSummary, follow, simulate

DEMO_MEMBERS = 500
DEMO_DAYS = 60


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the simulate options to a (sub-)parser; the main CLI wires it as a sub-command."""
    parser.add_argument("--out", required=True, help="landing root (directory) to write under")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
    parser.add_argument("--members", type=int, default=DEMO_MEMBERS, help="initial member count")
    parser.add_argument("--days", type=int, default=DEMO_DAYS, help="days of CDC after the load")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="csv", help="file format")
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=DEFAULT_START,
        help="date of the full load and first CDC day (YYYY-MM-DD)",
    )
    parser.add_argument("--truth", default=None, help="directory for the source's truth files")
    parser.add_argument("--files-per-day", type=int, default=2, help="CDC files per table per day")
    parser.add_argument(
        "--date-partitioned",
        action="store_true",
        help="put CDC files under YYYY/MM/DD/ (DatePartitionEnabled)",
    )
    parser.add_argument(
        "--full-load-op",
        action="store_true",
        help="write the Op column in full-load files (IncludeOpForFullLoad)",
    )
    parser.add_argument(
        "--no-change-seq", action="store_true", help="leave out the AR_H_CHANGE_SEQ column"
    )
    parser.add_argument(
        "--full-delete-images",
        action="store_true",
        help="deletes carry the whole row instead of the key only",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="after the initial days keep writing one day per interval",
    )
    parser.add_argument(
        "--interval", type=float, default=30.0, help="seconds between days in --follow mode"
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    return add_arguments(
        argparse.ArgumentParser(
            prog="claims-platform simulate",
            description="Write AWS DMS-format landing files of a synthetic payer's claims system.",
        )
    )


def run(args: argparse.Namespace) -> int:
    """Run the simulator for parsed arguments; returns the process exit code."""
    if args.members < 1 or args.days < 0 or args.interval < 0:
        print("simulate: --members must be >= 1, --days and --interval >= 0", file=sys.stderr)
        return 2
    options = {
        "seed": args.seed,
        "members": args.members,
        "fmt": args.fmt,
        "start": args.start,
        "truth_dir": args.truth,
        "include_change_seq": not args.no_change_seq,
        "date_partitioned": args.date_partitioned,
        "full_load_op": args.full_load_op,
        "key_only_deletes": not args.full_delete_images,
        "files_per_day": args.files_per_day,
    }
    if not args.follow:
        summary = simulate(args.out, days=args.days, **options)
        _print_summary(summary)
        return 0
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def _progress(k: int, report: FileReport) -> None:
        state = "already landed" if report.all_existed else f"{report.written} new files"
        print(f"day {k}: {report.rows} changes, {state}", flush=True)

    try:
        summary = follow(
            args.out, days=args.days, interval=args.interval, stop=stop, on_day=_progress, **options
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _print_summary(summary)
    return 0


def _print_summary(summary: SimulationSummary) -> None:
    print(
        f"wrote {summary.files_written} files ({summary.files_skipped} already present), "
        f"{summary.rows_total} rows over {summary.days} days to {summary.out}; "
        f"valuation timestamp {summary.valuation_timestamp}"
    )


def main_simulate(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (without the sub-command name) and run; returns the exit code."""
    return run(build_parser().parse_args(list(argv) if argv is not None else None))
