"""Hand-computed backtests: a few bars whose P&L, fees and metrics are written out."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from quantkit.backtest import Costs, Execution, ZScoreBand, backtest_pair, simulate

Y = [10.0, 11.0, 12.0, 11.0, 10.0]
X = [5.0, 5.0, 6.0, 5.0, 5.0]


def _run(signal, *, execution=None, costs=None, y=Y, x=X, units=(1.0, -2.0), **kw):
    close = np.column_stack([y, x])
    return simulate(close, np.array(units), np.array(signal, dtype=float), execution=execution or Execution(),
                    costs=costs or Costs(), legs=("Y", "X"), periods_per_year=252, **kw)


def test_next_close_round_trip_pnl_fees_and_metrics():
    """Long 1 Y / short 2 X on bar 1's close, out on bar 3's close, 10 bps fees: every number by hand."""
    res = _run([1, 1, 0, 0, 0], costs=Costs(fee_bps=10))
    # holdings after each bar's fill: entry at bar 1 (signal of bar 0), exit at bar 3
    assert res.sim.positions.tolist() == [[0, 0], [1, -2], [1, -2], [0, 0], [0, 0]]
    # traded notional: bar 1: 1*11 + 2*5 = 21; bar 3: 1*11 + 2*5 = 21; fee 10 bps of each
    assert res.sim.traded_notional.tolist() == pytest.approx([0, 21, 0, 21, 0])
    assert res.sim.fees.tolist() == pytest.approx([0, 0.021, 0, 0.021, 0])
    # mark to market: bar 2: 1*(12-11) - 2*(6-5) = -1; bar 3: 1*(11-12) - 2*(5-6) = +1
    expected_pnl = [0.0, -0.021, -1.0, 1.0 - 0.021, 0.0]
    assert res.sim.pnl.tolist() == pytest.approx(expected_pnl, abs=1e-12)
    # returns on gross exposure: bar 1 opens 21 (from flat); bar 2 held 21 at bar 1's close; bar 3 held 12+12=24
    r = [0.0, -0.021 / 21, -1.0 / 21, 0.979 / 24, 0.0]
    assert res.sim.returns.tolist() == pytest.approx(r, abs=1e-15)
    m = res.metrics
    assert m.bars == 5
    assert m.total_pnl == pytest.approx(-0.042, abs=1e-12)
    assert m.fees == pytest.approx(0.042) and m.costs == pytest.approx(0.042)
    growth = (1 - 0.001) * (1 - 1 / 21) * (1 + 0.979 / 24)
    assert m.total_return == pytest.approx(growth - 1, rel=1e-12)
    assert m.cagr == pytest.approx(growth ** (252 / 5) - 1, rel=1e-12)
    assert m.sharpe == pytest.approx(statistics.mean(r) / statistics.stdev(r) * math.sqrt(252), rel=1e-12)
    downside = math.sqrt(sum(min(v, 0.0) ** 2 for v in r) / 5)
    assert m.sortino == pytest.approx(statistics.mean(r) / downside * math.sqrt(252), rel=1e-12)
    # wealth 1 -> 0.999 -> 0.999*20/21 (trough) -> still below 1 until the end: 4 bars under water
    max_dd = 1 - 0.999 * 20 / 21
    assert m.max_drawdown == pytest.approx(max_dd, rel=1e-12)
    assert m.max_drawdown_bars == 4
    assert m.max_drawdown_duration is None  # no DatetimeIndex
    assert m.calmar == pytest.approx(m.cagr / max_dd, rel=1e-12)
    assert m.n_trades == 1 and m.win_rate == 0.0 and m.profit_factor == 0.0
    assert m.expectancy == pytest.approx(-0.042) and m.expectancy_return == pytest.approx(-0.042 / 21)
    assert m.avg_holding_bars == 2.0
    assert m.exposure == pytest.approx(2 / 5)
    # capital defaults to the largest gross exposure held (24): turnover = 42 / 24
    assert res.capital == 24.0 and m.traded_notional == pytest.approx(42.0) and m.turnover == pytest.approx(1.75)
    t = res.trades.iloc[0]
    assert (t["side"], t["entry_bar"], t["exit_bar"], t["bars"]) == (1, 1, 3, 2)
    assert (t["Y_qty"], t["X_qty"], t["Y_entry_price"], t["X_exit_price"]) == (1.0, -2.0, 11.0, 5.0)
    assert t["pnl"] == pytest.approx(-0.042) and t["fees"] == pytest.approx(0.042) and bool(t["closed"])


def test_same_close_flip_charges_close_then_open():
    """A flip from long to short on the same bar pays to close the old legs and open the new ones."""
    res = _run([1, -1, -1, 0], y=Y[:4], x=X[:4], execution=Execution(fill="same_close"), costs=Costs(fee_bps=10))
    assert res.sim.positions.tolist() == [[1, -2], [-1, 2], [-1, 2], [0, 0]]
    # bar 0: open 10 + 2*5 = 20; bar 1: (1+1)*11 + (2+2)*5 = 42; bar 3: close 11 + 2*5 = 21
    assert res.sim.traded_notional.tolist() == pytest.approx([20, 42, 0, 21])
    pnl = [-0.020, 1.0 - 0.042, 1.0, -1.0 - 0.021]
    assert res.sim.pnl.tolist() == pytest.approx(pnl, abs=1e-12)
    assert res.sim.returns.tolist() == pytest.approx([-0.020 / 20, 0.958 / 20, 1 / 21, -1.021 / 24], abs=1e-15)
    tr = res.trades
    assert tr["side"].tolist() == [1, -1]
    # long: -0.020 entry fee, +1 mark, -0.021 closing fee on bar 1 (1*11 + 2*5)
    # short: -0.021 opening fee (rest of bar 1's 0.042), +1, -1, -0.021 closing fee
    assert tr["pnl"].tolist() == pytest.approx([1 - 0.020 - 0.021, -0.021 + 1 - 1 - 0.021], abs=1e-12)
    assert tr["costs"].tolist() == pytest.approx([0.041, 0.042], abs=1e-12)
    assert tr["pnl"].sum() == pytest.approx(sum(pnl), abs=1e-12)
    assert res.metrics.n_trades == 2 and res.metrics.win_rate == 0.5
    assert res.metrics.profit_factor == pytest.approx(0.959 / 0.042)


def test_next_open_fills_and_half_spread():
    """Fills at the next bar's open: the entry bar earns open->close, the exit bar close->open; spread cost only."""
    res = _run([1, 0, 0], y=[10, 11, 12], x=[5, 5, 6], execution=Execution(fill="next_open"),
               costs=Costs(half_spread_bps=10), open_prices=np.array([[10, 5], [10.5, 5.2], [11.5, 5.5]]))
    # bar 1: 1*(11-10.5) - 2*(5-5.2) = 0.9; traded 10.5 + 2*5.2 = 20.9 -> cost 0.0209
    # bar 2: 1*(11.5-11) - 2*(5.5-5) = -0.5; traded 11.5 + 2*5.5 = 22.5 -> cost 0.0225
    assert res.sim.pnl.tolist() == pytest.approx([0, 0.9 - 0.0209, -0.5 - 0.0225], abs=1e-12)
    assert res.sim.returns.tolist() == pytest.approx([0, 0.8791 / 20.9, -0.5225 / 21], abs=1e-15)
    assert res.metrics.fees == 0.0 and res.metrics.costs == pytest.approx(0.0434)
    assert res.trades["pnl"].tolist() == pytest.approx([0.3566], abs=1e-12)


