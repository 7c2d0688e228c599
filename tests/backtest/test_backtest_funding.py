"""Funding on perpetual legs (issue 15): the basis pair (spot against its USD-M perpetual), by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantkit.backtest import Execution, Funding, ZScoreBand, backtest_pair, simulate
from quantkit.errors import BacktestError

HOURS = pd.date_range("2025-01-01 00:00", periods=24, freq="1h", tz="UTC", name="time")  # bar open times


def _basis_closes() -> pd.DataFrame:
    spot = np.full(24, 100_000.0)
    perp = np.full(24, 100_050.0)
    perp[15] = 101_000.0  # the 15:00 bar closes at 16:00 at 101,000
    return pd.DataFrame({"BTCUSDT": spot, "BTCUSDT_PERP": perp}, index=HOURS)


FUNDING = pd.DataFrame(
    {"funding_rate": [0.0002, 0.0001, -0.00005, 0.0003], "mark_price": [99_000.0, 100_010.0, np.nan, 100_000.0]},
    index=pd.DatetimeIndex(["2025-01-01 00:00", "2025-01-01 08:00", "2025-01-01 16:00", "2025-01-02 00:00"],
                           tz="UTC", name="time"),
)


def test_basis_pair_funding_by_hand_to_the_cent():
    """Long 0.5 BTC spot / short 0.5 BTC perp from 02:00 to 22:00 receives funding at 08:00 and pays at 16:00."""
    close = _basis_closes()
    signal = np.zeros(24)
    signal[0:20] = 1.0  # decided at bars 0..19, filled one bar later: held after the 01:00 bar's close
    res = simulate(close, np.array([0.5, -0.5]), signal, funding=[None, FUNDING], execution=Execution())
    # 00:00 is before anything is held; 24:00 is after the exit at 21:00's close (22:00)
    # 08:00: short 0.5 at mark 100,010 x 0.01 % -> receives 0.5 * 100,010 * 0.0001 = 5.0005
    # 16:00: no mark -> last price 101,000 (the close at 16:00) x -0.005 % -> pays 0.5 * 101,000 * 0.00005 = 2.525
    assert res.metrics.funding == pytest.approx(2.4755, abs=1e-9)
    assert round(res.metrics.funding, 2) == 2.48
    f = res.to_frame()["funding"]
    assert f[f != 0].to_dict() == pytest.approx({
        pd.Timestamp("2025-01-01 07:00", tz="UTC"): 5.0005,   # the bar that closes at 08:00
        pd.Timestamp("2025-01-01 15:00", tz="UTC"): -2.525,  # the bar that closes at 16:00
    })
    # funding is inside the P&L, the returns and the one trade's P&L; prices alone give 0.5 * (101,000 - 100,050)
    # lost and regained on the perp leg
    price_pnl = float((res.sim.carry - res.sim.funding).sum())
    assert res.metrics.total_pnl == pytest.approx(price_pnl + 2.4755, abs=1e-9)
    assert res.trades["pnl"].sum() == pytest.approx(res.metrics.total_pnl, abs=1e-9)
    assert res.funding.sum() == pytest.approx(2.4755, abs=1e-9)


def test_constant_rate_equals_a_table_of_that_rate():
    """A constant rate settles every 8 hours at 00:00/08:00/16:00 UTC, on the last price."""
    close = _basis_closes()
    signal = np.ones(24)
    table = pd.DataFrame({"funding_rate": [0.0001] * 3},
                         index=pd.DatetimeIndex(["2025-01-01 08:00", "2025-01-01 16:00", "2025-01-02 00:00"], tz="UTC"))
    a = simulate(close, np.array([0.5, -0.5]), signal, funding=[None, 0.0001])
    b = simulate(close, np.array([0.5, -0.5]), signal, funding=[None, table])
    np.testing.assert_array_equal(a.sim.funding, b.sim.funding)
    # the 24:00 settlement is the last bar's close: the short held into it receives too
    expected = 0.5 * 0.0001 * (100_050.0 + 101_000.0 + 100_050.0)
    assert a.metrics.funding == pytest.approx(expected, abs=1e-9)
    assert a.params["funding"] == {"BTCUSDT_PERP": {"rate": 0.0001, "interval": "8h"}}


def test_long_perp_pays_positive_funding_and_next_open_books_it_with_the_position():
    """Positive rate: longs pay. With next_open fills the position after the bar's open pays in that bar."""
    close = _basis_closes()
    signal = np.zeros(24)
    signal[5:] = -1.0  # short the spread = long the perp
    res = simulate(close, np.array([0.5, -0.5]), signal, funding=[None, 0.0001],
                   execution=Execution(fill="next_open"), open_prices=close.to_numpy())
    f = res.to_frame()["funding"]
    # filled at the 06:00 bar's open: the 07:00 bar (08:00 settlement) and 15:00 and 23:00 bars pay
    assert list(f[f != 0].index.hour) == [7, 15, 23]
    assert res.metrics.funding == pytest.approx(-0.5 * 0.0001 * (100_050 + 101_000 + 100_050), abs=1e-9)


