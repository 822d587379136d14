"""Memory follows the claims in flight, not the days simulated or the rows written."""

from __future__ import annotations

import tracemalloc

from claims_platform.simulator import simulate


def _peak(path, days: int) -> int:
    tracemalloc.start()
    try:
        simulate(path, members=300, days=days)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_days(tmp_path):
    simulate(tmp_path / "warm-up", members=20, days=2)  # one-time caches and imports
    short = _peak(tmp_path / "short", 20)
    long = _peak(tmp_path / "long", 60)  # writes about 2.5 times the rows
    # Keeping every claim (or every row) would make the long run's peak about twice the short one.
    assert long < 1.25 * short, (short, long)
