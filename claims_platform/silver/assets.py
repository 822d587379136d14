"""Silver assets: one per contract table (+ flattened children, + rejects), built by the job."""

import datetime as dt

import dagster as dg

from claims_platform.bronze.assets import _phi_tags, bronze_key, column_schema
from claims_platform.contracts import TableContract, load_contracts
from claims_platform.faults import checkpoint
from claims_platform.resources import LocalSparkSilverRunner, PlatformResource
from claims_platform.silver.commit import commit_batch, ensure_warehouse, processed_paths
from claims_platform.silver.job import BatchManifest
from claims_platform.silver.schema import REJECTS_TABLE, child_tables

SILVER_GROUP = "silver"
WAREHOUSE_POOL = "duckdb_writer"
REJECTS_KEY = dg.AssetKey(["silver", REJECTS_TABLE])


def silver_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["silver", name])


def silver_specs(contracts: dict[str, TableContract]) -> list[dg.AssetSpec]:
    specs: list[dg.AssetSpec] = []
    for c in contracts.values():
        specs.append(
            dg.AssetSpec(
                key=silver_key(c.silver_table),
                deps=[bronze_key(c)],
                description=f"Append-only change table of {c.schema_name}.{c.name}: every change "
                "typed by contract, validated, with its change-order columns (_dms_timestamp, "
                "_change_seq, _source_file, _row_number) and change identity (_change_id). "
                + c.description,
                group_name=SILVER_GROUP,
                kinds={"spark", "duckdb"},
                owners=[c.owner],
                tags=_phi_tags(c),
                metadata={
                    "dagster/column_schema": column_schema(c, silver=True),
                    "dagster/table_name": f"silver.{c.silver_table}",
                    "primary_key": [c.column(k).silver_name for k in c.primary_key],
                },
            )
        )
        for child in child_tables(c):
            specs.append(
                dg.AssetSpec(
                    key=silver_key(child.name),
                    deps=[silver_key(c.silver_table)],
                    description=f"{child.description} Flattened from {c.name}.{child.source_column}.",
                    group_name=SILVER_GROUP,
                    kinds={"spark", "duckdb"},
                    owners=[c.owner],
                    metadata={
                        "dagster/column_schema": dg.TableSchema(
                            columns=[dg.TableColumn(n, t) for n, t in child.columns]
                        ),
                        "dagster/table_name": f"silver.{child.name}",
                    },
                )
            )
    specs.append(
        dg.AssetSpec(
            key=REJECTS_KEY,
            deps=[bronze_key(c) for c in contracts.values()],
            description="Rows the silver job rejected: file, row position, rule, reason and the "
            "original values. PHI-restricted: holds raw values, including SSNs.",
            group_name=SILVER_GROUP,
            kinds={"spark", "duckdb"},
            owners=["team:data-platform"],
            tags={"phi": "direct"},
            metadata={"dagster/table_name": f"silver.{REJECTS_TABLE}"},
        )
    )
    return specs


def build_silver_assets(contracts: dict[str, TableContract] | None = None) -> dg.AssetsDefinition:
    contracts = contracts or load_contracts()
    table_of_key: dict[dg.AssetKey, str] = {}
    for c in contracts.values():
        table_of_key[silver_key(c.silver_table)] = c.name
        for child in child_tables(c):
            table_of_key[silver_key(child.name)] = c.name

    @dg.multi_asset(
        name="silver_change_tables",
        specs=silver_specs(contracts),
        can_subset=True,
        pool=WAREHOUSE_POOL,
        description="Runs the silver PySpark job over every landed file the ledger has not seen, "
        "then commits the change rows with the files' ledger entries in one transaction.",
    )
    def _silver(
        context: dg.AssetExecutionContext,
        platform: PlatformResource,
        silver_runner: LocalSparkSilverRunner,
    ):
        settings = platform.settings()
        selected = context.selected_asset_keys
        tables = {table_of_key[k] for k in selected if k in table_of_key}
        if REJECTS_KEY in selected and not tables:
            tables = set(contracts)
        with platform.writer() as con:
            ensure_warehouse(con, contracts)
            done = processed_paths(con)
            pending = [
                f
                for f in platform.landing().list_files()
                if f.file.table in tables and f.path not in done
            ]
            checkpoint("silver.pending_listed")
            summary = None
            if pending:
                manifest = BatchManifest(
                    batch_id=silver_runner.new_batch_id(),
                    landing_uri=settings.landing_uri,
                    files=[f.path for f in pending],
                )
                context.log.info(
                    f"batch {manifest.batch_id}: {len(pending)} new files for {sorted(tables)}"
                )
                _result, batch_dir = silver_runner.run(manifest, settings)
                summary = commit_batch(
                    con, batch_dir, {f.path: f.modified_at for f in pending}, contracts
                )
                silver_runner.discard(batch_dir)
                for q in summary.quarantined:
                    context.log.warning(f"quarantined {q['path']}: {q['reason']}")
            else:
                context.log.info("no new landed files")
            totals = {
                name: con.execute(f'SELECT count(*) FROM silver."{name}"').fetchone()[0]
                for name in {*(k.path[-1] for k in selected)}
            }
        now = dt.datetime.now(dt.UTC).isoformat()
        for key in sorted(selected):
            name = key.path[-1]
            added = summary.rows_by_table.get(name, 0) if summary else 0
            meta = {
                "dagster/row_count": totals[name],
                "rows_added": added,
                "batch_id": summary.batch_id if summary else "none",
                "committed_at": now,
            }
            if summary and key != REJECTS_KEY:
                meta["files_in_batch"] = len(pending)
                meta["files_quarantined"] = len(summary.quarantined)
            yield dg.MaterializeResult(asset_key=key, metadata=meta)

    return _silver
