"""Dagster+ deployment files are well-formed, agree with each other, and hold no secret.

The dagster-cloud CLI is not a dependency, so `dagster_cloud.yaml` is checked here against its
documented schema (Dagster+ "dagster_cloud.yaml reference" and the ECS agent's per-location
configuration reference); CI runs the real `dagster-cloud ci check` before deploying.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
import yaml

from claims_platform_tests.conftest import REPO_ROOT

DAGSTER_CLOUD_YAML = REPO_ROOT / "dagster_cloud.yaml"
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "deploy.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SETTINGS = REPO_ROOT / "dagster_plus_deployment_settings.yaml"
DEPLOY_FILES = [
    DAGSTER_CLOUD_YAML,
    WORKFLOW,
    DOCKERFILE,
    SETTINGS,
    REPO_ROOT / ".dockerignore",
    REPO_ROOT / "dagster.yaml",
]

_LOCATION_KEYS = {
    "location_name",
    "code_source",
    "working_directory",
    "executable_path",
    "attribute",
    "image",
    "build",
    "container_context",
    "agent_queue",
}
_CODE_SOURCES = {"package_name", "module_name", "python_file"}
_ECS_KEYS = {
    "env_vars",
    "secrets",
    "secrets_tags",
    "server_resources",
    "run_resources",
    "execution_role_arn",
    "task_role_arn",
    "mount_points",
    "volumes",
    "server_sidecar_containers",
    "run_sidecar_containers",
    "server_ecs_tags",
    "run_ecs_tags",
    "repository_credentials",
}
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_SECRET_NAME = re.compile(r"KEY|TOKEN|PASSWORD|PASSPHRASE|SECRET|WEBHOOK", re.IGNORECASE)


def _yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _pyproject_dagster() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]


def _locations() -> list[dict]:
    return _yaml(DAGSTER_CLOUD_YAML)["locations"]


# The platform (CONTRACT §1's entry point) first, then the actuarial marts, partitioned by
# valuation month and therefore outside the headless `asset materialize --select '*'`.
EXPECTED_LOCATIONS = {
    "claims_platform": "claims_platform.definitions",
    "claims_platform_actuarial": "claims_platform.orchestration.actuarial.definitions",
}


def test_every_deployment_yaml_parses():
    for path in (DAGSTER_CLOUD_YAML, WORKFLOW, SETTINGS, REPO_ROOT / "dagster.yaml"):
        assert isinstance(_yaml(path), dict), path


def test_dagster_cloud_yaml_follows_the_documented_schema():
    doc = _yaml(DAGSTER_CLOUD_YAML)
    assert set(doc) == {"locations"}
    locations = doc["locations"]
    assert isinstance(locations, list)
    names = [loc["location_name"] for loc in locations]
    assert names == list(EXPECTED_LOCATIONS), names

    # The platform location is that of pyproject.toml and CONTRACT §1.
    tool = _pyproject_dagster()
    assert names[0] == tool["code_location_name"]
    assert locations[0]["code_source"]["module_name"] == tool["module_name"]

    for loc in locations:
        _check_location(loc)


def test_locations_match_the_workspace():
    """`dagster dev -w workspace.yaml` and Dagster+ load the same modules under the same names."""
    workspace = _yaml(REPO_ROOT / "workspace.yaml")["load_from"]
    local = [
        (entry["python_module"]["location_name"], entry["python_module"]["module_name"])
        for entry in workspace
    ]
    cloud = [(loc["location_name"], loc["code_source"]["module_name"]) for loc in _locations()]
    assert local == cloud == list(EXPECTED_LOCATIONS.items())
    assert all(entry["python_module"]["working_directory"] == "." for entry in workspace)


def test_locations_share_one_image_and_container_context():
    """The actuarial location runs the same package from the same image, and its runs read the
    same settings (tokenization key, lake, KMS key) and Snowflake as the platform's."""
    platform, *others = _locations()
    for loc in others:
        for key in ("working_directory", "build", "container_context"):
            assert loc[key] == platform[key], (loc["location_name"], key)


