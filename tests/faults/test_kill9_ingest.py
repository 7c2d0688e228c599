"""Crash safety: an ingest process killed with SIGKILL at random moments, restarted each time.

After every kill what the process had acknowledged as stored is in the store, and the store has no
duplicate, no hole and no altered trade; after the last restart it equals what the exchange published.
"""

from __future__ import annotations

from pathlib import Path

from _support.campaign import run_kill_scenario


def test_kill_minus_9_three_times_loses_and_duplicates_nothing(tmp_path: Path, timeout_unit: float) -> None:
    """Three kill -9 at random moments: acknowledged ticks survive each, the final store equals the exchange."""
    result = run_kill_scenario(tmp_path, kills=3, seed=5, min_wait=0.5, max_wait=2.5, timeout=120 * timeout_unit)
    assert result.survived, result.notes
    assert result.stats["checks_after_kill"] == 3
    c = result.comparison
    assert c.published > 1000 and c.stored == c.published
    assert (c.lost, c.recorded, c.duplicates, c.extra, c.mismatched) == (0, 0, 0, 0, 0)
    assert result.stats["backfilled"] > 0  # the final process recovered the last outage over REST
