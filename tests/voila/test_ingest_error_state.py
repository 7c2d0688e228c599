"""An ingest heartbeat in an error state is shown in red with its reason: live status panel and Voila grid."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantkit.dashboard.live import LiveDashboard
from quantkit.dashboard.live.metrics import ingest_problem, render_status
from quantkit.dashboard.readonly import ReadOnlyDashboard
from quantkit.ingest.heartbeat import default_status_path, write_status
from quantkit.store import TickStore

REASON = "receiving trades but storing none for 30 s: all 1,204 were duplicates <of SYNAUSDT>"


def _error_heartbeat(path: Path) -> None:
    write_status({"state": "error", "feed_state": "connected", "error": REASON, "received": 1204, "stored": 0}, path)


def test_ingest_problem_reads_every_error_state() -> None:
    """state error / store_full / restart_required are problems, with the heartbeat's reason; running is not."""
    assert ingest_problem({"state": "running", "feed_state": "connected"}) is None
    assert ingest_problem({"state": "error", "error": "why"}) == "why"
    assert ingest_problem({"state": "store_full", "last_error": "MDB_MAP_FULL"}) == "MDB_MAP_FULL"
    assert ingest_problem({"state": "stopped", "restart_required": True}) == "stopped"
    html = render_status({"state": "streaming", "feed_state": "connected", "heartbeat": True, "ingest_problem": REASON})
    assert "qk-err qk-ingest-error" in html and "&lt;of SYNAUSDT&gt;" in html and "<of" not in html


def test_live_status_panel_shows_the_error_in_red(static_store: TickStore, tmp_path: Path) -> None:
    """A fresh error heartbeat puts 'ingest error: <reason>' in red at the top of the feed panel."""
    hb = tmp_path / "ingest_status.json"
    _error_heartbeat(hb)
    dash = LiveDashboard(static_store, y="SYNAUSDT", x="SYNBUSDT", status_path=hb, persist_alerts=False)
    dash.step()
    panel = dash.view.status.value
    assert "qk-ingest-error" in panel and "storing none for 30 s" in panel
    assert panel.index("qk-ingest-error") < panel.index("publisher")


def test_voila_grid_shows_the_error_in_red(static_store: TickStore, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-only page's grid shows the heartbeat's error state above the tiles, and drops it once cleared."""
    monkeypatch.setenv("QUANTKIT_DATA_DIR", str(tmp_path))
    _error_heartbeat(default_status_path())
    page = ReadOnlyDashboard(static_store, layout="grid", viewer_timeout_s=5)
    assert page.grid is not None
    page.grid.refresh()
    assert "qk-ingest-error" in page.grid.notice.value and "storing none for 30 s" in page.grid.notice.value
    write_status({"state": "running", "feed_state": "connected"}, default_status_path())
    page.grid.refresh()
    assert "qk-ingest-error" not in page.grid.notice.value
    page.stop()
