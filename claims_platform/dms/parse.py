"""Parse one landed DMS file into typed, validated, identified silver changes — over columns.

A file is read in bounded record batches (Arrow's streaming CSV reader, Parquet row groups), and
every step is computed over a batch's columns: typing, the contract's column and row rules,
tokenization, the change identity. Values that fit the common shapes (DMS text such as
`2024-01-02 10:00:00.123456`, `12.50`, `42`) go through Arrow kernels; the rare value that does
not (a Parquet column typed differently from the contract, text with odd spacing, a bad value)
goes through the exact scalar converter of `dms.values`, so both routes give the same result and
the same reject reason.

Outcome of a file (CONTRACT §2, §3): `processed` with rows and row-level rejects, or
`quarantined` with a reason and nothing else — the file as a whole is untrustworthy (not DMS
format, unknown Op, NULL key, …). Any error while reading one file ends as a quarantine, never
as an exception out of the parser: one file never fails a batch. No message here carries a data
value: reasons name the rule, column and row number only.

Rows and rejects are streamed out before the file's end is reached, so a consumer that keeps
them must drop what it received from a file whose final outcome is `quarantined` (the silver job
does that with an anti-join; `parse_dms_file` by collecting). The change identity leaves here as
its canonical JSON text (`_change_key`); `_change_id` is its MD5, computed where the rows land
(Spark's `md5`, or `hashlib` in `parse_dms_file`).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import stat
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from claims_platform.contracts import Column, TableContract, parse_type
from claims_platform.contracts.rules import (
    COLUMN_RULES,
    ROW_RULES,
    RULE_PATTERNS,
    VECTOR_COLUMN_RULES,
)
from claims_platform.dms.files import DmsFile
from claims_platform.dms.values import BadValue, canonical, converter
from claims_platform.governance.tokenize import tokenize

# Metadata columns every silver change row starts with, in this order.
CHANGE_METADATA: tuple[tuple[str, str], ...] = (
    ("_change_id", "string"),
    ("_op", "string"),
    ("_dms_timestamp", "timestamp"),
    ("_change_seq", "string"),
    ("_is_full_load", "boolean"),
    ("_source_file", "string"),
    ("_source_file_name", "string"),
    ("_row_number", "integer"),
    ("_batch_id", "string"),
    ("_loaded_at", "timestamp"),
)

REJECT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("table_name", "string"),
    ("source_file", "string"),
    ("row_number", "integer"),
    ("rule", "string"),
    ("reason", "string"),
    ("record", "string"),
    ("_batch_id", "string"),
    ("rejected_at", "timestamp"),
)

FILE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "string"),
    ("table_name", "string"),
    ("file_name", "string"),
    ("format", "string"),
    ("is_full_load", "boolean"),
    ("size_bytes", "integer"),
    ("checksum_sha256", "string"),
    ("row_count", "integer"),
    ("rows_loaded", "integer"),
    ("rows_rejected", "integer"),
    ("first_change_at", "timestamp"),
    ("last_change_at", "timestamp"),
    ("status", "string"),
    ("reason", "string"),
    ("extra_columns", "string"),
)

# Streamed in place of `_change_id` (see the module docstring).
CHANGE_KEY = "_change_key"

_OPS = ("I", "U", "D")
_DMS_COLUMNS = frozenset({"OP", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ"})
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$")
_SEQ = re.compile(r"^[0-9]{1,38}$")
# Python's `$` also matches before a final newline; RE2's does not, hence the `\n?`.
_SEQ_RE2 = r"^[0-9]{1,38}\n?$"
# Printable ASCII: json.dumps escapes only `"` and `\` in it.
_YMD = r"[12][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_HMS = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_TS_RE2 = rf"^{_YMD}[ T]{_HMS}(?:\.[0-9]{{1,9}})?$"
_DATE_RE2 = rf"^{_YMD}$"
_INT_RE2 = r"^-?[0-9]{1,18}$"
_PY_DATETIME = (dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999))


class Quarantine(Exception):
    """The whole file is untrustworthy; the message is the ledger's reason."""


class Unreadable(Exception):
    """The object could not be read now (I/O, network): no ledger row, a later batch retries."""


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on what one file may cost. Beyond them the file is quarantined with a reason."""

    batch_rows: int = 32_768
    # A row longer than a CSV block cannot be parsed in bounded memory.
    csv_block_bytes: int = 16 << 20
    max_decompressed_bytes: int = 8 << 30
    max_added_columns: int = 100


DEFAULT_LIMITS = ParseLimits()


@dataclass
class FileFacts:
    """The ledger facts of one file (`FILE_COLUMNS`), final once its pieces are consumed."""

    file: DmsFile
    size_bytes: int = 0
    checksum_sha256: str = ""
    status: str = "processed"
    reason: str | None = None
    row_count: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    first_change_at: dt.datetime | None = None
    last_change_at: dt.datetime | None = None
    extra_columns: list[str] = field(default_factory=list)

    def ledger_row(self) -> tuple[Any, ...]:
        return (
            self.file.path,
            self.file.table,
            self.file.name,
            self.file.fmt,
            self.file.is_full_load,
            self.size_bytes,
            self.checksum_sha256,
            self.row_count,
            self.rows_loaded,
            self.rows_rejected,
            self.first_change_at,
            self.last_change_at,
            self.status,
            self.reason,
            ",".join(self.extra_columns) or None,
        )


@dataclass
class ParsedFile(FileFacts):
    """A whole file parsed into Python rows (tests and small tools; the job streams instead).

    Each row: metadata + contract columns, then a dict of the columns the contract does not know
    yet (added at the source by DDL; text values), or None.
    """

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rejects: list[tuple[Any, ...]] = field(default_factory=list)


def silver_columns(contract: TableContract) -> list[tuple[str, str]]:
    """(name, contract type) of every column of a silver change table, metadata first."""
    return [*CHANGE_METADATA, *((c.silver_name, c.type) for c in contract.columns)]


def arrow_type(type_name: str) -> pa.DataType:
    base, precision, scale = parse_type(type_name)
    if base == "decimal":
        return pa.decimal128(precision or 38, scale or 0)
    return {
        "string": pa.string(),
        "integer": pa.int64(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "json": pa.string(),
        "binary": pa.binary(),
    }[base]


def change_schema(contract: TableContract, extras: Sequence[str] = ()) -> pa.Schema:
    """Arrow schema of streamed change rows: `_change_key` for `_change_id`, then the contract's
    columns and the file's added columns (text)."""
    cols = [(CHANGE_KEY if n == "_change_id" else n, t) for n, t in silver_columns(contract)]
    return pa.schema(
        [
            *(pa.field(n, arrow_type(t)) for n, t in cols),
            *(pa.field(n, pa.string()) for n in extras),
        ]
    )