def test_notional_sizing_and_min_qty():
    """notional rescales a spread unit to that gross exposure; min_qty truncates each leg towards zero."""
    res = _run([1, 1, 0], y=[10, 11, 12], x=[5, 5, 6], execution=Execution(notional=1000.0))
    assert res.sim.positions[1].tolist() == pytest.approx([50.0, -100.0])  # 1000 / (10 + 2*5) = 50 units
    res = _run([1, 1, 0], y=[30, 31, 32], x=[7, 7, 8], execution=Execution(notional=1000.0, min_qty=(1.0, 0.5)))
    # 1000 / (30 + 2*7) = 22.727 -> 22 Y; -45.45 -> -45.0 X
    assert res.sim.positions[1].tolist() == [22.0, -45.0]


def test_dollar_neutral_pair_holds_equal_notional():
    """sizing='dollar' puts the same quote amount on each leg at decision time."""
    idx = pd.date_range("2024-01-01", periods=40, freq="1D", tz="UTC")
    rng = np.random.default_rng(3)
    x = pd.Series(100 + np.cumsum(rng.normal(0, 1, 40)), index=idx, name="X")
    y = pd.Series(50 + 0.5 * x.to_numpy() + rng.normal(0, 1, 40), index=idx, name="Y")
    res = backtest_pair(y, x, ZScoreBand(entry=0.5, exit=0.0, window=5),
                        execution=Execution(sizing="dollar", notional=2000.0))
    pos = res.sim.positions
    entries = res.trades["entry_bar"].to_numpy()
    assert len(entries) > 0
    for a in entries:  # decided at bar a-1's close: 1000 each side at that close
        assert pos[a, 0] * y.iloc[a - 1] == pytest.approx(-pos[a, 1] * x.iloc[a - 1])
        assert abs(pos[a, 0]) * y.iloc[a - 1] == pytest.approx(1000.0)
    assert res.metrics.periods_per_year == pytest.approx(365.0)
