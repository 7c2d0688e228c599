"""The 1-minute bar cache of a tick symbol, and the tick bars read through it.

The writer's maintenance (:meth:`quantkit.store.TickStore.maintain`) appends the 1-minute bars of
every complete minute (a later tick is stored) to ``_qk.bars1m.<SYMBOL>`` (:data:`BAR_CACHE_PREFIX`);
:meth:`BarCache.tick_bars` serves bars that are multiples of a minute from the cached rows plus
the ticks after the cache, other bars straight from the ticks (resampled inside ArcticDB).
A backfill that changes history drops the cached bars from the first changed minute on
(:meth:`BarCache.invalidate`) before it writes.
"""

from __future__ import annotations

import pandas as pd

from quantkit.schema import empty_bars
from quantkit.store._backend import SymbolState
from quantkit.store._bars import combine_bars, finish_bars, tick_bars_arctic
from quantkit.store._frames import RESERVED_PREFIX, arctic_rule
from quantkit.store._handle import StoreHandle

__all__ = ["BAR_CACHE_PREFIX", "BarCache"]

#: ArcticDB symbol prefix of the writer-maintained 1-minute bar cache: ``_qk.bars1m.<SYMBOL>``.
BAR_CACHE_PREFIX = RESERVED_PREFIX + "bars1m."
_MINUTE = 60_000_000_000


class BarCache:
    """Keeps and reads the 1-minute bar caches through a :class:`~quantkit.store._handle.StoreHandle`.

    Args:
        handle: the store's plumbing.
    """

    def __init__(self, handle: StoreHandle) -> None:
        self._h = handle

    def end(self, cache: str) -> int | None:
        """Exclusive end (ns) of the bar cache: last cached bar + 1 minute; ``None`` if empty/missing."""
        h = self._h
        if not h.exists(cache):
            return None
        last = h.retry(cache, cache, lambda: h.lib.tail(cache, 1, columns=["trades"]).data)
        return int(last.index.asi8[-1]) + _MINUTE if len(last) else None

    def update(self, sym: str, st: SymbolState) -> int:
        """Append the 1-minute bars of newly completed minutes to the cache; returns bars added.

        The caller (the symbol's writer) holds the symbol's lock.
        """
        if st.last_id < 0:
            return 0
        h = self._h
        cache = BAR_CACHE_PREFIX + sym
        complete_end = st.last_time - st.last_time % _MINUTE  # bars before this minute are final
        start = self.end(cache)
        if start is not None and start >= complete_end:
            return 0
        rng = (None if start is None else pd.Timestamp(start, tz="UTC"), pd.Timestamp(complete_end - 1, tz="UTC"))
        bars = h.retry(sym, sym, lambda: tick_bars_arctic(h.lib, sym, "1min", rng))
        if bars.empty:
            return 0
        if start is None or not h.exists(cache):
            h.write(cache, lambda: h.lib.write(cache, bars, prune_previous_versions=True))
        else:
            h.write(cache, lambda: h.lib.prune_previous_versions(cache))
            h.write(cache, lambda: h.lib.append(cache, bars))
            h.write(cache, lambda: h.lib.compact_data(cache))
        return len(bars)

    def invalidate(self, sym: str, from_ns: int) -> None:
        """Drop cached bars from the minute of ``from_ns`` on (history is about to change there)."""
        h = self._h
        cache = BAR_CACHE_PREFIX + sym
        if not h.exists(cache):
            return
        cut = pd.Timestamp(from_ns - from_ns % _MINUTE, tz="UTC")
        h.write(cache, lambda: h.lib.delete_data_in_range(cache, (cut, None), prune_previous_versions=True))

    def tick_bars(
        self, sym: str, td: pd.Timedelta, rng: tuple[pd.Timestamp | None, pd.Timestamp | None] | None
    ) -> pd.DataFrame:
        """Bars of length ``td`` from tick symbol ``sym`` (see :meth:`quantkit.store.TickStore.bars`).

        Raises:
            SymbolNotFoundError: no ticks for ``sym``.
        """
        h = self._h
        if td.value % _MINUTE == 0:
            return self._cached_bars(sym, int(td.value), rng)
        rule = arctic_rule(td)
        return h.retry(sym, sym, lambda: tick_bars_arctic(h.lib, sym, rule, rng))

    def _cached_bars(
        self, sym: str, bar_ns: int, rng: tuple[pd.Timestamp | None, pd.Timestamp | None] | None
    ) -> pd.DataFrame:
        """Bars that are multiples of 1 minute: cached 1-minute bars plus ticks after the cache."""
        h = self._h
        cache = BAR_CACHE_PREFIX + sym
        s, e = rng if rng is not None else (None, None)
        end_cached = self.end(cache)
        if end_cached is None:
            return h.retry(sym, sym, lambda: tick_bars_arctic(h.lib, sym, arctic_rule(pd.Timedelta(bar_ns)), rng))
        boundary = end_cached
        if e is not None:
            boundary = min(boundary, e.value - e.value % _MINUTE)  # a cached bar must end inside the range
        parts: list[pd.DataFrame] = []
        if s is None or s.value < boundary:
            cached_rng = (s, pd.Timestamp(boundary - 1, tz="UTC"))
            parts.append(h.retry(sym, cache, lambda: h.lib.read(cache, date_range=cached_rng).data))
        if e is None or e.value >= boundary:
            lo = pd.Timestamp(boundary, tz="UTC") if s is None or s.value < boundary else s
            parts.append(h.retry(sym, sym, lambda: tick_bars_arctic(h.lib, sym, "1min", (lo, e))))
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty_bars()
        minute = finish_bars(pd.concat(parts)) if len(parts) > 1 else finish_bars(parts[0])
        return minute if bar_ns == _MINUTE else combine_bars(minute, bar_ns)
