"""Trade list extraction from a :class:`~quantkit.backtest._simulation.Simulation` (private).

A trade starts at the bar whose fill opens a position (or flips its side) and ends at
the bar whose fill closes (or flips) it. Its P&L is the sum over its bars of the P&L of
the positions it held, with the costs of its entry, its rebalancing and its exit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantkit.backtest._simulation import Simulation

__all__ = ["TradeArrays", "trade_arrays", "trades_frame"]


@dataclass(frozen=True, eq=False)
class TradeArrays:
    """One entry per trade (K trades; the last may still be open)."""

    side: np.ndarray  # int8 +1 long spread / -1 short spread
    entry_bar: np.ndarray  # int64
    exit_bar: np.ndarray  # int64, -1 while open
    pnl: np.ndarray
    costs: np.ndarray
    fees: np.ndarray
    entry_gross: np.ndarray  # sum_i |q_i| fill_i at entry

    @property
    def closed(self) -> np.ndarray:
        """True for trades that were closed."""
        return self.exit_bar >= 0

    @property
    def returns(self) -> np.ndarray:
        """Trade P&L / entry gross exposure."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.entry_gross > 0, self.pnl / self.entry_gross, 0.0)

    @property
    def bars(self) -> np.ndarray:
        """Bars held (exit bar - entry bar; NaN while open)."""
        return np.where(self.closed, self.exit_bar - self.entry_bar, np.nan)


