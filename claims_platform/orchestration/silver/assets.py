"""Silver assets: one per contract table (+ flattened children, + rejects), built by the job."""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field

from claims_platform.bronze.landing import LandedFile
from claims_platform.bronze.listing import BatchCut, LedgerFront, take_batch
from claims_platform.contracts import TableContract, load_contracts
from claims_platform.environment import Env, get_env
from claims_platform.faults import checkpoint
from claims_platform.orchestration.engines import silver_compute, silver_kinds
from claims_platform.orchestration.governance.openlineage import emits_openlineage
from claims_platform.orchestration.ops.retries import stops_when_interrupted
from claims_platform.orchestration.resources import PlatformResource, SilverRunner
from claims_platform.orchestration.tables import bronze_key, column_schema, phi_tags
from claims_platform.silver.job import QUARANTINE_CHECK, BatchManifest
from claims_platform.silver.schema import (
    REJECTS_TABLE,
    RESTRICTED_SCHEMA,
    child_tables,
    unclassified_table,
)
from claims_platform.warehouse.base import Screening
from claims_platform.warehouse.ledger import REPLAY_ALL

SILVER_GROUP = "silver"
WAREHOUSE_POOL = "duckdb_writer"
REJECTS_KEY = dg.AssetKey(["silver", REJECTS_TABLE])

# The step reaches S3 and Glue in production, where throttling and transient service errors
# happen; jitter keeps retries of concurrent runs apart. A retry cannot apply a batch twice: it
# lists pending files against the ledger again, and a file the first attempt committed is in it.
SILVER_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class SilverRunConfig(dg.Config):
    """Run configuration of the silver step (all optional: a landing batch needs none)."""

    replay: list[str] = Field(
        default_factory=list,
        description="Quarantined landed paths to read again (fixed or re-delivered), or "
        f"'{REPLAY_ALL}' for every quarantined file. A file already processed is never read "
        "again (one changed in place since is recorded in audit.file_changes and warned about); "
        "a quarantined file whose size or modification time changed is read anyway.",
    )
    incremental: bool = Field(
        default=False,
        description="A landing batch (what the landing sensor requests): list only the keys "
        "after the ledger's front (bronze.listing) plus `paths`, and take at most the batch "
        "cap (CLAIMS_MAX_BATCH_FILES / CLAIMS_MAX_BATCH_BYTES), oldest first. Off (a manual or "
        "headless run), the whole landing zone is listed and every file not yet processed "
        "loads (CONTRACT §1).",
    )
    paths: list[str] = Field(
        default_factory=list,
        description="With `incremental`: the landed paths the sensor found new. Those before "
        "their table's front (landed late under an earlier name) are looked up one by one, so "
        "they load in this batch although the listing starts after the front.",
    )
    reconcile: bool = Field(
        default=False,
        description="The landing reconciliation: list everything, report each file never "
        "loaded that an incremental listing cannot see, load it (batch cap applies). "
        "Materializes nothing when nothing was loaded.",
    )


def silver_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["silver", name])


def silver_specs(contracts: dict[str, TableContract], env: Env) -> list[dg.AssetSpec]:
    """The silver assets as `env` builds them (kinds and descriptions name its engines)."""
    kinds = silver_kinds(env)
    compute = silver_compute(env)
    specs: list[dg.AssetSpec] = []
    for c in contracts.values():
        specs.append(
            dg.AssetSpec(
                key=silver_key(c.silver_table),
                deps=[bronze_key(c)],
                description=f"Append-only change table of {c.schema_name}.{c.name}: every change "
                "typed by contract, validated, with its change-order columns (_dms_timestamp, "
                "_change_seq, _source_file, _row_number) and change identity (_change_id). "
                + c.description
                + " "
                + compute,
                group_name=SILVER_GROUP,
                # A reconciliation that loads nothing materializes nothing.
                skippable=True,
                kinds=kinds,
                owners=[c.owner],
                tags=phi_tags(c),
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
                    description=f"{child.description} Flattened from "
                    f"{c.name}.{child.source_column}. {compute}",
                    group_name=SILVER_GROUP,
                    # A reconciliation that loads nothing materializes nothing.
                    skippable=True,
                    kinds=kinds,
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
            "original values. PHI-restricted: the `record` column holds the raw landed values, "
            f"including SSNs, so the table lives in the `{RESTRICTED_SCHEMA}` schema, which only "
            "the platform's loading role reads (not the dbt role, analysts or branch clones). "
            f"Counts by rule are in the `rejects_by_rule` check. {compute}",
            group_name=SILVER_GROUP,
            # A reconciliation that loads nothing materializes nothing.
            skippable=True,
            kinds=kinds,
            owners=["team:data-platform"],
            tags={"phi": "direct", "access": "phi-restricted"},
            metadata={"dagster/table_name": f"{RESTRICTED_SCHEMA}.{REJECTS_TABLE}"},
        )
    )
    return specs