def _check_location(loc: dict) -> None:
    name = loc["location_name"]
    assert set(loc) <= _LOCATION_KEYS, (name, set(loc) - _LOCATION_KEYS)
    assert {"location_name", "code_source"} <= set(loc), name

    # `attribute` belongs to the location, not to code_source (the CLI's schema forbids it there).
    source = loc["code_source"]
    assert len(source) == 1 and set(source) <= _CODE_SOURCES, (name, source)
    module = source["module_name"]
    assert module == EXPECTED_LOCATIONS[name]
    assert (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file()

    # `build.directory` holds the Dockerfile; its WORKDIR is the location's working directory.
    build = loc["build"]
    assert set(build) <= {"directory", "registry"}
    assert (DAGSTER_CLOUD_YAML.parent / build["directory"] / "Dockerfile").is_file()
    assert isinstance(build["registry"], str) and build["registry"].endswith("/claims-platform")
    workdir = re.search(r"^WORKDIR\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE).group(1)
    assert loc["working_directory"] == workdir

    context = loc["container_context"]
    assert set(context) <= {"ecs", "k8s", "docker"}
    ecs = context["ecs"]
    assert set(ecs) <= _ECS_KEYS, set(ecs) - _ECS_KEYS
    for entry in ecs["env_vars"]:
        var, sep, _value = entry.partition("=")
        assert _ENV_NAME.fullmatch(var), entry
        # A value written here is in git: never for a secret.
        assert not (sep and _SECRET_NAME.search(var)), entry
    assert all(isinstance(t, str) for t in ecs["secrets_tags"])
    for resources in ("server_resources", "run_resources"):
        assert set(ecs[resources]) <= {"cpu", "memory", "replica_count", "ephemeral_storage"}
        assert all(str(v).isdigit() for v in ecs[resources].values())


def test_secret_variables_are_injected_not_listed():
    """Secrets reach the container through Secrets Manager tags, never as env_vars entries."""
    for loc in _locations():
        env_vars = loc["container_context"]["ecs"]["env_vars"]
        names = {e.partition("=")[0] for e in env_vars}
        for secret in (
            "CLAIMS_TOKENIZATION_KEY",
            "CLAIMS_ALERT_WEBHOOK_URL",
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
        ):
            assert secret not in names, (loc["location_name"], secret)
        assert "claims-platform" in loc["container_context"]["ecs"]["secrets_tags"]


def test_run_retries_are_on_locally_and_in_dagster_plus(tmp_path):
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:  # validates the schema
        assert instance.run_retries_enabled
        max_retries = instance.run_retries_max_retries
        assert max_retries >= 1
        # Steps retry themselves (RetryPolicy); whole runs are retried only after a crash.
        assert instance.run_retries_retry_on_asset_or_op_failure is False
    settings = _yaml(SETTINGS)
    assert settings["run_retries"] == {
        "max_retries": max_retries,
        "retry_on_asset_or_op_failure": False,
    }
    assert set(settings) <= {"run_retries", "run_monitoring", "concurrency", "sso_default_role"}


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_workflow_tests_deploys_runs_slim_ci_and_checks():
    wf = _yaml(WORKFLOW)
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on:` as True
    assert triggers["push"]["branches"] == ["main"]
    assert {"opened", "synchronize", "closed"} <= set(triggers["pull_request"]["types"])
    runs = "\n".join(step.get("run", "") for step in _steps(wf))
    commands = "\n".join(str(step.get("with", {}).get("command", "")) for step in _steps(wf))
    uses = {step.get("uses", "").split("@")[0] for step in _steps(wf)}

    assert re.search(r"^scripts/test\b", runs, re.MULTILINE)
    assert "dagster-dbt project prepare-and-package" in runs
    assert "--file claims_platform/orchestration/gold/project.py" in runs
    assert "dagster-io/dagster-cloud-action/actions/utils/ci-init" in uses
    assert "ci check" in commands and "ci deploy" in commands
    # Every location of dagster_cloud.yaml gets the image and is deployed (prod and branches).
    locations = {loc["location_name"] for loc in _locations()}
    (build_output,) = [c for c in commands.splitlines() if c.startswith("ci set-build-output")]
    assert set(re.findall(r"--location-name[= ](\S+)", build_output)) == locations
    (deploy,) = [c for c in commands.splitlines() if c.startswith("ci deploy")]
    assert "--location-name" not in deploy  # none named: every location of the session
    (init,) = [s for s in _steps(wf) if "actions/utils/ci-init" in s.get("uses", "")]
    assert "location_names" not in init["with"]  # none named: every location of the yaml
    assert re.search(r"dbt build .*--target branch\s*\\?\s*--select state:modified\+", runs)
    assert re.search(r"--defer --state \S+", runs)
    assert "-m claims_platform.orchestration.ops.branch_clones create" in runs
    assert "-m claims_platform.orchestration.ops.branch_clones drop" in runs
    job = re.search(r"dagster job execute -m claims_platform\.definitions -j (\w+)", runs)
    assert job and job.group(1) == "all_asset_checks"
    assert (
        '"all_asset_checks"'
        in (REPO_ROOT / "claims_platform" / "orchestration" / "definitions.py").read_text()
    )
    assert "deployment settings set-from-file dagster_plus_deployment_settings.yaml" in commands


def test_workflow_takes_every_secret_from_github_secrets():
    wf = _yaml(WORKFLOW)
    envs = [wf.get("env", {})]
    for job in wf["jobs"].values():
        envs.append(job.get("env", {}))
        envs.extend(step.get("env", {}) for step in job["steps"])
    for env in envs:
        for name, value in env.items():
            if _SECRET_NAME.search(name) and name != "SNOWFLAKE_PRIVATE_KEY_PATH":
                assert re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}", str(value)), name


def test_deploy_files_name_no_package_index_and_hold_no_credentials():
    """No pip index / registry URL (the build machine's own configuration decides) and nothing
    that looks like a credential."""
    for path in DEPLOY_FILES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"index-url|--find-links|trusted-host", text), path
        hosts = {urlsplit(u).hostname for u in re.findall(r"https?://[^\s\"'`)]+", text)}
        assert hosts <= {"127.0.0.1", "localhost"}, (path, hosts)
        assert "-----BEGIN" not in text and not re.search(r"AKIA[0-9A-Z]{16}", text), path