def with_change_ids(rows: pa.RecordBatch) -> pa.RecordBatch:
    """The rows as silver stores them: `_change_id`, the MD5 of the change key, in its place."""
    keys = rows.column(0).cast(pa.binary()).to_pylist()  # UTF-8 bytes, no str round trip
    ids = pa.array([hashlib.md5(k).hexdigest() for k in keys], pa.string())
    schema = rows.schema.set(0, pa.field("_change_id", pa.string()))
    return pa.RecordBatch.from_arrays([ids, *rows.columns[1:]], schema=schema)


def reject_schema() -> pa.Schema:
    return pa.schema([pa.field(n, arrow_type(t)) for n, t in REJECT_COLUMNS])


# ---------------------------------------------------------------------------------------------
# Sources: bytes, a local file or an S3 object, read once, hashed on the way.


class _Tap(io.RawIOBase):
    """A read-only stream that hashes and counts what passes, and remembers why it failed."""

    def __init__(self, raw: IO[bytes], limit: int | None = None, what: str | None = None) -> None:
        self._raw = raw
        self._limit = limit
        self._what = what  # None: the landed object itself, whose read errors are not its fault
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.failure: str | None = None
        # Set when reading the object itself failed; Arrow may re-raise that as its own error.
        self.unreadable = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._raw.read(len(b))
        except Exception as e:
            # Reading the landed object itself failed (a network error mid-stream is not an
            # OSError in botocore): not the file's fault, so a later batch tries again.
            if self._what is None:
                self.unreadable = True
                raise Unreadable(type(e).__name__) from e
            if not isinstance(e, OSError | EOFError | zlib.error):
                raise
            self.failure = self.failure or f"not a valid {self._what} (corrupt or truncated)"
            raise OSError(self.failure) from e
        n = len(data)
        self.size += n
        if self._limit is not None and self.size > self._limit:
            self.failure = f"decompressed size exceeds the limit of {self._limit} bytes"
            raise OSError(self.failure)
        self.sha256.update(data)
        b[:n] = data
        return n

    def drain(self) -> None:
        while self.readinto(bytearray(1 << 20)):
            pass


