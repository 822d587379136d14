"""`claims-platform simulate`: argument parsing and signal handling around `simulate` / `follow`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from types import FrameType
from typing import TextIO

from .dms_writer import FORMATS
from .model import HISTORY_DAYS, HISTORY_DAYS_MAX
from .runner import DEFAULT_START, FileReport, SimulationSummary, follow, simulate

DEMO_MEMBERS = 500
DEMO_DAYS = 60
DESCRIPTION = (
    "Write AWS DMS-format landing files (full load, then daily CDC) of a synthetic payer's "
    "claims system; the same options and seed give the same bytes."
)
PROGRESS_EVERY_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the simulate options to a (sub-)parser; every help text states the default."""
    parser.add_argument("--out", required=True, help="landing root (directory) to write under")
    parser.add_argument(
        "--seed",
        type=int,
        default=7,
        help="random seed; same seed, same bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--members",
        type=int,
        default=DEMO_MEMBERS,
        help="initial member count (default: %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEMO_DAYS,
        help="days of CDC after the load (default: %(default)s)",
    )
    parser.add_argument(
        "--history-days",
        type=int,
        default=HISTORY_DAYS,
        help="days of claims simulated before the full load (received, adjudicated, paid), so "
        "claims incurred then show their run-out; 270-365 gives a year of lag triangle "
        f"(default: %(default)s, at most {HISTORY_DAYS_MAX})",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="csv",
        help="file format (default: %(default)s)",
    )
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=DEFAULT_START,
        help="date of the full load and first CDC day, YYYY-MM-DD (default: %(default)s)",
    )
    parser.add_argument(
        "--truth",
        default=None,
        help="directory for the source's truth files (default: none written)",
    )
    parser.add_argument(
        "--files-per-day",
        type=int,
        default=2,
        help="CDC files per table per day (default: %(default)s)",
    )
    parser.add_argument(
        "--date-partitioned",
        action="store_true",
        help="put CDC files under YYYY/MM/DD/, DatePartitionEnabled (default: off, flat folders)",
    )
    parser.add_argument(
        "--full-load-op",
        action="store_true",
        help="write the Op column in full-load files, IncludeOpForFullLoad (default: off)",
    )
    parser.add_argument(
        "--no-change-seq",
        action="store_true",
        help="leave out the AR_H_CHANGE_SEQ column (default: off, the column is written)",
    )
    parser.add_argument(
        "--full-delete-images",
        action="store_true",
        help="deletes carry the whole row instead of the key only (default: off, key only)",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="after the initial days keep writing one day per interval until interrupted "
        "(default: off, stop after --days)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=30.0,
        help="seconds between days in --follow mode (default: %(default)s)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    return add_arguments(
        argparse.ArgumentParser(
            prog="claims-platform simulate",
            description=DESCRIPTION,
        )
    )


class Progress:
    """Progress of a long run on a stream (stderr): one line every `every` seconds at most.

    A run shorter than `every` prints nothing, so short runs show only their final summary; the
    lines go to stderr because callers parse the summary on stdout.
    """

    def __init__(
        self,
        days: int,
        *,
        every: float = PROGRESS_EVERY_S,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.days = days
        self.every = every
        self.stream = stream
        self.clock = clock
        self.rows = 0
        self._start = self._last = clock()

    def load(self, report: FileReport) -> None:
        self.rows += report.rows
        self._maybe_print("full load")

    def day(self, k: int, report: FileReport) -> None:
        self.rows += report.rows
        self._maybe_print(f"day {k + 1}/{self.days}")

    def _maybe_print(self, where: str) -> None:
        now = self.clock()
        if now - self._last < self.every:
            return
        self._last = now
        line = f"{where} · {self.rows:,} changes · {now - self._start:.0f} s"
        print(line, file=self.stream or sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the simulator for parsed arguments; returns the process exit code."""
    if args.members < 1 or args.days < 0 or args.interval < 0:
        print("simulate: --members must be >= 1, --days and --interval >= 0", file=sys.stderr)
        return 2
    if not 0 <= args.history_days <= HISTORY_DAYS_MAX:
        print(f"simulate: --history-days must be between 0 and {HISTORY_DAYS_MAX}", file=sys.stderr)
        return 2
    options = {
        "seed": args.seed,
        "members": args.members,
        "fmt": args.fmt,
        "start": args.start,
        "history_days": args.history_days,
        "truth_dir": args.truth,
        "include_change_seq": not args.no_change_seq,
        "date_partitioned": args.date_partitioned,
        "full_load_op": args.full_load_op,
        "key_only_deletes": not args.full_delete_images,
        "files_per_day": args.files_per_day,
    }
    if not args.follow:
        progress = Progress(args.days)
        summary = simulate(
            args.out, days=args.days, on_load=progress.load, on_day=progress.day, **options
        )
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
