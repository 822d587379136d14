"""The dbt project handle. Its own module so `dagster-dbt project prepare-and-package` can load it.

`prepare_if_dev()` parses the project only under `dagster dev`; everywhere else (tests, CI, Dagster+
builds) the manifest is prepared by `dbt parse` before the code location loads.
"""

from __future__ import annotations

from dagster_dbt import DbtProject

from claims_platform.environment import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