def test_dockerfile_builds_the_pinned_platform_and_the_dbt_manifest():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert "-c constraints.txt" in text
    assert re.search(
        r"dagster-dbt project prepare-and-package --file claims_platform/orchestration/gold/project\.py",
        text,
    )
    assert not re.search(r"^ENTRYPOINT", text, re.MULTILINE)  # the agent supplies the command
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".data", "dbt/target"} <= set(ignored)


def test_readme_documents_every_variable_the_platform_reads():
    """Every CLAIMS_* / SNOWFLAKE_* variable read by the package or the dbt profile."""
    readme = (REPO_ROOT / "README.md").read_text()
    pattern = r"(CLAIMS_[A-Z0-9_]+|SNOWFLAKE_[A-Z0-9_]+)"
    names: set[str] = set()
    for path in (REPO_ROOT / "claims_platform").rglob("*.py"):
        names |= set(re.findall(rf"[\"']{pattern}[\"']", path.read_text()))
    profiles = (REPO_ROOT / "dbt" / "profiles.yml").read_text()
    names |= set(re.findall(rf"env_var\('{pattern}'", profiles))
    # Fault injection is a test harness, not configuration; CLAIMS_LAKE is the default name of a
    # Snowflake storage integration (warehouse/snowflake.py), not a variable.
    names = {n for n in names if not n.startswith("CLAIMS_FAULT_") and n != "CLAIMS_LAKE"}
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing, f"README does not document: {missing}"


def test_definitions_wire_alerts_clones_and_retries():
    from claims_platform.definitions import defs

    assert defs.resolve_sensor_def("run_failure_alert")
    assert defs.resolve_sensor_def("branch_clone_sensor")
    assert defs.resolve_schedule_def("drop_stale_branch_clones_daily")
    for job in ("create_branch_clone", "drop_stale_branch_clones", "all_asset_checks"):
        assert defs.resolve_job_def(job)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        top = key.path[0]
        if top in ("bronze", "silver", "gold") and graph.get(key).is_materializable:
            policy = defs.resolve_assets_def(key).op.retry_policy
            assert policy is not None, key
            assert policy.max_retries >= 1 and policy.delay
            assert policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter is not None, key


# --- the code location loads offline in every environment -------------------------------------

ENVIRONMENTS = {
    "local": {"CLAIMS_ENV": "local"},
    "branch": {
        "CLAIMS_ENV": "branch",
        "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT": "1",
        "DAGSTER_CLOUD_DEPLOYMENT_NAME": "claims-pr-42",
        "DAGSTER_CLOUD_PULL_REQUEST_ID": "42",
    },
    "prod": {"CLAIMS_ENV": "prod", "DAGSTER_CLOUD_DEPLOYMENT_NAME": "prod"},
}


@pytest.mark.timeout(600)
def test_definitions_validate_in_every_environment_without_credentials(tmp_path):
    """`dagster definitions validate` of every location's module with no secret, no
    Snowflake/AWS settings and proxies pointed at a closed port (a network call would fail). The
    three environments run side by side."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAIMS_", "DAGSTER_CLOUD", "SNOWFLAKE_", "AWS_", "DBT_"))
    }
    base.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "",
        }
    )
    dagster = str(Path(sys.executable).parent / "dagster")
    modules = [arg for loc in _locations() for arg in ("-m", loc["code_source"]["module_name"])]
    assert modules.count("-m") == len(EXPECTED_LOCATIONS)
    procs = {}
    for name, extra in ENVIRONMENTS.items():
        home = tmp_path / name
        home.mkdir()
        env = {**base, **extra, "DAGSTER_HOME": str(home), "CLAIMS_DATA_DIR": str(home / "data")}
        procs[name] = (
            time.monotonic(),
            subprocess.Popen(
                [dagster, "definitions", "validate", *modules],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
    ended: dict[str, float] = {}
    deadline = time.monotonic() + 540
    while len(ended) < len(procs) and time.monotonic() < deadline:
        for name, (_, proc) in procs.items():
            if name not in ended and proc.poll() is not None:
                ended[name] = time.monotonic()
        time.sleep(0.1)
    failures = []
    for name, (started, proc) in procs.items():
        if name not in ended:
            proc.kill()
        out, _ = proc.communicate()
        took = ended.get(name, time.monotonic()) - started
        print(f"definitions validate [{name}]: {took:.1f} s (three in parallel)")
        if proc.returncode != 0:
            failures.append(f"[{name}] exit {proc.returncode}\n{out[-3000:]}")
    assert not failures, "\n".join(failures)
