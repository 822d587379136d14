"""The dbt project handle. Its own module so `dagster-dbt project prepare-and-package` can load it.

`prepare_if_dev()` parses the project only under `dagster dev`; everywhere else (tests, CI, Dagster+
builds) the manifest is prepared by `dbt parse` before the code location loads.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from filelock import FileLock

from claims_platform.environment import PROJECT_ROOT, Settings
from claims_platform.gold.warm_dbt import plain_dbt

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"


def prepare_if_dev(project: DbtProject) -> None:
    """`DbtProject.prepare_if_dev()` with the dbt installed beside this interpreter.

    dagster-dbt's own preparer runs the `dbt` it finds on PATH: `.venv/bin/dagster dev`, typed
    as the README says without activating the virtualenv, found none and the code location did
    not load. Both code locations load the project at once: one parses, and the other, once it
    gets the lock, finds the manifest newer than when it asked and uses it.
    """
    if not project.preparer.using_dagster_dev():
        return
    manifest = project.manifest_path
    asked_at = manifest.stat().st_mtime if manifest.exists() else 0.0
    # Every process of `dagster dev` loads this module: both code servers, and every run worker
    # (each run is a new process). A parse there cost each landing run seconds before its first
    # step; the manifest is current unless a project file changed after it was written.
    if asked_at and asked_at >= _newest_project_file(project.project_dir):
        return
    with FileLock(manifest.with_suffix(".parse-lock"), timeout=300):
        if manifest.exists() and manifest.stat().st_mtime > asked_at:
            return
        DbtCliResource(project_dir=project, dbt_executable=plain_dbt()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()


def _newest_project_file(project_dir: Path) -> float:
    """Modification time of the newest file dbt parses (models, macros, seeds, tests, YAML)."""
    skip = {"target", "logs", "dbt_packages"}
    newest = 0.0
    for path in project_dir.rglob("*"):
        if path.is_file() and not skip.intersection(path.relative_to(project_dir).parts):
            newest = max(newest, path.stat().st_mtime)
    return newest


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
prepare_if_dev(dbt_project)


def dbt_target_path(settings: Settings) -> Path:
    """The dbt target folder of runs against this environment's warehouse.

    Stable per data dir and target, unlike dagster-dbt's default (a new folder per invocation), so
    dbt finds the previous invocation's partial_parse.msgpack and skips the full parse. Sharing it
    is safe because every dbt invocation on one warehouse holds the warehouse lock for its whole
    run, and so does nothing else write this folder.
    """
    return settings.data_dir / "dbt_target" / settings.dbt_target
