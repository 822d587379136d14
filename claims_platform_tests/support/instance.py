"""Dagster instances configured as users run the platform: by the project's own `dagster.yaml`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml

from claims_platform_tests.conftest import REPO_ROOT

PROJECT_DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


@contextmanager
def project_instance() -> Iterator[dg.DagsterInstance]:
    """A Dagster instance in a temporary DAGSTER_HOME, configured by the project's `dagster.yaml`
    (pools, run monitoring, run retries, retention), with SQLite storage as under `dagster dev`.
    Sensor, concurrency and fault tests use it instead of an unconfigured test instance, so
    they test the configuration users run."""
    overrides = yaml.safe_load(PROJECT_DAGSTER_YAML.read_text())
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


def project_instance_home(home: Path) -> Path:
    """`home` made a DAGSTER_HOME configured by the project's `dagster.yaml` (what `scripts/dev`
    installs), with its SQLite storage created: two runs starting at once on a new DAGSTER_HOME
    would both create its tables, and one of them would fail."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home
