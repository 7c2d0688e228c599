"""Warm start without a browser: a market with a past, an ingest that backfills it, a dashboard full at its first cycle."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from quantkit.config import FeedConfig, IngestConfig
from quantkit.dashboard.live import LiveDashboard
from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.ingest import Ingestor, WarmStartProgress, history_seconds
from quantkit.store import TickStore

Y, X = "SYNAUSDT", "SYNBUSDT"


def test_history_durations_parse_like_the_store_intervals() -> None:
    """30m, 2h, 90s, 1d are seconds; 0 is none; junk is a ValueError naming the value."""
    assert [history_seconds(v) for v in ("30m", "2h", "90s", "1d", "0")] == [1800.0, 7200.0, 90.0, 86400.0, 0.0]
    with pytest.raises(ValueError, match="soon"):
        history_seconds("soon")


def test_a_warm_started_dashboard_draws_every_panel_at_its_first_cycle(tmp_path: Path, comms: object,
                                                                        timeout_unit: float) -> None:
    """10 minutes of past on the exchange's REST, backfilled by the ingest: spread, z, hedge ratio and correlation
    have hundreds of points at the dashboard's first cycle (real time: without the past, none for two minutes)."""
    market = SyntheticMarket(seed=3, history_s=600)
    exchange = LocalExchange(market).start()
    try:
        assert market.past_published.wait(60 * timeout_unit)
        since = market.past_start_ms
        assert since is not None and time.time() * 1000 - since >= 599_000
        store = TickStore(f"lmdb://{tmp_path / 'arctic'}")
        feed = FeedConfig.for_source("local", [Y, X], local_url=exchange.url)
        until = int(time.time() * 1000)
        progress = WarmStartProgress(store, [Y, X], since, until, disable=True)
        with Ingestor(feed, store, config=IngestConfig(flush_interval=0.1), backfill_since_ms=since):
            deadline = time.monotonic() + 120 * timeout_unit
            while not progress.poll():
                assert time.monotonic() < deadline, progress.state()
                time.sleep(0.2)
            assert progress.state()["covered_s"] >= 590  # the whole past is stored, not an idle timeout
            dash = LiveDashboard(store, y=Y, x=X, status_path=tmp_path / "none.json", persist_alerts=False)
            dash.step()
            s = dash.series()
            drawn = {k: int(np.isfinite(s[k]).sum()) for k in ("y_close", "spread", "z", "beta", "corr")}
            assert drawn["y_close"] >= 450 and drawn["spread"] >= 300 and drawn["beta"] >= 300, drawn
            assert drawn["z"] >= 200 and drawn["corr"] >= 300, drawn
            first_bar = int(s["t"][0].astype("datetime64[ms]").astype(np.int64))
            assert first_bar - since < 5_000  # the past itself, from its first second
    finally:
        exchange.stop()
