"""The exchange's memory: a bounded history of published trades and their aggregates, per symbol.

REST answers come from here, and the aggregate ids given to ``@aggTrade`` events
are assigned here, so WebSocket and REST agree on every ``a``/``f``/``l``.

Aggregation rule: consecutive trades of one symbol in one published batch with
the same trade time, the same side (``m``), the same price and consecutive ids
form one aggregate trade (the fills of one taker order at one price level). A
batch boundary closes the aggregate: sources publish whole milliseconds. USD-M
(``merge_ms=100``) merges, as Binance does, fills at the same price and taker
side within 100 ms of the aggregate's first fill (still within one batch: a paced
source's batches are shorter than 100 ms, a max-speed one's are not).

Storage is columnar (numpy blocks of at least 8192 rows, plus a small pending
list), bounded to ``capacity`` rows per table: the oldest rows are dropped first.
About 41 bytes per trade plus ~57 per aggregate, so ~100 MB per symbol at the
default capacity of 2,000,000 trades. Ids must increase within a symbol; a trade
whose id is not above the last stored id is still published on ``@trade`` but
is neither stored nor aggregated (counted in :attr:`SymbolHistory.out_of_order`).

Not thread-safe: the exchange touches it from its event loop only.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Literal, Sequence

import numpy as np

from quantkit.exchange.protocol import AggTrade
from quantkit.schema import Trade

__all__ = ["ColumnLog", "SymbolHistory", "TRADE_COLUMNS", "AGG_COLUMNS"]

#: Columns of the trade table: id, price, qty, quote qty, trade time (ms), buyer-is-maker.
TRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "int64"),
    ("price", "float64"),
    ("qty", "float64"),
    ("quote_qty", "float64"),
    ("time", "int64"),
    ("m", "bool"),
)
#: Columns of the aggregate table (``a, p, q, f, l, T, m``).
AGG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("a", "int64"),
    ("price", "float64"),
    ("qty", "float64"),
    ("first", "int64"),
    ("last", "int64"),
    ("time", "int64"),
    ("m", "bool"),
)

_BLOCK = 8192


class ColumnLog:
    """An append-only, bounded table of typed columns with sorted lookups.

    Rows are appended as tuples; queries see them as numpy arrays. Columns named
    in ``sorted_columns`` must be non-decreasing in append order (ids, times).

    Args:
        columns: ``(name, dtype)`` pairs.
        capacity: rows kept; older rows are dropped.
        sorted_columns: names of the columns :meth:`search` may use.
    """

    def __init__(self, columns: Sequence[tuple[str, str]], capacity: int, sorted_columns: Sequence[str]) -> None:
        if capacity < 1:
            raise ValueError(f"capacity={capacity!r}: must be >= 1")
        self.names = tuple(n for n, _ in columns)
        self.dtypes = tuple(d for _, d in columns)
        self.capacity = int(capacity)
        self._sorted = {self.names.index(n) for n in sorted_columns}
        self._blocks: list[tuple[np.ndarray, ...]] = []
        self._starts: list[int] = []  # global row number of each block's first row
        self._lasts: dict[int, list[Any]] = {c: [] for c in self._sorted}
        self._pending: list[tuple] = []
        self._dropped = 0  # rows dropped from the front
        self._count = 0  # rows ever appended

    def __len__(self) -> int:
        return self._count - self._dropped

    @property
    def first_row(self) -> int:
        """Global row number of the oldest row kept."""
        return self._dropped

    @property
    def end_row(self) -> int:
        """Global row number after the newest row."""
        return self._count

    def append(self, rows: list[tuple]) -> None:
        """Append rows (tuples in column order)."""
        if not rows:
            return
        self._pending.extend(rows)
        self._count += len(rows)
        if len(self._pending) >= _BLOCK:
            self._seal()

    def _seal(self) -> None:
        if not self._pending:
            return
        cols = list(zip(*self._pending))
        arrays = tuple(np.asarray(c, dtype=d) for c, d in zip(cols, self.dtypes))
        start = self._count - len(self._pending)
        self._pending = []
        if self._blocks and len(self._blocks[-1][0]) < _BLOCK:
            last = self._blocks.pop()
            s = self._starts.pop()
            for c in self._sorted:
                self._lasts[c].pop()
            arrays = tuple(np.concatenate([a, b]) for a, b in zip(last, arrays))
            start = s
        self._blocks.append(arrays)
        self._starts.append(start)
        for c in self._sorted:
            self._lasts[c].append(arrays[c][-1])
        self._trim()

    def _trim(self) -> None:
        excess = len(self) - self.capacity
        while excess > 0 and self._blocks:
            n0 = len(self._blocks[0][0])
            if n0 <= excess:
                self._blocks.pop(0)
                self._starts.pop(0)
                for c in self._sorted:
                    self._lasts[c].pop(0)
                self._dropped += n0
                excess -= n0
            else:
                self._blocks[0] = tuple(a[excess:].copy() for a in self._blocks[0])
                self._starts[0] += excess
                self._dropped += excess
                excess = 0

    def search(self, column: str, value: int | float, *, side: Literal["left", "right"] = "left") -> int:
        """Global row number of the first row whose ``column`` is >= ``value`` (``side="left"``)
        or > ``value`` (``side="right"``); :attr:`end_row` when there is none."""
        self._seal()
        c = self.names.index(column)
        if c not in self._sorted:
            raise ValueError(f"column={column!r}: not a sorted column")
        lasts = self._lasts[c]
        if side == "left":
            k = bisect_left(lasts, value)  # first block whose last >= value
        else:
            k = _bisect_gt(lasts, value)  # first block whose last > value
        if k >= len(self._blocks):
            return self._count
        block = self._blocks[k][c]
        return self._starts[k] + int(np.searchsorted(block, value, side=side))

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, ...]:
        """Columns of global rows ``start:stop`` (clipped to the rows kept)."""
        self._seal()
        start = max(start, self._dropped)
        stop = min(stop, self._count)
        if stop <= start or not self._blocks:
            return tuple(np.empty(0, dtype=d) for d in self.dtypes)
        k = max(0, _bisect_le(self._starts, start))
        parts: list[tuple[np.ndarray, ...]] = []
        while k < len(self._blocks) and self._starts[k] < stop:
            s = self._starts[k]
            block = self._blocks[k]
            lo = max(start - s, 0)
            hi = min(stop - s, len(block[0]))
            if hi > lo:
                parts.append(tuple(a[lo:hi] for a in block))
            k += 1
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(self.dtypes)))


def _bisect_gt(values: list[Any], x: Any) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _bisect_le(values: list[int], x: int) -> int:
    """Index of the last value <= x (-1 when none)."""
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


class SymbolHistory:
    """Trades and aggregate trades of one symbol (see the module docstring).

    Args:
        symbol: upper-case symbol.
        capacity: trades kept (and aggregates kept), oldest dropped first.
        first_agg_id: the first aggregate id to assign.
        merge_ms: fills within this many ms of an aggregate's first fill may join it (USD-M: 100);
            0: only fills of the same millisecond (spot).

    Attributes:
        out_of_order: trades not stored because their id did not increase.
    """

    def __init__(self, symbol: str, capacity: int = 2_000_000, *, first_agg_id: int = 1, merge_ms: int = 0) -> None:
        self.symbol = symbol
        self.merge_ms = int(merge_ms)
        self.trades = ColumnLog(TRADE_COLUMNS, capacity, ("id", "time"))
        self.aggs = ColumnLog(AGG_COLUMNS, capacity, ("a", "time"))
        self.next_agg_id = int(first_agg_id)
        self.last_id: int | None = None
        self.last_time: int | None = None
        self.out_of_order = 0

    def add(self, trades: Sequence[Trade]) -> list[tuple[int, AggTrade]]:
        """Store one batch of this symbol's trades (in order) and aggregate them.

        Returns:
            The batch's aggregate trades, each with the index in ``trades`` of its
            last fill (where an ``@aggTrade`` event belongs in the stream).
        """
        rows: list[tuple] = []
        aggs: list[tuple[int, AggTrade]] = []
        agg_rows: list[tuple] = []
        last_id = self.last_id
        last_time = self.last_time
        cur: list | None = None  # [a, price, qty, first, last, T, E, m, index of last fill, sorted time]
        next_a = self.next_agg_id
        merge_ms = self.merge_ms
        for i, t in enumerate(trades):
            tid = t[1]
            if last_id is not None and tid <= last_id:
                self.out_of_order += 1
                continue
            tt = t[5]
            if last_time is not None and tt < last_time:
                tt = last_time  # keep the time column sorted; only REST time lookups see this
            price = t[2]
            m = t[7]
            rows.append((tid, price, t[3], t[4], tt, m))
            if (
                cur is not None
                and (cur[5] == t[5] or 0 <= t[5] - cur[5] < merge_ms)
                and cur[7] == m
                and cur[1] == price
                and cur[4] + 1 == tid
            ):
                cur[2] += t[3]
                cur[4] = tid
                cur[6] = t[6]
                cur[8] = i
            else:
                if cur is not None:
                    aggs.append((cur[8], AggTrade(*cur[:8])))
                    agg_rows.append((cur[0], cur[1], cur[2], cur[3], cur[4], cur[9], cur[7]))
                cur = [next_a, price, t[3], tid, tid, t[5], t[6], m, i, tt]
                next_a += 1
            last_id = tid
            last_time = tt
        if cur is not None:
            aggs.append((cur[8], AggTrade(*cur[:8])))
            agg_rows.append((cur[0], cur[1], cur[2], cur[3], cur[4], cur[9], cur[7]))
        self.last_id = last_id
        self.last_time = last_time
        self.next_agg_id = next_a
        self.trades.append(rows)
        self.aggs.append(agg_rows)
        return aggs

    # ---- queries (all return column tuples in the table's column order, at most `limit` rows, ascending)

    def recent_trades(self, limit: int) -> tuple[np.ndarray, ...]:
        """The newest ``limit`` trades."""
        end = self.trades.end_row
        return self.trades.rows(end - limit, end)

    def trades_from_id(self, from_id: int, limit: int) -> tuple[np.ndarray, ...]:
        """Up to ``limit`` trades with id >= ``from_id``."""
        start = self.trades.search("id", from_id)
        return self.trades.rows(start, start + limit)

    def recent_aggs(self, limit: int) -> tuple[np.ndarray, ...]:
        """The newest ``limit`` aggregate trades."""
        end = self.aggs.end_row
        return self.aggs.rows(end - limit, end)

    def aggs_query(
        self, *, from_id: int | None, start_time: int | None, end_time: int | None, limit: int
    ) -> tuple[np.ndarray, ...]:
        """Aggregates by id and/or time window (both inclusive), ascending, at most ``limit``.

        * ``from_id`` and/or ``start_time``: the first ``limit`` rows at or after them;
        * only ``end_time``: the last ``limit`` rows at or before it;
        * nothing: the newest ``limit`` rows.
        """
        return _window_query(self.aggs, "a", from_id, start_time, end_time, limit)

    def trades_query(
        self, *, from_id: int | None, start_time: int | None, end_time: int | None, limit: int
    ) -> tuple[np.ndarray, ...]:
        """Trades by id and/or time window, with the same rules as :meth:`aggs_query`."""
        return _window_query(self.trades, "id", from_id, start_time, end_time, limit)


def _window_query(
    log: ColumnLog, id_column: str, from_id: int | None, start_time: int | None, end_time: int | None, limit: int
) -> tuple[np.ndarray, ...]:
    """The rows of ``log`` selected by id and/or time window (see :meth:`SymbolHistory.aggs_query`)."""
    lo = log.first_row
    hi = log.end_row
    if from_id is not None:
        lo = max(lo, log.search(id_column, from_id))
    if start_time is not None:
        lo = max(lo, log.search("time", start_time))
    if end_time is not None:
        hi = min(hi, log.search("time", end_time, side="right"))
    if hi <= lo:
        return log.rows(0, 0)
    if from_id is None and start_time is None:
        return log.rows(max(lo, hi - limit), hi)
    return log.rows(lo, min(hi, lo + limit))
