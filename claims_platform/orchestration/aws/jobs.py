"""The Glue Data Catalog registration as a Dagster job (production; off locally)."""

from typing import Any

import dagster as dg

from claims_platform.environment import ConfigurationError
from claims_platform.orchestration.resources import PlatformResource


def make_glue_client() -> Any:
    """A Glue client from the ambient AWS configuration (role, AWS_REGION, AWS_ENDPOINT_URL)."""
    import boto3

    return boto3.client("glue")


@dg.op(
    description="Creates or updates the Glue Data Catalog database and one table per silver "
    "table from the table contracts (columns, types, PHI marks). Off unless "
    "CLAIMS_GLUE_DATABASE is set.",
    tags={"kind": "glue"},
)
def sync_glue_catalog(context: dg.OpExecutionContext, platform: PlatformResource) -> None:
    from claims_platform.aws.glue_catalog import sync_silver_catalog

    settings = platform.settings()
    if not settings.glue_database:
        context.log.info("CLAIMS_GLUE_DATABASE is not set: Glue catalog registration is off")
        return
    if not settings.lake_is_s3:
        raise ConfigurationError(
            "CLAIMS_LAKE_URI must be an s3:// URI for the Glue Data Catalog: its tables point at "
            f"the silver Parquet in the lake (CLAIMS_GLUE_DATABASE={settings.glue_database})"
        )
    sync = sync_silver_catalog(make_glue_client(), settings.glue_database, settings.lake_uri)
    context.log.info(
        f"Glue database {sync.database}: created {sync.created or 'none'}, "
        f"updated {sync.updated or 'none'}, {len(sync.unchanged)} unchanged"
    )


@dg.job(
    name="glue_catalog_sync",
    description="Registers the silver tables in the Glue Data Catalog from the contracts; run it "
    "after a deploy that changes a contract (a column added at the source).",
)
def glue_catalog_sync_job() -> None:
    sync_glue_catalog()
