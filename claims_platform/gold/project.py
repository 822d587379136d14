"""The dbt project handle. Its own module so `dagster-dbt project prepare-and-package` can load it.

`prepare_if_dev()` parses the project only under `dagster dev`; everywhere else (tests, CI, Dagster+
builds) the manifest is prepared by `dbt parse` before the code location loads.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from claims_platform.environment import PROJECT_ROOT, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()


def dbt_target_path(settings: Settings) -> Path:
    """The dbt target folder of runs against this environment's warehouse.

    Stable per data dir and target, unlike dagster-dbt's default (a new folder per invocation), so
    dbt finds the previous invocation's partial_parse.msgpack and skips the full parse. Sharing it
    is safe because every dbt invocation on one warehouse holds the warehouse lock for its whole
    run, and so does nothing else write this folder.
    """
    return settings.data_dir / "dbt_target" / settings.dbt_target
