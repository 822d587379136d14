"""The source's own record of what it wrote, for tests: every change and the final table state.

Files in the truth directory (values encoded as in `encoding`: strings for text, dates, timestamps,
JSON and decimals with their exact decimals; integers as numbers; NULL as null):

- `<TABLE>.changes.jsonl`: one object per change in commit order, with `op`, `dms_timestamp`,
  `change_seq` (null when not written), `file` (path relative to the landing root), `row` (1-based
  data row in that file) and `values` (every column, exactly as written; NULL for the non-key
  columns of a key-only delete). Full-load rows appear first with op `I`.
- `<TABLE>.final.jsonl`: the table's rows after the last change, one per existing key: `values`
  objects only, in no particular (but deterministic) order.
- `summary.json`: row counts per table and op, file counts and the valuation timestamp.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class TruthWriter:
    """Streams the truth files; memory stays flat because rows go to disk as they happen."""

    def __init__(self, directory: str | Path, columns: Mapping[str, Sequence[str]]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._columns = {t: tuple(names) for t, names in columns.items()}
        self._changes: dict[str, TextIO] = {}
        self._final: dict[str, TextIO] = {}
        for table in self._columns:
            self._changes[table] = self._open(f"{table}.changes.jsonl")
            self._final[table] = self._open(f"{table}.final.jsonl")

    def _open(self, name: str) -> TextIO:
        return open(self.directory / name, "w", encoding="utf-8", newline="\n")

    def change(
        self,
        table: str,
        op: str,
        dms_timestamp: str,
        change_seq: str | None,
        file: str,
        row_number: int,
        values: Sequence[Any],
    ) -> None:
        record = {
            "op": op,
            "dms_timestamp": dms_timestamp,
            "change_seq": change_seq,
            "file": file,
            "row": row_number,
            "values": dict(zip(self._columns[table], values, strict=True)),
        }
        self._changes[table].write(_dumps(record) + "\n")

    def final_row(self, table: str, values: Sequence[Any]) -> None:
        """A row in its final state (a claim that can no longer change, or live at the end)."""
        self._final[table].write(
            _dumps(dict(zip(self._columns[table], values, strict=True))) + "\n"
        )

    def flush(self) -> None:
        for handle in (*self._changes.values(), *self._final.values()):
            handle.flush()

    def close(
        self, live: Mapping[str, Iterable[Sequence[Any]]], summary: Mapping[str, Any]
    ) -> None:
        """Append the rows still live, write summary.json and close every file."""
        for table, rows in live.items():
            for row in rows:
                self.final_row(table, row)
        for handle in (*self._changes.values(), *self._final.values()):
            handle.close()
        text = json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (self.directory / "summary.json").write_text(text, encoding="utf-8")
