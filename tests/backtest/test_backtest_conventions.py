"""Backtest conventions on request (issue 15): spread definitions, intercept, ddof, rows scored, annualisation.

Each reference is a minimal numpy transcription of the published method (Chan, *Algorithmic
Trading*, 2013, ch. 3: log-price and ratio spreads with a linear mean-reversion rule, APR and
Sharpe over every row of daily returns with 252 days a year), written from the formulas, on
data the test generates.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from quantkit.backtest import (
    BollingerBands,
    Execution,
    Hedge,
    KalmanSignal,
    LinearReversion,
    ZScoreBand,
    backtest_pair,
    periods_per_year,
)
from quantkit.errors import BacktestError

CHAN = Execution(fill="same_close", rebalance=True)


def _daily_pair(seed: int = 11, n: int = 500) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2006-04-26", periods=n, name="date")
    lx = np.log(30.0) + np.cumsum(rng.normal(0, 0.012, n))
    u = np.zeros(n)
    for i in range(1, n):
        u[i] = 0.9 * u[i - 1] + rng.normal(0, 0.01)
    ly = 0.2 + 0.95 * lx + u
    return pd.Series(np.exp(ly), idx, name="GLD"), pd.Series(np.exp(lx), idx, name="USO")


def _moving(a: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """movingAvg / movingStd (MATLAB std: divisor w - 1) over the last w values, NaN before."""
    m = np.full(len(a), np.nan)
    sd = np.full(len(a), np.nan)
    win = sliding_window_view(a, w)
    m[w - 1:] = win.mean(axis=1)
    sd[w - 1:] = win.std(axis=1, ddof=1)
    return m, sd


def _apr_sharpe(positions: np.ndarray, prices: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Chan's daily P&L of market-value positions, returns on gross market value, APR and Sharpe."""
    pos_prev = positions[:-1]
    rets = (prices[1:] - prices[:-1]) / prices[:-1]
    pnl = np.concatenate([[0.0], np.nansum(pos_prev * rets, axis=1)])
    gross = np.concatenate([[0.0], np.nansum(np.abs(pos_prev), axis=1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = pnl / gross
    ret[~np.isfinite(ret)] = 0.0
    apr = np.prod(1 + ret) ** (252 / len(ret)) - 1
    sharpe = math.sqrt(252) * ret.mean() / ret.std(ddof=1)
    return apr, sharpe, ret


def test_log_spread_rolling_hedge_without_intercept_matches_chan():
    """Log spread, rolling log-price hedge estimated with an intercept, traded without it, ddof=1, all rows."""
    y, x = _daily_pair()
    w = 20
    ly, lx = np.log(y.to_numpy()), np.log(x.to_numpy())
    n = len(ly)
    beta = np.full(n, np.nan)
    for t in range(w - 1, n):
        X = np.column_stack([lx[t - w + 1:t + 1], np.ones(w)])
        beta[t] = np.linalg.lstsq(X, ly[t - w + 1:t + 1], rcond=None)[0][0]
    yport = ly - beta * lx
    ma, msd = _moving(yport, w)
    units = -(yport - ma) / msd
    units[~np.isfinite(units)] = 0.0
    positions = units[:, None] * np.column_stack([np.ones(n), -beta])
    apr, sharpe, ret = _apr_sharpe(positions, np.column_stack([y, x]))
    assert np.count_nonzero(ret) > 400

    res = backtest_pair(y, x, LinearReversion(window=w, ddof=1), spread="log",
                        hedge=Hedge("rolling", window=w, alpha_in_spread=False), execution=CHAN,
                        calendar="exchange", metrics_rows="all")
    np.testing.assert_allclose(res.sim.returns, ret, rtol=1e-9, atol=1e-13)
    assert res.metrics.cagr == pytest.approx(apr, rel=1e-9)
    assert res.metrics.sharpe == pytest.approx(sharpe, rel=1e-9)
    assert res.metrics.periods_per_year == 252.0 and res.metrics.rows == "all" and res.metrics.bars == n
    assert res.params["spread"] == "log" and res.params["hedge"]["alpha_in_spread"] is False
    # with the intercept in the spread the rolling z (and so the result) differs
    with_alpha = backtest_pair(y, x, LinearReversion(window=w, ddof=1), spread="log",
                               hedge=Hedge("rolling", window=w), execution=CHAN, calendar="exchange")
    assert not np.allclose(with_alpha.indicator, res.indicator, equal_nan=True)


def test_ratio_spread_matches_chan():
    """Ratio y/x with a rolling z (ddof=1): equal and opposite market values."""
    y, x = _daily_pair(12)
    w = 20
    ratio = (y / x).to_numpy()
    ma, msd = _moving(ratio, w)
    units = -(ratio - ma) / msd
    units[~np.isfinite(units)] = 0.0
    positions = units[:, None] * np.array([1.0, -1.0])
    apr, sharpe, _ = _apr_sharpe(positions, np.column_stack([y, x]))
    res = backtest_pair(y, x, LinearReversion(window=w, ddof=1), spread="ratio", execution=CHAN,
                        periods_per_year=252, metrics_rows="all")
    np.testing.assert_allclose(res.spread, ratio, rtol=1e-15)
    assert res.metrics.cagr == pytest.approx(apr, rel=1e-9)
    assert res.metrics.sharpe == pytest.approx(sharpe, rel=1e-9)
    with pytest.raises(BacktestError, match="ratio"):
        backtest_pair(y, x, LinearReversion(window=w), spread="ratio", hedge="rolling")
    with pytest.raises(BacktestError, match="spread"):
        backtest_pair(y, x, LinearReversion(window=w), spread="difference")


def _bollinger_states(z: np.ndarray, entry: float, exit: float) -> np.ndarray:
    """Long when z < -entry until z >= -exit; short when z > entry until z <= exit (one bar at a time)."""
    long = short = 0
    out = np.zeros(len(z))
    for t, v in enumerate(z):
        if np.isfinite(v):
            if long and v >= -exit:
                long = 0
            if short and v <= exit:
                short = 0
            if v < -entry:
                long = 1
            if v > entry:
                short = 1
        out[t] = long - short
    return out


def test_bollinger_ddof1_matches_sample_std_rule():
    """Bollinger bands with the sample deviation: z, bands and positions as written out."""
    y, x = _daily_pair(13)
    w = 20
    res = backtest_pair(y, x, BollingerBands(window=w, k_entry=1.0, k_exit=0.0, ddof=1), hedge=1.1,
                        execution=CHAN, periods_per_year=252)
    spread = y.to_numpy() - 1.1 * x.to_numpy()
    ma, msd = _moving(spread, w)
    z = (spread - ma) / msd
    np.testing.assert_allclose(res.indicator, z, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(res.extras["upper"], ma + msd, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(res.signal, _bollinger_states(z, 1.0, 0.0))
    pop = backtest_pair(y, x, BollingerBands(window=w, k_entry=1.0), hedge=1.1, execution=CHAN, periods_per_year=252)
    np.testing.assert_allclose(pop.indicator, z * math.sqrt(w / (w - 1)), rtol=1e-9, equal_nan=True)
    with pytest.raises(BacktestError, match="ddof"):
        ZScoreBand(ddof=2)


def test_static_zscore_ddof():
    """window=None: the training mean and standard deviation with the strategy's ddof."""
    y, x = _daily_pair(14)
    res = backtest_pair(y, x, ZScoreBand(window=None, ddof=1), hedge=1.0, periods_per_year=252)
    s = y.to_numpy() - x.to_numpy()
    np.testing.assert_allclose(res.indicator, (s - s.mean()) / s.std(ddof=1), rtol=1e-12)


def test_metrics_rows_labelled_and_after_warmup_default():
    """Default scores the bars after the warm-up; 'all' scores every row; the result says which."""
    y, x = _daily_pair(15)
    w = 30
    after = backtest_pair(y, x, ZScoreBand(window=w, entry=1.0), periods_per_year=252)
    every = backtest_pair(y, x, ZScoreBand(window=w, entry=1.0), periods_per_year=252, metrics_rows="all")
    assert after.metrics.rows == "after_warmup" and every.metrics.rows == "all"
    assert after.metrics.bars == len(y) - (w - 1) and every.metrics.bars == len(y)
    r = every.sim.returns
    assert every.metrics.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252), rel=1e-12)
    r2 = r[w - 1:]
    assert after.metrics.sharpe == pytest.approx(r2.mean() / r2.std(ddof=1) * math.sqrt(252), rel=1e-12)
    assert every.params["metrics_rows"] == "all" and every.params["warmup_end"] == w - 1
    assert every.to_dict()["metrics"]["rows"] == "all"


def test_periods_per_year_calendars():
    """Daily bars: 365 a year on the crypto calendar (default), 252 on an exchange calendar; a given value wins."""
    days = pd.date_range("2025-01-01", periods=30, freq="D", tz="UTC")
    bdays = pd.bdate_range("2025-01-01", periods=30)
    minutes = pd.date_range("2025-01-01", periods=30, freq="1min")
    assert periods_per_year(days) == 365.0
    assert periods_per_year(bdays, calendar="exchange") == 252.0
    assert periods_per_year(minutes) == 525_600.0
    assert periods_per_year(minutes, 1234.0, calendar="exchange") == 1234.0
    with pytest.raises(BacktestError, match="explicitly"):
        periods_per_year(minutes, calendar="exchange")
    with pytest.raises(BacktestError, match="calendar"):
        periods_per_year(days, calendar="nyse")
    y, x = _daily_pair(16)
    res = backtest_pair(y, x, ZScoreBand(window=20), calendar="exchange")
    assert res.metrics.periods_per_year == 252.0
    assert res.params["periods_per_year_source"] == "inferred (exchange calendar)"
    res = backtest_pair(y, x, ZScoreBand(window=20), periods_per_year=260.0, calendar="exchange")
    assert res.metrics.periods_per_year == 260.0 and res.params["periods_per_year_source"] == "given"


def test_kalman_signal_textbook_init():
    """KalmanSignal(init='textbook') trades the filter that skips the first prediction."""
    from quantkit.analytics import kalman_hedge

    y, x = _daily_pair(17)
    res = backtest_pair(y, x, KalmanSignal(entry=1.0, exit=1.0, init="textbook"), execution=CHAN,
                        periods_per_year=252)
    kf = kalman_hedge(y, x, init="textbook")
    np.testing.assert_allclose(res.extras["beta"], kf.beta.to_numpy(), rtol=1e-12)
    assert res.extras["q"][0] == pytest.approx(1e-3)
    assert res.params["hedge"]["init"] == "textbook"


def test_sweep_passes_ddof_calendar_and_hedge_options():
    """sweep_pair honours ddof, the calendar and the Hedge options (intercept left out of the spread)."""
    from quantkit.backtest import Split, sweep_pair

    y, x = _daily_pair(18, 400)
    kw = dict(entries=[1.0], exits=[0.0], windows=[20], split=Split(train=0.6), calendar="exchange")
    a = sweep_pair(y, x, hedges=[Hedge("rolling", window=20, alpha_in_spread=False)], ddof=1, **kw)
    b = backtest_pair(y.iloc[:], x, ZScoreBand(entry=1.0, exit=0.0, window=20, ddof=1),
                      hedge=Hedge("rolling", window=20, alpha_in_spread=False), calendar="exchange")
    assert a.params["periods_per_year"] == 252.0 and a.params["ddof"] == 1
    row = a.frame[a.frame["sample"] == "in"].iloc[0]
    assert row["rows"] == "in_sample_after_warmup"
    assert b.metrics.periods_per_year == 252.0
    c = sweep_pair(y, x, hedges=[Hedge("rolling", window=20)], ddof=0, **kw)
    assert a.frame["sharpe"].tolist() != c.frame["sharpe"].tolist()
