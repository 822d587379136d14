"""Under `dagster dev` the code location parses the dbt project with the platform's own dbt,
so `.venv/bin/dagster dev` works without an activated virtualenv (README, CONTRACT)."""

from __future__ import annotations

import os
import subprocess
import sys

from claims_platform_tests.support.pipeline import copy_checkout, environ_without_settings


def test_dagster_dev_parses_the_project_without_dbt_on_path(tmp_path):
    # A copy of the package and its dbt project without a manifest: the parse writes one there,
    # not in the checkout other tests read at the same time.
    checkout = copy_checkout(tmp_path / "checkout")
    env = environ_without_settings()
    # As `dagster dev` marks its code servers; a PATH with no virtualenv on it.
    env.update(
        DAGSTER_IS_DEV_CLI="1",
        PATH=os.defpath,
        PYTHONPATH=str(checkout),
        CLAIMS_DATA_DIR=str(tmp_path / "data"),
    )

    def load(module: str = "claims_platform.orchestration.gold.project") -> str:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import {module}, claims_platform.orchestration.gold.project as p; "
                "print(p.dbt_project.manifest_path)",
            ],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout.strip()

    manifest = checkout / "dbt" / "target" / "manifest.json"
    # The whole code location loads; later loads only need the module that parses.
    assert load("claims_platform.definitions") == str(manifest), "the copy was loaded"
    assert manifest.exists(), "the project was parsed, as under dagster dev"
    # Every run worker of dagster dev loads the module too: no parse while the manifest is newer
    # than every project file, a parse once one changed.
    parsed_at = manifest.stat().st_mtime_ns
    load()
    assert manifest.stat().st_mtime_ns == parsed_at, "parsed again with nothing changed"
    model = next((checkout / "dbt" / "models").rglob("*.sql"))
    os.utime(model)
    load()
    assert manifest.stat().st_mtime_ns > parsed_at, "a changed model is parsed again"
