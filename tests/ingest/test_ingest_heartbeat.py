"""The ingest heartbeat file: atomic writes, an allowlist of fields, freshness, and the writer thread."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from quantkit.ingest.heartbeat import StatusFileWriter, default_status_path, read_status, write_status
from quantkit.ingest import IngestStats


def test_round_trip_and_allowlist(tmp_path: Path) -> None:
    """Counters and states round-trip; unknown keys (e.g. a URI) are never written; age comes from the clock."""
    stats = IngestStats(state="running", feed_state="reconnecting", stored=42, rejected={"bad_number": 2}, gaps=1,
                        lag_ms_p50=float("nan"))
    path = tmp_path / "hb" / "ingest_status.json"
    write_status(stats, path, clock=lambda: 1000.0)
    write_status({"state": "running", "store_uri": "s3://host:bucket?access=k&secret=s"}, tmp_path / "other.json")
    st = read_status(path, clock=lambda: 1003.5)
    assert st.age_s == pytest.approx(3.5) and st.fresh
    assert (st.get("feed_state"), st.get("stored"), st.get("rejected"), st.get("gaps")) == ("reconnecting", 42,
                                                                                           {"bad_number": 2}, 1)
    assert st.get("lag_ms_p50") is None  # NaN is written as null
    assert "store_uri" not in (tmp_path / "other.json").read_text()
    assert not list(path.parent.glob(".*.tmp"))  # the temporary file was renamed into place
    assert not read_status(path, clock=lambda: 1010.0).fresh
    missing = read_status(tmp_path / "nope.json")
    assert math.isinf(missing.age_s) and dict(missing.data) == {}
    (tmp_path / "bad.json").write_text("{half")
    assert math.isinf(read_status(tmp_path / "bad.json").age_s)


def test_writer_thread_and_default_path(tmp_path: Path, timeout_unit: float) -> None:
    """StatusFileWriter writes every interval from a daemon thread and once more at stop."""
    assert default_status_path({"QUANTKIT_DATA_DIR": str(tmp_path)}) == tmp_path / "ingest_status.json"
    n = [0]

    def stats() -> IngestStats:
        n[0] += 1
        return IngestStats(state="running", stored=n[0])

    w = StatusFileWriter(stats, tmp_path / "s.json", interval=0.02).start()
    deadline = time.monotonic() + 10 * timeout_unit
    while w.writes < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    w.stop()
    assert w.writes >= 4 and w.last_error is None
    assert read_status(tmp_path / "s.json").get("stored") == n[0]
