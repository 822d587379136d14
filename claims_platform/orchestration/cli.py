"""The command-line commands that run Dagster: `claims-platform replay` runs the replay job.

The command itself (what to replay, what to print, the exit code) is the core's
`silver.replay.main_replay`; this module gives it the run: the job of the platform's definitions,
executed in this process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from claims_platform.silver.replay import main_replay, tables_of


def run_replay(paths: Sequence[str]) -> bool:
    """Run the replay job in this process for the tables of `paths` (silver) and gold."""
    # Imported when a replay runs: `replay --help`, `--dry-run` and `--acknowledge-change` do not
    # pay for loading Dagster and the definitions (seconds).
    import dagster as dg

    from claims_platform.orchestration.definitions import (
        defs,
        gold_dbt_models,
        silver_keys_by_table,
    )
    from claims_platform.orchestration.silver.replay import REPLAY_JOB, replay_run_config

    job = defs.resolve_job_def(REPLAY_JOB)
    silver = {k for t in tables_of(paths) for k in silver_keys_by_table.get(t, [])}
    gold = set(gold_dbt_models.keys)
    instance = (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )
    with instance:
        result = job.execute_in_process(
            run_config=replay_run_config(paths),
            instance=instance,
            asset_selection=sorted(silver | gold, key=lambda k: k.to_user_string()),
            raise_on_error=False,
        )
    return result.success


def replay(argv: Sequence[str]) -> int:
    """`claims-platform replay`."""
    return main_replay(argv, run_replay)
