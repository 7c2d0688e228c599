"""Invariants: no trades -> no P&L or fees; costs only ever cost; no look-ahead (property-tested)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.backtest import (
    BollingerBands,
    Costs,
    Execution,
    Hedge,
    KalmanSignal,
    LinearReversion,
    ZScoreBand,
    backtest_pair,
)


def pair(seed: int, n: int = 300) -> tuple[pd.Series, pd.Series]:
    """A cointegrated pair on 5-minute bars."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-01-01", periods=n, freq="5min", tz="UTC")
    x = 50 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    ou = np.zeros(n)
    for t in range(1, n):
        ou[t] = 0.85 * ou[t - 1] + rng.normal(0, 0.3)
    return pd.Series(10 + 1.3 * x + ou, index=idx, name="A"), pd.Series(x, index=idx, name="B")


def test_no_trades_means_zero_pnl_and_fees():
    """An entry threshold never reached gives no trade, zero P&L, zero fees and flat equity."""
    y, x = pair(1)
    res = backtest_pair(y, x, ZScoreBand(entry=50.0, exit=0.0, window=30), costs=Costs(fee_bps=10, slippage_bps=5),
                        execution=Execution(notional=1000.0))
    m = res.metrics
    assert len(res.trades) == 0 and m.n_trades == 0
    assert m.total_pnl == 0.0 and m.fees == 0.0 and m.costs == 0.0 and m.total_return == 0.0
    assert m.max_drawdown == 0.0 and m.exposure == 0.0 and m.turnover == 0.0
    assert (res.equity == 1000.0).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    factor=st.floats(1.1, 4.0),
    fee=st.floats(0.0, 20.0),
    spread=st.floats(0.0, 10.0),
    strategy=st.sampled_from(["band", "linear", "bollinger"]),
    fill=st.sampled_from(["next_close", "same_close"]),
)
def test_more_costs_never_more_pnl(seed, factor, fee, spread, strategy, fill):
    """Scaling every cost up never increases total P&L nor any trade's P&L (positions do not depend on costs)."""
    y, x = pair(seed % 50, n=200)
    strat = {"band": ZScoreBand(1.5, 0.0, 20), "linear": LinearReversion(20),
             "bollinger": BollingerBands(20, 1.5, 0.5)}[strategy]
    costs = Costs(fee_bps=fee, half_spread_bps=spread)
    ex = Execution(fill=fill, notional=1000.0)
    lo = backtest_pair(y, x, strat, hedge="rolling", execution=ex, costs=costs)
    hi = backtest_pair(y, x, strat, hedge="rolling", execution=ex, costs=costs.scaled(factor))
    np.testing.assert_array_equal(lo.sim.positions, hi.sim.positions)
    assert hi.metrics.total_pnl <= lo.metrics.total_pnl + 1e-12
    assert (hi.trades["pnl"].to_numpy() <= lo.trades["pnl"].to_numpy() + 1e-12).all()
    assert hi.metrics.fees >= lo.metrics.fees


HEDGES = {
    "rolling": Hedge("rolling", window=25),
    "static-train": Hedge("static", train=60),
    "kalman": Hedge("kalman", delta=1e-4, ve=1e-2),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    cut=st.integers(70, 190),
    shock=st.floats(-0.3, 0.3).filter(lambda v: abs(v) > 1e-3),
    hedge=st.sampled_from(sorted(HEDGES)),
    strategy=st.sampled_from(["band", "band-stop-hold", "linear", "bollinger", "kalman"]),
    fill=st.sampled_from(["next_close", "same_close"]),
)
def test_shifting_future_prices_never_changes_past_positions(seed, cut, shock, hedge, strategy, fill):
    """Changing every price after bar ``cut`` leaves signals and positions up to ``cut`` unchanged."""
    y, x = pair(seed % 100, n=200)
    rng = np.random.default_rng(seed)
    y2, x2 = y.copy(), x.copy()
    y2.iloc[cut + 1 :] *= 1 + shock * rng.uniform(0.5, 1.5, len(y) - cut - 1)
    x2.iloc[cut + 1 :] *= 1 - shock * rng.uniform(0.5, 1.5, len(x) - cut - 1)
    strat = {
        "band": ZScoreBand(1.0, 0.0, 20),
        "band-stop-hold": ZScoreBand(1.0, 0.2, 20, stop=2.0, max_hold=5),
        "linear": LinearReversion(20),
        "bollinger": BollingerBands(20, 1.0, 0.0),
        "kalman": KalmanSignal(1.0, 0.0, ve=1e-2, warmup=10),
    }[strategy]
    h = "kalman" if strategy == "kalman" else HEDGES[hedge]
    ex = Execution(fill=fill, notional=1000.0, rebalance=strategy == "linear")
    a = backtest_pair(y, x, strat, hedge=h, execution=ex, costs=Costs(fee_bps=5))
    b = backtest_pair(y2, x2, strat, hedge=h, execution=ex, costs=Costs(fee_bps=5))
    keep = cut + 1
    np.testing.assert_array_equal(a.signal[:keep], b.signal[:keep])
    np.testing.assert_array_equal(a.sim.positions[:keep], b.sim.positions[:keep])
    np.testing.assert_array_equal(a.sim.pnl[:keep], b.sim.pnl[:keep])
    if fill == "next_close":  # the fill at cut+1 was decided at cut's close
        np.testing.assert_array_equal(a.sim.positions[: keep + 1], b.sim.positions[: keep + 1])


def test_in_sample_static_hedge_is_flagged_as_look_ahead():
    """A static hedge fitted on every bar is marked in_sample in the parameters; a trained one is not."""
    y, x = pair(4)
    full = backtest_pair(y, x, ZScoreBand(2.0, 0.0, 30))
    trained = backtest_pair(y, x, ZScoreBand(2.0, 0.0, 30), hedge=Hedge("static", train=100))
    assert full.params["hedge"]["in_sample"] is True
    assert trained.params["hedge"]["in_sample"] is False


def test_equity_and_trade_pnl_add_up():
    """Equity = capital + cumulative P&L, and closed + open trade P&L equals the total P&L."""
    y, x = pair(7)
    res = backtest_pair(y, x, ZScoreBand(1.0, 0.0, 20, stop=3.0), hedge="rolling",
                        execution=Execution(notional=2500.0), costs=Costs(fee_bps=3))
    assert len(res.trades) > 3
    np.testing.assert_allclose(res.equity.to_numpy(), 2500.0 + np.cumsum(res.sim.pnl))
    np.testing.assert_allclose(res.trades["pnl"].sum(), res.sim.pnl.sum(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(res.trades["fees"].sum(), res.sim.fees.sum(), rtol=1e-12, atol=1e-12)
