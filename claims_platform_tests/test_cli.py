"""`claims-platform --help` and each command's `--help`: every command described, every default shown.

Run as subprocesses, as a user runs them: the help a shell prints, and the exit codes it sees.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from claims_platform.cli import COMMANDS


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claims_platform.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _option_help(text: str) -> dict[str, str]:
    """Help text per option of an argparse help screen, continuation lines joined."""
    options: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^  (-[-\w]+)", line)
        if match:
            current = match.group(1)
            options[current] = line
        elif current and line.startswith("    "):
            options[current] += " " + line.strip()
        else:
            current = None
    return {name: re.sub(r"\s+", " ", body) for name, body in options.items()}


def test_top_level_help_lists_every_command_with_its_description():
    for args in ([], ["--help"], ["-h"]):
        result = _cli(*args)
        assert result.returncode == 0, result.stderr
        flat = re.sub(r"\s+", " ", result.stdout)
        for name, summary in COMMANDS.items():
            assert f"{name} {summary}" in flat, (name, result.stdout)
        assert "claims-platform <command> --help" in flat


def test_simulate_help_shows_every_option_with_its_default():
    result = _cli("simulate", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: claims-platform simulate")
    options = _option_help(result.stdout)
    expected = {
        "--seed": "(default: 7)",
        "--members": "(default: 500)",
        "--days": "(default: 60)",
        "--history-days": "(default: 21, at most 1095)",
        "--format": "(default: csv)",
        "--start": "(default: 2024-01-01)",
        "--truth": "(default: none written)",
        "--files-per-day": "(default: 2)",
        "--interval": "(default: 30.0)",
    }
    for name, default in expected.items():
        assert default in options[name], (name, options[name])
    # Every option but help and the required --out states its default.
    undocumented = [
        n for n, body in options.items() if n not in ("-h", "--out") and "default" not in body
    ]
    assert undocumented == []
    assert len(options) >= 16


def test_replay_and_ledger_help_describe_the_command_without_running_it():
    replay = _cli("replay", "--help")
    assert replay.returncode == 0, replay.stderr
    assert "Read quarantined landed files again" in replay.stdout
    options = _option_help(replay.stdout)
    flags = ("--path", "--all", "--dry-run", "--acknowledge-change")
    assert set(flags) <= options.keys()
    assert all("default" in options[n] for n in flags)
    ledger = _cli("ledger", "--help")
    assert ledger.returncode == 0, ledger.stderr
    assert ledger.stdout.startswith("usage: claims-platform ledger")
    assert "file ledger" in ledger.stdout and "CLAIMS_DUCKDB_PATH" in ledger.stdout
    assert "no warehouse yet" not in ledger.stdout  # --help did not run the ledger query


def test_docs_help_shows_every_option_with_its_default():
    result = _cli("docs", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: claims-platform docs")
    assert "dbt docs generate" in result.stdout and "warehouse lock" in result.stdout
    options = _option_help(result.stdout)
    expected = {
        "--out": "(default: $CLAIMS_DATA_DIR/dbt_docs/<target>)",
        "--static": "(default: off)",
        "--serve": "(default: off)",
        "--port": "(default: 8080)",
    }
    for name, default in expected.items():
        assert default in options[name], (name, options[name])
    assert options.keys() == {"-h", *expected}
    assert "no warehouse yet" not in result.stderr  # --help generated nothing


@pytest.mark.parametrize(
    "args", [["bogus"], ["ledger", "--bogus"], ["simulate"], ["docs", "--port", "x"]]
)
def test_bad_commands_and_options_exit_2_naming_the_problem(args):
    result = _cli(*args)
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_top_level_help_imports_no_command():
    """`claims-platform --help` stays fast: no command module, pyarrow, Dagster or Spark loaded."""
    code = (
        "import sys; from claims_platform.cli import main; main(['--help']); "
        "heavy = ('pyarrow', 'dagster', 'pyspark', 'duckdb', 'claims_platform.simulator', "
        "'claims_platform.silver'); "
        "print('HEAVY', sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "HEAVY []" in result.stdout
