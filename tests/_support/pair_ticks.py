"""A cointegrated pair of tick streams with known truth, written into a real TickStore.

``x`` is a geometric random walk; ``y = exp(alpha + beta * log x + s)`` with ``s`` an AR(1) spread of
coefficient ``phi`` (half-life ``ln 0.5 / ln phi`` ticks). One trade per ``step`` per leg, ids
counting from ``first_id``. Used by the pair-loader, verdict and basis-pair tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["pair_frames", "write_pair"]


def pair_frames(
    start: Any,
    n: int,
    *,
    seed: int = 0,
    step: str = "1s",
    x0: float = 60_000.0,
    alpha: float = 0.0,
    beta: float = 1.0,
    phi: float = 0.97,
    vol: float = 2e-4,
    spread_vol: float = 2e-4,
    first_id: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tick frames ``(y, x)`` of ``n`` trades each from ``start`` every ``step`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tzinfo is None else pd.Timestamp(start),
                        periods=n, freq=step, name="time")
    lx = np.log(x0) + np.cumsum(rng.normal(0.0, vol, n))
    s = np.zeros(n)
    eps = rng.normal(0.0, spread_vol, n)
    for i in range(1, n):
        s[i] = phi * s[i - 1] + eps[i]
    ly = alpha + beta * lx + s
    out = []
    for lp in (ly, lx):
        price = np.round(np.exp(lp), 2)
        qty = np.round(rng.uniform(0.001, 0.5, n), 3)
        out.append(pd.DataFrame({
            "trade_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "price": price,
            "qty": qty,
            "quote_qty": price * qty,
            "is_buyer_maker": rng.random(n) < 0.5,
        }, index=idx))
    return out[0], out[1]


def write_pair(store: Any, y: str, x: str, start: Any, n: int, *, markets: tuple[str | None, str | None] = (None, None),
               **kw: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate :func:`pair_frames` and append them to ``store`` under ``y`` and ``x`` (with their markets)."""
    fy, fx = pair_frames(start, n, **kw)
    store.append_ticks(y, fy, market=markets[0])
    store.append_ticks(x, fx, market=markets[1])
    return fy, fx
