"""Typing DMS values by contract type. CSV gives text, Parquet gives typed values; both end equal.

A value that does not fit raises `BadValue`, whose message names the type but never the value
(values may be PHI).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from claims_platform.contracts import parse_type


class BadValue(ValueError):
    pass


# Every value costs bounded work: a decimal like 1E+300000 or a JSON value nested thousands deep
# is a bad value, never seconds of CPU or a RecursionError (a payer's source is not an attacker,
# but a corrupt extract can look like one).
_MAX_DIGITS = 38
_MAX_EXPONENT = 64
_INT64 = (-(2**63), 2**63 - 1)
_WIDE = Context(prec=2 * _MAX_DIGITS + _MAX_EXPONENT)


def _decimal_text(v: Any, message: str) -> Decimal:
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation as e:
        raise BadValue(message) from e
    if d.is_finite() and (abs(d.as_tuple().exponent) > _MAX_EXPONENT or d.adjusted() > _MAX_DIGITS):
        raise BadValue(message)
    return d


def _to_string(v: Any) -> str:
    if isinstance(v, bytes):
        raise BadValue("is binary, expected text")
    if isinstance(v, Decimal):
        return format(v.normalize(), "f") if v == v.to_integral_value() else format(v, "f")
    return str(v)


def _to_integer(v: Any) -> int:
    if isinstance(v, bool):
        raise BadValue("is not an integer")
    if not isinstance(v, int):
        d = _decimal_text(v, "is not an integer")
        if not d.is_finite() or d != d.to_integral_value():
            raise BadValue("is not an integer")
        v = int(d)
    if not _INT64[0] <= v <= _INT64[1]:
        raise BadValue("does not fit a 64-bit integer")
    return v


def _decimal(precision: int, scale: int) -> Callable[[Any], Decimal]:
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale)

    def convert(v: Any) -> Decimal:
        if isinstance(v, bool):
            raise BadValue("is not a number")
        d = v if isinstance(v, Decimal) else _decimal_text(v, "is not a number")
        if not d.is_finite():
            raise BadValue("is not a finite number")
        # The default context (28 digits) cannot quantize every NUMBER(38, s).
        q = d.quantize(quantum, context=_WIDE)
        if q != d:
            raise BadValue(f"has more than {scale} decimal places")
        if abs(q) >= limit:
            raise BadValue(f"does not fit NUMBER({precision},{scale})")
        return q

    return convert


def _to_double(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError) as e:
        raise BadValue("is not a number") from e


_TRUE = {"true", "t", "1", "y", "yes"}
_FALSE = {"false", "f", "0", "n", "no"}


def _to_boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise BadValue("is not a boolean")


def parse_timestamp(v: Any) -> dt.datetime:
    """UTC wall time as a naive datetime; DMS text is `yyyy-MM-dd HH:mm:ss[.f…]`."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            try:
                v = v.astimezone(dt.UTC).replace(tzinfo=None)
            except OverflowError as e:
                raise BadValue("is outside the supported date range") from e
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    s = str(v).strip()
    if len(s) >= 19 and s[10] in " T":
        base, _, frac = s[:19], s[19:20], s[20:]
        if _ and _ != ".":
            raise BadValue("is not a timestamp (yyyy-MM-dd HH:mm:ss.ffffff)")
        if frac and (not frac.isdigit() or len(frac) > 9):
            raise BadValue("is not a timestamp (yyyy-MM-dd HH:mm:ss.ffffff)")
        try:
            ts = dt.datetime.strptime(base.replace("T", " "), "%Y-%m-%d %H:%M:%S")
        except ValueError as e:
            raise BadValue("is not a timestamp (yyyy-MM-dd HH:mm:ss.ffffff)") from e
        return ts.replace(microsecond=int((frac + "000000")[:6])) if frac else ts
    if len(s) == 10:
        return dt.datetime.combine(_to_date(s), dt.time())
    raise BadValue("is not a timestamp (yyyy-MM-dd HH:mm:ss.ffffff)")


def _to_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return parse_timestamp(v).date()
    if isinstance(v, dt.date):
        return v
    s = str(v).strip()
    try:
        if len(s) == 10:
            return dt.date.fromisoformat(s)
    except ValueError as e:
        raise BadValue("is not a date (yyyy-MM-dd)") from e
    if len(s) > 10:
        # Oracle DATE carries a time of day; DMS writes it as a timestamp.
        return parse_timestamp(s).date()
    raise BadValue("is not a date (yyyy-MM-dd)")


def _to_json(v: Any) -> str:
    s = _to_string(v)
    try:
        json.loads(s)
    except ValueError as e:
        raise BadValue("is not valid JSON") from e
    except RecursionError as e:
        raise BadValue("is nested too deeply") from e
    return s


def _to_binary(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def converter(type_name: str) -> Callable[[Any], Any]:
    """A function typing one non-NULL value of the given contract type."""
    base, precision, scale = parse_type(type_name)
    if base == "decimal":
        return _decimal(precision or 38, scale or 0)
    return {
        "string": _to_string,
        "integer": _to_integer,
        "double": _to_double,
        "boolean": _to_boolean,
        "date": _to_date,
        "timestamp": parse_timestamp,
        "json": _to_json,
        "binary": _to_binary,
    }[base]


def canonical(v: Any) -> Any:
    """A JSON-able rendering that is equal for equal typed values (for change identity)."""
    if v is None or isinstance(v, bool | int | str | float):
        return v
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ", timespec="microseconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return str(v)
