"""Closed, aligned bars of a pair, from the tick store, as the ingest writes it.

:class:`PairSource` reads only the store, so it works whether the ingest runs
in this process, another notebook or another process (``quantkit up``):

* :meth:`PairSource.seed` reads up to ``history_bars`` stored bars per leg
  (server-side resampling) and the ticks of the bars still open;
* :meth:`PairSource.poll` reads each leg's ticks newer than the last one seen
  (a small ``date_range`` read), folds them into :class:`~quantkit.store.BarBuilder`
  bars (the store's bar rule), and returns the pair bars that became final.

A pair bar is emitted once **both** legs' bars for that open time are final
(inner alignment: an open time where one leg did not trade is skipped, as
``align_pair(how="inner")`` does). A leg's bar is final when a later tick of
that leg arrives; a leg that stops trading is closed by time: once no new tick
of it was read for ``grace_s`` seconds of wall-clock time, its open bar is
final if the other leg's newest tick is past the bar's end. (Wall-clock, not
exchange time: the ingest writes the legs one after the other, and at replay
speeds the exchange clock runs many times faster than the flushes.)
Rows are float64 arrays with the columns :data:`PAIR_FIELDS`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from quantkit.analytics.alignment import read_bars
from quantkit.errors import ConfigError
from quantkit.store import BAR_FIELDS, BarBuilder, bar_ms, bars_to_rows

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = ["PAIR_FIELDS", "PairSource"]

log = logging.getLogger("quantkit.alerts")

#: Columns of a pair-bar row: ``open_ms`` then each leg's bar fields prefixed ``y_`` / ``x_``.
PAIR_FIELDS: tuple[str, ...] = ("open_ms",) + tuple(f"y_{c}" for c in BAR_FIELDS[1:]) + tuple(f"x_{c}" for c in BAR_FIELDS[1:])
_QV = BAR_FIELDS.index("quote_volume")


def _ms(ts: Any) -> int:
    return int(pd.Timestamp(ts).value // 1_000_000)


def _tick_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    idx = pd.DatetimeIndex(frame.index)
    t = idx.as_unit("ns").asi8 // 1_000_000
    return (
        t,
        frame["trade_id"].to_numpy(dtype=np.int64),
        frame["price"].to_numpy(dtype=np.float64),
        frame["qty"].to_numpy(dtype=np.float64),
        frame["quote_qty"].to_numpy(dtype=np.float64),
        frame["is_buyer_maker"].to_numpy(dtype=bool),
    )


class PairSource:
    """Final, aligned bars of ``y`` and ``x`` from a :class:`~quantkit.store.TickStore`.

    Args:
        store: the tick store (read only).
        y: dependent leg symbol.
        x: hedge leg symbol.
        bar: bar size, e.g. ``"1s"``, ``"1m"``, ``"5m"``.
        history_bars: stored bars to seed with (default 20,000).
        grace_s: wall-clock seconds without new ticks of a leg after which its open bar is final
            (if the other leg is past its end) (default 2.0).
        stale_leg_s: at seeding, a leg whose newest tick is this many exchange seconds behind the
            other leg's is treated as idle (its open bar is taken as final) (default 60).
        min_quote_volume: skip pair bars where either leg traded less than this, quote
            currency (default 0: keep every bar).
        clock: wall clock, seconds since the epoch (tests may inject one).

    Attributes:
        ticks_read: ticks read from the store since the seed.
        new_ticks: ticks read by the last :meth:`poll`.
        read_ms: milliseconds the last :meth:`poll` (or :meth:`seed`) spent reading the store.
        filtered: pair bars skipped by ``min_quote_volume``.
        unmatched: leg bars without a bar of the other leg at the same open time.
        seeded: True once :meth:`seed` found data for both legs.
    """

    def __init__(
        self,
        store: "TickStore",
        y: str,
        x: str,
        bar: str = "1s",
        *,
        history_bars: int = 20_000,
        grace_s: float = 2.0,
        min_quote_volume: float = 0.0,
        stale_leg_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not y or not x or y == x:
            raise ConfigError("pair", (y, x), "need two different symbols")
        if int(history_bars) < 1:
            raise ConfigError("history_bars", history_bars, "must be >= 1")
        if not float(grace_s) >= 0:
            raise ConfigError("grace_s", grace_s, "must be >= 0 seconds")
        if not float(min_quote_volume) >= 0:
            raise ConfigError("min_quote_volume", min_quote_volume, "must be >= 0")
        self.store = store
        self.y, self.x = y, x
        self.bar = bar
        self.freq_ms = bar_ms(bar)
        self.history_bars = int(history_bars)
        self.grace_s = float(grace_s)
        self.stale_leg_ms = int(float(stale_leg_s) * 1000)
        self.min_quote_volume = float(min_quote_volume)
        self._clock = clock
        self.builders = {y: BarBuilder(self.freq_ms), x: BarBuilder(self.freq_ms)}
        self._pending: dict[str, dict[int, np.ndarray]] = {y: {}, x: {}}
        self._fresh_at: dict[str, float] = {y: clock(), x: clock()}
        self.ticks_read = 0
        self.new_ticks = 0
        self.read_ms = 0.0
        self.filtered = 0
        self.unmatched = 0
        self.seeded = False

    @property
    def pair(self) -> str:
        """``"Y/X"``."""
        return f"{self.y}/{self.x}"

    @property
    def last_tick_ms(self) -> int:
        """Exchange time of the newest tick of either leg, ms (-1 if none)."""
        return max(b.last_time_ms for b in self.builders.values())

    def leg_last_tick_ms(self, symbol: str) -> int:
        """Exchange time of the newest tick of one leg, ms (-1 if none)."""
        return self.builders[symbol].last_time_ms

    def partial(self, symbol: str) -> np.ndarray | None:
        """The still-open bar of one leg (a bar row), or ``None``."""
        return self.builders[symbol].partial

    # ------------------------------------------------------------------------------------------ seeding
    def _last_tick(self, symbol: str) -> tuple[int, int] | None:
        try:
            tail = self.store.tail(symbol, 1)
        except KeyError:  # SymbolNotFoundError is a KeyError: not ingested yet
            return None
        if tail is None or len(tail) == 0:
            return None
        return _ms(tail.index[-1]), int(tail["trade_id"].iloc[-1])

    def seed(self) -> np.ndarray:
        """Read the stored history; returns the final aligned pair bars (empty until both legs have ticks)."""
        lasts = {s: self._last_tick(s) for s in (self.y, self.x)}
        if any(v is None for v in lasts.values()):
            return np.empty((0, len(PAIR_FIELDS)))
        f = self.freq_ms
        hi = max(v[0] for v in lasts.values())  # type: ignore[index]
        floor_all = ((hi - max(self.stale_leg_ms, 10 * f)) // f) * f
        cutoff = max(min((v[0] // f) * f for v in lasts.values()), floor_all)  # type: ignore[index]
        start = pd.Timestamp(cutoff - self.history_bars * f, unit="ms", tz="UTC")
        end = pd.Timestamp(cutoff, unit="ms", tz="UTC")
        for s in (self.y, self.x):
            b = self.builders[s] = BarBuilder(f)
            rows = bars_to_rows(read_bars(self.store, s, self.bar, start, end))  # the pair loader's rule: [start, end)
            self._pending[s] = {int(r[0]): r for r in rows}
            last_ms, last_id = lasts[s]  # type: ignore[misc]
            if last_ms < cutoff:
                # a stale leg: everything stored is already in the seeded bars
                b.start_at(cutoff, last_trade_id=last_id)
                b.last_time_ms = last_ms
            else:
                b.start_at(cutoff)
                ticks = self.store.ticks(s, start=end)
                self._fold(s, ticks)
        self.seeded = True
        now = self._clock()
        self._fresh_at = {s: now for s in self._fresh_at}
        out = self._emit()
        log.info("seeded %s %s: %d pair bars", self.pair, self.bar, len(out))
        return out

    # ------------------------------------------------------------------------------------------ polling
    def _fold(self, symbol: str, ticks: pd.DataFrame) -> None:
        if ticks is None or len(ticks) == 0:
            return
        b = self.builders[symbol]
        arrs = _tick_arrays(ticks)
        seen = b.ticks
        closed = b.add(*arrs)
        n = b.ticks - seen
        if n:
            self._fresh_at[symbol] = self._clock()
        self.ticks_read += n
        self.new_ticks += n
        pend = self._pending[symbol]
        for r in closed:
            pend[int(r[0])] = r

    def poll(self) -> np.ndarray:
        """Read the legs' new ticks; returns the pair bars that became final (seeds first if needed).

        Raises:
            quantkit.errors.StoreError: the store failed (the source stays consistent; the next poll retries).
        """
        self.new_ticks = 0
        if not self.seeded:
            t0 = time.perf_counter()
            out = self.seed()
            self.read_ms = (time.perf_counter() - t0) * 1000.0
            return out
        self.read_ms = 0.0
        for s in (self.y, self.x):
            b = self.builders[s]
            start = pd.Timestamp(max(b.last_time_ms, 0), unit="ms", tz="UTC")
            t0 = time.perf_counter()
            ticks = self.store.ticks(s, start=start)
            self.read_ms += (time.perf_counter() - t0) * 1000.0
            self._fold(s, ticks)
        return self._emit()

    def _emit(self) -> np.ndarray:
        now = self._clock()
        for s, b in self.builders.items():
            if now - self._fresh_at[s] >= self.grace_s:
                other = max(o.last_time_ms for k, o in self.builders.items() if k != s)
                if other >= 0:
                    for r in b.close_until(other):
                        self._pending[s][int(r[0])] = r
        w = min(b.final_ms for b in self.builders.values())
        py, px = self._pending[self.y], self._pending[self.x]
        ready = sorted(k for k in py if k < w)
        out = []
        for k in ready:
            ry = py.pop(k)
            rx = px.pop(k, None)
            if rx is None:
                self.unmatched += 1
                continue
            if ry[_QV] < self.min_quote_volume or rx[_QV] < self.min_quote_volume:
                self.filtered += 1
                continue
            out.append(np.concatenate([ry, rx[1:]]))
        for k in [k for k in px if k < w]:
            px.pop(k)
            self.unmatched += 1
        return np.vstack(out) if out else np.empty((0, len(PAIR_FIELDS)))