def test_backtest_pair_basis_funding_column_and_metric():
    """backtest_pair on spot vs perp with a funding table: a funding column, a metric, parameters, sign."""
    rng = np.random.default_rng(0)
    idx = pd.date_range("2025-01-01", periods=3 * 24 * 60, freq="1min", tz="UTC")
    spot = 100_000 * np.exp(np.cumsum(rng.normal(0, 3e-4, len(idx))))
    basis = np.zeros(len(idx))
    for i in range(1, len(idx)):
        basis[i] = 0.98 * basis[i - 1] + rng.normal(0, 2.0)
    y = pd.Series(spot, idx, name="BTCUSDT")
    x = pd.Series(spot + 30 + basis, idx, name="BTCUSDT")
    times = pd.date_range("2025-01-01 08:00", "2025-01-04 00:00", freq="8h", tz="UTC")
    table = pd.DataFrame({"funding_rate": np.linspace(-1e-4, 3e-4, len(times)), "mark_price": np.nan}, index=times)
    res = backtest_pair(y, x, ZScoreBand(entry=1.5, exit=0.0, window=120), hedge=1.0, funding_x=table,
                        execution=Execution(notional=10_000))
    assert res.legs == ("BTCUSDT_y", "BTCUSDT_x")
    f = res.to_frame()["funding"].to_numpy()
    # independent: -units held into each settlement x last price x rate, perp leg only
    pos = res.positions["BTCUSDT_x"].to_numpy()
    close_t = idx + pd.Timedelta("1min")
    expected = 0.0
    for t, rate in zip(times, table["funding_rate"]):
        k = int(np.searchsorted(close_t, t))  # the bar that closes at t
        if 0 < k < len(idx):
            expected += -pos[k - 1] * x.iloc[k] * rate
    assert f.sum() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert res.metrics.funding == pytest.approx(f[res.start:].sum(), abs=1e-12)
    assert np.count_nonzero(f) > 0
    assert "BTCUSDT_x" in res.params["funding"]


def test_funding_input_errors():
    """Bad funding inputs: one-line errors naming the problem."""
    close = _basis_closes()
    with pytest.raises(BacktestError, match="DatetimeIndex"):
        simulate(close.to_numpy(), np.array([1.0, -1.0]), np.ones(24), periods_per_year=8760, funding=[None, 0.0001])
    with pytest.raises(BacktestError, match="funding_rate"):
        Funding(table=pd.DataFrame({"rate": [0.1]}, index=pd.DatetimeIndex(["2025-01-01"])))
    with pytest.raises(BacktestError, match="either"):
        Funding()
    with pytest.raises(BacktestError, match="funding"):
        simulate(close, np.array([1.0, -1.0]), np.ones(24), funding=[None, "high"])
    with pytest.raises(BacktestError, match="2 legs"):
        simulate(close, np.array([1.0, -1.0]), np.ones(24), funding=[0.0001])


def test_portfolio_funding_by_leg_name():
    """backtest_portfolio takes funding per column; the same legs as a pair give the same funding."""
    from quantkit.backtest import backtest_portfolio

    close = _basis_closes()
    rng = np.random.default_rng(3)
    close = close * (1 + np.cumsum(rng.normal(0, 1e-4, (24, 2)), axis=0))
    strat = ZScoreBand(entry=0.5, exit=0.0, window=4)
    port = backtest_portfolio(close, [1.0, -1.0], strat, funding={"BTCUSDT_PERP": FUNDING})
    pair = backtest_pair(close["BTCUSDT"], close["BTCUSDT_PERP"], strat, hedge=1.0, funding_x=FUNDING)
    np.testing.assert_allclose(port.sim.funding, pair.sim.funding, rtol=1e-12, atol=1e-12)
    with pytest.raises(BacktestError, match="no leg named"):
        backtest_portfolio(close, [1.0, -1.0], strat, funding={"ETHUSDT": 0.0001})
