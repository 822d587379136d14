"""What check results may carry: identifiers, positions and counts as JSON values, a few rows."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

SAMPLE_ROWS = 5


def jsonable(value: Any) -> Any:
    """A key or position value as JSON metadata (identifiers and counts only ever reach here)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)
