"""Scanning what a run leaves behind (logs, event log, lineage events) for PHI values.

The values come from the source's own record (the simulator's truth files, plus whatever a test
landed by hand): names, SSNs, phone numbers, e-mails, street addresses. A hit names the kind, the
place and a masked value, so a failing test never prints the value it found.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

# The MEMBER columns whose values must never leave the warehouse, by kind.
PHI_COLUMNS = {
    "FIRST_NAME": "name",
    "LAST_NAME": "name",
    "SSN": "ssn",
    "PHONE": "phone",
    "EMAIL": "email",
    "ADDRESS_LINE1": "address",
}
# Single names shorter than this are too likely to be ordinary words of a log line ("Lee", "May").
MIN_NAME_LENGTH = 5


@dataclass(frozen=True)
class Hit:
    kind: str
    where: str
    masked: str

    def __str__(self) -> str:
        return f"{self.kind} value {self.masked} in {self.where}"


def _mask(value: str) -> str:
    return value[:1] + "*" * (len(value) - 1)


@dataclass
class PhiValues:
    by_kind: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, value: object) -> None:
        if value is None:
            return
        text = str(value).strip()
        if not text or (kind == "name" and len(text) < MIN_NAME_LENGTH):
            return
        self.by_kind.setdefault(kind, set()).add(text)

    def add_member(self, values: Mapping[str, object]) -> None:
        for column, kind in PHI_COLUMNS.items():
            self.add(kind, values.get(column))
        first, last = values.get("FIRST_NAME"), values.get("LAST_NAME")
        if first and last:
            self.add("full name", f"{first} {last}")

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_kind.values())

    @classmethod
    def from_truth(cls, truth_dir: Path) -> PhiValues:
        values = cls()
        path = truth_dir / "MEMBER.changes.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                values.add_member(json.loads(line)["values"])
        return values


class PhiScanner:
    """Whole-token, case-sensitive matching of every known value in any text."""

    def __init__(self, values: PhiValues) -> None:
        self._kind = {v: k for k, vs in values.by_kind.items() for v in vs}
        alternatives = sorted(self._kind, key=len, reverse=True)
        self._pattern = (
            re.compile(
                r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, alternatives)) + r")(?![A-Za-z0-9])"
            )
            if alternatives
            else None
        )

    def scan(self, text: str, where: str) -> list[Hit]:
        if self._pattern is None:
            return []
        return [
            Hit(self._kind[m.group(1)], where, _mask(m.group(1)))
            for m in self._pattern.finditer(text)
        ]

    def scan_files(self, root: Path, skip: Iterable[Path] = ()) -> list[Hit]:
        """Every file under root (text or not: bytes decoded leniently), except under `skip`."""
        skipped = [p.resolve() for p in skip]
        hits: list[Hit] = []
        for path in sorted(root.rglob("*")):
            resolved = path.resolve()
            if not path.is_file() or any(resolved.is_relative_to(s) for s in skipped):
                continue
            hits += self.scan(path.read_bytes().decode("utf-8", "replace"), str(path))
        return hits

    def scan_run_records(self, instance: dg.DagsterInstance) -> list[Hit]:
        """Every run of the instance (config, tags) and every event-log entry of it: messages,
        materialisation / observation / check metadata, failures (serialised whole)."""
        hits: list[Hit] = []
        for run in instance.get_runs():
            hits += self.scan(dg.serialize_value(run), f"run {run.run_id}")
            for record in instance.get_records_for_run(run.run_id, limit=100_000).records:
                entry = record.event_log_entry
                what = entry.dagster_event.event_type_value if entry.dagster_event else "log"
                hits += self.scan(
                    dg.serialize_value(entry), f"event {record.storage_id} ({what}) of {run.run_id}"
                )
        return hits


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken log call is not this test's business
            text = str(record.msg)
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@dataclass
class CapturedOutput:
    python_log: list[str] = field(default_factory=list)
    stdout_stderr: str = ""


@contextmanager
def capture_output() -> Iterator[CapturedOutput]:
    """Everything written to fds 1 and 2 (this process and its children: Spark, dbt) and every
    Python log record at INFO and above, for the block's duration."""
    captured = CapturedOutput()
    handler = _Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    saved_streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        # pytest (and others) may have replaced sys.stdout/err by objects that bypass fds 1, 2.
        stream = open(os.dup(1), "w", encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115
        sys.stdout = sys.stderr = stream
        try:
            yield captured
        finally:
            stream.flush()
            sys.stdout, sys.stderr = saved_streams
            stream.close()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            root.removeHandler(handler)
            root.setLevel(old_level)
            sink.seek(0)
            captured.stdout_stderr = sink.read().decode("utf-8", "replace")
            captured.python_log = handler.lines
