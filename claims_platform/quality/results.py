"""What check results may carry: identifiers, positions and counts as JSON values, a few rows."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any

SAMPLE_ROWS = 5


@dataclass
class RuleFailure:
    """A failed expectation as a check reports it, whichever engine evaluated it."""

    rule: str
    unexpected_rows: int | None
    rows_checked: int | None
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    batch_id: str | None = None  # the batch it failed on (a check may validate several)

    def as_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        if self.batch_id is not None:
            out["batch_id"] = self.batch_id
        if self.unexpected_rows is not None:
            out["unexpected_rows"] = self.unexpected_rows
            out["rows_checked"] = self.rows_checked
        if self.sample_rows:
            out["sample_rows"] = self.sample_rows
        if self.error:
            out["error"] = self.error
        return out


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
