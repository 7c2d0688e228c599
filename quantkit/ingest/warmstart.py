"""Warm start: how much past an ingest fetches before it goes live, and a progress bar over it.

``quantkit ingest --history 30m`` (and ``quantkit up``, which has a default long enough
for every panel of the live dashboard) asks the :class:`~quantkit.ingest.Ingestor` for an initial
backfill from ``now - history`` (``backfill_since_ms``): the first trade id at or
after that time is found over REST and everything from there is backfilled before
the symbol's live trades are delivered (Binance's REST weight budget applies; the
local exchange's synthetic market gets a past of the same length, see
:class:`~quantkit.exchange.SyntheticMarket` ``history_s``).

:class:`WarmStartProgress` draws a ``tqdm`` bar of how far the store reaches into
that window and reports how long the warm start took.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = ["WarmStartProgress", "history_seconds"]


def history_seconds(raw: str) -> float:
    """``"30m"`` / ``"2h"`` / ``"90s"`` / ``"1d"`` (the store's interval spelling) in seconds; ``"0"`` is none.

    Raises:
        ValueError: not a duration, or negative (names the value).
    """
    s = str(raw).strip()
    if s in ("0", "0s", "none", ""):
        return 0.0
    from quantkit.datafiles.candles import interval_to_timedelta

    try:
        td = interval_to_timedelta(s)
    except ValueError:
        raise ValueError(f"history {raw!r}: expected a duration such as 30m, 2h or 1d") from None
    return td.total_seconds()


class WarmStartProgress:
    """A progress bar over a warm start: the share of ``[since_ms, until_ms]`` the store holds for every symbol.

    Call :meth:`poll` now and then (it reads each symbol's newest stored trade); it returns True
    once every symbol is stored up to ``until_ms`` (the ingest is live), or once nothing has moved
    for ``idle_s`` seconds (a symbol that does not trade, an exchange that does not answer: the
    ingest goes on retrying, and ``quantkit up`` does not wait for ever). A long history
    pauses while the REST weight budget of the minute is spent (about 120,000 trades a minute from
    Binance spot ``historicalTrades`` at the default half share), hence the long default.

    Args:
        store: the store the ingest writes.
        symbols: the symbols ingested.
        since_ms: start of the history, epoch ms.
        until_ms: when the ingest started, epoch ms.
        disable: no bar (quiet runs, not a terminal).
        idle_s: seconds without progress after which the warm start counts as done (default 75: longer
            than a wait for the next minute's REST weight).
        clock: monotonic clock, seconds.

    Attributes:
        done: True once :meth:`poll` said so.
        seconds: how long the warm start took (``None`` until done).
    """

    def __init__(
        self,
        store: "TickStore",
        symbols: Sequence[str],
        since_ms: int,
        until_ms: int,
        *,
        disable: bool = False,
        idle_s: float = 75.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from tqdm.auto import tqdm

        self.store = store
        self.symbols = tuple(symbols)
        self.since_ms = int(since_ms)
        self.until_ms = int(until_ms)
        self.idle_s = float(idle_s)
        self._clock = clock
        self._t0 = clock()
        self._moved = self._t0
        self._last = 0.0
        self.done = False
        self.seconds: float | None = None
        span = max(1, self.until_ms - self.since_ms) / 1000.0
        label = f"{span / 60.0:,.0f} min" if span >= 90 else f"{span:,.0f} s"
        # total is the exact span (a float): covered never exceeds it, so the bar never passes 100 %
        self._bar: Any = tqdm(total=span, unit="s", desc=f"warm start: last {label}", disable=disable,
                              bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:,.0f}/{total:,.0f} s [{elapsed}]")

    def _reach_ms(self, symbol: str) -> int:
        try:
            tail = self.store.tail(symbol, 1, columns=["trade_id"])
        except KeyError:  # not stored yet
            return self.since_ms
        if tail is None or len(tail) == 0:
            return self.since_ms
        return int(tail.index[-1].value // 1_000_000)

    def poll(self) -> bool:
        """Update the bar; True once the warm start is over."""
        if self.done:
            return True
        reach = [min(max(self._reach_ms(s), self.since_ms), self.until_ms) for s in self.symbols]
        covered = sum(r - self.since_ms for r in reach) / max(1, len(reach)) / 1000.0
        now = self._clock()
        if covered > self._last:
            self._bar.update(covered - self._last)
            self._last = covered
            self._moved = now
        if all(r >= self.until_ms for r in reach) or now - self._moved >= self.idle_s:
            self.done = True
            self.seconds = now - self._t0
            self._bar.close()
        return self.done

    def state(self) -> dict[str, Any]:
        """For the ingest heartbeat (``warm_start``): ``since_ms``, ``until_ms``, ``covered_s``, ``total_s``,
        ``done``, ``seconds`` (``quantkit up`` opens JupyterLab once ``done``)."""
        return {"since_ms": self.since_ms, "until_ms": self.until_ms, "covered_s": round(self._last, 1),
                "total_s": round((self.until_ms - self.since_ms) / 1000.0, 1), "done": self.done,
                "seconds": None if self.seconds is None else round(self.seconds, 2)}

    def close(self) -> None:
        """Close the bar (idempotent)."""
        self._bar.close()
