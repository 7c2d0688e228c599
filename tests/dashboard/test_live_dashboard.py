"""The live dashboard without a browser: a real store fed by the local exchange, real widgets, a recording comm."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

from _support.waiting import wait_until as _poll

from quantkit.alerts import AlertHistory, AlertMonitor, ZScoreRule
from quantkit.analytics import align_pair, kalman_hedge, rolling_correlation, rolling_ols, spread, zscore
from quantkit.dashboard import LiveDashboard
from quantkit.dashboard.live import LiveParams, ParameterError
from quantkit.ingest.heartbeat import write_status
from quantkit.errors import DashboardError
from quantkit.ingest import IngestStats

Y, X, C = "SYNAUSDT", "SYNBUSDT", "SYNCUSDT"  # the symbols the live_feed fixture ingests
WINDOW = 30


def _dash(feed: Any, tmp_path: Path, **kw: object) -> LiveDashboard:
    kw.setdefault("status_path", tmp_path / "ingest_status.json")
    kw.setdefault("export_dir", tmp_path / "exports")
    kw.setdefault("persist_alerts", False)
    kw.setdefault("window", WINDOW)
    return LiveDashboard(feed.store, y=Y, x=X, bar="1s", **kw)  # type: ignore[arg-type]


def _batch(feed: Any, dash: LiveDashboard) -> pd.DataFrame:
    """The dashboard's bars recomputed from the store: store bars, inner-aligned, same span."""
    f = dash.frame()
    end = f.index[-1] + pd.Timedelta(dash.monitor.source.freq_ms - 1, "ms")  # the last bar's last millisecond
    yb = feed.store.bars(dash.monitor.y, dash.params.bar, f.index[0], end)
    xb = feed.store.bars(dash.monitor.x, dash.params.bar, f.index[0], end)
    pair = align_pair(yb["close"], xb["close"])
    return pair[(pair.index >= f.index[0]) & (pair.index <= f.index[-1])]


def _step_until_new_bars(dash: LiveDashboard, n: int, timeout: float) -> None:
    start = dash.monitor.tracker.n if dash.monitor else 0
    assert _poll(lambda: (dash.step(), (dash.monitor.tracker.n if dash.monitor else 0) >= start + n)[1], timeout,
                      interval=0.1), dash.last_error