def _open_source(source: bytes | str) -> IO[bytes]:
    """A binary stream of the landed object: bytes as given, a local regular file, or S3."""
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if source.startswith("s3://"):
        import boto3

        from claims_platform.aws.s3 import split_s3_uri

        bucket, key = split_s3_uri(source)
        try:
            return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as e:  # gone or unreachable since it was listed: a later batch decides
            raise Unreadable(type(e).__name__) from e
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Quarantine("not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _spooled(tap: _Tap) -> IO[bytes]:
    """The whole object in a seekable file (Parquet's footer is at the end): memory, then disk."""
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115 — the caller closes it
    while chunk := tap.read(1 << 20):
        spool.write(chunk)
    spool.seek(0)
    return spool


# ---------------------------------------------------------------------------------------------
# bytes → Arrow record batches (strings for CSV, the file's types for Parquet)


class _Reader:
    def __init__(self, names: list[str], batches: Iterator[pa.RecordBatch]) -> None:
        self.names = names
        self.batches = batches


def _csv_reader(tap: _Tap, is_gzip: bool, limits: ParseLimits) -> _Reader:
    import pyarrow.csv as pacsv

    text: IO[bytes] = tap
    inner = tap
    if is_gzip:
        inner = _Tap(
            gzip.GzipFile(fileobj=io.BufferedReader(tap, 1 << 20), mode="rb"),
            limit=limits.max_decompressed_bytes,
            what="gzip file",
        )
        text = inner
    stream = io.BufferedReader(text, 1 << 20)
    try:
        line = stream.readline(limits.csv_block_bytes)
        if not line.strip() and not _rest_is_blank(stream):
            line = b"\0"  # something follows a blank first line: not a header row
    except OSError as e:
        raise Quarantine(inner.failure or "the file could not be read") from e
    if not line.strip():
        raise Quarantine("empty file: no header row")
    if not line.endswith(b"\n") and stream.peek(1):
        raise Quarantine("header row is longer than the CSV block limit")
    first_line = line.rstrip(b"\n").rstrip(b"\r")
    try:
        header = next(csv.reader([first_line.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration) as e:
        raise Quarantine("header row is not valid UTF-8 CSV") from e
    if len(set(h.upper() for h in header)) != len(header):
        raise Quarantine("header row names a column twice")
    if not stream.peek(1):
        return _Reader(header, iter(()))
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False, block_size=limits.csv_block_bytes, column_names=header
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=",", quote_char='"', double_quote=True, newlines_in_values=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                null_values=[""],
                strings_can_be_null=True,
                # RFC 4180 + DMS: NULL is an empty unquoted field, "" is an empty string.
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        )
    except (pa.ArrowException, OSError) as e:
        raise Quarantine(inner.failure or _csv_error_reason(str(e))) from e

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as e:
                raise Quarantine(inner.failure or _csv_error_reason(str(e))) from e
            for start in range(0, batch.num_rows, limits.batch_rows):
                yield batch.slice(start, limits.batch_rows)

    return _Reader(header, batches())


def _rest_is_blank(stream: IO[bytes]) -> bool:
    while chunk := stream.read(1 << 20):
        if chunk.strip():
            return False
    return True


def _csv_error_reason(message: str) -> str:
    # Arrow's message may quote the offending row: keep only what names the problem.
    m = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if m:
        return f"wrong column count: a row has {m.group(2)} fields, the header has {m.group(1)}"
    if "UTF8" in message or "UTF-8" in message or "utf8" in message:
        return "invalid UTF-8 in the file"
    if "straddl" in message or "block" in message.lower():
        return "a row is longer than the CSV block limit"
    if "quote" in message.lower():
        return "malformed CSV quoting (an unterminated quoted field)"
    return "not a readable DMS CSV file"


def _parquet_reader(seekable: IO[bytes], limits: ParseLimits) -> _Reader:
    import pyarrow.parquet as pq

    seekable.seek(0, io.SEEK_END)
    if seekable.tell() == 0:
        raise Quarantine("empty file: not a Parquet file")
    seekable.seek(0)
    try:
        # pre_buffer off and one thread: bounded memory, and pyarrow 26's reader pool can abort
        # the interpreter at exit.
        pf = pq.ParquetFile(seekable, pre_buffer=False)
        names = list(pf.schema_arrow.names)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise Quarantine("not a readable Parquet file (corrupt or truncated)") from e

    def batches() -> Iterator[pa.RecordBatch]:
        it = pf.iter_batches(batch_size=limits.batch_rows, use_threads=False)
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except (pa.ArrowException, OSError, ValueError) as e:
                raise Quarantine("not a readable Parquet file (corrupt or truncated)") from e
            yield batch

    return _Reader(names, batches())


# ---------------------------------------------------------------------------------------------
# Typing a column: Arrow kernels for the common shapes, the scalar converter for the rest.


@dataclass
class _Typed:
    values: pa.Array  # the contract's Arrow type; NULL where the value is NULL or bad
    errors: dict[int, str]  # position → BadValue message
    # position → canonical JSON text, for values typed by the scalar converter (exactly what the
    # row-by-row identity would have written, e.g. "-0.00").
    texts: dict[int, str]
    # position → (rule, reason) of the first problem inside a nested JSON value, or None
    nested: dict[int, tuple[str, str] | None] | None = None


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _fast_mask(arr: pa.Array, type_name: str) -> np.ndarray:
    """Which non-NULL values the Arrow route types exactly as the scalar converter would."""
    base, precision, scale = parse_type(type_name)
    t = arr.type
    valid = _mask(arr.is_valid())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if base == "string":
            return valid
        if base == "integer":
            pattern = _INT_RE2
        elif base == "decimal":
            p, s = precision or 38, scale or 0
            frac = rf"(?:\.[0-9]{{1,{s}}})?" if s else ""
            pattern = rf"^-?[0-9]{{1,{p - s}}}{frac}$"
            negative_zero = _mask(pc.match_substring_regex(arr, r"^-0*(?:\.0*)?$"))
            return valid & _mask(pc.match_substring_regex(arr, pattern)) & ~negative_zero
        elif base == "timestamp":
            pattern = _TS_RE2
        elif base == "date":
            return valid & (
                _mask(pc.match_substring_regex(arr, _DATE_RE2))
                | _mask(pc.match_substring_regex(arr, _TS_RE2))
            )
        else:
            return np.zeros(len(arr), bool)
        return valid & _mask(pc.match_substring_regex(arr, pattern))
    if base == "integer" and pa.types.is_integer(t) and t != pa.uint64():
        return valid
    if base == "decimal" and pa.types.is_decimal(t):
        return valid
    if base in ("timestamp", "date") and pa.types.is_timestamp(t):
        return valid & _in_python_range(arr)
    if base == "date" and pa.types.is_date32(t):
        return valid
    return np.zeros(len(arr), bool)


def _in_python_range(arr: pa.Array) -> np.ndarray:
    us = pc.cast(arr, pa.timestamp(arr.type.unit), safe=False)  # drop the zone: UTC instants
    lo = pa.scalar(_PY_DATETIME[0], pa.timestamp("us"))
    hi = pa.scalar(_PY_DATETIME[1], pa.timestamp("us"))
    us = pc.cast(us, pa.timestamp("us"), safe=False)
    return _mask(pc.and_(pc.greater_equal(us, lo), pc.less_equal(us, hi)))


def _fast_cast(arr: pa.Array, type_name: str) -> pa.Array:
    base, _, _ = parse_type(type_name)
    target = arrow_type(type_name)
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if base in ("timestamp", "date"):
            if base == "date":
                short = pc.equal(pc.utf8_length(arr), 10)
                as_date = pc.cast(pc.if_else(short, arr, None), pa.date32())
                as_ts = pc.cast(_text_timestamps(pc.if_else(short, None, arr)), pa.date32())
                return pc.if_else(short, as_date, as_ts)
            return _text_timestamps(arr)
        return pc.cast(arr, target)
    if pa.types.is_timestamp(t):
        us = pc.cast(pc.cast(arr, pa.timestamp(t.unit), safe=False), pa.timestamp("us"), safe=False)
        return pc.cast(us, pa.date32(), safe=False) if base == "date" else us
    return pc.cast(arr, target)


def _text_timestamps(arr: pa.Array) -> pa.Array:
    """DMS text `yyyy-MM-dd HH:mm:ss[.f…]` → microseconds, truncating digits past the sixth."""
    base = pc.utf8_slice_codeunits(arr, 0, 19)
    frac = pc.utf8_rpad(pc.utf8_slice_codeunits(arr, 20, 26), 6, "0")
    return pc.cast(pc.binary_join_element_wise(base, frac, "."), pa.timestamp("us"))


def type_column(arr: pa.Array, type_name: str) -> _Typed:
    """Type one column of a batch by contract type (NULL stays NULL)."""
    target = arrow_type(type_name)
    n = len(arr)
    fast = _fast_mask(arr, type_name)
    valid = _mask(arr.is_valid())
    try:
        typed = _fast_cast(pc.if_else(pa.array(fast), arr, pa.nulls(n, arr.type)), type_name)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # A value of a common shape the kernel refuses (30 February): the scalar route decides.
        fast = np.zeros(n, bool)
        typed = pa.nulls(n, target)
    slow = np.flatnonzero(valid & ~fast)
    errors: dict[int, str] = {}
    texts: dict[int, str] = {}
    if len(slow):
        convert = converter(type_name)
        values: list[Any] = []
        for i in slow:
            try:
                raw = arr[int(i)].as_py()
            except (OverflowError, ValueError):
                values.append(None)
                errors[int(i)] = "is outside the supported date range"
                continue
            try:
                v = convert(raw)
            except BadValue as e:
                values.append(None)
                errors[int(i)] = str(e)
                continue
            values.append(v)
            texts[int(i)] = _json_text(canonical(v))
        replace = np.zeros(n, bool)
        replace[slow] = True
        typed = pc.replace_with_mask(
            pc.cast(typed, target), pa.array(replace), pa.array(values, target)
        )
    return _Typed(pc.cast(typed, target), errors, texts)


def _json_text(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))


def json_texts(arr: pa.Array) -> pa.Array:
    """The JSON text of each canonical value (`json.dumps(canonical(v))`); NULL → `null`."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        # Printable ASCII needs no JSON escape but `\` and `"`; anything else goes to json.dumps.
        safe = _mask(pc.ascii_is_printable(arr))
        escaped = arr
        for char in ("\\", '"'):  # backslashes first: the quotes' escapes add some
            if pc.any(pc.match_substring(arr, char)).as_py():
                escaped = pc.replace_substring(escaped, char, "\\" + char)
        out = pc.binary_join_element_wise('"', escaped, '"', "")
        unsafe = np.flatnonzero(_mask(arr.is_valid()) & ~safe)
        if len(unsafe):
            mask = np.zeros(len(arr), bool)
            mask[unsafe] = True
            fixed = [json.dumps(arr[int(i)].as_py()) for i in unsafe]
            out = pc.replace_with_mask(out, pa.array(mask), pa.array(fixed, pa.string()))
    elif pa.types.is_integer(t):
        out = pc.cast(arr, pa.string())
    elif pa.types.is_decimal(t) or pa.types.is_date32(t):
        out = pc.binary_join_element_wise('"', pc.cast(arr, pa.string()), '"', "")
    elif pa.types.is_timestamp(t):
        # Arrow writes microsecond timestamps as isoformat(sep=" ", timespec="microseconds").
        out = pc.binary_join_element_wise('"', pc.cast(arr, pa.string()), '"', "")
    elif pa.types.is_boolean(t):
        out = pc.if_else(arr, "true", "false")
    else:
        out = pa.array([None if v is None else _json_text(canonical(v)) for v in arr.to_pylist()])
    return pc.fill_null(out, "null")


def _with_texts(texts: pa.Array, overrides: dict[int, str]) -> pa.Array:
    if not overrides:
        return texts
    mask = np.zeros(len(texts), bool)
    idx = sorted(overrides)
    mask[idx] = True
    return pc.replace_with_mask(
        texts, pa.array(mask), pa.array([overrides[i] for i in idx], pa.string())
    )


# ---------------------------------------------------------------------------------------------
# One file


@dataclass
class _Plan:
    column: Column
    index: int | None  # position in the file, None when the file lacks the column


class FileParse:
    """Parse one file: iterate `pieces()` for ("rows" | "rejects", RecordBatch); then `facts`.

    Pieces already yielded belong to a file whose `facts.status` may still end `quarantined`.
    """

    def __init__(
        self,
        source: bytes | str,
        dms_file: DmsFile,
        contract: TableContract,
        *,
        tokenization_key: str,
        batch_id: str,
        loaded_at: dt.datetime,
        limits: ParseLimits = DEFAULT_LIMITS,
    ) -> None:
        self.source = source
        self.contract = contract
        self.key = tokenization_key
        self.batch_id = batch_id
        self.loaded_at = loaded_at
        self.limits = limits
        self.facts = FileFacts(file=dms_file)
        self._tokens: dict[str, str] = {}
        self._nested_cache = _NestedCache()

    def pieces(self) -> Iterator[tuple[str, pa.RecordBatch]]:
        tap: _Tap | None = None
        try:
            raw = _open_source(self.source)
            with raw:
                tap = _Tap(raw)
                try:
                    yield from self._parse(tap)
                finally:
                    # The ledger records the whole object's size and checksum, however far the
                    # parse got.
                    self._finish(tap)
        except Unreadable:
            self.facts.status = "unreadable"
        except Exception as e:
            if tap is not None and tap.unreadable:
                self.facts.status = "unreadable"
            elif isinstance(e, Quarantine):
                self._quarantine(str(e))
            else:
                self._quarantine(f"the file could not be parsed ({type(e).__name__})")

    def _finish(self, tap: _Tap) -> None:
        with contextlib.suppress(OSError, Unreadable):
            tap.drain()
        self.facts.size_bytes = tap.size
        self.facts.checksum_sha256 = tap.sha256.hexdigest()

    def _quarantine(self, reason: str) -> None:
        f = self.facts
        f.status, f.reason = "quarantined", reason
        f.rows_loaded = f.rows_rejected = 0
        f.first_change_at = f.last_change_at = None

    def _parse(self, tap: _Tap) -> Iterator[tuple[str, pa.RecordBatch]]:
        fmt = self.facts.file.fmt
        if fmt == "parquet":
            if isinstance(self.source, bytes):
                seekable: IO[bytes] = io.BytesIO(self.source)
            elif self.source.startswith("s3://"):
                seekable = _spooled(tap)
            else:
                seekable = open(self.source, "rb")  # noqa: SIM115 — closed below
            with seekable:
                yield from self._read(_parquet_reader(seekable, self.limits))
        else:
            yield from self._read(_csv_reader(tap, fmt == "csv.gz", self.limits))

    def _read(self, reader: _Reader) -> Iterator[tuple[str, pa.RecordBatch]]:
        # A file the reader cannot get through is quarantined for that, whatever else is wrong
        # with it: the reasons are the same as when files were read whole before being checked.
        batches = (b for b in reader.batches if b.num_rows)
        first = next(batches, None)
        names = [n.upper() for n in reader.names]
        try:
            if len(set(names)) != len(names):
                raise Quarantine("the file names a column twice")
            if first is None:
                raise Quarantine("header-only file: no data rows")
            self._check_header(names)
        except Quarantine:
            for _ in batches:
                pass
            raise
        offset = 0
        problem: Quarantine | None = None
        for batch in _chain(first, batches):
            if problem is None:
                try:
                    yield from self._batch(batch, names, offset)
                except Quarantine as q:
                    problem = q
            offset += batch.num_rows
        self.facts.row_count = offset
        if problem is not None:
            raise problem

    def _check_header(self, names: list[str]) -> None:
        c, f = self.contract, self.facts
        position = {n: i for i, n in enumerate(names)}
        if "DMS_TIMESTAMP" not in position:
            raise Quarantine("no DMS_TIMESTAMP column")
        if "OP" not in position and not f.file.is_full_load:
            raise Quarantine("CDC file without an Op column")
        for k in c.primary_key:
            if k not in position:
                raise Quarantine(f"key column {k} is missing from the file")
        known = set(c.column_names) | _DMS_COLUMNS
        extras = [(n.lower(), i) for i, n in enumerate(names) if n not in known]
        for name, _ in extras:
            if not _IDENTIFIER.match(name):
                raise Quarantine(
                    "a column added at the source has a name that is not an identifier"
                )
        taken = {n for n, _ in silver_columns(c)} | {CHANGE_KEY}
        for name, _ in extras:
            if name in taken:
                raise Quarantine(
                    f"a column added at the source ({name.upper()}) has the name of a silver "
                    "column the platform derives"
                )
        if len(extras) > self.limits.max_added_columns:
            raise Quarantine(
                f"{len(extras)} columns added at the source, more than the limit of "
                f"{self.limits.max_added_columns}"
            )
        f.extra_columns = [n for n, _ in extras]
        self._position = position
        self._extras = extras
        self._plans = [_Plan(col, position.get(col.name)) for col in c.columns]

    def _batch(
        self, batch: pa.RecordBatch, names: list[str], offset: int
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        c, f = self.contract, self.facts
        n = batch.num_rows
        position = self._position
        row_no = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64))

        # Whole-file problems first: the first row with one quarantines the file.
        if "OP" in position:
            op_raw = batch.column(position["OP"])
            ops = op_raw if pa.types.is_string(op_raw.type) else pc.cast(op_raw, pa.string())
        else:
            ops = pa.array(["I"] * n, pa.string())
        op_ok = _mask(pc.is_in(ops, value_set=pa.array(_OPS)))
        ts_raw = batch.column(position["DMS_TIMESTAMP"])
        ts_null = ~_mask(ts_raw.is_valid())
        ts = type_column(ts_raw, "timestamp")
        seq, seq_bad = self._sequences(batch, n)
        key_names = set(c.primary_key)
        typed: dict[str, _Typed] = {}
        key_bad = np.zeros(n, bool)
        for plan in self._plans:
            col = plan.column
            if plan.index is None:
                typed[col.name] = _Typed(pa.nulls(n, arrow_type(col.type)), {}, {})
            else:
                raw = batch.column(plan.index)
                if col.base_type == "json" and pa.types.is_string(raw.type):
                    typed[col.name] = _json_column(raw, col, self._nested_cache)
                else:
                    typed[col.name] = type_column(raw, col.type)
            if col.name in key_names:
                key_bad |= ~_mask(typed[col.name].values.is_valid())
        ts_bad = np.zeros(n, bool)
        ts_bad[list(ts.errors)] = True
        bad = ~op_ok | ts_null | ts_bad | seq_bad | key_bad
        if bad.any():
            raise Quarantine(
                self._quarantine_reason(int(np.argmax(bad)), offset, ops, ts, seq_bad, typed)
            )

        lo, hi = pc.min_max(ts.values).values()
        first, last = lo.as_py(), hi.as_py()
        f.first_change_at = first if f.first_change_at is None else min(f.first_change_at, first)
        f.last_change_at = last if f.last_change_at is None else max(f.last_change_at, last)

        rule, reason = self._problems(typed, ops, n)
        rejected = np.array([r is not None for r in rule], bool) if rule else np.zeros(n, bool)
        if rejected.any():
            idx = np.flatnonzero(rejected)
            yield "rejects", self._rejects(batch, names, idx, offset, rule, reason)
            f.rows_rejected += len(idx)
        keep = np.flatnonzero(~rejected)
        if len(keep):
            yield "rows", self._rows(batch, keep, row_no, ops, ts, seq, typed)
            f.rows_loaded += len(keep)

    def _sequences(self, batch: pa.RecordBatch, n: int) -> tuple[pa.Array, np.ndarray]:
        if "AR_H_CHANGE_SEQ" not in self._position:
            return pa.nulls(n, pa.string()), np.zeros(n, bool)
        raw = batch.column(self._position["AR_H_CHANGE_SEQ"])
        if not pa.types.is_string(raw.type):
            raw = pa.array([None if v is None else str(v) for v in raw.to_pylist()], pa.string())
        seq = pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw)
        bad = _mask(seq.is_valid()) & ~_mask(pc.match_substring_regex(seq, _SEQ_RE2))
        return seq, bad

    def _quarantine_reason(
        self,
        i: int,
        offset: int,
        ops: pa.Array,
        ts: _Typed,
        seq_bad: np.ndarray,
        typed: dict[str, _Typed],
    ) -> str:
        """The reason the row-by-row reading gives for row i: checks in the same order."""
        row_no = offset + i + 1
        if ops[i].as_py() not in _OPS:
            return f"row {row_no}: unknown Op (expected I, U or D)"
        if i in ts.errors:
            return f"row {row_no}: DMS_TIMESTAMP {ts.errors[i]}"
        if not ts.values[i].is_valid:
            return f"row {row_no}: DMS_TIMESTAMP is NULL"
        if seq_bad[i]:
            return f"row {row_no}: AR_H_CHANGE_SEQ is not a change sequence number"
        for plan in self._plans:
            col = plan.column
            if col.name not in self.contract.primary_key:
                continue
            t = typed[col.name]
            if i in t.errors:
                return f"row {row_no}: key column {col.name} {t.errors[i]}"
            if not t.values[i].is_valid:
                return f"row {row_no}: key column {col.name} is NULL"
        raise AssertionError("no quarantine reason for a flagged row")

    def _problems(
        self, typed: dict[str, _Typed], ops: pa.Array, n: int
    ) -> tuple[list[str | None], list[str | None]]:
        """Per row, the first problem (rule, reason) in the row-by-row order, or None."""
        rule: list[str | None] = [None] * n
        reason: list[str | None] = [None] * n
        decided = np.zeros(n, bool)

        def decide(mask: np.ndarray, name: str, text: str) -> None:
            new = np.flatnonzero(mask & ~decided)
            for i in new:
                rule[i], reason[i] = name, text
            decided[new] = True

        # Type problems, in column order, on every row (a delete's too).
        for col in self.contract.columns:
            for i, message in sorted(typed[col.name].errors.items()):
                if not decided[i]:
                    rule[i], reason[i] = f"type:{col.name}", f"{col.name} {message}"
                    decided[i] = True
        # Domain rules on the rest, except deletes (a key-only image has nothing to check).
        decided |= _mask(pc.equal(ops, "D"))
        values = {name: t.values for name, t in typed.items()}
        for col in self.contract.columns:
            v = values[col.name]
            present = _mask(v.is_valid())
            if not col.nullable:
                decide(~present, "not_null", f"{col.name} is NULL")
            for name in col.rules:
                text, _ = COLUMN_RULES[name]
                decide(present & ~_column_rule(name, v), name, f"{col.name}: {text}")
            if col.nested is not None:
                found_at = typed[col.name].nested
                if found_at is None:  # typed by the scalar route (not text): check each value
                    found_at = {
                        int(i): _check_nested(col, v[int(i)].as_py())
                        for i in np.flatnonzero(present & ~decided)
                    }
                for i, found in found_at.items():
                    if found and not decided[i]:
                        rule[i], reason[i] = found
                        decided[i] = True
        for name in self.contract.rules:
            text, _ = ROW_RULES[name]
            decide(~VECTOR_ROW_RULES[name](values), name, text)
        return rule, reason

    def _rejects(
        self,
        batch: pa.RecordBatch,
        names: list[str],
        idx: np.ndarray,
        offset: int,
        rule: list[str | None],
        reason: list[str | None],
    ) -> pa.RecordBatch:
        f = self.facts.file
        raw = _python_rows(batch.take(pa.array(idx)))
        rows = []
        for i, record in zip(idx, raw, strict=True):
            row_no = offset + int(i) + 1
            rows.append(
                (
                    self.contract.silver_table,
                    f.path,
                    row_no,
                    rule[i],
                    f"{f.path} row {row_no}: {reason[i]}",
                    _raw_record(names, record),
                    self.batch_id,
                    self.loaded_at,
                )
            )
        schema = reject_schema()
        cols = list(zip(*rows, strict=True))
        return pa.record_batch(
            [pa.array(col, schema.field(k).type) for k, col in enumerate(cols)], schema=schema
        )

    def _rows(
        self,
        batch: pa.RecordBatch,
        keep: np.ndarray,
        row_no: pa.Array,
        ops: pa.Array,
        ts: _Typed,
        seq: pa.Array,
        typed: dict[str, _Typed],
    ) -> pa.RecordBatch:
        f = self.facts.file
        n = batch.num_rows
        take = pa.array(keep)
        values: list[pa.Array] = []
        texts: list[pa.Array] = []
        for col in self.contract.columns:
            t = typed[col.name]
            if col.tokenize:
                v = self._tokenized(t.values)
                values.append(v)
                texts.append(json_texts(v))
            else:
                values.append(t.values)
                texts.append(_with_texts(json_texts(t.values), t.texts))
        extra = self._extra_json(batch, n)
        key = pc.binary_join_element_wise(
            '["',
            ops,
            '",',
            _with_texts(json_texts(ts.values), ts.texts),
            ",",
            json_texts(seq),
            ",[",
            pc.binary_join_element_wise(*texts, ",") if texts else pa.array([""] * n),
            "],",
            pc.fill_null(extra, "null"),
            "]",
            "",
        )

        def const(v: Any, t: pa.DataType) -> pa.Array:
            return pa.repeat(pa.scalar(v, t), n)

        arrays = [
            key,
            ops,
            ts.values,
            seq,
            const(f.is_full_load, pa.bool_()),
            const(f.path, pa.string()),
            const(f.name, pa.string()),
            row_no,
            const(self.batch_id, pa.string()),
            const(self.loaded_at, pa.timestamp("us")),
            *values,
            *(self._extra_text(batch.column(j)) for _, j in self._extras),
        ]
        schema = change_schema(self.contract, [name for name, _ in self._extras])
        out = pa.record_batch(arrays, schema=schema)
        return out if len(keep) == n else out.take(take)

    def _tokenized(self, values: pa.Array) -> pa.Array:
        # One HMAC per distinct value (the same member recurs across a file's changes).
        tokens = self._tokens
        out = []
        for v in values.cast(pa.string()).to_pylist():
            if v is None:
                out.append(None)
            else:
                t = tokens.get(v)
                if t is None:
                    if len(tokens) >= 100_000:  # bounded memory on a file of many members
                        tokens.clear()
                    t = tokens[v] = tokenize(v, self.key) or ""
                out.append(t)
        return pa.array(out, pa.string())

    @staticmethod
    def _extra_text(col: pa.Array) -> pa.Array:
        if pa.types.is_string(col.type):
            return col
        return pa.array([None if v is None else _text(v) for v in _python_values(col)], pa.string())

    def _extra_json(self, batch: pa.RecordBatch, n: int) -> pa.Array:
        """JSON object text of the row's non-NULL added columns (keys sorted), or NULL."""
        if not self._extras:
            return pa.nulls(n, pa.string())
        parts = []
        for name, j in sorted(self._extras):
            col = self._extra_text(batch.column(j))
            parts.append(
                pc.binary_join_element_wise(f'"{name}":', json_texts(col).cast(pa.string()), "")
            )
            # json_texts renders NULL as `null`; a NULL added value is left out of the object.
            parts[-1] = pc.if_else(col.is_valid(), parts[-1], pa.scalar(None, pa.string()))
        if len(parts) == 1:
            body = pc.fill_null(parts[0], "")
        else:
            body = pc.binary_join_element_wise(*parts, ",", null_handling="skip")
        any_value = pc.not_equal(body, "")
        return pc.if_else(
            any_value,
            pc.binary_join_element_wise("{", body, "}", ""),
            pa.scalar(None, pa.string()),
        )


def _python_rows(batch: pa.RecordBatch) -> list[list[Any]]:
    """Rows as Python values; a value Python cannot hold (year 10000) becomes its Arrow text."""
    columns = [_python_values(col) for col in batch.columns]
    return [list(r) for r in zip(*columns, strict=True)] if columns else []


def _python_values(col: pa.Array) -> list[Any]:
    try:
        return col.to_pylist()
    except (OverflowError, ValueError):
        return [_scalar(col, i) for i in range(len(col))]


def _scalar(col: pa.Array, i: int) -> Any:
    try:
        return col[i].as_py()
    except (OverflowError, ValueError):
        return pc.cast(col.slice(i, 1), pa.string())[0].as_py()


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _column_rule(name: str, values: pa.Array) -> np.ndarray:
    """Which values pass a column rule (NULLs count as passing; they are checked elsewhere)."""
    vector = VECTOR_COLUMN_RULES.get(name)
    if vector is not None and pa.types.is_string(values.type):
        return _mask(pc.fill_null(vector(values), True))
    _, ok = COLUMN_RULES[name]
    return np.array([v is None or ok(v) for v in values.to_pylist()], bool)


def _json_column(arr: pa.Array, col: Column, cache: _NestedCache) -> _Typed:
    """A JSON text column: each distinct value parsed once, for its type and its nested rules."""
    n = len(arr)
    encoded = arr.dictionary_encode()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    valid = _mask(arr.is_valid())
    verdicts = []  # per distinct value: (type error or None, nested problem or None)
    pattern = clean_json_pattern(col)
    clean = (
        _mask(pc.match_substring_regex(encoded.dictionary, pattern))
        if pattern
        else np.zeros(len(encoded.dictionary), bool)
    )
    for k, value in enumerate(encoded.dictionary.to_pylist()):
        if clean[k]:
            verdicts.append((None, None))
            continue
        key = (col.name, value)
        verdict = cache.values.get(key)
        if verdict is None:
            if len(cache.values) > 200_000:
                cache.values.clear()
            verdict = cache.values[key] = _json_verdict(col, value, cache)
        verdicts.append(verdict)
    errors: dict[int, str] = {}
    nested: dict[int, tuple[str, str] | None] = {}
    bad_codes = {k for k, (error, _) in enumerate(verdicts) if error}
    problem_codes = {k for k, (_, problem) in enumerate(verdicts) if problem}
    for i in np.flatnonzero(valid & np.isin(codes, list(bad_codes | problem_codes))):
        error, problem = verdicts[codes[i]]
        if error:
            errors[int(i)] = error
        else:
            nested[int(i)] = problem
    values = arr
    if errors:
        mask = np.zeros(n, bool)
        mask[list(errors)] = True
        values = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), arr)
    return _Typed(values, errors, {}, nested if col.nested is not None else {})


