"""Trade-id gap detection per symbol (Sans-I/O).

Binance numbers trades per symbol with consecutive integers (``t`` for @trade,
``a`` for @aggTrade). :class:`GapDetector` remembers the last id delivered per
symbol and classifies each new id:

* ``last + 1`` (or the first id of a symbol): in order, deliver;
* ``> last + 1``: deliver, and record a :class:`Gap` for ``last + 1 .. id - 1``;
* ``<= last`` and inside a recently recorded gap: ``"out_of_order"`` (a late
  arrival), not delivered; the gap record stays, because the REST backfill
  fetches the whole range and the store dedups by id;
* ``<= last`` otherwise: ``"duplicate"`` (already delivered), not delivered.

So the stream a detector lets through is strictly increasing in id per
symbol, and every hole in it is described by exactly one :class:`Gap`.
The state survives reconnects: a jump across a reconnection is a gap too.

A detected gap carries ``filled=False`` and ``reason=None``. The feed client
reports each gap's *outcome* to its ``on_gap`` callback with the same class:
``filled=True`` when the REST backfill delivered every id of the range, or
``filled=False`` with a ``reason`` from :data:`GAP_REASONS` for the ids that
could not be recovered (see :mod:`quantkit.feed.backfill`).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Mapping

__all__ = ["GAP_REASONS", "Gap", "GapDetector"]

#: Why a reported gap was not filled (:attr:`Gap.reason`):
#:
#: * ``"disabled"``: backfill is off (``FeedClient(backfill=False)``);
#: * ``"not_served"``: the exchange's REST history does not hold these ids (older
#:   than it keeps, or never published): the page started after ``fromId`` or was empty;
#: * ``"rest_error"``: REST kept failing (5xx/timeouts past the retries, other 4xx, bad bodies);
#: * ``"rate_limited"``: a 429/418 wait (``Retry-After``) or the weight budget was
#:   longer than the backfill may wait;
#: * ``"overflow"``: the symbol's held live trades hit their bound before the backfill finished.
GAP_REASONS: tuple[str, ...] = ("disabled", "not_served", "rest_error", "rate_limited", "overflow")


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of missing trade ids for one symbol.

    Attributes:
        symbol: upper-case symbol.
        from_id: first missing trade id (inclusive).
        to_id: last missing trade id (inclusive).
        first_missing_time: earliest possible trade time of the missing trades,
            ms since the epoch (UTC): the trade time of the last trade seen before
            the gap. ``None`` when the detector was seeded with an id but no time.
        next_trade_time: trade time of the trade that revealed the gap (ms, UTC):
            the missing trades happened in ``[first_missing_time, next_trade_time]``.
        detected_at: wall-clock time of detection, ms since the epoch (UTC).
        filled: True when the backfill recovered every id of ``from_id..to_id``
            (then, for a filled gap, ``first_missing_time`` and ``next_trade_time`` are the
            trade times of the first and last recovered trade). Default False.
        reason: for a reported gap that was not filled, why (one of
            :data:`GAP_REASONS`); ``None`` for filled gaps and for gaps as
            :class:`GapDetector` detects them (outcome not known yet).
    """

    symbol: str
    from_id: int
    to_id: int
    first_missing_time: int | None
    next_trade_time: int
    detected_at: int
    filled: bool = False
    reason: str | None = None

    @property
    def missing(self) -> int:
        """Number of missing trade ids."""
        return self.to_id - self.from_id + 1


class GapDetector:
    """Classify trade ids per symbol as in order, gap, duplicate or out of order.

    Args:
        last_ids: last trade id already held per symbol (e.g. from the store), so a
            gap between the store and the first live trade is detected. ``None``:
            the first trade of each symbol starts its sequence.
        wall_clock: seconds since the epoch, for :attr:`Gap.detected_at`
            (default ``time.time``; inject for tests).
        remembered_gaps: how many recent gaps per symbol are kept to tell late
            arrivals (``"out_of_order"``) from duplicates. Default 64.

    Not thread-safe: one detector belongs to one feed loop.
    """

    def __init__(
        self,
        last_ids: Mapping[str, int] | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
        remembered_gaps: int = 64,
    ) -> None:
        if remembered_gaps < 1:
            raise ValueError(f"remembered_gaps={remembered_gaps!r}: must be >= 1")
        self._last: dict[str, int] = {}
        for symbol, tid in (last_ids or {}).items():
            if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
                raise ValueError(f"last_ids[{symbol!r}]={tid!r}: expected a non-negative integer trade id")
            self._last[symbol] = tid
        self._last_time: dict[str, int] = {}
        self._recent: dict[str, deque[tuple[int, int]]] = {}
        self._wall_clock = wall_clock
        self._remembered = remembered_gaps

    def observe(self, symbol: str, trade_id: int, trade_time: int) -> Gap | str | None:
        """Classify one trade id and advance the symbol's sequence.

        Args:
            symbol: the trade's symbol.
            trade_id: the trade's id.
            trade_time: the trade's time, ms since the epoch.

        Returns:
            ``None``: in order, deliver it. A :class:`Gap`: deliver it, ids were
            missed before it. ``"duplicate"`` or ``"out_of_order"``: drop it.
        """
        last = self._last.get(symbol)
        if last is None or trade_id == last + 1:
            self._last[symbol] = trade_id
            self._last_time[symbol] = trade_time
            return None
        if trade_id > last:
            gap = Gap(
                symbol,
                last + 1,
                trade_id - 1,
                self._last_time.get(symbol),
                trade_time,
                int(self._wall_clock() * 1000),
            )
            recent = self._recent.get(symbol)
            if recent is None:
                recent = self._recent[symbol] = deque(maxlen=self._remembered)
            recent.append((gap.from_id, gap.to_id))
            self._last[symbol] = trade_id
            self._last_time[symbol] = trade_time
            return gap
        for lo, hi in self._recent.get(symbol, ()):
            if lo <= trade_id <= hi:
                return "out_of_order"
        return "duplicate"

    def advance(self, symbol: str, trade_id: int, trade_time: int) -> bool:
        """Record that ``trade_id`` reached the sink by another path (REST backfill).

        Moves the symbol's sequence forward when ``trade_id`` is beyond it (so the
        same id arriving live later is a ``"duplicate"``); ids at or below it change nothing.

        Returns:
            True when the sequence moved.
        """
        last = self._last.get(symbol)
        if last is not None and trade_id <= last:
            return False
        self._last[symbol] = trade_id
        self._last_time[symbol] = trade_time
        return True

    def last_time(self, symbol: str) -> int | None:
        """Trade time (ms) of the last trade let through for ``symbol``; ``None`` if unknown (seeded id)."""
        return self._last_time.get(symbol)

    def last_id(self, symbol: str) -> int | None:
        """The last trade id let through for ``symbol`` (``None`` if none yet)."""
        return self._last.get(symbol)

    @property
    def last_ids(self) -> dict[str, int]:
        """A copy of the last trade id let through, per symbol."""
        return dict(self._last)
