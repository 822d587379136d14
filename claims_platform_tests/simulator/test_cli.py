"""`claims-platform simulate` arguments."""

from __future__ import annotations

import json

from claims_platform.simulator import main_simulate
from claims_platform_tests.simulator.helpers import data_files


def test_simulate_command_writes_files_and_truth(tmp_path, capsys):
    code = main_simulate(
        [
            "--out",
            str(tmp_path / "landing"),
            "--seed",
            "4",
            "--members",
            "25",
            "--days",
            "2",
            "--format",
            "csv.gz",
            "--truth",
            str(tmp_path / "truth"),
            "--date-partitioned",
        ]
    )
    assert code == 0
    files = data_files(tmp_path / "landing")
    assert files and all(p.name.endswith(".csv.gz") for p in files)
    assert any("/2024/01/02/" in p.as_posix() for p in files)
    summary = json.loads((tmp_path / "truth" / "summary.json").read_text())
    assert summary["days"] == 2 and summary["files_written"] == len(files)
    assert "wrote" in capsys.readouterr().out


def test_simulate_command_rejects_bad_arguments(tmp_path, capsys):
    assert main_simulate(["--out", str(tmp_path), "--members", "0"]) == 2
    assert "members" in capsys.readouterr().err
    assert data_files(tmp_path) == []
