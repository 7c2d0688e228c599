"""A simple order book consistent with the trades, and USD-M mark price / funding (sans-I/O).

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

import numpy as np

from quantkit.exchange.source import SymbolSpec

__all__ = ["Extent", "FUNDING_INTERVAL_MS", "FUNDING_RATE", "LEVELS", "TouchBook", "funding_times"]

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


class TouchBook:
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

    @property
    def mid(self) -> float | None:
        """Mid price (``None`` before the first trade)."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) * self.tick / 2

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

    def touch(self) -> tuple[int, int] | None:
        """``(bid, ask)`` in ticks, or ``None`` before the first trade."""
        if self.bid is None or self.ask is None:
            return None
        return self.bid, self.ask
