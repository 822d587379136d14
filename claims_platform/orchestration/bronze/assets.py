"""Oracle source tables (external) and the bronze landing-zone assets, generated from contracts."""

from collections import defaultdict

import dagster as dg

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.orchestration.governance.openlineage import emits_openlineage
from claims_platform.orchestration.ops.retries import (
    EXTERNAL_IO_RETRY_POLICY,
    stops_when_interrupted,
)
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.orchestration.tables import bronze_key, column_schema, phi_tags, source_key
from claims_platform.warehouse.base import LedgerTotals, ledger_paths, reading

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
            "Materialising takes an inventory: the files the ledger holds and those landed "
            "after its front, not yet loaded.",
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
    # It waits for the warehouse lock (the ledger): a run stopped while waiting must stop.
    @stops_when_interrupted
    def _bronze(context: dg.AssetExecutionContext, platform: PlatformResource):
        # The ledger's totals plus the files listed after its front: a landing run pages
        # through what is new, not years of landed keys (bronze.listing). Files landed late
        # behind the front count once the reconciliation has loaded them.
        warehouse = platform.warehouse()
        with warehouse.writer() as writer:
            writer.ensure(contracts)
            front = writer.ledger_front()
        listed = list(platform.landing().list_files(after=front))
        with reading(warehouse) as reader:
            recorded = ledger_paths(reader, (f.path for f in listed))
        known = warehouse.ledger_totals()
        new = defaultdict(list)
        for landed in listed:
            if landed.path not in recorded:
                new[landed.file.table].append(landed)
        for key in sorted(context.selected_asset_keys):
            table = by_key[key].name
            landed = new.get(table, [])
            totals = known.get(table, LedgerTotals(0, 0, 0, None))
            newest = max(
                (t for t in (totals.newest_landed_at, *(f.modified_at for f in landed)) if t),
                default=None,
            )
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "files_landed": totals.files + len(landed),
                    "files_not_yet_loaded": len(landed),
                    "full_load_files": totals.full_load_files
                    + sum(f.file.is_full_load for f in landed),
                    "bytes_landed": totals.size_bytes + sum(f.size_bytes for f in landed),
                    "newest_file_landed_at": newest.isoformat() if newest else "none",
                },
            )

    return _bronze