def _segment_sums(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``sum(a[lo[i]:hi[i]])`` for sorted, non-overlapping segments (``hi[i] <= lo[i+1]``), in one
    pass over the bars they cover (no cumulative sum of the whole series)."""
    k = lo.shape[0]
    out = np.zeros(k)
    ok = lo < hi
    if not ok.any():
        return out
    lo_ok, hi_ok = lo[ok], hi[ok]
    idx = np.empty(2 * lo_ok.shape[0], dtype=np.int64)
    idx[0::2] = lo_ok
    idx[1::2] = hi_ok
    T = a.shape[0]
    tail = idx[-1] >= T  # the last segment runs to the end: reduceat's last slice does that by itself
    if tail:
        idx = idx[:-1]
    sums = np.add.reduceat(a, idx)[0::2]
    out[ok] = sums
    return out


def trade_arrays(sim: Simulation) -> TradeArrays:
    """Trades of a simulation with their P&L and costs.

    For a trade entered at bar ``a`` and closed at bar ``b``:
    ``pnl = (opened_a - open cost_a) + sum_{a<t<b} pnl_t + (carry_b - close cost_b)``,
    where on a boundary bar the close cost is ``sum_i |q_i,b-1| f_i,b x rate`` and the open
    cost is the rest of that bar's costs. The middle sum comes from a cumulative sum, so the
    whole list costs O(T + K).
    """
    side = sim.side
    T = side.shape[0]
    prev = np.empty_like(side)
    prev[0] = 0
    prev[1:] = side[:-1]
    boundary = side != prev
    starts = np.flatnonzero(boundary & (side != 0))
    K = starts.shape[0]
    if K == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0)
        return TradeArrays(np.zeros(0, dtype=np.int8), empty_i, empty_i.copy(), empty_f, empty_f.copy(),
                           empty_f.copy(), empty_f.copy())
    ends = np.flatnonzero(boundary & (prev != 0))
    rate = sim.rate
    n_closed = ends.shape[0]
    exit_bar = np.full(K, -1, dtype=np.int64)
    exit_bar[:n_closed] = ends
    # closing cost at each exit bar (the position held before the fill, at the fill price)
    close_cost = np.zeros(n_closed)
    if rate > 0 and n_closed:
        for i in range(len(sim.q)):
            close_cost += np.abs(sim.held_before(i, ends)) * sim.f[i][ends]
        close_cost *= rate
    # opening cost at each entry bar: that bar's costs minus the close cost of a trade it flipped
    open_cost = sim.cost_at(starts)
    if rate > 0 and n_closed:
        flipped = np.searchsorted(ends, starts)
        hit = flipped < n_closed
        hit[hit] = ends[flipped[hit]] == starts[hit]
        open_cost[hit] -= close_cost[flipped[hit]]
    last = np.where(exit_bar >= 0, exit_bar - 1, T - 1)
    pnl = (sim.opened[starts] - open_cost) + _segment_sums(sim.pnl, starts + 1, last + 1)
    # costs are only paid on fill bars: cumulate them there (sparse)
    F = sim.fill_bars
    ccF = np.concatenate(([0.0], np.cumsum(sim.fill_costs)))
    cst = open_cost + (ccF[np.searchsorted(F, last, side="right")] - ccF[np.searchsorted(F, starts, side="right")])
    if n_closed:
        pnl[:n_closed] += sim.carry_at(ends) - close_cost
        cst[:n_closed] += close_cost
    fees = cst * (sim.fee_rate / rate) if rate > 0 else np.zeros(K)
    entry_gross = np.zeros(K)
    for qi, f in zip(sim.q, sim.f):
        entry_gross += np.abs(qi[starts]) * f[starts]
    return TradeArrays(side[starts].astype(np.int8), starts.astype(np.int64), exit_bar, pnl, cst, fees,
                       entry_gross)


def trades_frame(
    tr: TradeArrays, sim: Simulation, index: pd.Index, legs: tuple[str, ...], lag: int
) -> pd.DataFrame:
    """The trade list as a DataFrame (one row per trade, open trades last with ``closed=False``).

    Columns: ``side`` (+1 long spread / -1 short), ``signal_time`` (bar of the entry signal),
    ``entry_time``, ``exit_time`` (NaT while open), ``entry_bar``, ``exit_bar`` (-1 while open),
    ``bars`` (held), ``holding_time``, per leg ``<leg>_qty`` (signed units at entry),
    ``<leg>_entry_price``, ``<leg>_exit_price``, then ``entry_gross`` (quote), ``pnl`` (quote,
    after costs), ``return`` (pnl / entry_gross), ``costs``, ``fees``, ``closed``.
    """
    closed = tr.closed
    entry_time = index[tr.entry_bar] if len(tr.entry_bar) else index[:0]
    sig_bar = np.maximum(tr.entry_bar - lag, 0)
    exit_idx = np.where(closed, tr.exit_bar, 0)
    data: dict[str, object] = {
        "side": tr.side.astype(np.int64),
        "signal_time": index[sig_bar] if len(sig_bar) else index[:0],
        "entry_time": entry_time,
    }
    if isinstance(index, pd.DatetimeIndex):
        exit_time = pd.DatetimeIndex(index[exit_idx]).where(closed, pd.NaT) if len(exit_idx) else index[:0]
        data["exit_time"] = exit_time
    else:
        data["exit_time"] = np.where(closed, np.asarray(index)[exit_idx], -1) if len(exit_idx) else np.zeros(0)
    data["entry_bar"] = tr.entry_bar
    data["exit_bar"] = tr.exit_bar
    data["bars"] = tr.bars
    if isinstance(index, pd.DatetimeIndex):
        data["holding_time"] = pd.TimedeltaIndex(data["exit_time"] - entry_time)  # type: ignore[operator]
    for i, leg in enumerate(legs):
        data[f"{leg}_qty"] = sim.q[i][tr.entry_bar]
        data[f"{leg}_entry_price"] = sim.f[i][tr.entry_bar]
        data[f"{leg}_exit_price"] = np.where(closed, sim.f[i][exit_idx], np.nan)
    data["entry_gross"] = tr.entry_gross
    data["pnl"] = tr.pnl
    data["return"] = tr.returns
    data["costs"] = tr.costs
    data["fees"] = tr.fees
    data["closed"] = closed
    frame = pd.DataFrame({k: np.asarray(v) if not isinstance(v, pd.Index) else v for k, v in data.items()})
    frame.index.name = "trade"
    return frame
