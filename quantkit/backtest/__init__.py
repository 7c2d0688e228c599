"""Vectorised backtests of pairs and N-leg portfolios: engine, strategies, costs, metrics, sweeps.

Quick start::

    from quantkit.backtest import ZScoreBand, Execution, Costs, backtest_pair
    res = backtest_pair(eth, btc, ZScoreBand(entry=2.0, exit=0.5, window=240),
                        hedge="rolling", execution=Execution(notional=10_000),
                        costs=Costs(fee_bps=5.5, half_spread_bps=0.5))
    res.metrics.sharpe, res.trades, res.to_frame()

Modules: :mod:`~quantkit.backtest.engine` (entry points), :mod:`~quantkit.backtest.strategies`,
:mod:`~quantkit.backtest.hedging`, :mod:`~quantkit.backtest.execution`,
:mod:`~quantkit.backtest.costs`, :mod:`~quantkit.backtest.funding` (perpetual legs),
:mod:`~quantkit.backtest.metrics` (every formula),
:mod:`~quantkit.backtest.results`, :mod:`~quantkit.backtest.sweep`.
Bad input raises :class:`quantkit.errors.BacktestError`. Logger: ``"quantkit.backtest"``.
"""

from __future__ import annotations

from quantkit.backtest.costs import Costs
from quantkit.backtest.engine import backtest_pair, backtest_portfolio, simulate
from quantkit.backtest.execution import Execution
from quantkit.backtest.funding import Funding
from quantkit.backtest.hedging import Hedge
from quantkit.backtest.metrics import Metrics, periods_per_year
from quantkit.backtest.results import BacktestResult
from quantkit.backtest.strategies import BollingerBands, KalmanSignal, LinearReversion, ZScoreBand, band_positions
from quantkit.backtest.sweep import Split, SweepResult, sweep_pair

__all__ = [
    "BacktestResult",
    "BollingerBands",
    "Costs",
    "Execution",
    "Funding",
    "Hedge",
    "KalmanSignal",
    "LinearReversion",
    "Metrics",
    "Split",
    "SweepResult",
    "ZScoreBand",
    "backtest_pair",
    "backtest_portfolio",
    "band_positions",
    "periods_per_year",
    "simulate",
    "sweep_pair",
]
