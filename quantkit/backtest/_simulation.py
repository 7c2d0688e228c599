"""The vectorised position and P&L core (private; see :mod:`quantkit.backtest.engine`).

Notation, bar t = 0..T-1, leg i = 0..N-1:

* ``s_t``: signal (spread units) decided at bar t's close; ``W_t,i`` units of leg i per
  spread unit at decision time (``notional`` rescales it so that ``sum_i |W_t,i| c_t,i = notional``).
* target units ``Q_t = s_t W_t``, frozen at the last change of ``s`` unless ``rebalance``
  (then recomputed every bar), truncated towards zero to a multiple of ``min_qty``.
* holdings after bar t's fill ``q_t = Q_t`` (``same_close``) or ``Q_{t-1}`` (next bar).
* fill price ``f_t`` = close (``*_close``) or open (``next_open``); mark price = close ``c_t``.
* gross P&L ``g_t = sum_i q_i,t-1 (f_i,t - c_i,t-1) + q_i,t (c_i,t - f_i,t)``
  (= ``q_t-1 (c_t - c_t-1) + (q_t - q_t-1)(c_t - f_t)``).
* traded quantity ``|q_t - q_t-1|``; when the side flips (long -> short) the position is
  closed then reopened: ``|q_t-1| + |q_t|``.
* costs ``= traded notional x (fee + half spread + slippage) / 1e4``; ``pnl_t = g_t - costs_t + funding_t``.
* funding (perpetual legs, :mod:`quantkit.backtest.funding`): ``-q_i,held x price x rate`` per
  settlement, booked with the carry part (close fills) or the fill-to-close part (``next_open``).

How it is vectorised: without rebalancing, holdings only change at the bars that follow a
change of ``s`` (K of them, K << T for band strategies), so targets, trades and costs are
computed on those K bars and spread over the T bars with one gather per leg; only the
mark-to-market P&L and the exposure are dense. Legs are separate contiguous 1-D arrays.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from quantkit.backtest.costs import Costs
from quantkit.backtest.execution import Execution
from quantkit.backtest.funding import FundingEvents
from quantkit.errors import BacktestError

__all__ = ["Simulation", "simulate_arrays"]


@dataclass(frozen=True, eq=False)
class Simulation:
    """Per-bar arrays of one simulation (T bars, N legs; per-leg tuples of 1-D arrays)."""

    q: tuple[np.ndarray, ...]  # units held after bar t's fill, per leg
    f: tuple[np.ndarray, ...]  # fill prices per leg
    side: np.ndarray  # (T,) int8: sign of the position held after bar t
    opened: np.ndarray  # (T,) P&L of the positions held after the fill, fill -> close (read-only 0s for close fills)
    pnl: np.ndarray  # (T,)
    returns: np.ndarray  # (T,)
    gross_exposure: np.ndarray  # (T,) sum_i |q_i,t| c_i,t
    rate: float
    fee_rate: float
    fill_bars: np.ndarray  # (K,) bars where holdings may change (every other bar has no trade and no cost)
    fill_traded: np.ndarray  # (K,) traded notional at each fill bar
    funding: np.ndarray | None = None  # (T,) funding P&L of perpetual legs (None: no leg pays funding)

    # Costs only happen at the K fill bars: they are kept sparse, dense views are built on demand.
    @functools.cached_property
    def fill_costs(self) -> np.ndarray:
        """(K,) all costs at each fill bar."""
        return self.fill_traded * self.rate

    def _dense(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.pnl.shape[0])
        out[self.fill_bars] = values
        return out

    @functools.cached_property
    def traded_notional(self) -> np.ndarray:
        """(T,) traded notional per bar (quote currency)."""
        return self._dense(self.fill_traded)

    @functools.cached_property
    def costs(self) -> np.ndarray:
        """(T,) fees + half spread + slippage per bar."""
        return self._dense(self.fill_costs)

    @functools.cached_property
    def fees(self) -> np.ndarray:
        """(T,) commissions per bar."""
        return self._dense(self.fill_traded * self.fee_rate)

    @functools.cached_property
    def carry(self) -> np.ndarray:
        """(T,) P&L of the positions held into bar t, up to the fill (funding of close fills included)."""
        return self.pnl - self.opened + self.costs

    def cost_at(self, bars: np.ndarray) -> np.ndarray:
        """Costs at each of ``bars`` (0 where nothing trades)."""
        F = self.fill_bars
        k = np.minimum(np.searchsorted(F, bars), max(F.shape[0] - 1, 0))
        hit = F[k] == bars if F.shape[0] else np.zeros(bars.shape[0], dtype=bool)
        return np.where(hit, self.fill_costs[k] if F.shape[0] else 0.0, 0.0)

    def carry_at(self, bars: np.ndarray) -> np.ndarray:
        """:attr:`carry` at each of ``bars`` without building the dense array."""
        return self.pnl[bars] - self.opened[bars] + self.cost_at(bars)

    def in_range(self, values: np.ndarray, start: int, stop: int) -> np.ndarray:
        """The entries of a (K,) fill-bar array whose bar lies in ``start .. stop-1``."""
        F = self.fill_bars
        return values[np.searchsorted(F, start) : np.searchsorted(F, stop)]

    @functools.cached_property
    def positions(self) -> np.ndarray:
        """(T, N) units held after each bar's fill."""
        return np.column_stack(self.q)

    @functools.cached_property
    def fill(self) -> np.ndarray:
        """(T, N) fill prices."""
        return np.column_stack(self.f)

    def held_before(self, i: int, bars: np.ndarray) -> np.ndarray:
        """Units of leg ``i`` held before the fill of each bar in ``bars``."""
        prev = bars - 1
        out = self.q[i][np.maximum(prev, 0)].copy()
        out[prev < 0] = 0.0
        return out


