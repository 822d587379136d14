"""Follow mode: new days keep landing, a restart never touches a landed file, signals stop it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from claims_platform.simulator import follow, simulate
from claims_platform_tests.simulator.helpers import data_files, relative


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    out = {}
    for path in data_files(root):
        stat = path.stat()
        out[relative(root, path)] = (path.read_bytes(), stat.st_mtime_ns, stat.st_ino)
    return out


def test_restart_regenerates_history_and_never_rewrites_a_landed_file(tmp_path):
    landing = tmp_path / "landing"
    simulate(landing, seed=9, members=50, days=3)
    # A landed file changed since: a restart must leave it exactly as it is, not "repair" it.
    tampered = landing / "CLAIMS" / "MEMBER" / "LOAD00000001.csv"
    tampered.write_bytes(b"tampered")
    before = _snapshot(landing)

    summary = follow(landing, days=3, interval=0, max_days=5, seed=9, members=50)

    after = _snapshot(landing)
    assert {k: after[k] for k in before} == before
    new = sorted(set(after) - set(before))
    assert new and all(name.rsplit("/", 1)[1][:8] in ("20240104", "20240105") for name in new)
    assert summary.days == 5
    assert summary.files_skipped == len(before) and summary.files_written == len(new)
    # The restarted run landed exactly what an uninterrupted run lands.
    simulate(tmp_path / "straight", seed=9, members=50, days=5)
    straight = {k: v[0] for k, v in _snapshot(tmp_path / "straight").items()}
    assert set(straight) == set(after)
    assert all(straight[k] == after[k][0] for k in after if k != relative(landing, tampered))
    assert not [p for p in landing.rglob(".*")]  # no temporary file left behind


def test_follow_waits_between_days_until_stopped(tmp_path):
    stop = threading.Event()
    seen: list[tuple[int, float]] = []

    def on_day(k, report):
        seen.append((k, time.monotonic()))
        assert report.written > 0 and report.skipped == 0
        if k == 3:
            stop.set()

    result = {}
    worker = threading.Thread(
        target=lambda: result.update(
            summary=follow(tmp_path, days=2, interval=0.05, stop=stop, on_day=on_day, members=30)
        )
    )
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert [k for k, _ in seen] == [0, 1, 2, 3]
    assert seen[3][1] - seen[2][1] >= 0.05 and seen[2][1] - seen[1][1] >= 0.05
    assert result["summary"].days == 4


@pytest.mark.timeout(120)
def test_cli_follow_stops_cleanly_on_sigterm(tmp_path):
    command = [
        sys.executable,
        "-m",
        "claims_platform.cli",
        "simulate",
        "--out",
        str(tmp_path),
        "--members",
        "20",
        "--days",
        "1",
        "--follow",
        "--interval",
        "0.05",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any(line.startswith("day 2:") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "wrote" in out and "valuation timestamp" in out
    assert not [p for p in tmp_path.rglob(".*")]
