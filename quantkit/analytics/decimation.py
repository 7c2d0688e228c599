"""The one chart decimator: bounded points per line that never hide a minimum or a maximum.

Every chart of quantkit (the live dashboard, the Voila page, the research and
backtest pages, the report figures) draws long series through this module.
A series longer than ``max_points`` is cut into buckets; each bucket becomes
two points at the bucket's first and last time holding the bucket's minimum and
maximum (in the order the bucket went: rising buckets draw min then max), so a
drawdown trough or a price spike is always drawn at its true value. Candles are
merged per bucket (open of the first, max high, min low, close of the last).

Buckets are aligned on the global bar number (``origin + i``) and their size is
a power of two, so as bars stream in the older buckets do not shift: the drawn
history stays still and only its right end moves. Live charts keep about a
quarter of ``max_points`` for the most recent bars at full resolution
(:func:`plan_decimation`'s ``recent``); static charts pass ``recent=0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

__all__ = ["Decimation", "DecimationCache", "decimate_lines", "decimate_series", "plan_decimation"]


@dataclass(frozen=True)
class Decimation:
    """Where to cut a series of ``n`` bars and how to bucket the older part.

    Attributes:
        starts: start index of each older bucket (empty: nothing decimated).
        split: first index drawn at full resolution.
        n: number of input bars.
        size: bars per bucket (a power of two; 1 when nothing is decimated).
    """

    starts: np.ndarray
    split: int
    n: int
    size: int = 1

    @property
    def points(self) -> int:
        """Points per line after decimation."""
        return 2 * len(self.starts) + (self.n - self.split)

    def lines(self, t: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decimate times ``t`` (n,) and values ``cols`` (n, k) for line marks.

        Returns:
            ``(t_out, cols_out)`` with ``t_out`` (m,) and ``cols_out`` (m, k).
        """
        s = self.split
        if len(self.starts) == 0:
            return t, cols
        tt, vv = _bucket_points(t[:s], cols[:s], self.starts)
        return np.concatenate([tt, t[s:]]), np.concatenate([vv, cols[s:]])

    def candles(self, t: np.ndarray, ohlc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Merge older bars into one candle per bucket: ``ohlc`` (n, 4) open, high, low, close."""
        s = self.split
        if len(self.starts) == 0:
            return t, ohlc
        st = self.starts
        ends = np.r_[st[1:], s] - 1
        merged = np.column_stack([
            ohlc[st, 0],
            np.fmax.reduceat(ohlc[:s, 1], st),
            np.fmin.reduceat(ohlc[:s, 2], st),
            ohlc[ends, 3],
        ])  # fmt: skip
        return np.concatenate([t[st], t[s:]]), np.concatenate([merged, ohlc[s:]])


def _bucket_points(t: np.ndarray, cols: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two points per bucket (``starts`` into ``t``/``cols``, the last bucket ending at ``len(t)``)."""
    ends = np.r_[starts[1:], len(t)] - 1
    lo = np.fmin.reduceat(cols, starts, axis=0)
    hi = np.fmax.reduceat(cols, starts, axis=0)
    rising = cols[ends] >= cols[starts]
    nb = len(starts)
    tt = np.empty(2 * nb, dtype=t.dtype)
    tt[0::2] = t[starts]
    tt[1::2] = t[ends]
    vv = np.empty((2 * nb, cols.shape[1]), dtype=cols.dtype)
    vv[0::2] = np.where(rising, lo, hi)
    vv[1::2] = np.where(rising, hi, lo)
    return tt, vv


class DecimationCache:
    """:meth:`Decimation.lines` for a growing series of *final* bars, reusing the buckets already computed.

    A full bucket (``size`` bars starting at a multiple of ``size``, before the split) never
    changes once its bars are final, so each call only computes the buckets that appeared
    since the last call, the leading partial bucket (when the oldest bars have been dropped),
    and the recent bars. Call :meth:`reset` when the bars or the columns change meaning.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every cached bucket."""
        self._size = 0
        self._ncols = -1
        self._starts_g = np.empty(0, dtype=np.int64)
        self._t: np.ndarray | None = None
        self._v: np.ndarray | None = None

    def lines(
        self, t: np.ndarray, get_cols: Callable[[int, int], np.ndarray], origin: int, max_points: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decimate ``n = len(t)`` bars whose first has global number ``origin``.

        Args:
            t: bar times (n,).
            get_cols: ``get_cols(lo, hi)`` returns the values of bars ``lo..hi-1`` as (hi - lo, k).
            origin: global number of ``t[0]``.
            max_points: points per line.
        """
        n = len(t)
        plan = plan_decimation(n, origin, max_points)
        s = plan.split
        if len(plan.starts) == 0:
            return t, get_cols(0, n)
        size = plan.size
        first_full_g = -(-origin // size) * size
        split_g = origin + s
        parts_t: list[np.ndarray] = []
        parts_v: list[np.ndarray] = []
        head = first_full_g - origin  # bars of the leading partial bucket
        if head > 0:
            tt, vv = _bucket_points(t[:head], get_cols(0, head), np.zeros(1, dtype=np.int64))
            parts_t.append(tt)
            parts_v.append(vv)
        if self._size != size or self._t is None:
            self.reset()
            self._size = size
        keep = (self._starts_g >= first_full_g) & (self._starts_g + size <= split_g)
        ct: np.ndarray | None = None
        cv: np.ndarray | None = None
        starts_g = np.empty(0, dtype=np.int64)
        next_g = first_full_g
        if self._t is not None and self._v is not None and keep.any():
            k0 = int(np.argmax(keep))
            k1 = k0 + int(keep.sum())
            starts_g, ct, cv = self._starts_g[k0:k1], self._t[2 * k0 : 2 * k1], self._v[2 * k0 : 2 * k1]
            next_g = int(starts_g[-1]) + size
        if next_g < split_g:
            lo, hi = next_g - origin, s
            new_starts = np.arange(0, hi - lo, size, dtype=np.int64)
            nt, nv = _bucket_points(t[lo:hi], get_cols(lo, hi), new_starts)
            starts_g = np.r_[starts_g, new_starts + next_g]
            ct = nt if ct is None else np.concatenate([ct, nt])
            cv = nv if cv is None else np.concatenate([cv, nv])
        if ct is not None and cv is not None:
            if self._ncols not in (-1, cv.shape[1]):
                raise ValueError(f"columns changed from {self._ncols} to {cv.shape[1]}: reset() the cache")
            self._starts_g, self._t, self._v, self._ncols = starts_g, ct, cv, cv.shape[1]
            parts_t.append(ct)
            parts_v.append(cv)
        parts_t.append(t[s:])
        parts_v.append(get_cols(s, n))
        return np.concatenate(parts_t), np.concatenate(parts_v)


def plan_decimation(n: int, origin: int, max_points: int, *, recent: int | None = None) -> Decimation:
    """Plan the decimation of ``n`` bars whose first bar has global number ``origin``.

    Args:
        n: bars held.
        origin: global number of the first held bar (bars seen before it).
        max_points: points allowed per line (>= 4).
        recent: newest bars drawn at full resolution (default ``max_points // 4``; 0 for static
            charts: every bar goes into a bucket but the last partial one).
    """
    if n <= max_points:
        return Decimation(np.empty(0, dtype=np.int64), 0, n)
    recent = max(1, max_points // 4) if recent is None else max(0, int(recent))
    budget = max(1, (max_points - recent) // 2)  # buckets available for the older part (first guess)
    size = 1 << max(0, math.ceil(math.log2(max(1, math.ceil((n - recent) / budget)))))
    end_g = origin + n
    while True:
        split_g = ((end_g - recent) // size) * size
        split = max(0, split_g - origin)
        if split == 0:
            return Decimation(np.empty(0, dtype=np.int64), 0, n)
        first_g = (origin // size) * size
        starts = np.maximum(np.arange(first_g, split_g, size, dtype=np.int64) - origin, 0)
        if 2 * len(starts) + (n - split) <= max_points:
            return Decimation(starts, split, n, size)
        size *= 2


def decimate_lines(t: np.ndarray, *cols: np.ndarray, max_points: int) -> tuple[np.ndarray, ...]:
    """Static-chart decimation of lines sharing one x axis.

    Args:
        t: x values (n,), e.g. ``datetime64`` times.
        *cols: y values, each (n,), float (NaN kept where the bucket is all NaN).
        max_points: points allowed per line.

    Returns:
        ``(t_out, col_out, ...)``: every bucket's min and max of every column survive.
    """
    t = np.asarray(t)
    if not cols:
        return (t,)
    v = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])
    plan = plan_decimation(len(t), 0, max_points, recent=0)
    with np.errstate(invalid="ignore"):
        tt, vv = plan.lines(t, v)
    return (tt,) + tuple(np.ascontiguousarray(vv[:, i]) for i in range(vv.shape[1]))


def decimate_series(series: pd.Series, max_points: int) -> pd.Series:
    """At most ``max_points`` points of ``series`` (NaNs dropped first), keeping each bucket's min and max.

    The points are real points of the series (their own index labels), in time order.
    """
    s = series.dropna()
    n = len(s)
    if n <= max_points:
        return s
    v = s.to_numpy(dtype=np.float64)
    plan = plan_decimation(n, 0, max_points, recent=0)
    split, size = plan.split, plan.size
    if split == 0:
        return s
    grid = v[:split].reshape(-1, size)  # origin 0: every bucket before the split is full
    base = np.arange(grid.shape[0], dtype=np.int64) * size
    keep = np.concatenate([base + np.argmin(grid, axis=1), base + np.argmax(grid, axis=1), np.arange(split, n)])
    return s.iloc[np.unique(keep)]