def silver_check_specs(contracts: dict[str, TableContract]) -> list[dg.AssetCheckSpec]:
    """The check the silver job reports per change table (through Pipes when it runs remotely)."""
    return [
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=silver_key(c.silver_table),
            description=f"No {c.name} file of the latest batch was quarantined (a quarantined file "
            "is in the ledger with its reason; the rest of the batch went on), none had to be "
            "quarantined unread (not a regular file, a non-canonical S3 key), and this step found "
            "no processed file changed in place (audit.file_changes).",
        )
        for c in contracts.values()
    ]


def _found_unread(screening: Screening, table: str) -> list[dict[str, str]]:
    """What the step recorded for `table` instead of reading it: files quarantined unread and
    processed files found changed in place (paths and reasons, never a value)."""
    found = [
        {"path": f.path, "reason": f.problem or ""}
        for f in screening.quarantined
        if f.file.table == table
    ]
    found += [{"path": c.path, "reason": c.reason} for c in screening.changed if c.table == table]
    return found


def _unread_check_result(
    key: dg.AssetCheckKey, reported: dg.AssetCheckResult | None, found: list[dict[str, str]]
) -> dg.AssetCheckResult:
    """The job saw only the files it read; the step adds what it recorded without reading."""
    metadata = dict(reported.metadata or {}) if reported is not None else {}
    metadata["files_not_read"] = len(found)
    metadata["not_read"] = dg.MetadataValue.json(found[:20])
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(found)} file(s) not read: quarantined unread or changed in place "
        f"after they were processed (first: {found[0]['path']}: {found[0]['reason']})",
        metadata=metadata,
    )


# Metadata of a change table's materialization that the landing sensor reads: files of the
# table a batch cap left unloaded, and whether they were listed fully (reconciliation).
FILES_LEFT_PENDING = "files_left_pending"
FILES_LEFT_BEHIND_FRONT = "files_left_behind_front"
LISTING = "listing"
FULL_LISTING = "full"


def _listing_metadata(
    table: str,
    full_listing: bool,
    cut: BatchCut[LandedFile],
    front: LedgerFront,
    missed: list[LandedFile] | None,
) -> dict[str, Any]:
    """How the step listed `table`'s files, what the batch cap left (and how many of those
    only a full listing finds again), and (`missed`, from a reconciliation) the files only a
    full listing found: never loaded, behind the front."""
    left = [f for f in cut.left if f.file.table == table]
    meta: dict[str, Any] = {
        LISTING: FULL_LISTING if full_listing else "after the ledger's front",
        FILES_LEFT_PENDING: len(left),
        FILES_LEFT_BEHIND_FRONT: sum(not front.admits(f.path) for f in left),
    }
    if missed is not None:
        found = sorted(f.path for f in missed if f.file.table == table)
        meta["files_found_by_full_listing"] = len(found)
        meta["found_by_full_listing"] = dg.MetadataValue.json(found[:20])
    return meta


