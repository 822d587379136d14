"""The bronze check that every landed object is SSE-KMS encrypted (landing files hold PHI).

DMS writes the landing zone, not the platform, so a misconfigured endpoint (no
`EncryptionMode: SSE_KMS`) would land PHI under SSE-S3 or no encryption at all without anyone
noticing; this check names such files (paths only, never contents) as a warning.
"""

import datetime as dt
from collections import defaultdict

import dagster as dg

from claims_platform.bronze.landing import S3Landing
from claims_platform.contracts import TableContract, load_contracts
from claims_platform.orchestration.quality.checks import AFTER_THE_BATCH
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.orchestration.tables import bronze_key
from claims_platform.silver.schema import LEDGER_SCHEMA, LEDGER_TABLE

KMS_CHECK = "landing_objects_kms_encrypted"
# Newest files per table one evaluation inspects: one HEAD each, so the cost stays bounded on a
# landing zone of years; older files were inspected by earlier evaluations.
MAX_FILES_CHECKED = 500
_PATHS_SHOWN = 20
# Per table, the files landed last that the ledger holds (one parameter: how many per table).
NEWEST_LEDGER_FILES_SQL = f"""
    SELECT table_name, path, landed_at FROM {LEDGER_SCHEMA}.{LEDGER_TABLE}
    QUALIFY row_number() OVER (
        PARTITION BY table_name ORDER BY landed_at DESC NULLS LAST, path DESC
    ) <= ?"""


def build_landing_encryption_check(
    contracts: dict[str, TableContract] | None = None,
) -> dg.AssetChecksDefinition:
    contracts = contracts or load_contracts()
    table_of = {bronze_key(c): c.name for c in contracts.values()}

    @dg.multi_asset_check(
        name="landing_kms_encryption",
        specs=[
            dg.AssetCheckSpec(
                KMS_CHECK,
                asset=key,
                description="Every landed DMS object of the table is SSE-KMS encrypted at rest "
                f"(newest {MAX_FILES_CHECKED} inspected); warns with the paths of those that "
                "are not.",
                automation_condition=AFTER_THE_BATCH,
            )
            for key in table_of
        ],
        can_subset=True,
    )
    def _check(context: dg.AssetCheckExecutionContext, platform: PlatformResource):
        landing = platform.landing()
        selected = sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key)
        if not isinstance(landing, S3Landing):
            for check_key in selected:
                yield dg.AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=KMS_CHECK,
                    passed=True,
                    severity=dg.AssetCheckSeverity.WARN,
                    description="Local landing directory: no object encryption to inspect.",
                    metadata={"landing": "local", "files_checked": 0},
                )
            return
        # The newest files: those listed after the ledger's front (not loaded yet) and the
        # ledger's last loaded, not a listing of every key landed (bronze.listing).
        by_table: dict[str, dict[str, dt.datetime]] = defaultdict(dict)
        warehouse = platform.warehouse()
        with warehouse.writer() as writer:
            writer.ensure(contracts)
            front = writer.ledger_front()
        for row in warehouse.read_rows(NEWEST_LEDGER_FILES_SQL, [MAX_FILES_CHECKED]):
            by_table[row["table_name"]][row["path"]] = row["landed_at"] or dt.datetime.min
        for landed in landing.list_files(after=front):
            by_table[landed.file.table][landed.path] = landed.modified_at
        for check_key in selected:
            newest = by_table.get(table_of[check_key.asset_key], {})
            landed = sorted(((t, p) for p, t in newest.items()), reverse=True)[:MAX_FILES_CHECKED]
            unencrypted = sorted(p for _, p in landed if not landing.encryption(p).is_kms)
            shown = ", ".join(unencrypted[:_PATHS_SHOWN])
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=KMS_CHECK,
                passed=not unencrypted,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    f"{len(unencrypted)} landed file(s) not SSE-KMS encrypted: {shown}"
                    + (" …" if len(unencrypted) > _PATHS_SHOWN else "")
                    if unencrypted
                    else f"all {len(landed)} landed files inspected are SSE-KMS encrypted"
                ),
                metadata={
                    "landing": "s3",
                    "files_checked": len(landed),
                    "unencrypted_files": len(unencrypted),
                    "unencrypted_paths": dg.MetadataValue.json(unencrypted[:_PATHS_SHOWN]),
                },
            )

    return _check