class _NestedCache:
    """Verdicts already reached in this file: JSON values, and nested field values by type."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[str | None, Any]] = {}
        self.fields: dict[tuple[str, str, type, Any], tuple[str, str, str] | None] = {}


_JSON_WS = r"[ \t\n\r]*"
_JSON_PLAIN_STRING = r"[\x20\x21\x23-\x5b\x5d-\x7e]*"


def clean_json_pattern(col: Column) -> str | None:
    """RE2 pattern of the nested JSON values that are certainly valid: an array of objects with
    exactly the contract's fields, in its order, each value of a plain shape that passes its
    rules. A value it matches needs no Python; any other value is checked one by one."""
    if col.nested is None:
        return None
    fields = []
    for f in col.nested.fields:
        base, precision, scale = parse_type(f.type)
        if base == "string":
            if len(f.rules) > 1 or any(r not in RULE_PATTERNS for r in f.rules):
                return None
            value = f'"{RULE_PATTERNS[f.rules[0]]}"' if f.rules else f'"{_JSON_PLAIN_STRING}"'
        elif base == "integer" and not f.rules:
            value = r"-?(?:0|[1-9][0-9]{0,17})"  # within 64 bits
        elif base == "decimal" and (precision or 38) <= 15 and not f.rules:
            p, s = precision or 38, scale or 0
            whole = rf"-?(?:0|[1-9][0-9]{{0,{p - s - 1}}})" if p > s else "-?0"
            value = whole + (rf"(?:\.[0-9]{{1,{s}}})?" if s else "")
        else:
            return None
        if f.nullable:
            value = f"(?:null|{value})"
        fields.append(f'"{re.escape(f.name)}"{_JSON_WS}:{_JSON_WS}{value}')
    obj = r"\{" + _JSON_WS + f"{_JSON_WS},{_JSON_WS}".join(fields) + _JSON_WS + r"\}"
    items = f"{obj}(?:{_JSON_WS},{_JSON_WS}{obj})*"
    return rf"^{_JSON_WS}\[{_JSON_WS}(?:{items})?{_JSON_WS}\]{_JSON_WS}$"


def _json_verdict(col: Column, value: str, cache: _NestedCache) -> tuple[str | None, Any]:
    try:
        items = json.loads(value)
    except ValueError:
        return "is not valid JSON", None
    except RecursionError:
        return "is nested too deeply", None
    if col.nested is None:
        return None, None
    return None, _nested_problem(col, items, cache)


def _check_nested(col: Column, value: str) -> tuple[str, str] | None:
    """(rule, reason) of the first problem inside a JSON array column, else None."""
    try:
        items = json.loads(value)
    except ValueError:
        return "json", f"{col.name} is not valid JSON"
    except RecursionError:
        return "json", f"{col.name} is nested too deeply"
    return _nested_problem(col, items, _NestedCache())


def _nested_problem(col: Column, items: Any, cache: _NestedCache) -> tuple[str, str] | None:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return "json_shape", f"{col.name} must be a JSON array of objects"
    assert col.nested is not None
    for pos, item in enumerate(items, start=1):
        for f in col.nested.fields:
            raw = item.get(f.name)
            if raw is None:
                if not f.nullable:
                    return "not_null", f"{col.name}[{pos}].{f.name} is missing"
                continue
            key = (
                col.name,
                f.name,
                type(raw),
                raw if isinstance(raw, str | int | float) else repr(raw),
            )
            found = cache.fields.get(key, False)
            if found is False:
                if len(cache.fields) > 200_000:
                    cache.fields.clear()
                found = cache.fields[key] = _field_problem(f.type, f.rules, raw)
            if found is not None:
                rule, sep, text = found
                return rule, f"{col.name}[{pos}].{f.name}{sep}{text}"
    return None


def _field_problem(type_name: str, rules: tuple[str, ...], raw: Any) -> tuple[str, str, str] | None:
    """(rule, separator, text) of a nested field value's first problem, else None."""
    try:
        typed = converter(type_name)(raw)
    except BadValue as e:
        return "type", " ", str(e)
    for rule in rules:
        text, ok = COLUMN_RULES[rule]
        if not ok(typed):
            return rule, ": ", text
    return None


