"""dbt exposures (BI dashboards) as external assets, so lineage ends at the dashboards.

dagster-dbt does not turn exposures into assets, so they are read from the manifest here, with
their upstream keys resolved by the same translator as the models.
"""

import json
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject

BI_GROUP = "bi"
_TOOL_KINDS = {"power bi": "powerbi", "looker": "looker", "tableau": "tableau"}


def exposure_specs(
    manifest_path: Path, translator: DagsterDbtTranslator, project: DbtProject
) -> list[dg.AssetSpec]:
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    specs = []
    for exposure in manifest.get("exposures", {}).values():
        meta = (exposure.get("config") or {}).get("meta") or exposure.get("meta") or {}
        tool = str(meta.get("tool", "")).lower()
        deps = [
            translator.get_asset_spec(manifest, node, project).key
            for node in exposure["depends_on"]["nodes"]
        ]
        owner = (exposure.get("owner") or {}).get("email")
        specs.append(
            dg.AssetSpec(
                key=dg.AssetKey(["bi", exposure["name"]]),
                deps=deps,
                description=(exposure.get("description") or "").strip(),
                group_name=BI_GROUP,
                kinds={"dashboard", _TOOL_KINDS.get(tool, "bi")},
                owners=[owner] if owner else [],
                metadata={
                    "url": dg.MetadataValue.url(exposure["url"]) if exposure.get("url") else "",
                    "maturity": exposure.get("maturity") or "unknown",
                    "tool": meta.get("tool", "unknown"),
                },
            )
        )
    return specs
