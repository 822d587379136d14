"""Canonical value encodings shared by the model, the DMS writer and the truth files.

A value travels through the simulator in one canonical form per contract type, chosen so that it is
at once the CSV text, the truth-file JSON value and an exact input for the Parquet cast:

| contract type | canonical value |
|---|---|
| string, json | `str` (JSON as compact text) |
| integer | `int` |
| decimal(p,s) | `str` with exactly s decimals, e.g. `"12.30"` |
| date | `str` `YYYY-MM-DD` |
| timestamp | `str` `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) |
| double / boolean | `float` / `bool` |
| binary | `bytes` |

NULL is `None` everywhere. Times inside the simulator are integers: microseconds since the epoch,
UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

from claims_platform.contracts import parse_type

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
_EPOCH = date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()


def money(cents: int) -> str:
    """Cents as a decimal(12,2) text with exactly two decimals."""
    if cents < 0:
        return "-" + money(-cents)
    return "%d.%02d" % divmod(cents, 100)  # noqa: UP031 - the fastest form on this hot path


def day_number(d: date) -> int:
    """Days since 1970-01-01."""
    return d.toordinal() - _EPOCH_ORDINAL


def date_of(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORDINAL)


@lru_cache(maxsize=4096)
def date_text(day: int) -> str:
    """`YYYY-MM-DD` of a day number (cached: the simulator formats the same days over and over)."""
    return date.fromordinal(day + _EPOCH_ORDINAL).isoformat()


@lru_cache(maxsize=256)
def _day_parts(day: int) -> tuple[str, str]:
    d = date.fromordinal(day + _EPOCH_ORDINAL)
    return d.isoformat() + " ", f"{d.year:04d}{d.month:02d}{d.day:02d}"


def split_us(us: int) -> tuple[int, int, int, int, int]:
    """(day number, hour, minute, second, microsecond) of a UTC time in epoch microseconds."""
    day, rem = divmod(us, US_PER_DAY)
    seconds, micro = divmod(rem, US_PER_SECOND)
    hour, seconds = divmod(seconds, 3600)
    minute, second = divmod(seconds, 60)
    return day, hour, minute, second, micro


# Last second formatted, as one tuple so threads never see a half-updated cache. Commits come in
# bursts within a second, so most calls reuse the prefix.
_second_cache: tuple[int, str, str] = (-1, "", "")


def _second_prefixes(second: int) -> tuple[int, str, str]:
    """(second, `YYYY-MM-DD HH:MM:SS`, `YYYYMMDDHHMMSS`) of an epoch second."""
    global _second_cache
    cached = _second_cache
    if cached[0] == second:
        return cached
    day, rem = divmod(second, 86_400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    dashed, compact = _day_parts(day)
    cached = (second, f"{dashed}{h:02d}:{m:02d}:{s:02d}", f"{compact}{h:02d}{m:02d}{s:02d}")
    _second_cache = cached
    return cached


def timestamp_text(us: int) -> str:
    """`YYYY-MM-DD HH:MM:SS.ffffff` of a UTC time in epoch microseconds (the DMS_TIMESTAMP form)."""
    second, micro = divmod(us, US_PER_SECOND)
    cached = _second_cache
    if cached[0] != second:
        cached = _second_prefixes(second)
    return f"{cached[1]}.{micro:06d}"


def compact_time(us: int, digits: int = 3) -> str:
    """`YYYYMMDD-HHMMSS` plus the first `digits` digits of the fraction (DMS CDC file names)."""
    day, h, m, s, micro = split_us(us)
    fraction = f"{micro:06d}"[:digits]
    return f"{_day_parts(day)[1]}-{h:02d}{m:02d}{s:02d}{fraction}"


def change_seq(us: int, counter: int) -> str:
    """A 35-digit AR_H_CHANGE_SEQ: the commit second (14 digits) then a 21-digit task counter.

    Real DMS values have the same shape (a timestamp prefix then an increasing number), so they sort
    as text and as numbers alike.
    """
    second = us // US_PER_SECOND
    cached = _second_cache
    if cached[0] != second:
        cached = _second_prefixes(second)
    return f"{cached[2]}{counter:021d}"


def to_epoch_us(moment: datetime) -> int:
    """Epoch microseconds of a datetime; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def canonical(value: Any, type_name: str) -> Any:
    """Convert a Python value to the canonical form of a contract type (see the module docstring).

    A `str` is taken as the text to write, whatever the type, so hand-written fixtures can pass
    `"2024-01-02"` or `"12.30"` as well as `date` / `Decimal` objects, or deliberately malformed
    text to exercise rejects (CSV only: Parquet columns are typed and refuse it).
    """
    if value is None or isinstance(value, str):
        return value
    base, _, scale = parse_type(type_name)
    if base in ("string", "json"):
        if base == "json":
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return str(value)
    if base == "integer":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise TypeError(f"integer column needs an int, got {type(value).__name__}")
        return int(value)
    if base == "decimal":
        quantum = Decimal(1).scaleb(-(scale or 0))
        number = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
        return f"{number.quantize(quantum, rounding=ROUND_HALF_EVEN):f}"
    if base == "date":
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if base == "timestamp":
        if isinstance(value, datetime):
            return timestamp_text(to_epoch_us(value))
        return timestamp_text(day_number(value) * US_PER_DAY)
    if base == "double":
        return float(value)
    if base == "boolean":
        return bool(value)
    if base == "binary":
        return bytes(value)
    raise ValueError(f"unsupported contract type {type_name!r}")


def text_of(value: Any) -> str:
    """CSV text of a canonical non-string value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.hex().upper()
    return str(value)


def json_of(value: Any) -> Any:
    """Truth-file JSON form of a canonical value (bytes become upper-case hex like in CSV)."""
    if isinstance(value, bytes):
        return value.hex().upper()
    return value


def month_start(day: int) -> int:
    """Day number of the first day of the month of `day`."""
    return day - date_of(day).day + 1


def next_month_start(day: int) -> int:
    d = date_of(day)
    first = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return day_number(first)


def month_end(day: int) -> int:
    return next_month_start(day) - 1


def years_between(born: int, day: int) -> int:
    """Whole years of age on `day` of someone born on `born` (day numbers)."""
    b, d = date_of(born), date_of(day)
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


__all__ = [
    "US_PER_DAY",
    "US_PER_SECOND",
    "canonical",
    "change_seq",
    "compact_time",
    "date_of",
    "date_text",
    "day_number",
    "json_of",
    "money",
    "month_end",
    "month_start",
    "next_month_start",
    "split_us",
    "text_of",
    "timestamp_text",
    "to_epoch_us",
    "years_between",
]
