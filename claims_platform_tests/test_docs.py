"""`claims-platform docs`: the dbt docs site of gold, generated on a real (small) warehouse and
served over HTTP, run as a user runs it (a subprocess with CLAIMS_DATA_DIR pointing at the data).

The warehouse is built as the gold tests build it without Spark: silver written from the
simulator's truth, then a `dbt build` of the models (tests left out: the docs need relations, not
verdicts) into the platform's own target folder, as a Dagster run leaves it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from claims_platform import docs
from claims_platform.environment import get_settings
from claims_platform.orchestration.gold.dbt_resource import bundled_dbt_executable
from claims_platform.simulator import simulate
from claims_platform.warehouse.duckdb import warehouse_lock
from claims_platform_tests.gold.silver_changes import Silver
from claims_platform_tests.gold.truth_silver import silver_from_truth, write_silver
from claims_platform_tests.support import reference_model as ref

REPO_ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 120  # bound of every wait on a docs process (a loaded CI machine parses slowly)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("docs")
    data = work / "data"
    data.mkdir()
    simulate(work / "landing", seed=5, members=20, days=5, history_days=30, truth_dir=work / "t")
    silver = Silver()
    silver_from_truth(ref.load_truth(work / "t"), silver, "2024-02-01 00:00:00")
    write_silver(silver, data / "warehouse.duckdb")
    env = _env(data) | {"CLAIMS_DUCKDB_PATH": str(data / "warehouse.duckdb")}
    # Into the platform's target folder, as a Dagster run leaves it: docs starts from its parse.
    built = subprocess.run(
        [
            bundled_dbt_executable(),
            "build",
            "--target",
            "local",
            "--target-path",
            str(data / "dbt_target" / "local"),
            "--log-path",
            str(work / "logs"),
            "--exclude-resource-type",
            "test",
        ],
        cwd=REPO_ROOT / "dbt",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # dbt's output names models; values appear only in compiled SQL, not here.
    assert built.returncode == 0, built.stdout[-4000:]
    return data


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAIMS_", "DAGSTER_CLOUD"))}
    return env | {"CLAIMS_ENV": "local", "CLAIMS_DATA_DIR": str(data)}


def _docs(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claims_platform.cli", "docs", *args],
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )


def test_generates_the_site_with_the_catalog_of_gold(data_dir: Path, tmp_path: Path):
    out = tmp_path / "site"
    result = _docs(data_dir, "--out", str(out), "--static")
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.splitlines()[:2] == [
        f"dbt docs of gold (target local): {out / 'index.html'}",
        f"single-file site, opens from disk: {out / 'static_index.html'}",
    ]
    for name in ("index.html", "static_index.html", "manifest.json", "catalog.json"):
        assert (out / name).is_file(), name
    catalog = json.loads((out / "catalog.json").read_text())
    assert not catalog.get("errors")
    fct_claim = catalog["nodes"]["model.claims_platform.fct_claim"]
    assert fct_claim["metadata"]["schema"] == "gold"
    manifest = json.loads((out / "manifest.json").read_text())
    documented = manifest["nodes"]["model.claims_platform.fct_claim"]["columns"]
    # Every documented column of the model is found in the warehouse, with its type.
    assert "claim_id" in documented
    assert set(documented) <= set(fct_claim["columns"])
    assert all(fct_claim["columns"][c]["type"] for c in documented)
    gold = {key for key, node in catalog["nodes"].items() if node["metadata"]["schema"] == "gold"}
    assert {"model.claims_platform.dim_member", "model.claims_platform.mart_pmpm"} <= gold
    # The platform's own target folder (dagster-dbt reads run results there) is left alone.
    assert not (data_dir / "dbt_target" / "local" / "catalog.json").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((docs.HOST, 0))
        return probe.getsockname()[1]


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert process.poll() is None, f"docs exited {process.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"not in {WAIT_S}s:\n{log.read_text()[-4000:]}"
        time.sleep(0.2)


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


@contextlib.contextmanager
def _running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """The process in its own session, so whatever it leaves behind can be killed with it."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_serve_waits_for_the_warehouse_lock_then_serves_until_terminated(
    data_dir: Path, tmp_path: Path
):
    out, port, log = tmp_path / "site", _free_port(), tmp_path / "docs.log"
    argv = [sys.executable, "-m", "claims_platform.cli", "docs", "--out", str(out)]
    argv += ["--serve", "--port", str(port)]
    url = f"http://{docs.HOST}:{port}"
    with contextlib.ExitStack() as batch:
        # A batch holds the warehouse: docs waits for it, never opens the DuckDB file beside it.
        batch.enter_context(warehouse_lock(data_dir / "warehouse.lock"))
        with _running(argv, _env(data_dir), log) as process:
            waiting = b"waiting for the warehouse lock"
            _wait_for(lambda: waiting in log.read_bytes(), process, log)
            assert not (out / "manifest.json").exists()
            batch.close()  # the batch ends

            _wait_for(lambda: _get(f"{url}/index.html") is not None, process, log)
            assert b"dbt" in (_get(f"{url}/index.html") or b"")
            catalog = json.loads(_get(f"{url}/catalog.json") or b"{}")
            assert "model.claims_platform.fct_claim" in catalog["nodes"]
            assert f"serving {out} on {url}/ (Ctrl-C stops)" in log.read_text()

            process.terminate()  # what a service manager sends; Ctrl-C takes the same path
            assert process.wait(timeout=WAIT_S) == 0, log.read_text()[-4000:]
            # dbt's server went down with the command, not left serving on its own.
            assert _get(f"{url}/index.html") is None


def test_without_a_warehouse_it_says_how_to_make_one(tmp_path: Path):
    result = _docs(tmp_path / "empty")
    assert result.returncode == 1
    assert "no warehouse yet at" in result.stderr
    assert "run scripts/dev or the headless materialize first" in result.stderr
    assert not (tmp_path / "empty" / "dbt_docs").exists()


def test_a_busy_port_is_refused_before_anything_runs(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind((docs.HOST, 0))
        busy.listen()
        result = _docs(tmp_path, "--serve", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert "is in use" in result.stderr


def test_paths_and_executable_agree_with_the_platforms(platform_env: Path):
    """docs.py repeats two one-liners of modules that load dagster-dbt (seconds to import)."""
    from claims_platform.orchestration.gold.project import dbt_target_path

    settings = get_settings()
    assert docs.platform_target_path(settings) == dbt_target_path(settings)
    assert docs.dbt_executable() == bundled_dbt_executable()
    assert docs.docs_dir(settings) == platform_env.resolve() / "dbt_docs" / "local"
