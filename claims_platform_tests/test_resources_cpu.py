"""Runs of the checks after the batch give way on the CPU to landing batches (resources.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from claims_platform.orchestration.definitions import defs
from claims_platform.orchestration.resources import AFTER_THE_BATCH_NICE, AFTER_THE_BATCH_TAG
from claims_platform_tests.conftest import REPO_ROOT

# A run in a process of its own, as a run worker: the op reports its thread's nice value.
RUN = """
import os, sys
import dagster as dg
from claims_platform.orchestration.resources import PlatformResource

@dg.asset
def probe(platform: PlatformResource) -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)

tags = dict(arg.split("=", 1) for arg in sys.argv[1:])
result = dg.materialize([probe], resources={"platform": PlatformResource()}, tags=tags)
print(result.output_for_node("probe"))
"""


def _nice_in_run(*tags: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *tags],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="the OS has no nice values")
def test_a_run_of_the_checks_after_the_batch_gives_way_on_the_cpu():
    parent = os.getpriority(os.PRIO_PROCESS, 0)
    assert parent < AFTER_THE_BATCH_NICE
    # The automation sensors' runs carry the tag; a landing batch's run does not.
    for name in ("gold_automation", "dbt_warn_check_automation"):
        assert defs.resolve_sensor_def(name).run_tags == {AFTER_THE_BATCH_TAG: "true"}
    assert _nice_in_run(f"{AFTER_THE_BATCH_TAG}=true") == AFTER_THE_BATCH_NICE
    assert _nice_in_run("claims/new_files=3") == parent
