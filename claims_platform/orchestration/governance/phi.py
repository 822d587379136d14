"""PHI classes as Dagster metadata: column tags (`dagster/column_schema`) and asset tags.

Bronze/silver specs take their column schemas from the contracts
(`orchestration.tables.column_schema`). dbt models carry the class as column `meta: {phi: …}`, which
dagster-dbt does not turn into column tags by itself (it maps only dbt column `tags`), so the
gold translator rebuilds the column schema with `gold_column_schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from claims_platform.governance.phi import PHI_TAG, column_meta


def gold_column_schema(dbt_props: Mapping[str, Any]) -> dg.TableSchema | None:
    """The dbt model's documented columns with descriptions, dbt tags and the `phi` class."""
    columns = dbt_props.get("columns") or {}
    if not columns:
        return None
    out = []
    for name, info in columns.items():
        tags = {t: "" for t in info.get("tags") or []}
        phi = column_meta(info).get(PHI_TAG)
        if phi:
            tags[PHI_TAG] = str(phi)
        out.append(
            dg.TableColumn(
                name=name,
                type=info.get("data_type") or "?",
                description=info.get("description") or None,
                tags=tags,
            )
        )
    return dg.TableSchema(columns=out)


def schema_phi_classes(schema: dg.TableSchema | None) -> list[str]:
    if schema is None:
        return []
    return [c.tags.get(PHI_TAG, "") for c in schema.columns if c.tags.get(PHI_TAG)]
