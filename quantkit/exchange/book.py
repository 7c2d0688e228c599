"""Order books: a simple one consistent with the trades, a replayed capture's own, and USD-M mark price / funding (sans-I/O).

**Recorded book.** A replayed capture with a REST depth snapshot and ``@depth`` diffs serves
its own book (:class:`RecordedBook`); the model below is for the synthetic market and for
replays without a recorded book.

**Book model.** Trades happen at the touch: after a taker buy at price ``p`` the
best ask is ``p`` and the best bid one tick below; after a taker sell at ``p`` the
best bid is ``p`` and the best ask one tick above (the synthetic market fills at
exactly these prices, deeper fills walk the book). The book holds
:data:`LEVELS` price levels per side, one tick apart from the touch; the quantity
resting at a price depends only on that price (a deterministic hash of the price
in ticks, 1 to 40 times ~250 USD of notional, rounded to the step size), so the
book is a pure function of the touch. Every change of the touch increments
``lastUpdateId`` by one.

Diff events (``@depth``) carry every level that entered or left a side through
all the touches since the previous event (tracked as the range of touches seen), ``U`` = first update id since the previous
event, ``u`` = the current one, ``pu`` (USD-M) = the previous event's ``u``; a
standard local-book builder (REST snapshot, drop events with ``u <=
lastUpdateId``, apply the rest) reproduces the REST snapshot exactly.

**Mark price model (USD-M).** ``markPrice`` = ``indexPrice`` = ``estimatedSettlePrice``
= the mid of the touch; the funding rate is the default interest rate
(0.0001 per 8 h, no premium); funding happens at 00:00, 08:00 and 16:00 UTC.
"""

from __future__ import annotations

import bisect
import heapq
from typing import TYPE_CHECKING

import numpy as np

from quantkit.exchange.source import SymbolSpec

if TYPE_CHECKING:
    from quantkit.datafiles.capture_book import CapturedBook

__all__ = ["Book", "Changes", "Extent", "FUNDING_INTERVAL_MS", "FUNDING_RATE", "LEVELS", "RecordedBook", "TouchBook", "funding_times"]

#: Price levels per side.
LEVELS = 1000
#: Funding rate per funding interval (Binance's default interest rate, no premium).
FUNDING_RATE = 0.0001
#: Funding every 8 hours (00:00, 08:00, 16:00 UTC).
FUNDING_INTERVAL_MS = 8 * 3_600_000
_NOTIONAL = 250.0


