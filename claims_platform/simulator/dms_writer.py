"""Writing files the way the AWS DMS S3 target writes them (CONTRACT §2).

`DmsFileWriter` streams the rows of one file and publishes it atomically under its final name;
`write_dms_file` is the one-call form for tests that need hand-made landing files.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from claims_platform.contracts import TableContract, parse_type
from claims_platform.dms.parse import arrow_type as silver_arrow_type

from .encoding import canonical, compact_time, text_of

OP = "Op"
DMS_TIMESTAMP = "DMS_TIMESTAMP"
CHANGE_SEQ = "AR_H_CHANGE_SEQ"
FORMATS = ("csv", "csv.gz", "parquet")
LOAD_FILE_RE = re.compile(r"^LOAD[0-9A-F]{8}\.(csv|csv\.gz|parquet)$")
CDC_FILE_RE = re.compile(r"^\d{8}-\d{9}\.(csv|csv\.gz|parquet)$")

_NEEDS_QUOTES = re.compile(r'[,"\r\n]').search
_CSV_FLUSH_LINES = 2048
_GZIP_LEVEL = 6  # level 9 costs twice the time for a few percent


def load_file_name(number: int, fmt: str) -> str:
    """`LOAD00000001.csv`: full-load files are numbered from 1 in eight upper-case hex digits."""
    _check_format(fmt)
    return f"LOAD{number:08X}.{fmt}"


def cdc_file_name(close_us: int, fmt: str) -> str:
    """`YYYYMMDD-HHMMSSmmm.<ext>` of the time (epoch µs, UTC) the CDC file was closed."""
    _check_format(fmt)
    return f"{compact_time(close_us)}.{fmt}"


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown DMS file format {fmt!r}; expected one of {', '.join(FORMATS)}")


def csv_line(fields: Iterable[Any]) -> str:
    """One CSV record (with `\\n`) of canonical values.

    RFC 4180 minimal quoting like `csv.QUOTE_MINIMAL`, except that an empty string is written `""`
    so it stays distinct from NULL (an empty unquoted field); the csv module cannot express that.
    """
    parts = []
    for v in fields:
        if v is None:
            parts.append("")
        elif v.__class__ is str:
            if not v:
                parts.append('""')
            elif _NEEDS_QUOTES(v):
                parts.append('"' + v.replace('"', '""') + '"')
            else:
                parts.append(v)
        elif v.__class__ is int:
            parts.append(str(v))
        else:
            parts.append(text_of(v))
    return ",".join(parts) + "\n"


class CsvEncoder:
    """Encodes the records of one file layout exactly like `csv_line`, about 2.5 times faster.

    It knows from the column types which fields can need quoting and which must be converted to
    text, so a claim line costs a couple of microseconds (the C `csv` module takes longer on
    JSON-heavy rows, and cannot write `""`). With `trusted=True` the DMS columns and the canonical
    date, timestamp and decimal text are taken as never needing quotes, which holds for values the
    simulator makes; hand-written values (which may be deliberately malformed) are always checked.
    """

    def __init__(self, layout: FileLayout, *, trusted: bool = False) -> None:
        prefix = len(layout.header) - len(layout.columns)
        quote: list[int] = [] if trusted else list(range(prefix))
        convert: list[int] = []
        for position, (_, type_name) in enumerate(layout.columns, start=prefix):
            base = parse_type(type_name)[0]
            if base in ("string", "json") or (not trusted and base in _CANONICAL_TEXT):
                quote.append(position)
            elif base not in _CANONICAL_TEXT:
                convert.append(position)
        self._quote = tuple(quote)
        self._convert = tuple(convert)

    def encode(self, values: list[Any]) -> str:
        """The CSV record (with `\n`) of `values`, which it overwrites with their text."""
        for i in self._quote:
            v = values[i]
            if v is not None and (not v or _NEEDS_QUOTES(v)):
                values[i] = '"' + v.replace('"', '""') + '"'
        for i in self._convert:
            v = values[i]
            if v is not None:
                values[i] = str(v) if v.__class__ is int else text_of(v)
        return ",".join([v if v is not None else "" for v in values]) + "\n"


_CANONICAL_TEXT = frozenset({"decimal", "date", "timestamp"})


def arrow_type(type_name: str) -> pa.DataType:
    """Parquet (Arrow) type of a contract type, as DMS writes it: silver's, with timestamps in UTC."""
    t = silver_arrow_type(type_name)
    return pa.timestamp("us", tz="UTC") if pa.types.is_timestamp(t) else t


def _arrow_column(values: Sequence[Any], type_name: str) -> pa.Array:
    base = parse_type(type_name)[0]
    target = arrow_type(type_name)
    if base in ("decimal", "date"):
        return pa.array(values, pa.string()).cast(target)
    if base in ("integer", "double", "boolean") and any(isinstance(v, str) for v in values):
        # Hand-written text in a typed column: Arrow parses it (and refuses what is malformed).
        text = [v if v is None or isinstance(v, str) else str(v) for v in values]
        return pa.array(text, pa.string()).cast(target)
    if base == "timestamp":
        # Canonical timestamps carry no zone: parse as naive, then label as UTC (same values).
        return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(target)
    return pa.array(values, target)


