"""Bad input raises a clear quantkit.errors.BacktestError (also a ValueError)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantkit.backtest import (
    BollingerBands,
    Costs,
    Execution,
    Hedge,
    KalmanSignal,
    Split,
    ZScoreBand,
    backtest_pair,
    backtest_portfolio,
    simulate,
    sweep_pair,
)
from quantkit.errors import BacktestError


def _pair(n=100):
    idx = pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC")
    rng = np.random.default_rng(0)
    x = pd.Series(100 + np.cumsum(rng.normal(0, 1, n)), index=idx, name="X")
    y = pd.Series(10 + 0.5 * x.to_numpy() + rng.normal(0, 1, n), index=idx, name="Y")
    return y, x


def test_too_few_bars_for_the_window():
    """A window longer than the data names the window and the bar count."""
    y, x = _pair(50)
    with pytest.raises(BacktestError, match=r"too few bars.*window=60"):
        backtest_pair(y, x, ZScoreBand(2.0, 0.0, window=60))
    with pytest.raises(BacktestError, match="too few bars"):
        backtest_pair(y, x, ZScoreBand(2.0, 0.0, window=30), hedge=Hedge("rolling", window=30))


def test_nan_price_is_reported_with_its_time():
    """A NaN close names the leg and the first bad bar."""
    y, x = _pair()
    y.iloc[17] = np.nan
    with pytest.raises(BacktestError, match=r"Y: 1 missing/non-finite price\(s\), first at 2025-01-01 17:00"):
        backtest_pair(y, x, ZScoreBand())


@pytest.mark.parametrize("bad", [0.0, -3.0])
def test_zero_or_negative_price(bad):
    """Zero and negative prices are refused."""
    y, x = _pair()
    x.iloc[5] = bad
    with pytest.raises(BacktestError, match=r"X: non-positive price"):
        backtest_pair(y, x, ZScoreBand(window=20))


def test_exit_above_entry():
    """exit > entry is refused by every band strategy, naming both values."""
    with pytest.raises(BacktestError, match=r"exit=2.5 is above entry=2.0"):
        ZScoreBand(entry=2.0, exit=2.5)
    with pytest.raises(BacktestError, match="above entry"):
        BollingerBands(k_entry=1.0, k_exit=1.5)
    with pytest.raises(BacktestError, match="above entry"):
        KalmanSignal(entry=1.0, exit=1.2)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ZScoreBand(entry=-1.0), "entry"),
        (lambda: ZScoreBand(entry=2.0, exit=-2.0), "exit"),
        (lambda: ZScoreBand(stop=1.5), "stop"),
        (lambda: ZScoreBand(max_hold=0), "max_hold"),
        (lambda: ZScoreBand(window=1), "window"),
        (lambda: Costs(fee_bps=-1), "fee_bps"),
        (lambda: Execution(fill="tomorrow"), "fill"),
        (lambda: Execution(notional=0.0), "notional"),
        (lambda: Execution(min_qty=(1.0, -1.0)), "min_qty"),
        (lambda: Hedge("median"), "method"),
        (lambda: Split(train=1.5), "train"),
    ],
)
def test_bad_parameters(make, match):
    """Each bad parameter raises BacktestError naming it."""
    with pytest.raises(BacktestError, match=match):
        make()
    assert issubclass(BacktestError, ValueError)


def test_mismatched_legs_and_missing_annualisation():
    """Arrays of different lengths, and arrays without periods_per_year, are refused."""
    with pytest.raises(BacktestError, match="different lengths"):
        backtest_pair(np.ones(50) + np.arange(50), np.ones(40) + np.arange(40), ZScoreBand(window=5))
    rng = np.random.default_rng(1)
    x = 100 + np.cumsum(rng.normal(0, 1, 60))
    y = 5 + x + rng.normal(0, 1, 60)
    with pytest.raises(BacktestError, match="periods_per_year"):
        backtest_pair(y, x, ZScoreBand(window=10))
    assert backtest_pair(y, x, ZScoreBand(window=10), periods_per_year=252).metrics.bars == 51


def test_next_open_without_opens_and_kalman_with_other_hedge():
    """fill='next_open' needs opens; a Kalman signal refuses a non-Kalman hedge; portfolios refuse Kalman."""
    y, x = _pair()
    with pytest.raises(BacktestError, match="next_open"):
        backtest_pair(y, x, ZScoreBand(window=10), execution=Execution(fill="next_open"))
    with pytest.raises(BacktestError, match="Kalman"):
        backtest_pair(y, x, KalmanSignal(), hedge="rolling")
    with pytest.raises(BacktestError, match="pairs only"):
        backtest_portfolio(pd.concat([y, x], axis=1), [1, -0.5], KalmanSignal())
    with pytest.raises(BacktestError, match="weights"):
        backtest_portfolio(pd.concat([y, x], axis=1), [1, -0.5, 3.0], ZScoreBand(window=10))


def test_simulate_checks_shapes():
    """The array core refuses wrong shapes and a bad start."""
    close = np.ones((5, 2))
    with pytest.raises(BacktestError, match="signal"):
        simulate(close, [1, -1], np.zeros(4), periods_per_year=1)
    with pytest.raises(BacktestError, match="units"):
        simulate(close, np.ones((5, 3)), np.zeros(5), periods_per_year=1)
    with pytest.raises(BacktestError, match="start"):
        simulate(close, [1, -1], np.zeros(5), periods_per_year=1, start=5)


def test_sweep_refuses_all_invalid_combinations():
    """A sweep whose every exit is above its entry is refused."""
    y, x = _pair(200)
    with pytest.raises(BacktestError, match="exit is above"):
        sweep_pair(y, x, entries=[1.0], exits=[1.5, 2.0], windows=[10])
