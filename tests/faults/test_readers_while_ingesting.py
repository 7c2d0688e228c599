"""One ingest writer and eight reader processes (dashboards, reports, notebooks) on one LMDB store.

The writer prunes and compacts every 5 appends, so readers race the maintenance that deletes
superseded keys: they must retry instead of failing, and never see a version, a row count or a
last trade id go backwards. ``benchmarks/faults.py --minutes 10`` runs the long version.
"""

from __future__ import annotations

from pathlib import Path

from _support.campaign import run_concurrency


def test_eight_readers_for_twenty_seconds_see_no_error_and_nothing_go_backwards(tmp_path: Path, timeout_unit: float) -> None:
    """Zero read errors and zero regressions over 20 s of 8 readers while the writer ingests and maintains."""
    result = run_concurrency(f"lmdb://{tmp_path / 'db'}", seconds=20.0, readers=8, maintain_every=5, timeout=180 * timeout_unit)
    assert result.errors == ()
    assert result.regressions == ()
    assert result.readers == 8 and set(result.by_kind) == {"dashboard", "report", "notebook"}
    assert all(n > 0 for n in result.by_kind.values())
    assert result.stored > 1000
    # every reader saw the writer move on (new versions) while it read
    assert all(last > first for versions in result.versions for first, last in versions.values())
