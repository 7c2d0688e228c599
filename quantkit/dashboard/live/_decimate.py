"""Bounded points per line: recent bars at full resolution, older bars as min/max per bucket.

Buckets are aligned on the global bar number (``origin + i``) and their size is
a power of two, so as bars stream in the older buckets do not shift: the drawn
history stays still and only its right end moves. Each bucket becomes two
points at the bucket's first and last time, holding the minimum and the maximum
(in the order the bucket went: rising buckets draw min then max).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Decimation", "plan_decimation"]


@dataclass(frozen=True)
class Decimation:
    """Where to cut a series of ``n`` bars and how to bucket the older part.

    Attributes:
        starts: start index of each older bucket (empty: nothing decimated).
        split: first index drawn at full resolution.
        n: number of input bars.
    """

    starts: np.ndarray
    split: int
    n: int

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
        st = self.starts
        ends = np.r_[st[1:], s] - 1
        lo = np.fmin.reduceat(cols[:s], st, axis=0)
        hi = np.fmax.reduceat(cols[:s], st, axis=0)
        rising = cols[ends] >= cols[st]
        first = np.where(rising, lo, hi)
        second = np.where(rising, hi, lo)
        nb = len(st)
        tt = np.empty(2 * nb, dtype=t.dtype)
        tt[0::2] = t[st]
        tt[1::2] = t[ends]
        vv = np.empty((2 * nb, cols.shape[1]), dtype=cols.dtype)
        vv[0::2] = first
        vv[1::2] = second
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


def plan_decimation(n: int, origin: int, max_points: int) -> Decimation:
    """Plan the decimation of ``n`` bars whose first bar has global number ``origin``.

    Args:
        n: bars held.
        origin: global number of the first held bar (bars seen before it).
        max_points: points allowed per line (>= 4); about a quarter of them draw the most
            recent bars at full resolution, the rest the older bars as min/max pairs.
    """
    if n <= max_points:
        return Decimation(np.empty(0, dtype=np.int64), 0, n)
    recent = max(1, max_points // 4)
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
            return Decimation(starts, split, n)
        size *= 2