def build_silver_assets(
    contracts: dict[str, TableContract] | None = None, env: Env | None = None
) -> dg.AssetsDefinition:
    """The silver step; kinds and descriptions follow `env` (default: the environment switch,
    read now, when the definitions load: see orchestration/engines.py)."""
    contracts = contracts or load_contracts()
    env = env or get_env()
    main_keys = {silver_key(c.silver_table): c.name for c in contracts.values()}
    table_of_key: dict[dg.AssetKey, str] = {}
    for c in contracts.values():
        table_of_key[silver_key(c.silver_table)] = c.name
        for child in child_tables(c):
            table_of_key[silver_key(child.name)] = c.name

    @dg.multi_asset(
        name="silver_change_tables",
        specs=silver_specs(contracts, env),
        check_specs=silver_check_specs(contracts),
        can_subset=True,
        pool=WAREHOUSE_POOL,
        retry_policy=SILVER_RETRY_POLICY,
        description="Runs the silver PySpark job over every landed file the ledger has not seen, "
        "then commits the change rows with the files' ledger entries in one transaction. "
        + silver_compute(env),
    )
    @emits_openlineage
    @stops_when_interrupted
    def _silver(
        context: dg.AssetExecutionContext,
        config: SilverRunConfig,
        platform: PlatformResource,
        silver_runner: SilverRunner,
    ):
        settings = platform.settings()
        selected = context.selected_asset_keys
        tables = {table_of_key[k] for k in selected if k in table_of_key}
        if REJECTS_KEY in selected and not tables:
            tables = set(contracts)
        incremental = config.incremental and not config.replay
        full_listing = not incremental
        warehouse = platform.warehouse()
        with warehouse.writer() as writer:
            writer.ensure(contracts)
            landing = platform.landing()
            front = writer.ledger_front()
            if incremental:
                # The keys after the ledger's front, and the sensor's new files before it (late
                # under an earlier name): one lookup each. A late file no sensor tick saw is
                # the daily reconciliation's to find (silver/reconcile.py).
                listed = list(landing.list_files(after=front))
                seen = {f.path for f in listed}
                for path in config.paths:
                    if path not in seen and not front.admits(path):
                        late = landing.stat(path)
                        if late is not None:
                            listed.append(late)
            else:
                listed = list(landing.list_files())
            screening = writer.screen(
                (f for f in listed if f.file.table in tables),
                config.replay,
                landing.checksum,
            )
            if incremental or config.reconcile:
                cut = take_batch(
                    screening.to_read, settings.max_batch_files, settings.max_batch_bytes
                )
            else:
                cut = BatchCut(taken=screening.to_read, left=[])
            pending = cut.taken
            if cut.left:
                context.log.info(
                    f"batch cap ({settings.max_batch_files} files, {settings.max_batch_bytes} "
                    f"bytes): {len(cut.left)} file(s) left for the next run"
                )
            # What the reconciliation is for: files to read that an incremental run would never
            # list (new, or re-delivered after quarantine, under a key before the front).
            missed = (
                [f for f in screening.to_read if not front.admits(f.path)]
                if config.reconcile
                else []
            )
            for f in missed[:20]:
                context.log.warning(
                    f"{f.path} (landed {f.modified_at.isoformat()}) was never loaded and sorts "
                    "before its table's listing front: found by the full listing"
                )
            for f in screening.quarantined:
                context.log.warning(f"quarantined {f.path} without reading it: {f.problem}")
            for change in screening.changed:
                context.log.warning(
                    f"{change.path}: {change.reason}; not read again (audit.file_changes)"
                )
            checkpoint("silver.pending_listed")
            summary = None
            job_results: tuple[dg.MaterializeResult | dg.AssetCheckResult, ...] = ()
            engine: dict[str, str] = {}
            if pending:
                manifest = BatchManifest(
                    batch_id=silver_runner.new_batch_id(),
                    landing_uri=settings.landing_uri,
                    files=[f.path for f in pending],
                    limits=settings.parse_limits,
                )
                context.log.info(
                    f"batch {manifest.batch_id}: {len(pending)} new files for {sorted(tables)}"
                )
                batch = silver_runner.run(manifest, settings, context)
                job_results = batch.job_results
                engine = batch.engine
                summary = writer.commit(
                    batch.output(), {f.path: f.modified_at for f in pending}, contracts
                )
                silver_runner.discard(batch)
                for q in summary.quarantined:
                    context.log.warning(f"quarantined {q['path']}: {q['reason']}")
            else:
                context.log.info("no new landed files")
            totals = writer.row_counts({k.path[-1] for k in selected})
            unclassified = writer.unclassified_columns()
        now = dt.datetime.now(dt.UTC).isoformat()
        job_meta = {
            r.asset_key: r.metadata or {}
            for r in job_results
            if isinstance(r, dg.MaterializeResult)
        }
        job_checks = {r.asset_key: r for r in job_results if isinstance(r, dg.AssetCheckResult)}
        listing = {
            table: _listing_metadata(
                table, full_listing, cut, front, missed if config.reconcile else None
            )
            for table in tables
        }
        if config.reconcile and summary is None:
            # A reconciliation that found nothing to load changed no silver table: no
            # materialization (gold would rebuild eagerly every day for nothing), only its report.
            for key, table in main_keys.items():
                if key in selected:
                    context.log_event(dg.AssetObservation(asset_key=key, metadata=listing[table]))
            selected = set()
        for key in sorted(selected):
            name = key.path[-1]
            added = summary.rows_by_table.get(name, 0) if summary else 0
            meta = {
                # What the job reported (counts only), then what the commit made of it.
                **job_meta.get(key, {}),
                **engine,
                "dagster/row_count": totals[name],
                "rows_added": added,
                "batch_id": summary.batch_id if summary else "none",
                "committed_at": now,
            }
            if summary and key != REJECTS_KEY:
                meta["files_in_batch"] = len(pending)
                meta["files_quarantined"] = len(summary.quarantined)
            if key in main_keys:
                meta.update(listing[main_keys[key]])
            if unclassified.get(name):
                # Names only: the values wait in restricted until a contract classifies them.
                meta["unclassified_columns"] = dg.MetadataValue.json(
                    {
                        "columns": unclassified[name],
                        "held_in": f"{RESTRICTED_SCHEMA}.{unclassified_table(name)}",
                    }
                )
            yield dg.MaterializeResult(asset_key=key, metadata=meta)
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            reported = job_checks.get(check_key.asset_key)
            found = _found_unread(screening, table_of_key[check_key.asset_key])
            if found:
                yield _unread_check_result(check_key, reported, found)
            elif reported is not None and reported.check_name == check_key.name:
                yield reported
            else:
                # No file of this table in the batch (or no batch): nothing was quarantined.
                yield dg.AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=check_key.name,
                    passed=True,
                    metadata={"files_read": 0, "files_quarantined": 0},
                )

    return _silver
