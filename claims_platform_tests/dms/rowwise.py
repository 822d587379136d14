"""The row-by-row silver parser as it was before the vectorised one: an independent model.

Kept verbatim (only imports changed, and the scalar converters it shares with the product) so a
test can show the vectorised parser gives the same rows, rejects, quarantine reasons, change ids
and tokens on the same files. It reads a file whole and types it one row at a time: never use it
for real data.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from claims_platform.contracts import Column, TableContract
from claims_platform.contracts.rules import COLUMN_RULES, ROW_RULES
from claims_platform.dms.files import DmsFile
from claims_platform.dms.parse import ParsedFile, Quarantine
from claims_platform.dms.values import BadValue, canonical, converter, parse_timestamp
from claims_platform.governance.tokenize import tokenize

_OPS = frozenset({"I", "U", "D"})
_DMS_COLUMNS = frozenset({"OP", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ"})
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$")
_SEQ = re.compile(r"^[0-9]{1,38}$")


# ---------------------------------------------------------------------------------------------
# bytes → Arrow table


def _read_csv(data: bytes, is_gzip: bool):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if is_gzip:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise Quarantine("not a valid gzip file (corrupt or truncated)") from e
    if not data.strip():
        raise Quarantine("empty file: no header row")
    first_line = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header = next(csv.reader([first_line.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration) as e:
        raise Quarantine("header row is not valid UTF-8 CSV") from e
    if len(set(h.upper() for h in header)) != len(header):
        raise Quarantine("header row names a column twice")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 26),
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
    except pa.ArrowInvalid as e:
        raise Quarantine(_csv_error_reason(str(e))) from e
    return table


def _csv_error_reason(message: str) -> str:
    # Arrow's message may quote the offending row: keep only what names the problem.
    m = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if m:
        return f"wrong column count: a row has {m.group(2)} fields, the header has {m.group(1)}"
    if "UTF8" in message or "UTF-8" in message or "utf8" in message:
        return "invalid UTF-8 in the file"
    if "quote" in message.lower():
        return "malformed CSV quoting (an unterminated quoted field)"
    return "not a readable DMS CSV file"


def _read_parquet(data: bytes):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not data:
        raise Quarantine("empty file: not a Parquet file")
    try:
        # use_threads=False: pyarrow 26's reader pool can abort the interpreter at exit.
        return pq.read_table(pa.BufferReader(data), use_threads=False)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise Quarantine("not a readable Parquet file (corrupt or truncated)") from e


# ---------------------------------------------------------------------------------------------
# Arrow table → typed rows


@dataclass(frozen=True)
class _ColumnPlan:
    column: Column
    index: int | None  # position in the file, None when the file lacks the column
    convert: Callable[[Any], Any]


def _nested_validators(col: Column) -> list[tuple[str, Callable[[Any], Any], bool, tuple]]:
    assert col.nested is not None
    return [(f.name, converter(f.type), f.nullable, f.rules) for f in col.nested.fields]


def _check_nested(col: Column, value: str) -> tuple[str, str] | None:
    """(rule, reason) of the first problem inside a JSON array column, else None."""
    try:
        items = json.loads(value)
    except ValueError:
        return "json", f"{col.name} is not valid JSON"
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return "json_shape", f"{col.name} must be a JSON array of objects"
    for pos, item in enumerate(items, start=1):
        for name, conv, nullable, rules in _nested_validators(col):
            raw = item.get(name)
            if raw is None:
                if not nullable:
                    return "not_null", f"{col.name}[{pos}].{name} is missing"
                continue
            try:
                typed = conv(raw)
            except BadValue as e:
                return "type", f"{col.name}[{pos}].{name} {e}"
            for rule in rules:
                text, ok = COLUMN_RULES[rule]
                if not ok(typed):
                    return rule, f"{col.name}[{pos}].{name}: {text}"
    return None


def parse_dms_file(
    data: bytes,
    dms_file: DmsFile,
    contract: TableContract,
    *,
    tokenization_key: str,
    batch_id: str,
    loaded_at: dt.datetime,
) -> ParsedFile:
    """Parse, type, validate and identify every change of one landed file."""
    parsed = ParsedFile(
        file=dms_file, size_bytes=len(data), checksum_sha256=hashlib.sha256(data).hexdigest()
    )
    parsed.rows, parsed.rejects = [], []
    try:
        if dms_file.fmt == "parquet":
            table = _read_parquet(data)
        else:
            table = _read_csv(data, is_gzip=dms_file.fmt == "csv.gz")
        _type_rows(table, parsed, contract, tokenization_key, batch_id, loaded_at)
    except Quarantine as q:
        parsed.status, parsed.reason = "quarantined", str(q)
        parsed.rows, parsed.rejects = [], []
    return parsed


def _type_rows(
    table: Any,
    parsed: ParsedFile,
    contract: TableContract,
    key: str,
    batch_id: str,
    loaded_at: dt.datetime,
) -> None:
    f = parsed.file
    names = [n.upper() for n in table.column_names]
    if len(set(names)) != len(names):
        raise Quarantine("the file names a column twice")
    position = {n: i for i, n in enumerate(names)}
    if table.num_rows == 0:
        raise Quarantine("header-only file: no data rows")
    if "DMS_TIMESTAMP" not in position:
        raise Quarantine("no DMS_TIMESTAMP column")
    if "OP" not in position and not f.is_full_load:
        raise Quarantine("CDC file without an Op column")
    for k in contract.primary_key:
        if k not in position:
            raise Quarantine(f"key column {k} is missing from the file")
    plans = [_ColumnPlan(c, position.get(c.name), converter(c.type)) for c in contract.columns]
    known = set(contract.column_names) | _DMS_COLUMNS
    extras = [(n.lower(), i) for i, n in enumerate(names) if n not in known]
    for name, _ in extras:
        if not _IDENTIFIER.match(name):
            raise Quarantine("a column added at the source has a name that is not an identifier")
    parsed.extra_columns = [n for n, _ in extras]
    data = [table.column(i).to_pylist() for i in range(table.num_columns)]
    n = table.num_rows
    parsed.row_count = n
    ops = data[position["OP"]] if "OP" in position else ["I"] * n
    stamps = data[position["DMS_TIMESTAMP"]]
    seqs = data[position["AR_H_CHANGE_SEQ"]] if "AR_H_CHANGE_SEQ" in position else [None] * n
    key_names = set(contract.primary_key)
    row_rules = [(r, *ROW_RULES[r]) for r in contract.rules]
    first = last = None

    for i in range(n):
        row_no = i + 1
        op = ops[i]
        if op not in _OPS:
            raise Quarantine(f"row {row_no}: unknown Op (expected I, U or D)")
        if stamps[i] is None:
            raise Quarantine(f"row {row_no}: DMS_TIMESTAMP is NULL")
        try:
            ts = parse_timestamp(stamps[i])
        except BadValue as e:
            raise Quarantine(f"row {row_no}: DMS_TIMESTAMP {e}") from e
        seq = seqs[i]
        if seq is not None:
            seq = str(seq)
            if seq == "":
                seq = None
            elif not _SEQ.match(seq):
                raise Quarantine(f"row {row_no}: AR_H_CHANGE_SEQ is not a change sequence number")
        first = ts if first is None or ts < first else first
        last = ts if last is None or ts > last else last

        values: dict[str, Any] = {}
        problem: tuple[str, str] | None = None
        for plan in plans:
            c = plan.column
            raw = data[plan.index][i] if plan.index is not None else None
            if raw is None:
                if c.name in key_names:
                    raise Quarantine(f"row {row_no}: key column {c.name} is NULL")
                values[c.name] = None
                continue
            try:
                values[c.name] = plan.convert(raw)
            except BadValue as e:
                if c.name in key_names:
                    raise Quarantine(f"row {row_no}: key column {c.name} {e}") from e
                problem = problem or (f"type:{c.name}", f"{c.name} {e}")
                values[c.name] = None
        if problem is None and op != "D":
            problem = _domain_problem(contract, values, row_rules)
        if problem is not None:
            parsed.rejects.append(
                (
                    contract.silver_table,
                    f.path,
                    row_no,
                    problem[0],
                    f"{f.path} row {row_no}: {problem[1]}",
                    _raw_record(names, data, i),
                    batch_id,
                    loaded_at,
                )
            )
            continue
        silver_values = []
        for c in contract.columns:
            v = values[c.name]
            if c.tokenize:
                v = tokenize(None if v is None else str(v), key)
            silver_values.append(v)
        extra = {n: _text(data[j][i]) for n, j in extras if data[j][i] is not None} or None
        change_id = hashlib.md5(
            json.dumps(
                [op, canonical(ts), seq, [canonical(v) for v in silver_values], extra],
                separators=(",", ":"),
                sort_keys=True,
            ).encode("utf-8")
        ).hexdigest()
        parsed.rows.append(
            (
                change_id,
                op,
                ts,
                seq,
                f.is_full_load,
                f.path,
                f.name,
                row_no,
                batch_id,
                loaded_at,
                *silver_values,
                extra,
            )
        )
    parsed.first_change_at, parsed.last_change_at = first, last
    parsed.rows_loaded, parsed.rows_rejected = len(parsed.rows), len(parsed.rejects)


def _domain_problem(
    contract: TableContract,
    values: dict[str, Any],
    row_rules: Sequence[tuple[str, str, Callable[[dict[str, Any]], bool]]],
) -> tuple[str, str] | None:
    for c in contract.columns:
        v = values[c.name]
        if v is None:
            if not c.nullable:
                return "not_null", f"{c.name} is NULL"
            continue
        for rule in c.rules:
            text, ok = COLUMN_RULES[rule]
            if not ok(v):
                return rule, f"{c.name}: {text}"
        if c.nested is not None:
            found = _check_nested(c, v)
            if found:
                return found
    for name, text, ok in row_rules:
        if not ok(values):
            return name, text
    return None


def _text(v: Any) -> str:
    """Text of a value in a column the contract does not type yet."""
    c = canonical(v)
    return c if isinstance(c, str) else json.dumps(c)


def _raw_record(names: list[str], data: list[list[Any]], i: int) -> str:
    """The row as landed, for the PHI-restricted rejects table (never for logs)."""
    out: dict[str, Any] = {}
    for n, col in zip(names, data, strict=True):
        v = col[i]
        out[n] = v if v is None or isinstance(v, str | int | float | bool) else canonical(v)
        if isinstance(v, Decimal):
            out[n] = format(v, "f")
    return json.dumps(out, separators=(",", ":"), default=str)
