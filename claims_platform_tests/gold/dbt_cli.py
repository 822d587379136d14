"""Running the dbt project from the gold tests (a subprocess per command, like Dagster does)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from claims_platform.orchestration.gold.dbt_resource import bundled_dbt_executable

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_dbt(
    command: str, work_dir: Path, database: Path, *args: str, project_dir: Path | None = None
) -> subprocess.CompletedProcess:
    """Run a dbt command on the project (or a copy of it in `project_dir`) with its own
    target/log paths (parallel-safe).

    Commands sharing a work_dir and database reuse dbt's partial parse.
    """
    env = os.environ | {
        "CLAIMS_DUCKDB_PATH": str(database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    argv = [
        bundled_dbt_executable(),
        command,
        "--project-dir",
        str(project_dir or "dbt"),
        "--profiles-dir",
        str(project_dir or "dbt"),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        *args,
    ]
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
