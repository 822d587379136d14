"""Oracle source tables (external) and the bronze landing-zone assets, generated from contracts."""

from collections import defaultdict

import dagster as dg

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.orchestration.governance.openlineage import emits_openlineage
from claims_platform.orchestration.ops.retries import EXTERNAL_IO_RETRY_POLICY
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.orchestration.tables import bronze_key, column_schema, phi_tags, source_key

SOURCE_GROUP = "source"
BRONZE_GROUP = "bronze"


def source_specs(contracts: dict[str, TableContract] | None = None) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            key=source_key(c),
            description=f"Oracle table {c.schema_name}.{c.name}: {c.description} "
            "Replicated by AWS DMS (full load + CDC); not materialised by this platform.",
            group_name=SOURCE_GROUP,
            kinds={"oracle"},
            owners=[c.owner],
            tags=phi_tags(c),
            metadata={
                "dagster/column_schema": column_schema(c, silver=False),
                "primary_key": list(c.primary_key),
            },
        )
        for c in (contracts or load_contracts()).values()
    ]


def bronze_specs(contracts: dict[str, TableContract]) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            key=bronze_key(c),
            deps=[source_key(c)],
            description=f"Landed DMS files of {c.schema_name}.{c.name} "
            f"(`<landing>/{c.schema_name}/{c.name}/`): immutable, never rewritten. "
            "Materialising takes an inventory of the landing zone.",
            group_name=BRONZE_GROUP,
            kinds={"s3", "csv", "parquet"},
            owners=["team:data-platform"],
            tags=phi_tags(c),
        )
        for c in contracts.values()
    ]


def build_bronze_assets(contracts: dict[str, TableContract] | None = None) -> dg.AssetsDefinition:
    contracts = contracts or load_contracts()
    by_key = {bronze_key(c): c for c in contracts.values()}

    @dg.multi_asset(
        name="bronze_landing_inventory",
        specs=bronze_specs(contracts),
        can_subset=True,
        description="Inventory of the DMS landing zone per source table.",
        retry_policy=EXTERNAL_IO_RETRY_POLICY,  # lists S3 in production
    )
    @emits_openlineage
    def _bronze(context: dg.AssetExecutionContext, platform: PlatformResource):
        files = defaultdict(list)
        for landed in platform.landing().list_files():
            files[landed.file.table].append(landed)
        for key in sorted(context.selected_asset_keys):
            landed = files.get(by_key[key].name, [])
            newest = max((f.modified_at for f in landed), default=None)
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "files_landed": len(landed),
                    "full_load_files": sum(f.file.is_full_load for f in landed),
                    "bytes_landed": sum(f.size_bytes for f in landed),
                    "newest_file_landed_at": newest.isoformat() if newest else "none",
                },
            )

    return _bronze
