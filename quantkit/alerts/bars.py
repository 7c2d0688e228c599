"""Incremental tick -> bar aggregation, bar for bar equal to :meth:`TickStore.bars`.

Bars are left-closed and left-labelled on an epoch-aligned grid (the store's
convention, see :mod:`quantkit.schema`); a bar without trades does not exist.
A :class:`BarBuilder` receives ticks in time order, in batches of any size,
and returns the bars that became final: a bar is final when a tick of a later
bar arrives, or when :meth:`BarBuilder.close_until` says that time has passed
its end. Rows are float64 arrays with the columns :data:`BAR_FIELDS` (``vwap``
is derived: ``quote_volume / volume``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from quantkit.errors import ConfigError

__all__ = ["BAR_FIELDS", "BAR_SIZES", "BarBuilder", "bar_ms", "bars_to_rows"]

#: Columns of a bar row: open time (ms since the epoch, UTC) then the aggregates.
BAR_FIELDS: tuple[str, ...] = (
    "open_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume",
)  # fmt: skip
_OPEN, _O, _H, _L, _C, _V, _QV, _N, _TBV = range(9)

#: Bar sizes offered by the live views, with their length in ms.
BAR_SIZES: dict[str, int] = {"1s": 1_000, "5s": 5_000, "15s": 15_000, "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}

_UNITS = {"s": 1_000, "m": 60_000, "min": 60_000, "h": 3_600_000}


def bar_ms(bar: str) -> int:
    """Length of a bar size such as ``"1s"``, ``"1m"``, ``"5m"`` in milliseconds.

    Raises:
        ConfigError: an unknown bar size (names the value).
    """
    m = re.fullmatch(r"\s*(\d+)\s*(s|m|min|h)\s*", str(bar))
    if not m or int(m.group(1)) <= 0:
        raise ConfigError("bar", bar, "expected a bar size such as 1s, 1m, 5m or 1h")
    ms = int(m.group(1)) * _UNITS[m.group(2)]
    if 86_400_000 % ms:
        raise ConfigError("bar", bar, "must divide a day (bars are aligned on the epoch)")
    return ms


def bars_to_rows(frame: pd.DataFrame) -> np.ndarray:
    """A store bar frame (:data:`quantkit.schema.BAR_COLUMNS`) as bar rows (:data:`BAR_FIELDS`)."""
    if frame is None or len(frame) == 0:
        return np.empty((0, len(BAR_FIELDS)))
    idx = pd.DatetimeIndex(frame.index)
    open_ms = (idx.as_unit("ns").asi8 // 1_000_000).astype(np.float64)
    cols = [open_ms] + [frame[c].to_numpy(dtype=np.float64) for c in BAR_FIELDS[1:]]
    return np.column_stack(cols)


class BarBuilder:
    """Fold time-ordered ticks of one symbol into bars of ``freq_ms``.

    Args:
        freq_ms: bar length in milliseconds (e.g. ``bar_ms("1m")``).

    Attributes:
        freq_ms: bar length, ms.
        last_time_ms: time of the newest tick folded in, ms (-1 before any).
        last_trade_id: id of the newest tick folded in (-1 before any); ticks with an
            id at or below it are skipped as already seen.
        final_ms: every bar opening before this time is final (ms).
        late: ticks dropped because their bar was already final.
        ticks: ticks folded in.
    """

    def __init__(self, freq_ms: int) -> None:
        if int(freq_ms) <= 0:
            raise ConfigError("freq_ms", freq_ms, "must be > 0")
        self.freq_ms = int(freq_ms)
        self.last_time_ms = -1
        self.last_trade_id = -1
        self.final_ms = -(2**62)
        self.late = 0
        self.ticks = 0
        self._cur: np.ndarray | None = None

    @property
    def partial(self) -> np.ndarray | None:
        """The bar still open (a copy of its row), or ``None``."""
        return None if self._cur is None else self._cur.copy()

    def start_at(self, t_ms: int, *, last_trade_id: int = -1) -> None:
        """Declare every bar before ``t_ms`` final (seeding from stored bars) and skip ids <= ``last_trade_id``."""
        f = self.freq_ms
        self.final_ms = max(self.final_ms, (int(t_ms) // f) * f)
        self.last_trade_id = max(self.last_trade_id, int(last_trade_id))
        self.last_time_ms = max(self.last_time_ms, int(t_ms))

    def add(
        self,
        t_ms: np.ndarray,
        trade_id: np.ndarray,
        price: np.ndarray,
        qty: np.ndarray,
        quote_qty: np.ndarray,
        is_buyer_maker: np.ndarray,
    ) -> np.ndarray:
        """Fold a batch of ticks (time order); returns the bars that became final, shape ``(k, 9)``."""
        t_ms = np.asarray(t_ms, dtype=np.int64)
        trade_id = np.asarray(trade_id, dtype=np.int64)
        keep = trade_id > self.last_trade_id
        f = self.freq_ms
        b = (t_ms // f) * f
        late = keep & (b < self.final_ms)
        if late.any():
            self.late += int(late.sum())
            keep &= ~late
        if not keep.all():
            t_ms, trade_id, b = t_ms[keep], trade_id[keep], b[keep]
            price, qty, quote_qty, is_buyer_maker = (np.asarray(a)[keep] for a in (price, qty, quote_qty, is_buyer_maker))
        n = len(t_ms)
        if n == 0:
            return np.empty((0, len(BAR_FIELDS)))
        price = np.asarray(price, dtype=np.float64)
        qty = np.asarray(qty, dtype=np.float64)
        quote_qty = np.asarray(quote_qty, dtype=np.float64)
        buy = np.where(np.asarray(is_buyer_maker, dtype=bool), 0.0, qty)
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        ends = np.r_[starts[1:], n] - 1
        rows = np.column_stack([
            b[starts].astype(np.float64),
            price[starts],
            np.maximum.reduceat(price, starts),
            np.minimum.reduceat(price, starts),
            price[ends],
            np.add.reduceat(qty, starts),
            np.add.reduceat(quote_qty, starts),
            (ends - starts + 1).astype(np.float64),
            np.add.reduceat(buy, starts),
        ])  # fmt: skip
        closed: list[np.ndarray] = []
        cur = self._cur
        if cur is not None:
            if rows[0, _OPEN] == cur[_OPEN]:
                r = rows[0]
                r[_O] = cur[_O]
                r[_H] = max(r[_H], cur[_H])
                r[_L] = min(r[_L], cur[_L])
                r[_V] += cur[_V]
                r[_QV] += cur[_QV]
                r[_N] += cur[_N]
                r[_TBV] += cur[_TBV]
            else:
                closed.append(cur[None, :])
        if len(rows) > 1:
            closed.append(rows[:-1])
        self._cur = rows[-1].copy()
        self.final_ms = max(self.final_ms, int(self._cur[_OPEN]))
        self.last_time_ms = int(t_ms[-1])
        self.last_trade_id = int(trade_id.max())
        self.ticks += n
        return np.concatenate(closed) if closed else np.empty((0, len(BAR_FIELDS)))

    def close_until(self, t_ms: int) -> np.ndarray:
        """Declare that no tick before ``t_ms`` will come: close the open bar if it ended by then."""
        f = self.freq_ms
        edge = (int(t_ms) // f) * f
        out = np.empty((0, len(BAR_FIELDS)))
        if self._cur is not None and self._cur[_OPEN] + f <= t_ms:
            out = self._cur[None, :].copy()
            self._cur = None
        self.final_ms = max(self.final_ms, edge)
        return out
