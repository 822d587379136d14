"""Turning the source's changes into DMS landing files: full load, daily CDC files, follow mode.

Layout under the landing root (CONTRACT §2):

- `CLAIMS/<TABLE>/LOAD00000001.<ext>` ... the full load at 06:00 UTC on the start date, split every
  `load_rows_per_file` rows;
- `CLAIMS/<TABLE>/[YYYY/MM/DD/]YYYYMMDD-HHMMSSmmm.<ext>` CDC files: each business day (13:00-23:00
  UTC) is cut into `files_per_day` equal windows and each table with changes in a window gets one
  file named by the window's close time, so every commit in a file precedes its name and names sort
  in time order without ever colliding.

At most one open file per table exists at any time and rows are streamed to it, so memory does not
grow with the days or rows written. Existing files are never rewritten: a run into a landing
directory that already holds some of its files regenerates the same history and skips them.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from claims_platform.contracts import TableContract, load_contracts

from .dms_writer import FORMATS, DmsFileWriter, FileLayout, cdc_file_name, load_file_name
from .encoding import US_PER_DAY, US_PER_SECOND, change_seq, date_of, timestamp_text
from .model import BUSINESS_OPEN_US, HISTORY_DAYS, TABLES, PayerSource
from .truth import TruthWriter

_LOAD_AT_US = 6 * 3600 * US_PER_SECOND  # the full load runs before business hours
_CDC_SPAN_US = 10 * 3600 * US_PER_SECOND  # CDC windows cover 13:00-23:00 UTC
DEFAULT_START = date(2024, 1, 1)
_GC_THRESHOLDS = (50_000, 20, 100)
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run with rare cyclic-garbage collections, restoring the thresholds afterwards.

    The simulator allocates millions of short-lived row lists and makes no garbage cycles, so the
    default collection every 700 allocations (each scanning the large live state now and then) costs
    it about 15% of its time for nothing. Reference counting still frees every row at once.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*_GC_THRESHOLDS)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


class FileReport(NamedTuple):
    """Files of one load or day: newly written, already present (skipped), and rows in them."""

    written: int
    skipped: int
    rows: int

    @property
    def all_existed(self) -> bool:
        return self.skipped > 0 and self.written == 0


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote (counts include regenerated rows of files that already existed)."""

    out: Path
    days: int
    rows: dict[str, dict[str, int]]
    files_written: int
    files_skipped: int
    files_by_table: dict[str, int] = field(default_factory=dict)
    valuation_timestamp: str | None = None

    @property
    def rows_total(self) -> int:
        return sum(sum(ops.values()) for ops in self.rows.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "rows": self.rows,
            "rows_total": self.rows_total,
            "files_written": self.files_written,
            "files_skipped": self.files_skipped,
            "files_by_table": self.files_by_table,
            "valuation_timestamp": self.valuation_timestamp,
        }