class FileLayout(NamedTuple):
    """The columns of one DMS file: the DMS prefix columns, then data columns in table order."""

    columns: tuple[tuple[str, str], ...]  # data columns as (name, contract type)
    include_op: bool
    include_change_seq: bool

    @classmethod
    def of(
        cls,
        contract: TableContract,
        *,
        include_op: bool = True,
        include_change_seq: bool = True,
        extra_columns: Sequence[str | tuple[str, str]] = (),
    ) -> FileLayout:
        """Layout of a table; `extra_columns` (names or (name, type)) go last, as DDL adds them."""
        extras = tuple((c, "string") if isinstance(c, str) else (c[0], c[1]) for c in extra_columns)
        columns = tuple((c.name, c.type) for c in contract.columns) + extras
        names = [n for n, _ in columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{contract.name}: duplicate column names in {names}")
        for _, type_name in extras:
            parse_type(type_name)
        return cls(columns, include_op, include_change_seq)

    @property
    def header(self) -> list[str]:
        prefix = [OP] if self.include_op else []
        prefix.append(DMS_TIMESTAMP)
        if self.include_change_seq:
            prefix.append(CHANGE_SEQ)
        return prefix + [n for n, _ in self.columns]

    def arrow_schema(self) -> pa.Schema:
        fields = [pa.field(OP, pa.string(), nullable=False)] if self.include_op else []
        fields.append(pa.field(DMS_TIMESTAMP, pa.string(), nullable=False))
        if self.include_change_seq:
            fields.append(pa.field(CHANGE_SEQ, pa.string()))
        fields += [pa.field(n, arrow_type(t)) for n, t in self.columns]
        return pa.schema(fields)


class DmsFileWriter:
    """Streams the rows of one DMS file and publishes it atomically when closed.

    `trusted_text=True` declares the values canonical as the simulator makes them (see
    `CsvEncoder`), which saves quoting checks.

    Rows go to a hidden temporary file beside the target (`.<name>.tmp`, which no DMS file pattern
    matches) and are linked to the final name on `close()`, so a reader never sees a half-written
    file and a killed run leaves no partial landing file. An existing file is never replaced: with
    `overwrite=False` a writer whose target exists only counts its rows (`skipped` is True), which
    is how a restarted simulator regenerates history without touching landed files.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        layout: FileLayout,
        fmt: str,
        *,
        overwrite: bool = False,
        row_group_size: int = 65_536,
        trusted_text: bool = False,
    ) -> None:
        _check_format(fmt)
        self.path = Path(path)
        self.layout = layout
        self.fmt = fmt
        self.overwrite = overwrite
        self.rows = 0
        self.skipped = not overwrite and self.path.exists()
        self._row_group_size = row_group_size
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        if self.skipped:
            # A run killed between publishing and cleaning up leaves the temporary file behind.
            self._tmp.unlink(missing_ok=True)
        self._raw: BinaryIO | None = None
        self._gz: gzip.GzipFile | None = None
        self._lines: list[str] = []
        self._encoder = CsvEncoder(layout, trusted=trusted_text)
        self._batch: list[list[Any]] = []
        self._parquet: pq.ParquetWriter | None = None
        self._schema = layout.arrow_schema() if fmt == "parquet" else None
        # Contract type of each file column; None for the DMS prefix columns (plain strings).
        prefix = len(layout.header) - len(layout.columns)
        self._types: list[str | None] = [None] * prefix + [t for _, t in layout.columns]
        self._closed = False

    def write(
        self, op: str, dms_timestamp: str, change_seq: str | None, values: Sequence[Any]
    ) -> int:
        """Append a row (data values canonical and in layout order); returns its 1-based number."""
        self.rows += 1
        if self.skipped:
            return self.rows
        layout = self.layout
        if layout.include_op:
            if layout.include_change_seq:
                record = [op, dms_timestamp, change_seq, *values]
            else:
                record = [op, dms_timestamp, *values]
        elif layout.include_change_seq:
            record = [dms_timestamp, change_seq, *values]
        else:
            record = [dms_timestamp, *values]
        if self._schema is not None:
            self._batch.append(record)
            if len(self._batch) >= self._row_group_size:
                self._flush_parquet()
        else:
            if self._raw is None:
                self._open_csv()
            self._lines.append(self._encoder.encode(record))
            if len(self._lines) >= _CSV_FLUSH_LINES:
                self._flush_csv()
        return self.rows

    def close(self) -> bool:
        """Finish and publish the file; True when a new file was written."""
        if self._closed:
            return False
        self._closed = True
        if self.skipped or self.rows == 0:
            return False
        if self._schema is not None:
            self._flush_parquet()
            assert self._parquet is not None
            self._parquet.close()
        else:
            self._flush_csv()
            if self._gz is not None:
                self._gz.close()
            assert self._raw is not None
            self._raw.close()
        return self._publish()

    def abort(self) -> None:
        """Drop a file being written (nothing is published)."""
        self._closed = True
        for handle in (self._parquet, self._gz, self._raw):
            if handle is not None:
                handle.close()
        self._tmp.unlink(missing_ok=True)

    def _open_csv(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        if self.fmt == "csv.gz":
            # filename="" and mtime=0 keep the gzip header free of names and wall-clock time.
            self._gz = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=_GZIP_LEVEL
            )
        self._lines.append(csv_line(self.layout.header))

    def _flush_csv(self) -> None:
        if not self._lines:
            return
        data = "".join(self._lines).encode("utf-8")
        self._lines.clear()
        sink: BinaryIO | gzip.GzipFile | None = self._gz if self._gz is not None else self._raw
        assert sink is not None
        sink.write(data)

    def _flush_parquet(self) -> None:
        if not self._batch:
            return
        assert self._schema is not None
        columns = list(zip(*self._batch, strict=True))
        self._batch = []
        arrays = [
            _arrow_column(values, t) if t else pa.array(values, pa.string())
            for values, t in zip(columns, self._types, strict=True)
        ]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        if self._parquet is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Fixed options: the same rows give the same bytes (no wall clock in Parquet metadata).
            self._parquet = pq.ParquetWriter(
                self._tmp,
                self._schema,
                compression="snappy",
                version="2.6",
                use_dictionary=True,
                write_statistics=True,
            )
        self._parquet.write_table(table, row_group_size=self._row_group_size)

    def _publish(self) -> bool:
        if self.overwrite:
            os.replace(self._tmp, self.path)
            return True
        try:
            os.link(
                self._tmp, self.path
            )  # fails instead of replacing a file that appeared meanwhile
        except FileExistsError:
            self._tmp.unlink(missing_ok=True)
            self.skipped = True
            return False
        except OSError:  # a file system without hard links
            if self.path.exists():
                self._tmp.unlink(missing_ok=True)
                self.skipped = True
                return False
            os.replace(self._tmp, self.path)
            return True
        self._tmp.unlink()
        return True


class DmsRow(NamedTuple):
    """One row of a hand-made DMS file: DMS columns plus the table values by column name."""

    op: str
    dms_timestamp: str
    change_seq: str | None
    values: Mapping[str, Any]


def write_dms_file(
    path: str | os.PathLike[str],
    contract: TableContract,
    rows: Iterable[DmsRow | Mapping[str, Any] | Sequence[Any]],
    fmt: str | None = None,
    *,
    include_op: bool = True,
    include_change_seq: bool = True,
    extra_columns: Sequence[str | tuple[str, str]] = (),
    overwrite: bool = False,
) -> int:
    """Write one DMS file of `contract`'s table; returns the number of rows written.

    `rows` holds `DmsRow`s, dicts with the keys op / dms_timestamp / change_seq / values, or
    4-tuples in that order. `values` maps column name to a Python value (`str`, `int`, `Decimal`,
    `date`, `datetime`, JSON-able lists/dicts for json columns, or the canonical text); a missing
    column is NULL and an unknown one an error. `extra_columns` (names, or (name, contract type)
    pairs) are written after the contract's columns, as DMS does for a column added at the source.
    `fmt` defaults to the file's extension. An existing file is an error unless `overwrite`.
    """
    target = Path(path)
    if fmt is None:
        fmt = next(
            (f for f in sorted(FORMATS, key=len, reverse=True) if target.name.endswith("." + f)), ""
        )
    layout = FileLayout.of(
        contract,
        include_op=include_op,
        include_change_seq=include_change_seq,
        extra_columns=extra_columns,
    )
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} exists and landed files are never rewritten")
    known = {name for name, _ in layout.columns}
    writer = DmsFileWriter(target, layout, fmt, overwrite=overwrite)
    try:
        for item in rows:
            row = _as_row(item)
            unknown = sorted(set(row.values) - known)
            if unknown:
                raise ValueError(f"{target.name}: columns {unknown} are not in {contract.name}")
            values = [canonical(row.values.get(name), t) for name, t in layout.columns]
            writer.write(row.op, row.dms_timestamp, row.change_seq, values)
    except BaseException:
        writer.abort()
        raise
    if writer.rows == 0:
        # A header-only file is still a file: tests may need an empty one.
        _write_empty(target, layout, fmt)
        return 0
    if not writer.close():
        raise FileExistsError(f"{target} appeared while it was being written")
    return writer.rows


def _as_row(item: DmsRow | Mapping[str, Any] | Sequence[Any]) -> DmsRow:
    if isinstance(item, DmsRow):
        return item
    if isinstance(item, Mapping):
        return DmsRow(item["op"], item["dms_timestamp"], item.get("change_seq"), item["values"])
    op, ts, seq, values = item
    return DmsRow(op, ts, seq, values)


def _write_empty(target: Path, layout: FileLayout, fmt: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(layout.arrow_schema().empty_table(), target, compression="snappy")
        return
    data = csv_line(layout.header).encode("utf-8")
    if fmt == "csv.gz":
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
            gz.write(data)
        data = buffer.getvalue()
    target.write_bytes(data)
