"""Column schemas and column-level lineage of the gold models, from dbt, on their materialisations.

dagster-dbt's `fetch_column_metadata()` asks the warehouse for each built model's columns (and its
parents') through an adapter opened in the Dagster process, while dbt is still running, then
derives column lineage with sqlglot (`dagster/column_lineage`). On Snowflake (branch, prod) that
streams alongside the build. The local DuckDB file admits one process at a time, and the dbt
process holds it until it exits, so locally the queries must wait for the build to finish; they
also cost about a second per model on a small machine. Hence:

- branch / prod: on, streamed (`CLAIMS_DBT_COLUMN_LINEAGE=0` turns it off);
- local: off unless `CLAIMS_DBT_COLUMN_LINEAGE=1`, and then fetched after the build.

The gold asset applies the mode (claims_platform.orchestration.governance.dbt_lineage).
"""

from __future__ import annotations

import os
from typing import Literal

from claims_platform.environment import Settings

COLUMN_LINEAGE_ENV = "CLAIMS_DBT_COLUMN_LINEAGE"
Mode = Literal["off", "streamed", "after_build"]


def column_lineage_mode(settings: Settings) -> Mode:
    value = os.environ.get(COLUMN_LINEAGE_ENV, "").strip().lower()
    if value in ("0", "false", "off", "no"):
        return "off"
    if settings.env != "local":
        return "streamed"
    return "after_build" if value in ("1", "true", "on", "yes") else "off"