def _text(v: Any) -> str:
    """Text of a value in a column the contract does not type yet."""
    c = canonical(v)
    return c if isinstance(c, str) else json.dumps(c)


def _raw_record(names: list[str], values: list[Any]) -> str:
    """The row as landed, for the PHI-restricted rejects table (never for logs)."""
    out: dict[str, Any] = {}
    for n, v in zip(names, values, strict=True):
        out[n] = v if v is None or isinstance(v, str | int | float | bool) else canonical(v)
        if isinstance(v, Decimal):
            out[n] = format(v, "f")
    return json.dumps(out, separators=(",", ":"), default=str)


# Row rules over a batch's typed columns (the scalar definitions in contracts.rules name them).
def _decimal_sum(arrays: list[pa.Array]) -> pa.Array:
    total = arrays[0]
    for a in arrays[1:]:
        total = pc.add(total, a)
    return total


def _present(values: dict[str, pa.Array], names: tuple[str, ...]) -> np.ndarray:
    out = np.ones(len(values[names[0]]), bool)
    for name in names:
        out &= _mask(values[name].is_valid())
    return out


_BALANCE = ("ALLOWED_AMT", "PAID_AMT", "DEDUCTIBLE_AMT", "COPAY_AMT", "COINSURANCE_AMT")


def _line_balance(values: dict[str, pa.Array]) -> np.ndarray:
    present = _present(values, _BALANCE)
    allowed = values["ALLOWED_AMT"]
    parts = _decimal_sum([values[n] for n in _BALANCE[1:]])
    equal = _mask(pc.equal(pc.cast(allowed, parts.type), parts))
    return ~present | equal


