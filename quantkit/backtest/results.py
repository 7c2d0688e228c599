"""Typed backtest results: :class:`BacktestResult` (per-bar arrays, trade list, metrics)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from quantkit.backtest._simulation import Simulation
from quantkit.backtest.metrics import Metrics, drawdown

__all__ = ["BacktestResult"]


@dataclass(frozen=True, eq=False, repr=False)
class BacktestResult:
    """The outcome of one backtest.

    Per-bar arrays are kept as numpy arrays (cheap to build); pandas views are made on
    demand (:meth:`to_frame`, :attr:`equity`, ...).

    Attributes:
        index: the bars' index (bar open time for stored bars).
        legs: leg names, in order (first = the "y" leg of a pair).
        close_legs: each leg's close prices (T,); :attr:`close` is the (T, N) matrix.
        units_legs: each leg's units per spread unit at decision time, before ``notional``
            scaling (for a pair: ``1`` and ``-beta_t``); :attr:`units` is the (T, N) matrix.
        spread: (T,) the traded spread.
        indicator: (T,) the strategy's z-score (NaN during the warm-up).
        signal: (T,) spread units wanted after bar t's close.
        sim: the simulation arrays (positions, P&L, costs, ...).
        start: first evaluation bar (end of the warm-up).
        trades: the trade list (see :func:`quantkit.backtest._trades.trades_frame` for columns).
        metrics: :class:`~quantkit.backtest.metrics.Metrics` over bars ``start..T-1``.
        capital: quote currency of the equity curve.
        params: strategy, hedge, execution and cost parameters.
        extras: further per-bar series (``alpha``, ``beta``, ``mean``/``upper``/``lower`` bands, ...).
    """

    index: pd.Index
    legs: tuple[str, ...]
    close_legs: tuple[np.ndarray, ...]
    units_legs: tuple[np.ndarray, ...]
    spread: np.ndarray
    indicator: np.ndarray
    signal: np.ndarray
    sim: Simulation
    start: int
    trades: pd.DataFrame
    metrics: Metrics
    capital: float
    params: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __repr__(self) -> str:
        m = self.metrics
        span = f"{self.index[0]} .. {self.index[-1]}" if len(self.index) else "empty"
        return (
            f"BacktestResult(legs={self.legs!r}, bars={len(self.index)} ({span}), strategy="
            f"{self.params.get('strategy', {}).get('strategy', '?')!r}, trades={m.n_trades}, "
            f"total_pnl={m.total_pnl:.6g}, total_return={m.total_return:.4%}, sharpe={m.sharpe:.3f}, "
            f"max_drawdown={m.max_drawdown:.4%})"
        )

    @functools.cached_property
    def close(self) -> np.ndarray:
        """(T, N) close prices."""
        return np.column_stack(self.close_legs)

    @functools.cached_property
    def units(self) -> np.ndarray:
        """(T, N) units per spread unit at decision time."""
        return np.column_stack(self.units_legs)

    # ---- pandas views -------------------------------------------------------------
    @property
    def pnl(self) -> pd.Series:
        """Quote-currency P&L per bar after costs."""
        return pd.Series(self.sim.pnl, index=self.index, name="pnl")

    @property
    def funding(self) -> pd.Series:
        """Funding P&L per bar of the perpetual legs (quote currency, > 0 received; zeros without funding)."""
        f = self.sim.funding if self.sim.funding is not None else np.zeros(len(self.index))
        return pd.Series(f, index=self.index, name="funding")

    @property
    def returns(self) -> pd.Series:
        """Return on gross exposure per bar."""
        return pd.Series(self.sim.returns, index=self.index, name="returns")

    @property
    def equity(self) -> pd.Series:
        """``capital + cumulative P&L`` in quote currency."""
        return pd.Series(self.capital + np.cumsum(self.sim.pnl), index=self.index, name="equity")

    @property
    def wealth(self) -> pd.Series:
        """Compounded returns ``prod(1 + r)`` from the first evaluation bar (1.0 before)."""
        r = self.sim.returns.copy()
        r[: self.start] = 0.0
        return pd.Series(np.cumprod(1.0 + r), index=self.index, name="wealth")

    @property
    def drawdown(self) -> pd.Series:
        """Drawdown of :attr:`wealth` (<= 0; -0.1 = 10 % below the peak)."""
        r = self.sim.returns.copy()
        r[: self.start] = 0.0
        return pd.Series(drawdown(r), index=self.index, name="drawdown")

    @property
    def positions(self) -> pd.DataFrame:
        """Units held per leg after each bar's fill."""
        return pd.DataFrame(self.sim.positions, index=self.index, columns=list(self.legs))

    @functools.cached_property
    def _frame(self) -> pd.DataFrame:
        data: dict[str, np.ndarray] = {}
        for i, leg in enumerate(self.legs):
            data[f"close_{leg}"] = self.close_legs[i]
        data["spread"] = self.spread
        data["z"] = self.indicator
        data["signal"] = self.signal
        for i, leg in enumerate(self.legs):
            data[f"units_{leg}"] = self.units_legs[i]
        for i, leg in enumerate(self.legs):
            data[f"position_{leg}"] = self.sim.q[i]
        data["side"] = self.sim.side.astype(np.int64)
        data["traded_notional"] = self.sim.traded_notional
        data["gross_exposure"] = self.sim.gross_exposure
        data["costs"] = self.sim.costs
        data["fees"] = self.sim.fees
        if self.sim.funding is not None:
            data["funding"] = self.sim.funding
        data["pnl"] = self.sim.pnl
        data["returns"] = self.sim.returns
        data["equity"] = self.equity.to_numpy()
        data["wealth"] = self.wealth.to_numpy()
        data["drawdown"] = self.drawdown.to_numpy()
        for k, v in self.extras.items():
            data[k] = v
        frame = pd.DataFrame(data, index=self.index)
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Per-bar frame: closes, spread, z, signal, units, positions, costs, funding (perpetual legs only),
        P&L (after costs, funding included), returns, equity, drawdown, extras."""
        return self._frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """Parameters, metrics (JSON-friendly) and the span of the bars."""
        return {
            "legs": list(self.legs),
            "bars": len(self.index),
            "first": str(self.index[0]) if len(self.index) else None,
            "last": str(self.index[-1]) if len(self.index) else None,
            "start": str(self.index[self.start]) if len(self.index) else None,
            "params": dict(self.params),
            "metrics": self.metrics.to_dict(),
        }