def _legs(a: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(a, np.ndarray):
        return [np.ascontiguousarray(a[:, i], dtype=np.float64) for i in range(a.shape[1])]
    return [np.ascontiguousarray(v, dtype=np.float64) for v in a]


def simulate_arrays(
    close: np.ndarray | Sequence[np.ndarray],
    weights: np.ndarray | Sequence[np.ndarray],
    signal: np.ndarray,
    *,
    execution: Execution,
    costs: Costs,
    open_: np.ndarray | Sequence[np.ndarray] | None = None,
    funding: Sequence[FundingEvents | None] | None = None,
) -> Simulation:
    """Run the vectorised core (arrays already validated: finite, positive prices).

    Args:
        close: (T, N) close prices, or N arrays of T closes.
        weights: (T, N) units of each leg per spread unit decided at bar t, or N arrays
            (may be NaN where the signal is 0).
        signal: (T,) target spread units decided at bar t's close (NaN = 0).
        execution: timing and sizing.
        costs: cost model.
        open_: open prices like ``close``, required for ``fill="next_open"``.
        funding: per leg, its funding settlements (None for a spot leg); None: no funding.
    """
    c = _legs(close)
    N = len(c)
    T = c[0].shape[0]
    lag = execution.lag
    if execution.fill == "next_open" and open_ is None:
        raise BacktestError("fill='next_open' needs open prices")
    s = np.asarray(signal, dtype=np.float64)
    if not np.isfinite(s).all():
        s = np.where(np.isfinite(s), s, 0.0)
    # decision bars D: the target can only change there; segment j lasts lengths[j] bars
    if execution.rebalance:
        D = np.arange(T)
    else:
        change = np.empty(T, dtype=bool)
        change[0] = True
        np.not_equal(s[1:], s[:-1], out=change[1:])
        D = np.flatnonzero(change)
    lengths = np.diff(D, append=T)
    sD = s[D]
    nzD = sD != 0.0
    if isinstance(weights, np.ndarray):
        wD = [np.asarray(weights[D, i], dtype=np.float64) for i in range(N)]
    else:
        wD = [np.asarray(w, dtype=np.float64)[D] for w in weights]
    if execution.notional is not None:
        g = np.abs(wD[0]) * c[0][D]
        for i in range(1, N):
            g += np.abs(wD[i]) * c[i][D]
        with np.errstate(divide="ignore", invalid="ignore"):
            kD = np.where(nzD, sD * (execution.notional / g), 0.0)
    else:
        kD = sD
    with np.errstate(invalid="ignore"):
        uD = [np.where(nzD, kD * wD[i], 0.0) for i in range(N)]
    for i in range(N):
        if not np.isfinite(uD[i]).all():
            bad = int(D[np.flatnonzero(~np.isfinite(uD[i]))[0]])
            raise BacktestError(f"the hedge ratio is not defined at bar {bad} where the strategy wants a position")
    if execution.min_qty is not None:
        m = np.broadcast_to(np.asarray(execution.min_qty, dtype=np.float64), (N,))
        uD = [np.trunc(np.round(uD[i] / m[i], 9)) * m[i] for i in range(N)]
    # side of each decision: sign of s where some leg is non-zero
    in_pos = uD[0] != 0.0
    for i in range(1, N):
        in_pos |= uD[i] != 0.0
    sideD = np.where(in_pos, np.sign(sD), 0.0).astype(np.int8)
    # dense holdings: each decision's units repeated over its segment, shifted by the lag
    if lag:
        lens = np.concatenate(([lag], lengths))
        lens[-1] -= lag
        q = [np.repeat(np.concatenate(([0.0], u)), lens) for u in uD]
        side = np.repeat(np.concatenate((np.zeros(1, dtype=np.int8), sideD)), lens)
    else:
        q = [np.repeat(u, lengths) for u in uD]
        side = np.repeat(sideD, lengths)
    # fill bars F: where holdings may change (sparse without rebalancing)
    F = D + lag
    F = F[F < T]
    Fp = F - 1
    has_prev = Fp >= 0
    Fp0 = np.maximum(Fp, 0)
    f = c if execution.fill != "next_open" else _legs(open_)  # type: ignore[arg-type]
    side_F = side[F]
    side_Fp = np.where(has_prev, side[Fp0], 0)
    flip = (side_F != side_Fp) & (side_F != 0) & (side_Fp != 0)
    tn_F = np.zeros(F.shape[0])
    for i in range(N):
        qa = q[i][F]
        qb = np.where(has_prev, q[i][Fp0], 0.0)
        tr = np.where(flip, np.abs(qa) + np.abs(qb), np.abs(qa - qb))
        tn_F += tr * f[i][F]
    rate = costs.rate
    fee_rate = costs.fee_rate
    cost_F = tn_F * rate
    # mark-to-market P&L (dense), accumulated in place in ``pnl``; one scratch buffer
    pnl = np.zeros(T)
    scratch = np.empty(T)  # becomes the returns array at the end (one fresh array less)
    tmp = scratch[: max(T - 1, 0)]
    opened: np.ndarray = np.broadcast_to(0.0, (T,))  # read-only zeros unless fills happen at the open
    on_open = f is not c or (funding is not None and any(ev is not None and ev.on_open for ev in funding))
    if on_open:
        opened = np.zeros(T)
    for i in range(N):
        if f is c:
            np.subtract(c[i][1:], c[i][:-1], out=tmp)
        else:
            np.subtract(f[i][1:], c[i][:-1], out=tmp)
            opened += q[i] * (c[i] - f[i])
        tmp *= q[i][:-1]
        pnl[1:] += tmp
    fund = None
    if funding is not None and any(ev is not None for ev in funding):
        fund = np.zeros(T)
        for i, ev in enumerate(funding):
            if ev is not None and ev.book.shape[0]:
                fund += np.bincount(ev.book, weights=-q[i][ev.held] * ev.cash_per_unit, minlength=T)
        if any(ev is not None and ev.on_open for ev in funding):
            opened += fund
        else:
            pnl += fund
    if on_open:
        pnl += opened
    pnl[F] -= cost_F
    gross_exposure = np.abs(q[0])
    gross_exposure *= c[0]
    for i in range(1, N):
        np.abs(q[i], out=scratch)
        scratch *= c[i]
        gross_exposure += scratch
    if f is c:
        gross_open = gross_exposure
    else:
        gross_open = np.abs(q[0]) * f[0]
        for i in range(1, N):
            gross_open += np.abs(q[i]) * f[i]
    # return base B_t: the gross exposure held at the previous close; where nothing was held, what
    # bar t's fill opened (only fill bars can open from flat; other flat bars have pnl 0 and r 0)
    returns = scratch
    returns.fill(0.0)
    held_prev = np.greater(gross_exposure[:-1], 0.0, out=np.empty(max(T - 1, 0), dtype=bool))
    np.divide(pnl[1:], gross_exposure[:-1], out=returns[1:], where=held_prev)
    from_flat = F[(F == 0) | ~held_prev[np.maximum(F - 1, 0)]] if F.shape[0] else F
    from_flat = from_flat[gross_open[from_flat] > 0]
    returns[from_flat] = pnl[from_flat] / gross_open[from_flat]
    return Simulation(
        q=tuple(q),
        f=tuple(f),
        side=side,
        opened=opened,
        pnl=pnl,
        returns=returns,
        gross_exposure=gross_exposure,
        rate=rate,
        fee_rate=fee_rate,
        fill_bars=F,
        fill_traded=tn_F,
        funding=fund,
    )
