"""Charts that hide nothing: every chart draws each bucket's min and max, so a spike or a trough is always shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.dashboard.backtest_page import BacktestPage, PageParams
from quantkit.analytics.decimation import decimate_lines, decimate_series, plan_decimation
from quantkit.dashboard.live import LiveDashboard
from quantkit.dashboard.research import ResearchPage, ResearchParams
from quantkit.exchange import SyntheticMarket
from quantkit.reports.display import xy
from quantkit.store import TickStore

Y, X = "SYNAUSDT", "SYNBUSDT"
T0_MS = 1_723_000_000_000


def _spiky(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=n).cumsum()
    v[rng.integers(0, n, 5)] += rng.choice([-40.0, 40.0], 5)  # one-bar spikes and troughs
    return v


@pytest.mark.parametrize("n", [2_001, 10_000, 123_457])
def test_static_decimation_keeps_every_bucket_extreme(n: int) -> None:
    """decimate_lines keeps each bucket's min and max of every column; decimate_series keeps real points."""
    a, b = _spiky(n, 1), _spiky(n, 2)
    b[: n // 10] = np.nan  # a warm-up
    t = np.arange(n, dtype=np.int64)
    td, ad, bd = decimate_lines(t, a, b, max_points=1_000)
    assert len(td) <= 1_000 and (np.diff(td) >= 0).all()
    plan = plan_decimation(n, 0, 1_000, recent=0)
    ends = np.r_[plan.starts[1:], plan.split]
    for lo, hi in zip(plan.starts, ends):
        inside = (td >= lo) & (td < hi)
        assert ad[inside].max() == a[lo:hi].max() and ad[inside].min() == a[lo:hi].min()
    assert np.nanmax(bd) == np.nanmax(b) and np.nanmin(bd) == np.nanmin(b)
    s = pd.Series(a, index=pd.date_range("2024-01-01", periods=n, freq="s", tz="UTC"))
    d = decimate_series(s, 1_000)
    assert len(d) <= 1_000 and d.max() == s.max() and d.min() == s.min()
    assert (s.loc[d.index] == d).all()  # real points at their own times
    x, yv = xy(s, 1_000)
    assert yv.max() == s.max() and yv.min() == s.min()


@pytest.fixture(scope="module")
def spiky_store(tmp_path_factory: pytest.TempPathFactory) -> TickStore:
    """One hour of the synthetic market (1 s bars: 3,600 > every page's point budget) with a price spike in Y."""
    ticks = SyntheticMarket(seed=4).generate(3_600, start_ms=T0_MS)
    y = ticks[Y].drop(columns=["event_time"], errors="ignore").copy()
    spike = (y.index >= pd.Timestamp(T0_MS + 1_800_500, unit="ms", tz="UTC")) & (
        y.index < pd.Timestamp(T0_MS + 1_801_000, unit="ms", tz="UTC"))
    y.loc[spike, "price"] *= 1.08
    y.loc[spike, "quote_qty"] = y.loc[spike, "price"] * y.loc[spike, "qty"]
    store = TickStore(f"lmdb://{tmp_path_factory.mktemp('spiky') / 'arctic'}")
    store.append_ticks(Y, y)
    store.append_ticks(X, ticks[X].drop(columns=["event_time"], errors="ignore"))
    return store


def test_live_dashboard_draws_the_spike(spiky_store: TickStore, comms: object, tmp_path: Path) -> None:
    """The live charts (and so the Voila page's full view) keep the extremes of every line and candle."""
    dash = LiveDashboard(spiky_store, y=Y, x=X, bar="1s", window=60, max_points=400, history_bars=5_000,
                         status_path=tmp_path / "none.json", persist_alerts=False)
    dash.step()
    f = dash.frame()
    s = dash.series()
    assert len(f) > 3_000 and len(s["t"]) <= 400
    for col in ("y_close", "x_close", "spread", "z", "beta", "corr"):
        assert np.nanmax(s[col]) == f[col].max(), col
        assert np.nanmin(s[col]) == f[col].min(), col
    dash.set_params(price_style="candles")
    dash.step()
    s = dash.series()
    assert s["y_ohlc"][:, 1].max() == f["y_high"].max() and s["y_ohlc"][:, 2].min() == f["y_low"].min()


def test_research_and_backtest_pages_draw_the_extremes(spiky_store: TickStore, comms: object) -> None:
    """Research spread/prices and backtest equity/drawdown lines keep the series' min and max."""
    page = ResearchPage(spiky_store, ResearchParams(y_symbol=Y, x_symbol=X, bar_size="1s", window=120, scan=False))
    d = page.data
    assert d is not None and len(d.spread) > 3_000
    drawn = np.asarray(page.spread_lines.y[0], dtype=float)
    assert len(drawn) <= 2_500
    assert np.nanmax(drawn) == np.nanmax(d.spread) and np.nanmin(drawn) == np.nanmin(d.spread)
    py = 100 * d.prices["y"] / d.prices["y"].iloc[0]
    assert np.nanmax(page.price_lines.y[0]) == pytest.approx(py.max(), rel=0, abs=0)
    bt = BacktestPage(spiky_store, PageParams(y_symbol=Y, x_symbol=X, bar_size="1s", window=60, entry=1.0, exit=0.2))
    res = bt.run()
    assert len(res.index) > 3_000 and len(bt.drawdown_line.y) <= 3_000
    assert np.min(bt.drawdown_line.y) == res.drawdown.min()
    assert np.max(bt.equity_line.y) == res.equity.max() and np.min(bt.equity_line.y) == res.equity.min()
