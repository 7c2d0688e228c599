"""Pacing: release trade blocks at ``speed`` times exchange time, in batches of whole milliseconds."""

from __future__ import annotations

import asyncio
import math
import time
from typing import AsyncIterator, Awaitable, Callable, Iterable

import numpy as np

from quantkit.errors import SourceError
from quantkit.exchange._columns import TradeColumns

__all__ = ["Clock", "Pacer", "Sleep", "check_speed"]

#: A monotonic clock in seconds (``time.monotonic`` or a fake in tests).
Clock = Callable[[], float]
#: An async sleep in seconds (``asyncio.sleep`` or a fake in tests).
Sleep = Callable[[float], Awaitable[None]]


def check_speed(speed: float) -> float:
    """Validate a speed factor: a number > 0, ``float("inf")`` meaning as fast as possible.

    Raises:
        SourceError: ``speed`` is not a positive number.
    """
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise SourceError(f"speed={speed!r}: expected a number > 0 or float('inf')") from None
    if math.isnan(value) or value <= 0:
        raise SourceError(f"speed={speed!r}: expected a number > 0 or float('inf')")
    return value


class Pacer:
    """Cut trade blocks into batches released at exchange time / ``speed``.

    The first trade is released at once and anchors the schedule: a trade at
    exchange time ``T`` is released at ``anchor + (T - T0) / speed`` seconds of
    ``clock``. When the consumer is late, every trade already due goes out in one
    batch (at most ``max_batch`` trades, extended to the end of its millisecond),
    so the schedule never drifts. With ``speed == inf`` nothing sleeps: batches of
    ``max_batch`` trades (plus the rest of their millisecond) go out as fast as the
    consumer pulls them.

    Args:
        speed: exchange seconds per wall second; ``float("inf")`` for no pacing.
        clock: monotonic clock in seconds (inject a fake in tests).
        sleep: async sleep in seconds (inject a fake in tests).
        max_batch: most trades per batch before extending to a millisecond boundary.
        anchor_ms: exchange time that is "now" when the first batch is asked for; ``None``: the
            first trade's time. Trades before it (a synthetic market's past) are due at once.
    """

    def __init__(
        self,
        speed: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_batch: int = 2000,
        anchor_ms: int | None = None,
    ) -> None:
        self.speed = check_speed(speed)
        self._clock = clock
        self._sleep = sleep
        self._max_batch = max(1, int(max_batch))
        self._anchor_wall: float | None = None
        self._anchor_ms = 0
        self._fixed_anchor = None if anchor_ms is None else int(anchor_ms)

    async def batches(self, blocks: Iterable[TradeColumns]) -> AsyncIterator[TradeColumns]:
        """Yield paced batches of the rows of ``blocks`` (each block in publication order).

        A millisecond is never split across batches within a block.
        """
        for block in blocks:
            n = len(block)
            if n == 0:
                continue
            # Pacing key: trade time made non-decreasing (publication order is kept as given).
            key = np.maximum.accumulate(block.trade_time)
            i = 0
            while i < n:
                if math.isinf(self.speed):
                    j = min(n, i + self._max_batch)
                else:
                    j = await self._due_end(key, i)
                # Never split a millisecond: extend to the end of the last row's millisecond.
                j = int(np.searchsorted(key, key[j - 1], side="right"))
                yield block.slice(i, j)
                i = j

    async def _due_end(self, key: np.ndarray, i: int) -> int:
        """Sleep until row ``i`` is due, then return the end of the rows already due (at least ``i + 1``)."""
        if self._anchor_wall is None:
            self._anchor_wall = self._clock()
            self._anchor_ms = int(key[i]) if self._fixed_anchor is None else self._fixed_anchor
        due = self._anchor_wall + (int(key[i]) - self._anchor_ms) / 1000.0 / self.speed
        now = self._clock()
        if due > now:
            await self._sleep(due - now)
            now = max(self._clock(), due)
        horizon = self._anchor_ms + (now - self._anchor_wall) * self.speed * 1000.0
        j = int(np.searchsorted(key, horizon, side="right"))
        return min(max(j, i + 1), i + self._max_batch)