def _billed_covers_allowed(values: dict[str, pa.Array]) -> np.ndarray:
    present = _present(values, ("BILLED_AMT", "ALLOWED_AMT"))
    billed, allowed = values["BILLED_AMT"], values["ALLOWED_AMT"]
    return ~present | _mask(pc.greater_equal(billed, allowed))


VECTOR_ROW_RULES: dict[str, Callable[[dict[str, pa.Array]], np.ndarray]] = {
    "line_balance": _line_balance,
    "billed_covers_allowed": _billed_covers_allowed,
}


def parse_dms_file(
    data: bytes | str,
    dms_file: DmsFile,
    contract: TableContract,
    *,
    tokenization_key: str,
    batch_id: str,
    loaded_at: dt.datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> ParsedFile:
    """Parse a whole file into Python rows (`ParsedFile`): for tests and small tools."""
    parse = FileParse(
        data,
        dms_file,
        contract,
        tokenization_key=tokenization_key,
        batch_id=batch_id,
        loaded_at=loaded_at,
        limits=limits,
    )
    rows: list[tuple[Any, ...]] = []
    rejects: list[tuple[Any, ...]] = []
    for kind, batch in parse.pieces():
        if kind == "rejects":
            rejects.extend(tuple(r.values()) for r in batch.to_pylist())
            continue
        width = len(silver_columns(contract))
        for values in _python_rows(with_change_ids(batch)):
            extra = {
                name: v
                for name, v in zip(batch.schema.names[width:], values[width:], strict=True)
                if v is not None
            }
            rows.append((*values[:width], extra or None))
    facts = parse.facts
    parsed = ParsedFile(**{k: getattr(facts, k) for k in FileFacts.__dataclass_fields__})
    if facts.status == "processed":
        parsed.rows, parsed.rejects = rows, rejects
    return parsed
