"""Alert persistence in the store and the headless AlertMonitor (real ArcticDB on LMDB, synthetic ticks)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import pytest

from quantkit.alerts import (
    LONG_SPREAD,
    SHORT_SPREAD,
    Alert,
    AlertHistory,
    AlertMonitor,
    StaleFeedRule,
    ZScoreRule,
    run_monitors,
)
from quantkit.analytics import align_pair, rolling_ols, spread, zscore
from quantkit.errors import ConfigError
from quantkit.exchange import SyntheticMarket
from quantkit.store import TickStore

Y, X = "SYNAUSDT", "SYNBUSDT"
T0_MS = 1_723_000_000_000
T0 = pd.Timestamp(T0_MS, unit="ms", tz="UTC")


@pytest.fixture()
def store(tmp_path: Path) -> TickStore:
    return TickStore(f"lmdb://{tmp_path / 'arctic'}")


@pytest.fixture(scope="module")
def ticks() -> dict[str, pd.DataFrame]:
    frames = SyntheticMarket(21).generate(900, start_ms=T0_MS)
    return {s: frames[s].drop(columns=["event_time"]) for s in (Y, X)}


def _append(store: TickStore, ticks: dict[str, pd.DataFrame], start_s: float, end_s: float) -> None:
    lo, hi = T0 + pd.Timedelta(seconds=start_s), T0 + pd.Timedelta(seconds=end_s)
    for s, f in ticks.items():
        part = f[(f.index >= lo) & (f.index < hi)]
        if len(part):
            store.append_ticks(s, part)


def test_history_appends_filters_and_reloads(store: TickStore) -> None:
    """Alerts written to the records table come back equal, filtered by pair, time and count."""
    hist = AlertHistory(store)
    assert hist.load() == []
    a1 = Alert(T0, f"{Y}/{X}", "zscore", SHORT_SPREAD, {"z": 2.4, "corr": 0.8}, "z high", "monitor")
    a2 = Alert(T0 + pd.Timedelta("5s"), "AAAUSDT/BBBUSDT", "stale_feed", "", {"tick_age_s": 12.0}, "stale", "monitor")
    a3 = Alert(T0 + pd.Timedelta("9s"), f"{Y}/{X}", "zscore", LONG_SPREAD, {"z": -2.1, "corr": math.nan}, "z low")
    assert hist.append([a1, a2]) == 2
    assert hist.append([a3]) == 1
    again = AlertHistory(TickStore(store.uri))  # another store object: as after a restart
    loaded = again.load()
    assert loaded[:2] == [a1, a2]
    assert (loaded[2].time, loaded[2].direction, loaded[2].values["z"]) == (a3.time, LONG_SPREAD, -2.1)
    assert [a.rule for a in again.load(pair=f"{Y}/{X}")] == ["zscore", "zscore"]
    assert again.load(limit=1)[0].message == "z low"
    assert [a.message for a in again.load(since=T0 + pd.Timedelta("1s"))] == ["stale", "z low"]
    assert math.isnan(again.load()[-1].values["corr"])


def test_monitor_seeds_quietly_fires_on_new_bars_and_persists(store: TickStore, ticks: dict[str, pd.DataFrame]) -> None:
    """Seeding raises nothing; new bars are judged; alerts match the batch z-score and survive a restart."""
    window, entry = 60, 1.5
    rules = [ZScoreRule(entry, 0.3, corr_floor=None, cooldown_s=0)]
    _append(store, ticks, 0, 300)
    clock = lambda: T0_MS / 1000 + 300  # noqa: E731 - the wall clock of the replay
    mon = AlertMonitor(store, f"{Y}/{X}", rules, window=window, clock=clock)
    assert mon.run_once() == []  # the seed itself never alerts
    seeded = mon.tracker.n
    assert seeded > window

    fired: list[Alert] = []
    for t in range(300, 900, 20):
        _append(store, ticks, t, t + 20)
        fired += mon.run_once()
    assert fired, "the synthetic spread crosses |z| = 1.5 within 10 minutes"

    # every alert is at a bar where the batch z-score crosses the entry, in its direction
    yb = store.bars(Y, "1s")
    xb = store.bars(X, "1s")
    pair = align_pair(yb["close"], xb["close"])
    held = mon.tracker.frame().index
    pair = pair.loc[held[0] : held[-1]]
    fit = rolling_ols(pair["y"], pair["x"], window)
    z = zscore(spread(pair["y"], pair["x"], fit["beta"], fit["alpha"]), window)
    for a in fired:
        bar_open = a.time - pd.Timedelta("1s")
        assert abs(z.loc[bar_open]) >= entry
        assert a.values["z"] == pytest.approx(z.loc[bar_open], rel=1e-7)
        assert a.direction == (SHORT_SPREAD if z.loc[bar_open] > 0 else LONG_SPREAD)

    saved = AlertHistory(store).load(pair=f"{Y}/{X}")
    assert [(a.time, a.direction) for a in saved] == [(a.time, a.direction) for a in fired]

    restarted = AlertMonitor(store, (Y, X), rules, window=window, clock=clock, persist=False)
    assert restarted.run_once() == []
    assert [a.time for a in restarted.recent] == [a.time for a in fired]
    assert max(restarted.engine.state("zscore").last_fired.values()) == max(a.time.value for a in fired)


def test_monitor_stale_feed_and_thread(store: TickStore, ticks: dict[str, pd.DataFrame], timeout_unit: float) -> None:
    """A stalled feed raises one stale alert (wall clock); start()/stop() run the loop in a thread."""
    _append(store, ticks, 0, 120)
    now = [T0_MS / 1000 + 121]
    mon = AlertMonitor(store, (Y, X), [StaleFeedRule(10.0, cooldown_s=30)], window=30, clock=lambda: now[0],
                       interval=0.05)
    assert mon.run_once() == []
    now[0] += 15
    out = mon.run_once()
    assert [(a.rule, a.direction) for a in out] == [("stale_feed", "")] and out[0].values["tick_age_s"] > 10
    assert mon.run_once() == []  # still stale: hysteresis, no repeat
    runs = mon.runs
    mon.start()
    try:
        deadline = time.monotonic() + 10 * timeout_unit
        while mon.runs < runs + 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert mon.running and mon.runs >= runs + 3 and mon.errors == 0
    finally:
        mon.stop()
    assert not mon.running


def test_monitor_rejects_bad_pairs(store: TickStore) -> None:
    """A malformed pair names the value."""
    with pytest.raises(ConfigError, match="pair"):
        AlertMonitor(store, "SYNAUSDT")
    with pytest.raises(ConfigError, match="pair"):
        AlertMonitor(store, ("SYNAUSDT", "SYNAUSDT"))


def test_run_monitors_for_the_cli(store: TickStore, ticks: dict[str, pd.DataFrame]) -> None:
    """The CLI entry point runs the monitors for a bounded time and persists what they raise."""
    _append(store, ticks, 0, 200)
    now = [T0_MS / 1000 + 200 + 30]  # 30 s without ticks: the stale-feed rule fires once
    n = run_monitors([f"{Y}/{X}"], store=store, window=30, stale_after_s=10, interval=0.01, duration_s=0.2,
                     clock=lambda: now[0])
    assert n == 1
    assert [a.rule for a in AlertHistory(store).load()] == ["stale_feed"]
    with pytest.raises(ConfigError, match="pairs"):
        run_monitors([], store=store, duration_s=1)
