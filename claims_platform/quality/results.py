"""Check results in one shape: passed, severity by check name, counts and rule names only."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

import dagster as dg

from claims_platform.quality.names import BLOCKING

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


def check_result(
    asset_key: dg.AssetKey,
    name: str,
    *,
    passed: bool,
    description: str,
    metadata: Mapping[str, Any],
) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if name in BLOCKING else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=passed,
        severity=severity,
        description=description,
        metadata={k: _metadata_value(v) for k, v in metadata.items()},
    )


def _metadata_value(value: Any) -> Any:
    if isinstance(value, list | dict):
        return dg.MetadataValue.json(value)
    return jsonable(value)
