"""Strategy rules on hand-made z-scores, and each strategy wired to its hedge and indicator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantkit import analytics
from quantkit.analytics.cointegration import johansen
from quantkit.backtest import (
    BollingerBands,
    Execution,
    Hedge,
    KalmanSignal,
    LinearReversion,
    ZScoreBand,
    backtest_pair,
    backtest_portfolio,
    band_positions,
)

nan = math.nan


def test_band_entry_and_exit():
    """Long below -entry until z >= -exit; short above entry until z <= exit; NaN changes nothing."""
    z = [nan, 0.0, -2.5, -1.0, nan, -0.4, 0.1, 2.1, 0.6, 0.4, -3.0]
    assert band_positions(z, 2.0, 0.5).tolist() == [0, 0, 1, 1, 1, 0, 0, -1, -1, 0, 1]


def test_band_jumps_from_long_to_short():
    """A z-score jumping from below -entry to above entry flips the position in one bar."""
    assert band_positions([-2.5, 2.5, 0.0], 2.0, 0.0).tolist() == [1, -1, 0]


def test_band_stop_disarms_until_exit_zone():
    """After a stop the side stays flat, even back inside the entry zone, until z reaches its exit zone."""
    z = [-2.5, -3.5, -2.5, -2.2, -0.5, 0.2, -2.6]
    assert band_positions(z, 2.0, 0.0, stop=3.0).tolist() == [1, 0, 0, 0, 0, 0, 1]
    # entering beyond the stop does not open a position
    assert band_positions([-3.5, -2.5], 2.0, 0.0, stop=3.0).tolist() == [0, 0]


def test_band_max_hold_closes_and_waits_for_exit_zone():
    """max_hold cuts a position after that many bars; a new entry needs the exit zone first."""
    z = [2.5, 2.4, 2.3, 2.6, 1.0, -0.1, 2.2, 2.2]
    assert band_positions(z, 2.0, 0.0, max_hold=2).tolist() == [-1, -1, 0, 0, 0, 0, -1, -1]


def test_negative_exit_crosses_the_mean():
    """exit < 0 holds a long until z is above +|exit|."""
    assert band_positions([-2.5, 0.2, 0.6], 2.0, -0.5).tolist() == [1, 1, 0]


def test_linear_reversion_is_minus_z_over_scale_capped():
    """LinearReversion holds -z/scale spread units, clipped at max_units, flat where z is NaN."""
    s = LinearReversion(window=5, scale=2.0, max_units=1.0).positions(np.array([nan, -1.0, 3.0, 0.5]))
    assert s.tolist() == [0.0, 0.5, -1.0, -0.25]


def _pair(n=300, seed=5):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-02-01", periods=n, freq="1min", tz="UTC")
    x = 30 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    ou = np.zeros(n)
    for t in range(1, n):
        ou[t] = 0.8 * ou[t - 1] + rng.normal(0, 0.1)
    return pd.Series(5 + 2.0 * x + ou, index=idx, name="P"), pd.Series(x, index=idx, name="Q")


def test_static_hedge_is_analytics_ols_on_training_bars():
    """The static hedge is quantkit.analytics.ols_hedge on the first `train` bars, used for every bar."""
    y, x = _pair()
    res = backtest_pair(y, x, ZScoreBand(2.0, 0.0, window=None), hedge=Hedge("static", train=120))
    fit = analytics.ols_hedge(y.iloc[:120], x.iloc[:120])
    assert np.all(res.extras["beta"] == fit.beta) and np.all(res.extras["alpha"] == fit.alpha)
    # window=None: the z-score uses the training part's mean and population std
    sp = res.spread[:120]
    np.testing.assert_allclose(res.indicator, (res.spread - sp.mean()) / sp.std(), rtol=1e-12)
    assert res.start == 0


def test_rolling_hedge_and_bollinger_bands_come_from_analytics():
    """Rolling hedge = analytics.rolling_ols; Bollinger bands = rolling mean +/- k std (ddof=0)."""
    y, x = _pair()
    res = backtest_pair(y, x, BollingerBands(window=40, k_entry=1.5, k_exit=0.0), hedge=Hedge("rolling", window=60))
    ro = analytics.rolling_ols(y, x, 60)
    np.testing.assert_array_equal(res.extras["beta"], ro["beta"].to_numpy())
    ms = analytics.rolling_mean_std(pd.Series(res.spread), 40)
    np.testing.assert_allclose(res.extras["upper"], ms["mean"] + 1.5 * ms["std"], rtol=1e-12)
    assert res.start == 60 - 1 + 40 - 1  # hedge warm-up, then z-score warm-up
    assert np.isnan(res.indicator[: res.start]).all() and not np.isnan(res.indicator[res.start])


def test_kalman_signal_trades_forecast_error_over_its_std():
    """KalmanSignal: z = e / sqrt(q) of analytics.kalman_hedge, units [1, -beta_t], warm-up excluded."""
    y, x = _pair()
    strat = KalmanSignal(entry=0.5, exit=0.0, delta=1e-4, ve=1e-2, warmup=20)
    res = backtest_pair(y, x, strat, execution=Execution(rebalance=True))
    kf = analytics.kalman_hedge(y, x, delta=1e-4, ve=1e-2).frame
    z = (kf["e"] / np.sqrt(kf["q"])).to_numpy()
    np.testing.assert_allclose(res.indicator[20:], z[20:], rtol=1e-12)
    assert res.start == 20
    np.testing.assert_allclose(res.units[:, 1], -kf["beta"].to_numpy())
    assert len(res.trades) > 0


def test_portfolio_with_pair_weights_equals_pair_with_given_beta():
    """An N-leg portfolio with weights [1, -b] is the pair backtest with the given hedge ratio b."""
    y, x = _pair()
    strat = ZScoreBand(1.5, 0.0, 30)
    port = backtest_portfolio(pd.concat([y, x], axis=1), [1.0, -2.0], strat, execution=Execution(notional=1e4))
    pair = backtest_pair(y, x, strat, hedge=2.0, execution=Execution(notional=1e4))
    np.testing.assert_allclose(port.sim.pnl, pair.sim.pnl, rtol=1e-12, atol=1e-12)
    assert port.metrics.sharpe == pytest.approx(pair.metrics.sharpe, rel=1e-12)


def test_three_leg_portfolio_runs_with_johansen_weights():
    """A 3-leg Johansen portfolio: spread = prices @ eigenvector (first weight 1), traded in those units."""
    rng = np.random.default_rng(11)
    n = 600
    idx = pd.date_range("2025-01-01", periods=n, freq="5min", tz="UTC")
    a = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    b = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    ou = np.zeros(n)
    for t in range(1, n):
        ou[t] = 0.9 * ou[t - 1] + rng.normal(0, 0.2)
    c = 0.5 * a + 1.0 * b + ou
    prices = pd.DataFrame({"A": a, "B": b, "C": c}, index=idx)
    res = backtest_portfolio(prices, "johansen", ZScoreBand(1.5, 0.0, 40), train=400)
    w = np.array(res.params["weight_values"])
    assert w[0] == 1.0 and res.legs == ("A", "B", "C")
    np.testing.assert_allclose(res.spread, prices.to_numpy() @ w)
    v = johansen(prices.to_numpy()[:400]).eigenvectors[:, 0]
    np.testing.assert_allclose(w, v / v[0], rtol=1e-12)
    # the cointegrating direction: C - 0.5 A - B is stationary, so w is proportional to (-0.5, -1, 1)
    np.testing.assert_allclose(w / w[2], [-0.5, -1.0, 1.0], atol=0.05)
    assert res.sim.positions.shape == (n, 3) and res.metrics.n_trades > 0
