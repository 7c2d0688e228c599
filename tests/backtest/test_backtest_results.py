"""Typed results and the package surface: __all__, repr, to_frame()/to_dict(), real candles."""

from __future__ import annotations

import dataclasses
import importlib
import json

import numpy as np
import pandas as pd
import pytest

import quantkit.backtest as bt
from quantkit.backtest import Costs, Execution, Hedge, ZScoreBand, backtest_pair

MODULES = ["costs", "engine", "execution", "hedging", "metrics", "results", "strategies", "sweep"]


def test_all_is_curated_and_importable():
    """Every name in quantkit.backtest.__all__ exists, and every module declares __all__."""
    for name in bt.__all__:
        assert hasattr(bt, name), name
    for mod in MODULES:
        m = importlib.import_module(f"quantkit.backtest.{mod}")
        assert isinstance(m.__all__, list) and m.__all__
        for name in m.__all__:
            assert hasattr(m, name), (mod, name)
    assert sorted(bt.__all__) == bt.__all__


@pytest.fixture(scope="module")
def eth_btc(shared_data):
    """ETHUSDT and BTCUSDT 1-minute closes (first 5,000 common bars of the Bybit set)."""
    path = shared_data / "bybit_linear_klines_2025-04_2025-07_crypto_backtester/derived/close_1m_aligned.csv.gz"
    df = pd.read_csv(path, index_col=0, parse_dates=True, nrows=5000)
    return df["ETHUSDT"], df["BTCUSDT"]


def test_result_views_on_real_candles(eth_btc):
    """On real 1m candles: frames, dicts and repr are consistent with the metrics."""
    y, x = eth_btc
    res = backtest_pair(y, x, ZScoreBand(2.0, 0.5, 120, stop=4.0), hedge=Hedge("rolling", window=240),
                        execution=Execution(notional=10_000.0), costs=Costs(fee_bps=5.5, half_spread_bps=0.5))
    assert dataclasses.is_dataclass(res) and dataclasses.is_dataclass(res.metrics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.start = 3  # type: ignore[misc]
    assert res.metrics.periods_per_year == 525_600.0  # 1-minute bars, 365-day year
    assert res.metrics.n_trades > 0
    frame = res.to_frame()
    assert frame.index.equals(y.index)
    for col in ["close_ETHUSDT", "spread", "z", "signal", "position_ETHUSDT", "position_BTCUSDT", "pnl",
                "returns", "equity", "drawdown", "beta", "costs", "fees"]:
        assert col in frame.columns, col
    assert frame["pnl"].sum() == pytest.approx(res.metrics.total_pnl)
    assert frame["equity"].iloc[-1] == pytest.approx(10_000.0 + res.metrics.total_pnl)
    assert -frame["drawdown"].min() == pytest.approx(res.metrics.max_drawdown)
    d = res.to_dict()
    json.dumps(d)  # JSON-friendly
    assert d["metrics"]["sharpe"] == res.metrics.sharpe
    assert d["params"]["strategy"]["entry"] == 2.0 and d["params"]["hedge"]["method"] == "rolling"
    mf = res.metrics.to_frame()
    assert mf.loc["n_trades", "value"] == res.metrics.n_trades and mf.loc["fees", "unit"] == "quote"
    assert isinstance(res.metrics.avg_holding_time, pd.Timedelta)
    assert res.metrics.avg_holding_time == pd.Timedelta(minutes=res.metrics.avg_holding_bars)
    t = res.trades
    closed = t[t["closed"]]
    assert (closed["holding_time"] == closed["exit_time"] - closed["entry_time"]).all()
    assert (closed["signal_time"] == closed["entry_time"] - pd.Timedelta(minutes=1)).all()
    assert "BacktestResult(legs=('ETHUSDT', 'BTCUSDT')" in repr(res) and "sharpe=" in repr(res)


def test_logger_name(eth_btc, caplog):
    """The package logs under "quantkit.backtest" (e.g. when legs are aligned)."""
    y, x = eth_btc
    with caplog.at_level("INFO", logger="quantkit.backtest"):
        backtest_pair(y.iloc[10:], x.iloc[:-10], ZScoreBand(window=30))
    assert any(r.name == "quantkit.backtest" and "aligned" in r.getMessage() for r in caplog.records)
    assert np.isfinite(backtest_pair(y, x, ZScoreBand(window=30)).metrics.total_pnl)