class Simulation:
    """One simulation run, step by step (what `simulate` and `follow` drive).

    Call `write_full_load()`, then `write_day(0)`, `write_day(1)`, ... in order, and `close()`.
    Each step is deterministic given the seed and options, so a restarted run reproduces the same
    files and skips those already landed.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        seed: int = 7,
        members: int = 200,
        fmt: str = "csv",
        start: date = DEFAULT_START,
        history_days: int = HISTORY_DAYS,
        truth_dir: str | os.PathLike[str] | None = None,
        include_change_seq: bool = True,
        date_partitioned: bool = False,
        full_load_op: bool = False,
        key_only_deletes: bool = True,
        files_per_day: int = 2,
        load_rows_per_file: int = 100_000,
        contracts: Mapping[str, TableContract] | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if not 1 <= files_per_day <= 3600:
            raise ValueError("files_per_day must be between 1 and 3600")
        if load_rows_per_file < 1:
            raise ValueError("load_rows_per_file must be positive")
        self.out = Path(out)
        self.fmt = fmt
        self.contracts = dict(contracts or load_contracts())
        self.include_change_seq = include_change_seq
        self.date_partitioned = date_partitioned
        self.key_only_deletes = key_only_deletes
        self.files_per_day = files_per_day
        self.load_rows_per_file = load_rows_per_file
        self.source = PayerSource(
            self.contracts,
            seed=seed,
            members=members,
            start=start,
            sink=self,
            history_days=history_days,
        )
        self._cdc_layout = {
            t: FileLayout.of(
                self.contracts[t], include_op=True, include_change_seq=include_change_seq
            )
            for t in TABLES
        }
        self._load_layout = {
            t: FileLayout.of(
                self.contracts[t], include_op=full_load_op, include_change_seq=include_change_seq
            )
            for t in TABLES
        }
        self._dirs = {t: f"{self.contracts[t].schema_name}/{t}" for t in TABLES}
        self._window_us = _CDC_SPAN_US // files_per_day
        self._window: tuple[int, int] | None = None
        self._window_range = (0, 0)  # [start, end) in epoch µs of the open window
        self._writers: dict[str, tuple[DmsFileWriter, str]] = {}
        self._counter = 0
        self._rows = {t: {"I": 0, "U": 0, "D": 0} for t in TABLES}
        self._files_by_table = dict.fromkeys(TABLES, 0)
        self._written = self._skipped = self._period_rows = 0
        self._valuation: str | None = None
        self._loaded = False
        self._next_day = 0
        self._truth = (
            TruthWriter(truth_dir, {t: self.contracts[t].column_names for t in TABLES})
            if truth_dir is not None
            else None
        )

    # --- public steps --------------------------------------------------------------------------

    def write_full_load(self) -> FileReport:
        """Build the initial state and write it as the full load (LOAD files)."""
        if self._loaded:
            raise RuntimeError("the full load is written once")
        with _fewer_collections():
            return self._write_full_load()

    def _write_full_load(self) -> FileReport:
        mark = self._mark()
        source = self.source
        source.bootstrap()
        ts = source.start_day * US_PER_DAY + _LOAD_AT_US
        for table in TABLES:
            number = 0
            writer: DmsFileWriter | None = None
            relative = ""
            for row in source.snapshot(table):
                if writer is None or writer.rows >= self.load_rows_per_file:
                    if writer is not None:
                        self._finish(table, writer)
                    number += 1
                    relative = f"{self._dirs[table]}/{load_file_name(number, self.fmt)}"
                    writer = DmsFileWriter(
                        self.out / relative, self._load_layout[table], self.fmt, trusted_text=True
                    )
                ts += 1  # DMS stamps each full-load row as it reads it
                text = timestamp_text(ts)
                row_number = writer.write("I", text, None, row)
                self._count(table, "I", text, None, relative, row_number, row)
            if writer is not None:
                self._finish(table, writer)
            ts = (ts // US_PER_SECOND + 1) * US_PER_SECOND
        source.finish_load()
        self._loaded = True
        return self._report(mark)

    def write_day(self, k: int) -> FileReport:
        """Simulate day `k` (0 = start date) and write its CDC files; days go in order."""
        if not self._loaded:
            self.write_full_load()
        if k != self._next_day:
            raise ValueError(f"days are written in order: expected day {self._next_day}, got {k}")
        mark = self._mark()
        with _fewer_collections():
            self.source.run_day(k)
            self._close_window()
        self._next_day += 1
        if self._truth is not None:
            self._truth.flush()
        return self._report(mark)

    @property
    def days_written(self) -> int:
        return self._next_day

    def summary(self) -> SimulationSummary:
        return SimulationSummary(
            out=self.out,
            days=self._next_day,
            rows={t: dict(ops) for t, ops in self._rows.items()},
            files_written=self._written,
            files_skipped=self._skipped,
            files_by_table=dict(self._files_by_table),
            valuation_timestamp=self._valuation,
        )

    def close(self) -> SimulationSummary:
        """Finish open files and the truth files; returns the summary."""
        self._close_window()
        summary = self.summary()
        if self._truth is not None:
            live = {t: self.source.live_rows(t) for t in TABLES}
            self._truth.close(live, summary.as_dict())
            self._truth = None
        return summary

    def abort(self) -> None:
        """Drop files being written (after an error): nothing half-written is published."""
        for writer, _ in self._writers.values():
            writer.abort()
        self._writers.clear()

    # --- the sink the source writes to ---------------------------------------------------------

    def emit(self, table: str, op: str, row: list[Any], ts: int, ts_text: str) -> None:
        lo, hi = self._window_range
        if not lo <= ts < hi:
            self._enter_window(ts)
        entry = self._writers.get(table)
        if entry is None:
            assert self._window is not None
            day, window = self._window
            close_us = day * US_PER_DAY + BUSINESS_OPEN_US + (window + 1) * self._window_us
            if ts >= close_us:
                raise RuntimeError("a commit fell after the close of its CDC file window")
            folder = self._dirs[table]
            if self.date_partitioned:
                d = date_of(day)
                folder += f"/{d.year:04d}/{d.month:02d}/{d.day:02d}"
            relative = f"{folder}/{cdc_file_name(close_us, self.fmt)}"
            writer = DmsFileWriter(
                self.out / relative, self._cdc_layout[table], self.fmt, trusted_text=True
            )
            entry = (writer, relative)
            self._writers[table] = entry
        writer, relative = entry
        self._counter += 1
        seq = change_seq(ts, self._counter) if self.include_change_seq else None
        if op == "D" and self.key_only_deletes:
            row = self.source.layouts[table].key_only(row)
        row_number = writer.write(op, ts_text, seq, row)
        # _count inlined: this runs once per change
        self._rows[table][op] += 1
        self._period_rows += 1
        self._valuation = ts_text
        if self._truth is not None:
            self._truth.change(table, op, ts_text, seq, relative, row_number, row)

    def _enter_window(self, ts: int) -> None:
        """Close the files of the previous window and make the window holding `ts` current."""
        day, offset = divmod(ts, US_PER_DAY)
        window = min(max((offset - BUSINESS_OPEN_US) // self._window_us, 0), self.files_per_day - 1)
        if (day, window) != self._window:
            self._close_window()
            self._window = (day, window)
        base = day * US_PER_DAY + BUSINESS_OPEN_US
        lo = base + window * self._window_us if window else day * US_PER_DAY
        hi = (
            base + (window + 1) * self._window_us
            if window < self.files_per_day - 1
            else (day + 1) * US_PER_DAY
        )
        self._window_range = (lo, hi)

    def retire(self, table: str, row: list[Any]) -> None:
        if self._truth is not None:
            self._truth.final_row(table, row)

    # --- bookkeeping ---------------------------------------------------------------------------

    def _count(
        self,
        table: str,
        op: str,
        ts_text: str,
        seq: str | None,
        relative: str,
        row_number: int,
        row: list[Any],
    ) -> None:
        self._rows[table][op] += 1
        self._period_rows += 1
        self._valuation = ts_text
        if self._truth is not None:
            self._truth.change(table, op, ts_text, seq, relative, row_number, row)

    def _finish(self, table: str, writer: DmsFileWriter) -> None:
        if writer.close():
            self._written += 1
            self._files_by_table[table] += 1
        elif writer.skipped:
            self._skipped += 1

    def _close_window(self) -> None:
        for table, (writer, _) in self._writers.items():
            self._finish(table, writer)
        self._writers.clear()
        self._window = None
        self._window_range = (0, 0)

    def _mark(self) -> tuple[int, int, int]:
        self._period_rows = 0
        return self._written, self._skipped, 0

    def _report(self, mark: tuple[int, int, int]) -> FileReport:
        return FileReport(self._written - mark[0], self._skipped - mark[1], self._period_rows)


def simulate(
    out: str | os.PathLike[str],
    *,
    seed: int = 7,
    members: int = 200,
    days: int = 30,
    fmt: str = "csv",
    start: date = DEFAULT_START,
    history_days: int = HISTORY_DAYS,
    truth_dir: str | os.PathLike[str] | None = None,
    include_change_seq: bool = True,
    date_partitioned: bool = False,
    full_load_op: bool = False,
    key_only_deletes: bool = True,
    files_per_day: int = 2,
    load_rows_per_file: int = 100_000,
    on_load: Callable[[FileReport], None] | None = None,
    on_day: Callable[[int, FileReport], None] | None = None,
) -> SimulationSummary:
    """Write the full load and `days` days of CDC files of the synthetic payer under `out`.

    The same arguments give the same bytes. Files already present are left untouched (and counted
    as skipped). With `truth_dir`, the source's own record of every change and of its final state
    is written there too (see `claims_platform.simulator.truth`). `history_days` days of claims
    (received, adjudicated, paid before the start date) are simulated into the full load, so the
    data shows the run-out of claims incurred before it. `on_load` and `on_day` are called after
    the full load and after each day (for progress reports).
    """
    sim = Simulation(
        out,
        seed=seed,
        members=members,
        fmt=fmt,
        start=start,
        history_days=history_days,
        truth_dir=truth_dir,
        include_change_seq=include_change_seq,
        date_partitioned=date_partitioned,
        full_load_op=full_load_op,
        key_only_deletes=key_only_deletes,
        files_per_day=files_per_day,
        load_rows_per_file=load_rows_per_file,
    )
    try:
        with _fewer_collections():  # held across days: each restore costs a full collection
            report = sim.write_full_load()
            if on_load is not None:
                on_load(report)
            for k in range(days):
                report = sim.write_day(k)
                if on_day is not None:
                    on_day(k, report)
    except BaseException:
        sim.abort()
        raise
    return sim.close()


def follow(
    out: str | os.PathLike[str],
    *,
    days: int = 30,
    interval: float = 30.0,
    stop: threading.Event | None = None,
    max_days: int | None = None,
    on_day: Callable[[int, FileReport], None] | None = None,
    **options: Any,
) -> SimulationSummary:
    """Live mode: write the first `days` days at once, then one more day every `interval` seconds.

    Restartable: the history is regenerated from the seed and files already landed are skipped, so
    a restart catches up without waiting through the days a previous run wrote, then goes on. Runs
    until `stop` is set (the CLI sets it on SIGINT/SIGTERM) or `max_days` days exist in total.
    `options` are the keyword options of `simulate`.
    """
    stop = stop or threading.Event()
    sim = Simulation(out, **options)
    try:
        with _fewer_collections():
            return _follow(sim, days, interval, stop, max_days, on_day)
    except BaseException:
        sim.abort()
        raise


def _follow(
    sim: Simulation,
    days: int,
    interval: float,
    stop: threading.Event,
    max_days: int | None,
    on_day: Callable[[int, FileReport], None] | None,
) -> SimulationSummary:
    limit = days if max_days is None else min(days, max_days)
    caught_up = sim.write_full_load().all_existed
    k = 0
    while not stop.is_set() and (max_days is None or k < max_days):
        # Initial days go at once; later ones wait for the interval, except days a previous run
        # already landed, which a restart regenerates at full speed.
        if k >= limit and not caught_up and stop.wait(interval):
            break
        report = sim.write_day(k)
        caught_up = report.all_existed
        if on_day is not None:
            on_day(k, report)
        k += 1
    return sim.close()
