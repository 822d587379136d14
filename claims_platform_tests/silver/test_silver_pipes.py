"""The silver script through Dagster Pipes on this machine: a subprocess launched by
`PipesSubprocessClient`, Pipes parameters on its command line as on Glue, real PySpark."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from claims_platform.orchestration.resources import EnvironmentSilverRunner, PlatformResource
from claims_platform.orchestration.silver.assets import REJECTS_KEY, build_silver_assets, silver_key
from claims_platform.silver.job import QUARANTINE_CHECK
from claims_platform_tests.silver.batch_files import BAD, EXPECTED_MEMBER, land_small_batch

pytestmark = pytest.mark.slow

MEMBER = silver_key("member")


def test_the_script_reports_counts_and_checks_through_pipes(platform_env):
    land_small_batch(platform_env / "landing")
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [build_silver_assets()],
        selection=[MEMBER, REJECTS_KEY],
        resources={
            "platform": PlatformResource(),
            "silver_runner": EnvironmentSilverRunner(local_runner="pipes"),
        },
        instance=instance,
    )
    assert result.success

    meta = {
        m.asset_key: {k: v.value for k, v in m.metadata.items()}
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }
    # Only the subprocess reports `silver_job/*`: their presence is the Pipes round trip.
    assert {k: meta[MEMBER][k] for k in EXPECTED_MEMBER} == EXPECTED_MEMBER
    assert meta[REJECTS_KEY]["silver_job/rows_written"] == 1
    # The commit's view agrees with the job's.
    assert meta[MEMBER]["rows_added"] == 1 and meta[MEMBER]["dagster/row_count"] == 1

    (check,) = result.get_asset_check_evaluations()
    assert (check.asset_key, check.check_name, check.passed) == (MEMBER, QUARANTINE_CHECK, False)
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["files_quarantined"].value == 1

    # The script's Pipes log line arrived in the run's event log.
    logged = [r.user_message for r in instance.all_logs(result.run_id)]
    assert any(m.startswith("batch ") and m.endswith(": 2 files") for m in logged)

    # Counts only: nothing a member file holds reaches Dagster (M1 is the row's member id).
    dumped = json.dumps({str(k): v for k, v in meta.items()}, default=str)
    assert "M1" not in dumped and "Doe" not in dumped and BAD not in dumped


def test_the_script_runs_standalone_without_pipes(platform_env, monkeypatch, capsys):
    """A Glue run started by hand, or the local CLI: no Pipes arguments, no Pipes calls.

    Spark is stubbed here: run_batch itself is the code the in-process runner runs in every
    other silver test; what is under test is main's control flow without Dagster.
    """
    from claims_platform.silver import job

    manifest = platform_env / "manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(job.BatchManifest("b1", "/landing", ["CLAIMS/MEMBER/x.csv"]).to_json())
    argv = ["--manifest", str(manifest), "--output", str(platform_env / "out")]

    assert main_refuses_without_key(job, argv, capsys)

    ran = []

    def fake_run_batch(spark, manifest, output_uri, *, tokenization_key):
        ran.append((manifest.batch_id, output_uri, tokenization_key))
        return job.BatchResult(manifest.batch_id, output_uri, [], {"member": 1})

    monkeypatch.setattr(job, "job_spark", lambda: None)
    monkeypatch.setattr(job, "run_batch", fake_run_batch)
    monkeypatch.setattr(job, "report_to_pipes", lambda *a: pytest.fail("no Pipes session"))
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "test-key")
    with job.open_pipes() as pipes:
        assert pipes is None
    # Glue's own arguments ride along and are ignored.
    assert job.main([*argv, "--JOB_NAME", "silver", "--enable-metrics", "true"]) == 0
    assert ran == [("b1", str(platform_env / "out"), "test-key")]
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "batch_id": "b1",
        "tables": {"member": 1},
    }


def main_refuses_without_key(job, argv, capsys) -> bool:
    """No tokenization key: refuse rather than write raw SSNs."""
    code = job.main(argv)
    return code == 2 and "refusing to write silver" in capsys.readouterr().err
