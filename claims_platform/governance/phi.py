"""PHI classes of columns and assets, from the contracts and the dbt YAML.

The contracts classify source columns (P direct identifier, Q quasi-identifier; a tokenized column
is `token` in silver). dbt models carry the class as column `meta: {phi: …}`. The Dagster column
tags built from them are in claims_platform.orchestration.governance.phi.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PHI_TAG = "phi"
_DIRECT = {"p", "direct"}
_QUASI = {"q", "quasi"}


def column_meta(info: Mapping[str, Any]) -> dict[str, Any]:
    """A dbt column's `meta`, from `config.meta` and `meta` (the latter wins)."""
    return {**((info.get("config") or {}).get("meta") or {}), **(info.get("meta") or {})}


def asset_phi_tag(classes: Iterable[str | None]) -> str:
    """`direct` if any column is a direct identifier, else `quasi` if any is one, else `none`."""
    seen = {str(c).lower() for c in classes if c}
    if seen & _DIRECT:
        return "direct"
    if seen & _QUASI:
        return "quasi"
    return "none"
