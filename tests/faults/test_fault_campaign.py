"""The short fault campaign: each fault of the issue injected into a real exchange -> feed -> ingest -> LMDB run.

After each run the store must equal what the exchange published: nothing lost (unless recorded as an
unfilled gap), nothing duplicated, invented or altered. ``benchmarks/faults.py`` runs the long version.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _support.campaign import STANDARD_SCENARIOS, Scenario, run_scenario

#: The fault counters each scenario must have incremented (so the run really injected its faults).
EXPECTED = {
    "drop connection": {"disconnect"},
    "stall (no data, no pings)": {"stall"},
    "malformed frames": {"malformed"},
    "duplicates + out of order": {"duplicate", "out_of_order"},
    "burst 20x": {"burst"},
    "serverShutdown": {"server_shutdown"},
    "refuse connections": {"refused"},
    "REST 429 + 5xx (with drops)": {"disconnect"},
    "all of the above at once": {"malformed", "duplicate", "out_of_order"},
}


@pytest.mark.parametrize("scenario", STANDARD_SCENARIOS, ids=[s.name for s in STANDARD_SCENARIOS])
def test_fault_is_survived_and_the_store_equals_the_exchange(scenario: Scenario, tmp_path: Path, timeout_unit: float) -> None:
    """The fault is injected, the ingest survives it, and the store holds exactly what the exchange published."""
    result = run_scenario(scenario, f"lmdb://{tmp_path / 'db'}", seconds=3.0, seed=7, catch_up_timeout=60 * timeout_unit)
    assert EXPECTED[scenario.name] <= {k for k, v in result.injected.items() if v > 0}, result.injected
    c = result.comparison
    assert result.survived, result.notes
    assert c.published > 500 and c.stored == c.published
    assert (c.lost, c.recorded, c.duplicates, c.extra, c.mismatched) == (0, 0, 0, 0, 0)
    assert result.stats["feed_restarts"] == 0 and result.stats["write_errors"] == 0
    if scenario.name in ("drop connection", "stall (no data, no pings)", "serverShutdown", "refuse connections"):
        assert result.stats["reconnects"] >= 1
    if scenario.name == "malformed frames":
        if result.stats["reconnects"] == 0:  # every injected frame reached the client and was rejected
            assert result.stats["rejected_total"] >= result.injected["malformed"]
        else:  # a keepalive timeout on a loaded machine drops the frames still queued on that connection
            assert result.stats["rejected_total"] >= 1
