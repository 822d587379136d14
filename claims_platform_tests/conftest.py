"""Shared fixtures. Tests never touch the developer's `.data/`: every test gets its own root."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims_platform.environment import DEPLOYMENT_MARKER_VARIABLES

# One loopback Snowflake (fakesnow's server, taught in support/snowflake.py) and its S3 for every
# module of a worker: a fixture imported into two test modules is two fixtures, and the second
# would teach the emulator again on top of the first (COPY's PATTERN then lost).
from claims_platform_tests.support.snowflake import snowflake_servers  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def platform_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private CLAIMS_DATA_DIR (landing, lake, warehouse) for one test."""
    data = tmp_path / "data"
    monkeypatch.setenv("CLAIMS_DATA_DIR", str(data))
    monkeypatch.setenv("CLAIMS_ENV", "local")
    for var in ("CLAIMS_LANDING_URI", "CLAIMS_DUCKDB_PATH", "CLAIMS_TOKENIZATION_KEY"):
        monkeypatch.delenv(var, raising=False)
    # A CI runner on ECS or a developer's Snowflake login must not make a test "deployed".
    for var in DEPLOYMENT_MARKER_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    return data


# The longest tests first: under `pytest -n 2 --dist loadgroup` (scripts/test) a long test that
# starts last keeps one worker busy while the other idles. Measured order, longest first; then the
# other tests that run the real pipeline (marked slow); then the rest, in collection order.
# xdist keeps this order only with --no-loadscope-reorder (scripts/test passes it); by default it
# hands out the groups with the most tests first, which put these single long tests last.
_LONGEST_FIRST = (
    "test_faults.py::test_sigkill",
    "test_prod_e2e.py::test_prod_headless",
    "test_recovery_dagster_dev.py",
    "aws/test_pipeline_s3.py",
    "test_properties.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        for i, prefix in enumerate(_LONGEST_FIRST):
            if item.nodeid.removeprefix("claims_platform_tests/").startswith(prefix):
                return i
        return len(_LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)

    items.sort(key=rank)
    # `--dist loadgroup`: a module's tests stay on one worker, so a module-scoped fixture (a
    # whole pipeline run, often) is built once; the fault tests go apart, but for the two that
    # share one base (their own xdist_group mark).
    for item in items:
        if item.path.name != "test_faults.py":
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


class _XdistGroups:
    """`--dist loadgroup` schedules by an `@group` suffix that xdist appends to each collected
    node id. xdist 3.8 writes it to `item._nodeid`, which pytest 9.2 no longer reads (a node id
    lives in `item._id`), so every group was silently ignored: a module's tests went to both
    workers and each built the module's fixtures. Until xdist follows, write the suffix where
    pytest 9.2 keeps the id."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not config.getvalue("loadgroup"):
            return
        from _pytest.nodeid import NodeId  # private: the only way to set a pytest 9.2 node id

        for item in items:
            groups = sorted(
                {
                    str(m.args[0] if m.args else m.kwargs.get("name"))
                    for m in item.iter_markers("xdist_group")
                }
            )
            if groups and "@" not in item.nodeid.rpartition("]")[2]:
                item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # xdist workers collect; the controller schedules
        config.pluginmanager.register(_XdistGroups(), "claims_xdist_groups")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The suite's runs start a warm dbt server (gold/warm_dbt.py) that would otherwise idle on
    for 15 minutes after the suite: stop it once every worker is done (not from a worker, whose
    end the other worker may outlive). A server still running a command finishes it first."""
    if hasattr(session.config, "workerinput"):
        return
    from claims_platform.gold.warm_dbt import stop_server

    stop_server()
