"""The gold step's column-metadata stream (orchestration/governance/dbt_lineage.py): events keep
dbt's order, a failed build raises after what it built, and waiting for dbt costs no CPU."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dagster as dg
import pytest

from claims_platform.orchestration.governance.dbt_lineage import with_column_metadata


def _checks(n: int, pause: float = 0.0, fail: bool = False) -> Iterator[dg.AssetCheckResult]:
    for i in range(n):
        time.sleep(pause)
        yield dg.AssetCheckResult(asset_key=dg.AssetKey(["gold", f"m{i}"]), passed=True)
    if fail:
        raise RuntimeError("dbt build failed")


def test_events_keep_their_order_and_a_failure_comes_after_them():
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="dbt build failed"):
        for event in with_column_metadata(None, _checks(5, fail=True)):
            seen.append(event.asset_key.path[-1])
    assert seen == ["m0", "m1", "m2", "m3", "m4"]


def test_waiting_for_dbt_costs_no_cpu():
    """dagster-dbt's own `fetch_column_metadata()` loops without waiting while dbt builds the
    next model (one core busy for the whole build); this stream waits asleep."""
    wall, cpu = time.monotonic(), time.process_time()
    events = list(with_column_metadata(None, _checks(4, pause=0.5)))
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert len(events) == 4 and wall >= 2.0
    assert cpu < 0.2 * wall, f"{cpu:.2f}s of CPU while waiting {wall:.2f}s for dbt"