def test_streams_from_the_store_and_matches_the_batch_analytics(live_feed: Any, tmp_path: Path, comms: Any,
                                                                timeout_unit: float) -> None:
    """Seed + streaming updates: chart series equal rolling_ols / spread / zscore / rolling_correlation on the store's bars."""
    dash = _dash(live_feed, tmp_path)
    dash.step()
    assert dash.monitor is not None and dash.monitor.source.seeded
    _step_until_new_bars(dash, 40, 30 * timeout_unit)
    assert dash.errors == 0, dash.last_error

    f = dash.frame()
    pair = _batch(live_feed, dash)
    assert len(pair) == len(f) and (pair.index == f.index).all()
    fit = rolling_ols(pair["y"], pair["x"], WINDOW)
    s = spread(pair["y"], pair["x"], fit["beta"], fit["alpha"])
    z = zscore(s, WINDOW)
    corr = rolling_correlation(pair["y"], pair["x"], WINDOW)
    np.testing.assert_allclose(f["beta"].to_numpy(), fit["beta"].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(f["z"].to_numpy(), z.to_numpy(), rtol=1e-7, atol=1e-9)

    m = dash.view.marks
    n = len(f)
    assert len(m["z"].x) == len(m["z"].y) == n <= dash.params.max_points
    assert m["z"].x.dtype == np.dtype("datetime64[ms]")
    assert m["spread"].y.shape == (4, n)
    assert m["y_price"].y[-1] == pair["y"].iloc[-1] and m["x_price"].y[-1] == pair["x"].iloc[-1]
    assert m["z"].y[-1] == pytest.approx(z.iloc[-1], rel=1e-7)
    assert m["corr"].y[-1] == pytest.approx(corr.iloc[-1], rel=1e-9)
    assert m["beta"].y[-1] == pytest.approx(fit["beta"].iloc[-1], rel=1e-9)
    upper = m["spread"].y[2, -1]
    assert upper == pytest.approx(f["mean"].iloc[-1] + dash.params.k * f["std"].iloc[-1], rel=1e-9)
    assert list(m["z_levels"].y[:, 0]) == [2.0, -2.0, 0.5, -0.5]
    assert "qk-last-tick" in dash.view.status.value and "streaming" in dash.view.status.value
    assert f"{f['z'].iloc[-1]:+.2f}" in dash.view.metrics.value

    # one message per changed mark per publish (hold_sync), arrays as binary buffers, never int64 times
    comms.sent.clear()
    _step_until_new_bars(dash, 1, 30 * timeout_unit)
    z_updates = comms.updates(m["z"].comm.comm_id)
    assert len(z_updates) == 1 and {"x", "y"} <= set(z_updates[0].keys) and z_updates[0].buffers >= 2


def test_controls_reseed_and_keep_streaming(live_feed: Any, tmp_path: Path, comms: Any, timeout_unit: float) -> None:
    """Changing the hedge method, pair and bar size through the controls re-seeds from the store and keeps streaming."""
    dash = _dash(live_feed, tmp_path)
    dash.step()
    dash.view.controls["method"].value = "kalman"  # as the browser would: the observer only posts
    assert dash.params.method == "ols"
    dash.step()
    assert dash.params.method == "kalman" and dash.monitor.tracker.method == "kalman"
    _step_until_new_bars(dash, 5, 30 * timeout_unit)
    f = dash.frame()
    pair = _batch(live_feed, dash)
    kh = kalman_hedge(pair["y"], pair["x"])
    assert f["beta"].iloc[-1] == pytest.approx(kh.beta.iloc[-1], rel=1e-9)
    kz = zscore(kh.spread(pair["y"], pair["x"]), WINDOW)
    assert dash.view.marks["z"].y[-1] == pytest.approx(kz.iloc[-1], rel=1e-7)
    assert "KALMAN" in dash.view.figures["beta"].title

    dash.view.controls["price_style"].value = "candles"
    dash.step()
    m = dash.view.marks
    assert m["y_candles"].visible and not m["y_price"].visible
    assert m["y_candles"].y.shape == (len(m["y_candles"].x), 4) and len(m["y_candles"].x) > 0
    assert m["y_candles"].y[-1, 3] == dash.frame()["y_close"].iloc[-1]  # the newest candle's close
    assert dash.monitor.tracker.method == "kalman"  # a style change redraws, it does not re-seed

    dash.view.controls["x"].value = C
    dash.view.controls["bar"].value = "1m"
    dash.step()
    assert (dash.monitor.x, dash.monitor.source.bar) == (C, "1m")
    f1m = dash.frame()
    pair = _batch(live_feed, dash)
    assert len(f1m) >= 2 and (f1m.index == pair.index).all()  # minutes of exchange time are stored by now
    np.testing.assert_array_equal(f1m["x_close"].to_numpy(), pair["x"].to_numpy())
    dash.view.controls["bar"].value = "1s"
    dash.step()
    _step_until_new_bars(dash, 3, 30 * timeout_unit)
    assert dash.monitor.x == C and dash.errors == 0


def test_invalid_input_is_rejected_shown_and_reverted(live_feed: Any, tmp_path: Path, comms: Any) -> None:
    """An invalid combination from a control is rejected by the publisher, shown, and the control reverts."""
    dash = _dash(live_feed, tmp_path)
    dash.step()
    dash.view.controls["z_exit"].value = 5.0  # above z entry (2.0): each control is valid alone
    dash.step()
    assert dash.params.z_exit == 0.5
    assert dash.view.controls["z_exit"].value == 0.5
    assert "z_exit" in (dash.last_error or "") and "z_exit" in dash.view.status.value
    with pytest.raises(ParameterError, match="window"):
        dash.set_params(window=3)
    with pytest.raises(ParameterError, match="bogus"):
        dash.set_params(bogus=1)
    with pytest.raises(ParameterError, match="bar"):
        LiveParams(bar="2h")


def test_pause_resume_and_csv_export(live_feed: Any, tmp_path: Path, comms: Any, timeout_unit: float) -> None:
    """Pause freezes the charts while ticks keep arriving; resume catches up; export writes what is shown."""
    dash = _dash(live_feed, tmp_path)
    _step_until_new_bars(dash, 1, 30 * timeout_unit)
    dash.view.controls["pause"].value = True
    dash.step()
    frozen = len(dash.view.marks["z"].y), dash.publishes
    stored = live_feed.stored(Y)
    assert _poll(lambda: live_feed.stored(Y) > stored + 200, 30 * timeout_unit)
    dash.step()
    assert (len(dash.view.marks["z"].y), dash.publishes) == frozen and "paused" in dash.view.status.value
    dash.view.controls["pause"].value = False
    dash.step()
    assert dash.monitor.tracker.n > 0 and dash.publishes > frozen[1]

    path = dash.export_csv(tmp_path / "shown.csv")
    exported = pd.read_csv(path, index_col=0)
    assert len(exported) == dash.monitor.tracker.size
    assert {"y_close", "x_close", "beta", "spread", "z", "corr", "upper", "lower"} <= set(exported.columns)
    dash.view.controls["export"].click()
    dash.step()
    assert dash.last_export is not None and dash.last_export.parent == tmp_path / "exports"
    assert "saved" in dash.view.export_note.value


def test_alerts_fire_persist_and_reload(live_feed: Any, tmp_path: Path, comms: Any, timeout_unit: float) -> None:
    """A headless AlertMonitor persists alerts in the store; a new dashboard reloads and shows them."""
    rules = [ZScoreRule(0.8, 0.2, corr_floor=None, cooldown_s=5)]
    mon = AlertMonitor(live_feed.store, f"{Y}/{X}", rules, window=WINDOW)
    fired: list = []
    assert _poll(lambda: bool(fired.extend(mon.run_once()) or fired), 60 * timeout_unit, interval=0.1)
    a = fired[0]
    assert a.pair == f"{Y}/{X}" and a.rule == "zscore" and a.source == "monitor"
    assert a.direction == ("short_spread" if a.values["z"] > 0 else "long_spread") and abs(a.values["z"]) >= 0.8
    stored = AlertHistory(live_feed.store).load(pair=f"{Y}/{X}")
    assert [(s.time, s.rule, s.direction) for s in stored][-len(fired):] == [(f.time, f.rule, f.direction) for f in fired]

    again = AlertMonitor(live_feed.store, (Y, X), rules, window=WINDOW, persist=False)
    again.run_once()
    assert [x.time for x in again.recent][-len(fired):] == [f.time for f in fired]
    assert again.engine.state("zscore").last_fired  # cooldown restored from the history

    dash = _dash(live_feed, tmp_path, rules=rules)
    dash.step()
    assert dash.view.alerts.value.count("qk-alert") >= len(fired)
    assert a.message.split(":")[0] in dash.view.alerts.value


def test_publisher_thread_shows_failures_and_keeps_running(live_feed: Any, tmp_path: Path, comms: Any,
                                                           timeout_unit: float) -> None:
    """An exception inside the publisher (a faulty custom rule) is counted and shown in the status panel."""

    class BrokenRule:
        name = "broken"
        cooldown_s = 0.0
        clock = "bar"

        def breach(self, obs: object) -> str | None:
            raise RuntimeError("rule exploded")

        def cleared(self, obs: object, direction: str) -> bool:
            return True

        def describe(self, obs: object, direction: str) -> tuple[dict[str, float], str]:
            return {}, ""

    dash = _dash(live_feed, tmp_path, rules=[BrokenRule()], publish_hz=20)
    dash.start()
    try:
        assert _poll(lambda: dash.errors >= 2, 30 * timeout_unit)
        assert dash.running and "rule exploded" in dash.view.status.value and "qk-error" in dash.view.status.value
        with pytest.raises(DashboardError):
            dash.step()
    finally:
        dash.stop()
    assert not dash.running


def test_feed_status_from_the_ingest_heartbeat(live_feed: Any, tmp_path: Path, comms: Any,
                                               timeout_unit: float) -> None:
    """With an ingest heartbeat file, the status shows the feed state, rejected and gap counts."""
    hb = tmp_path / "ingest_status.json"
    fields = {k: v for k, v in live_feed.ingestor.stats.to_dict().items() if k != "rejected_total"}
    write_status(IngestStats(**{**fields, "rejected": {"bad_number": 3}, "gaps": 2}), hb)
    dash = _dash(live_feed, tmp_path, status_path=hb)
    _step_until_new_bars(dash, 1, 30 * timeout_unit)
    html = dash.view.status.value
    assert "connected" in html and "ingest heartbeat" in html and "3 / 2" in html
    last_ms = dash.monitor.source.last_tick_ms
    assert f"data-ms='{last_ms}'" in html
    assert last_ms <= max(int(live_feed.store.tail(s, 1).index[-1].value // 1_000_000) for s in (Y, X))


def test_quoted_spread_of_each_leg_from_the_ingests_book_tickers(live_feed: Any, tmp_path: Path, comms: Any,
                                                                 timeout_unit: float) -> None:
    """The ingest subscribes @bookTicker beside the trades; the strip shows each leg's bid/ask and quoted spread."""
    assert _poll(lambda: {Y, X} <= set(live_feed.ingestor.stats.quotes), 20 * timeout_unit)
    stats = live_feed.ingestor.stats
    assert "unexpected_event" not in stats.rejected and stats.rejected_total == 0
    hb = tmp_path / "ingest_status.json"
    write_status(stats, hb)
    dash = _dash(live_feed, tmp_path, status_path=hb)
    _step_until_new_bars(dash, 1, 30 * timeout_unit)
    html = dash.view.metrics.value
    for sym in (Y, X):
        q = stats.quotes[sym]
        assert 0 < q["bid"] < q["ask"] and q["spread_bps"] == pytest.approx((q["ask"] - q["bid"]) / ((q["ask"] + q["bid"]) / 2) * 1e4)
        assert f"bid / ask {sym}" in html and f"{q['bid']:.8g} / {q['ask']:.8g}" in html
    assert f"{stats.quotes[Y]['spread_bps']:.3g} / {stats.quotes[X]['spread_bps']:.3g}" in html
    # without quotes in the heartbeat (an ingest without --quotes) the cells say n/a
    write_status({k: v for k, v in stats.to_dict().items() if k != "quotes"}, hb)
    dash.step()
    assert "n/a / n/a" in dash.view.metrics.value


def test_read_only_view_and_heartbeat_pause(live_feed: Any, tmp_path: Path, comms: Any, timeout_unit: float) -> None:
    """Read-only: view fields only, no export, nothing persisted; a stopped browser heartbeat pauses the publisher."""
    dash = _dash(live_feed, tmp_path, read_only=True, persist_alerts=True, heartbeat_timeout_s=0.3)
    assert dash.persist_alerts is False and dash.view.controls["method"].disabled
    dash.view.heartbeat.value = 1  # the page ticks
    dash.step()
    dash.view.controls["window"].value = 40  # a view field
    dash._post("set", {"method": "kalman"})  # what a crafted comm message for an analysis field would post
    dash.step()
    assert dash.params.method == "ols" and dash.params.window == 40
    assert "not changeable on a read-only dashboard" in (dash.last_error or "")
    with pytest.raises(DashboardError, match="read-only"):
        dash.export_csv()
    done = threading.Event()
    threading.Timer(0.5, done.set).start()
    assert done.wait(10 * timeout_unit)
    dash.step()
    assert dash.paused and "no browser heartbeat" in dash.view.status.value
    dash.view.heartbeat.value = 2  # the page is back
    dash.step()
    assert not dash.paused and not math.isnan(dash.monitor.tracker.latest().get("y_close", math.nan))
