"""Check results in one shape: passed, severity by check name, counts and rule names only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from claims_platform.quality.names import BLOCKING
from claims_platform.quality.results import jsonable


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