def funding_times(start_ms: int, end_ms: int) -> list[int]:
    """Funding times (ms) within ``[start_ms, end_ms]``."""
    first = -(-start_ms // FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS
    return list(range(first, end_ms + 1, FUNDING_INTERVAL_MS))


class Extent:
    """The range of touches (best bid and ask, in ticks) seen since the last diff of one stream."""

    __slots__ = ("bmin", "bmax", "amin", "amax")

    def __init__(self, touch: tuple[int, int] | None) -> None:
        self.bmin: int | None = None
        self.bmax: int | None = None
        self.amin: int | None = None
        self.amax: int | None = None
        self.reset(touch)

    def reset(self, touch: tuple[int, int] | None) -> None:
        """Start a new interval at ``touch``."""
        if touch is None:
            self.bmin = self.bmax = self.amin = self.amax = None
        else:
            self.bmin = self.bmax = touch[0]
            self.amin = self.amax = touch[1]

    def include(self, bid: int, ask: int) -> None:
        """Widen the range to a new touch."""
        if self.bmin is None or self.bmax is None or self.amin is None or self.amax is None:
            return  # started before the first trade: the next diff sends the whole book
        self.bmin, self.bmax = min(self.bmin, bid), max(self.bmax, bid)
        self.amin, self.amax = min(self.amin, ask), max(self.amax, ask)


class _Touch:
    """What every book serves from its best bid and ask (ticks): :meth:`touch` and :attr:`mid`."""

    tick: float
    bid: int | None
    ask: int | None

    def touch(self) -> tuple[int, int] | None:
        """``(bid, ask)`` in ticks, or ``None`` while a side is unknown (before the first trade, an empty side)."""
        if self.bid is None or self.ask is None:
            return None
        return self.bid, self.ask

    @property
    def mid(self) -> float | None:
        """Mid price (``None`` while a side is unknown)."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) * self.tick / 2


class TouchBook(_Touch):
    """The book of one symbol (see the module docstring).

    Args:
        spec: the symbol's tick and step sizes.
        levels: price levels per side.

    Attributes:
        bid: best bid in ticks (``None`` before the first trade).
        ask: best ask in ticks.
        update_id: ``lastUpdateId`` (number of touch changes).
    """

    def __init__(self, spec: SymbolSpec, levels: int = LEVELS) -> None:
        self.spec = spec
        self.levels = levels
        self.tick = spec.tick
        self.step = spec.step
        self.bid: int | None = None
        self.ask: int | None = None
        self.update_id = 0
        self.time = 0  # trade time of the last touch change, ms
        self._extents: list[Extent] = []

    def on_trade(self, price: float, buyer_maker: bool, t_ms: int) -> bool:
        """Move the touch to the trade at ``price`` (taker sold when ``buyer_maker``); True if it changed."""
        k = int(round(price / self.tick))
        bid, ask = (k, k + 1) if buyer_maker else (k - 1, k)
        if bid == self.bid and ask == self.ask:
            return False
        self.bid, self.ask = bid, ask
        self.update_id += 1
        self.time = t_ms
        for ext in self._extents:
            ext.include(bid, ask)
        return True

    def qty_at(self, ticks: np.ndarray) -> np.ndarray:
        """Quantity resting at each price (in ticks), a multiple of the step size."""
        k = np.asarray(ticks, dtype="uint64")
        h = (k * np.uint64(2654435761) + np.uint64(12345)) % np.uint64(2**32)
        mult = 1 + (h >> np.uint64(7)) % np.uint64(40)
        price = np.maximum(k.astype("float64") * self.tick, self.tick)
        steps = np.maximum(np.round(_NOTIONAL * mult.astype("float64") / price / self.step), 1.0)
        return steps * self.step

    def sides(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Price levels in ticks: bids (descending) and asks (ascending), ``limit`` per side."""
        if self.bid is None or self.ask is None:
            return np.empty(0, "int64"), np.empty(0, "int64")
        n = self.levels if limit is None else min(limit, self.levels)
        bids = self.bid - np.arange(n, dtype="int64")
        bids = bids[bids > 0]
        asks = self.ask + np.arange(n, dtype="int64")
        return bids, asks

    def track(self) -> "Extent":
        """Start following the touch for a diff stream (see :class:`Extent`)."""
        ext = Extent(self.touch())
        self._extents.append(ext)
        return ext

    def untrack(self, ext: "Extent") -> None:
        """Stop following the touch for ``ext``."""
        if ext in self._extents:
            self._extents.remove(ext)

    def diff(self, ext: "Extent") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Levels that may have changed since ``ext`` was last reset, with their current quantities.

        Every level whose quantity changed between the touch at the last reset and now, through
        every touch in between, is included (0 when it is no longer in the book); a level that
        left and came back may be included with its unchanged quantity. Resets ``ext``.

        Returns:
            bid prices (ticks, descending), bid quantities, ask prices (ascending), ask quantities.
        """
        touch = self.touch()
        if touch is None:
            empty = np.empty(0, "int64")
            return empty, np.empty(0), empty, np.empty(0)
        if ext.bmin is None:  # no book at the last reset: everything is new
            bids, asks = self.sides()
            ext.reset(touch)
            return bids, self.qty_at(bids), asks, self.qty_at(asks)
        n = self.levels
        assert ext.bmax is not None and ext.amin is not None and ext.amax is not None
        bmin, bmax, amin, amax = ext.bmin, ext.bmax, ext.amin, ext.amax
        # bid windows are [b - n + 1, b]: what is not in every window during the interval may have changed
        bp = np.unique(np.r_[np.arange(bmin - n + 1, bmax - n + 1), np.arange(bmin + 1, bmax + 1)])[::-1]
        bp = bp[bp > 0]
        ap = np.unique(np.r_[np.arange(amin, amax), np.arange(amin + n, amax + n)])
        bid, ask = touch
        bq = np.where((bp <= bid) & (bp > bid - n), self.qty_at(bp), 0.0)
        aq = np.where((ap >= ask) & (ap < ask + n), self.qty_at(ap), 0.0)
        ext.reset(touch)
        return bp, bq, ap, aq


class Changes:
    """The price levels (in ticks) a :class:`RecordedBook` changed since a diff stream's last event."""

    __slots__ = ("bids", "asks")

    def __init__(self) -> None:
        self.bids: set[int] = set()
        self.asks: set[int] = set()


class RecordedBook(_Touch):
    """A replayed capture's own order book, with :class:`TouchBook`'s interface (sans-I/O).

    Built from the recording's REST snapshot and advanced through its ``depthUpdate`` events
    as the replay's trades pass their event time ``E``: the touch, REST ``depth``, the
    ``depth`` diff streams and ``bookTicker`` are the recorded book's, and ``lastUpdateId`` /
    ``U`` / ``u`` / ``pu`` are the recorded update ids (diff events carry the levels the
    recording changed since the previous event, at the stream's own cadence). A looped replay
    starts each pass from the snapshot again, its update ids shifted past the previous pass's
    so they keep increasing, and the next diff event carries every level of both books.

    Args:
        spec: the symbol's tick and step sizes (prices are held in ticks).
        recording: the symbol's :class:`~quantkit.datafiles.capture_book.CapturedBook` (usable).
        t0_ms: first trade time of the recording (start of pass 0), ms.
        period_ms: shift of trade times per pass of a looped replay, ms (0: no loop).
    """

    def __init__(self, spec: SymbolSpec, recording: "CapturedBook", t0_ms: int, period_ms: int = 0) -> None:
        if recording.snapshot_id is None:
            raise ValueError(f"{recording.symbol}: the recording has no depth snapshot")
        self.tick = spec.tick
        sid = recording.snapshot_id
        self._diffs = [d for d in recording.diffs if d.last_id > sid]
        self._times = [d.event_time for d in self._diffs]
        # every diff's levels as (ticks, quantities) lists, converted once: the replay then only walks lists
        self._levels = [(self._pairs(d.bids), self._pairs(d.asks)) for d in self._diffs]
        self._snapshot = (self._pairs(recording.bids), self._pairs(recording.asks))  # every pass starts here
        self._rec = recording
        self._t0 = int(t0_ms)
        self._period = int(period_ms)
        self._id_span = (self._diffs[-1].last_id - sid + 1) if self._diffs else 1
        self._extents: list[Changes] = []
        self.sequence_breaks = 0  # diffs that did not continue the previous one's ids
        self.bid: int | None = None
        self.ask: int | None = None
        self._bids: dict[int, float] = {}
        self._asks: dict[int, float] = {}
        self._bheap: list[int] = []  # -ticks of the bid levels (stale entries allowed, see _apply)
        self._aheap: list[int] = []  # ticks of the ask levels
        self._pass = -1
        self._i = 0
        self.update_id = 0
        self.time = 0
        self._start(0)

    # ------------------------------------------------------------------ replaying the recording
    def _ticks(self, prices: np.ndarray) -> list[int]:
        return np.rint(prices / self.tick).astype("int64").tolist()

    def _pairs(self, levels: np.ndarray) -> list[tuple[int, float]]:
        return list(zip(self._ticks(levels[:, 0]), levels[:, 1].tolist()))

    def _start(self, k: int) -> None:
        """Begin pass ``k`` at the snapshot; every level of the old and the new book counts as changed."""
        rec = self._rec
        old_b, old_a = set(self._bids), set(self._asks)
        bids, asks = self._snapshot
        self._bids = {t: q for t, q in bids if q > 0}
        self._asks = {t: q for t, q in asks if q > 0}
        for ext in self._extents:
            ext.bids |= old_b | set(self._bids)
            ext.asks |= old_a | set(self._asks)
        self._pass = k
        self._i = 0
        assert rec.snapshot_id is not None
        self.update_id = rec.snapshot_id + k * self._id_span
        self._last_u = rec.snapshot_id
        self._bheap = [-t for t in self._bids]
        self._aheap = list(self._asks)
        heapq.heapify(self._bheap)
        heapq.heapify(self._aheap)
        self._touch(-self._bheap[0] if self._bheap else None, self._aheap[0] if self._aheap else None)

    def _apply(self, side: dict[int, float], levels: list[tuple[int, float]], changed: list[set[int]],
               heap: list[int], sign: int) -> int | None:
        """Apply one side of a diff; returns that side's best (ticks). ``heap`` holds ``sign * ticks`` of
        the side's levels (a max-heap of bids with sign -1, a min-heap of asks with +1), stale entries
        dropped lazily: the best after a diff costs O(log n), where a scan of the side for it cost
        ~4 us per replayed trade at max speed."""
        for t, q in levels:
            if q > 0:
                if t not in side:
                    heapq.heappush(heap, sign * t)
                side[t] = q
            else:
                side.pop(t, None)
            for c in changed:
                c.add(t)
        while heap and sign * heap[0] not in side:
            heapq.heappop(heap)
        return sign * heap[0] if heap else None

    def _touch(self, bid: int | None, ask: int | None) -> bool:
        changed = bid != self.bid or ask != self.ask
        self.bid, self.ask = bid, ask
        return changed

    def advance(self, t_ms: int) -> bool:
        """Apply the recorded diffs up to exchange time ``t_ms``; True if the best bid or ask moved."""
        k = 0
        if self._period > 0 and t_ms >= self._t0:
            k = (t_ms - self._t0) // self._period
        rt = t_ms - k * self._period
        if k != self._pass:
            self._start(k)
        n = bisect.bisect_right(self._times, rt)
        if n <= self._i:
            return False
        for j in range(self._i, n):
            d = self._diffs[j]
            if d.prev_id is not None:
                if d.prev_id != self._last_u and self._last_u != self._rec.snapshot_id:
                    self.sequence_breaks += 1
            elif d.first_id != self._last_u + 1 and self._last_u != self._rec.snapshot_id:
                self.sequence_breaks += 1
            b, a = self._levels[j]
            bid = self._apply(self._bids, b, [e.bids for e in self._extents], self._bheap, -1)
            ask = self._apply(self._asks, a, [e.asks for e in self._extents], self._aheap, 1)
            self._last_u = d.last_id
        self._i = n
        self.update_id = self._last_u + k * self._id_span
        self.time = self._diffs[n - 1].event_time + k * self._period
        return self._touch(bid, ask)

    # ------------------------------------------------------------------ TouchBook's interface
    def on_trade(self, price: float, buyer_maker: bool, t_ms: int) -> bool:
        """A trade was published at exchange time ``t_ms``: catch the book up to it (True if the touch moved)."""
        return self.advance(t_ms)

    def qty_at(self, ticks: np.ndarray) -> np.ndarray:
        """Quantity resting at each price (in ticks); 0 where there is none."""
        b, a = self._bids, self._asks
        return np.array([b.get(k) or a.get(k, 0.0) for k in np.asarray(ticks, dtype="int64").tolist()], dtype=np.float64)

    def sides(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Price levels in ticks: bids (descending) and asks (ascending), ``limit`` per side."""
        nb = len(self._bids) if limit is None else min(limit, len(self._bids))
        na = len(self._asks) if limit is None else min(limit, len(self._asks))
        return (np.array(heapq.nlargest(nb, self._bids), dtype="int64"),
                np.array(heapq.nsmallest(na, self._asks), dtype="int64"))

    def track(self) -> Changes:
        """Start collecting changed levels for a diff stream."""
        ext = Changes()
        self._extents.append(ext)
        return ext

    def untrack(self, ext: Changes) -> None:
        """Stop collecting for ``ext``."""
        if ext in self._extents:
            self._extents.remove(ext)

    def diff(self, ext: Changes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Levels changed since ``ext`` was last reset, with their current quantities (0: gone); resets ``ext``."""
        bp = np.array(sorted(ext.bids, reverse=True), dtype="int64")
        ap = np.array(sorted(ext.asks), dtype="int64")
        bq = np.array([self._bids.get(k, 0.0) for k in bp.tolist()], dtype=np.float64)
        aq = np.array([self._asks.get(k, 0.0) for k in ap.tolist()], dtype=np.float64)
        ext.bids, ext.asks = set(), set()
        return bp, bq, ap, aq


#: What the exchange serves a symbol's book from: the model or a recording.
Book = TouchBook | RecordedBook
