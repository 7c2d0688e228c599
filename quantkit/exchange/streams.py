"""Event streams computed from the trades: klines, tickers, book ticker, depth, mark price (sans-I/O).

:class:`EventStreams` keeps one book per symbol (the model
:class:`~quantkit.exchange.book.TouchBook`, or a replayed capture's
:class:`~quantkit.exchange.book.RecordedBook`; always: REST ``depth`` and the tickers read
it) and, for the streams someone is subscribed to, their state. The server feeds it every published
batch (:meth:`EventStreams.on_batch`, which answers the real-time events: book
ticker changes and klines closed by a trade) and calls :meth:`EventStreams.tick`
about every 100 ms of wall time for the periodic ones. Both return payloads
keyed by ``(SYMBOL, kind)``; the server wraps and fans them out.

Periods (wall time) are :func:`~quantkit.exchange.protocol.event_period_ms`'s.
Event times ``E`` are the exchange's clock. Depth diffs follow Binance's
sequencing: ``U`` = first update id since the previous event of that stream,
``u`` = the last, ``pu`` (USD-M) = the previous event's ``u``; an event is sent
only when the book changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from quantkit.exchange.book import FUNDING_INTERVAL_MS, FUNDING_RATE, Book, RecordedBook, TouchBook
from quantkit.exchange.history import SymbolHistory
from quantkit.exchange.klines import KlineState, kline_open, klines_from_trades
from quantkit.exchange.protocol import StreamName, event_period_ms
from quantkit.exchange.source import SymbolSpec
from quantkit.exchange.tickers import Decimals, RollingStats, rolling_stats
from quantkit.schema import Trade

__all__ = ["EventStreams"]

Frames = dict[tuple[str, str], list[bytes]]


@dataclass
class _Depth:
    period: int
    levels: int  # 0: diff stream, else partial book depth
    last_u: int
    extent: Any  # the book's own change tracker (Extent for the model, Changes for a recording)
    due: float = 0.0


class EventStreams:
    """State of the event streams of one exchange (see the module docstring).

    Args:
        market: ``"spot"`` or ``"futures"``.
        specs: symbol specs (books are made for these and for symbols added later).
        histories: the trade histories (klines and tickers start from them).
        books: symbol -> a book to serve instead of the model :class:`TouchBook` (a replayed
            capture's :class:`~quantkit.exchange.book.RecordedBook`; a source's ``books``).
    """

    def __init__(
        self,
        market: str,
        specs: Mapping[str, SymbolSpec],
        histories: Mapping[str, SymbolHistory],
        books: Mapping[str, RecordedBook] | None = None,
    ) -> None:
        self.market = market
        self._specs = specs
        self._histories = histories
        given = books or {}
        self.books: dict[str, Book] = {s: given.get(s) or TouchBook(spec) for s, spec in specs.items()}
        self._klines: dict[tuple[str, str], KlineState] = {}
        self._depth: dict[tuple[str, str], _Depth] = {}
        self._due: dict[tuple[str, str], float] = {}
        self._subs: frozenset[tuple[str, str]] = frozenset()

    def decimals(self, sym: str) -> Decimals:
        """Decimals of the market's strings for ``sym``."""
        if self.market == "spot":
            return Decimals(8, 8, 8)
        spec = self._specs[sym]
        return Decimals(spec.price_decimals, spec.qty_decimals, min(spec.price_decimals + spec.qty_decimals, 8))

    def can_serve(self, name: StreamName) -> bool:
        """True when the stream is a trade kind or an event kind of this market, for a served symbol."""
        if name.symbol not in self._specs:
            return False
        return name.kind in ("trade", "aggTrade") or event_period_ms(self.market, name.kind) is not None

    def add_symbol(self, sym: str) -> None:
        """Make a book for a symbol published without being declared."""
        self.books.setdefault(sym, TouchBook(self._specs[sym]))

    # ------------------------------------------------------------------------------------------------ subscriptions

    def subscribe(self, subs: Iterable[tuple[str, str]], now_ms: int, wall_ms: float) -> None:
        """Set the subscribed event streams; state is made for new ones and dropped for gone ones."""
        subs = frozenset(s for s in subs if s[0] in self._specs and event_period_ms(self.market, s[1]) is not None)
        if subs == self._subs:
            return
        for key in list(self._klines):
            if key not in subs:
                del self._klines[key]
        for key in list(self._depth):
            if key not in subs:
                self.books[key[0]].untrack(self._depth.pop(key).extent)
        for key in list(self._due):
            if key not in subs:
                del self._due[key]
        for key in subs - self._subs:
            sym, kind = key
            period = event_period_ms(self.market, kind) or 0
            if kind.startswith("kline_"):
                self._klines[key] = self._open_kline(sym, kind[6:], now_ms)
            elif kind.startswith("depth"):
                base = kind.partition("@")[0]
                book = self.books[sym]
                levels = int(base[5:]) if len(base) > 5 else 0
                self._depth[key] = _Depth(period, levels, book.update_id, book.track(), wall_ms + period)
            self._due.setdefault(key, wall_ms + period)
        self._subs = subs

    def _open_kline(self, sym: str, interval: str, now_ms: int) -> KlineState:
        hist = self._histories[sym]
        log = hist.trades
        open_ms = int(kline_open(interval, np.array([now_ms]))[0])
        r0 = log.search("time", open_ms)
        ids, price, qty, quote, t, m = log.rows(r0, log.end_row)
        prev = log.rows(r0 - 1, r0)[1] if r0 > log.first_row else price[:1]
        prev_close = float(prev[0]) if len(prev) else 0.0
        ks = klines_from_trades(interval, ids, price, qty, quote, t, m, prev_close=prev_close,
                                first_open=open_ms, last_open=open_ms)
        d = self.decimals(sym)
        state = KlineState(sym, interval, ks[0], (d.price, d.qty, d.quote))
        return state

    # ------------------------------------------------------------------------------------------------ events

    def on_batch(self, sym: str, trades: list[Trade], now_ms: int) -> Frames:
        """Account one symbol's batch: move its book; events due at once (bookTicker, closed klines)."""
        out: Frames = {}
        book = self.books.get(sym)
        if book is None or not trades:
            return out
        last = trades[-1]
        changed = book.on_trade(last[2], last[7], last[5])
        if changed and (sym, "bookTicker") in self._subs:
            out[(sym, "bookTicker")] = [self._book_ticker(sym, book, now_ms)]
        for (ksym, kind), state in self._klines.items():
            if ksym != sym:
                continue
            frames: list[bytes] = []
            for t in trades:
                for k in state.add(t[5], t[1], t[2], t[3], t[4], t[7]):
                    frames.append(state.event(k, max(now_ms, k.close_time + 1), True))
            if frames:
                out[(sym, kind)] = frames
        return out

    def tick(self, wall_ms: float, now_ms: int) -> Frames:
        """Periodic events due at ``wall_ms`` (wall clock, ms) with exchange time ``now_ms``."""
        out: Frames = {}
        for key, state in self._klines.items():
            frames = [state.event(k, now_ms, True) for k in state.roll(now_ms)]
            if wall_ms >= self._due.get(key, 0.0):
                self._due[key] = wall_ms + (event_period_ms(self.market, key[1]) or 1000)
                frames.append(state.event(state.current, now_ms, False))
                state.dirty = False
            if frames:
                out[key] = frames
        for key, dep in self._depth.items():
            if wall_ms < dep.due:
                continue
            dep.due = wall_ms + dep.period
            frame = self._depth_event(key[0], dep, now_ms)
            if frame is not None:
                out[key] = [frame]
        stats_cache: dict[str, RollingStats] = {}
        for key in self._subs:
            sym, kind = key
            if kind.startswith("kline_") or kind.startswith("depth") or kind == "bookTicker":
                continue
            if wall_ms < self._due.get(key, 0.0):
                continue
            self._due[key] = wall_ms + (event_period_ms(self.market, kind) or 1000)
            book = self.books[sym]
            if kind.startswith("markPrice"):
                mid = book.mid
                if mid is None:
                    continue
                d = self.decimals(sym)
                mark = f"{mid:.{d.price}f}"
                nxt = (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
                out[key] = [(
                    f'{{"e":"markPriceUpdate","E":{now_ms},"s":"{sym}","p":"{mark}","ap":"{mark}","P":"{mark}",'
                    f'"i":"{mark}","r":"{FUNDING_RATE:.8f}","T":{nxt}}}'
                ).encode()]
                continue
            stats = stats_cache.get(sym)
            if stats is None:
                stats = stats_cache[sym] = rolling_stats(self._histories[sym], now_ms)
            if stats.count == 0:
                continue
            d = self.decimals(sym)
            if kind == "ticker":
                out[key] = [stats.ticker_event(self.market, d, book, now_ms)]
            elif kind == "miniTicker":
                out[key] = [stats.mini_ticker_event(d, now_ms)]
        return out

    def _book_ticker(self, sym: str, book: Book, now_ms: int) -> bytes:
        d = self.decimals(sym)
        bid, ask = book.touch() or (0, 0)
        bq, aq = book.qty_at(np.array([bid, ask])).tolist()
        body = (
            f'"u":{book.update_id},"s":"{sym}","b":"{bid * book.tick:.{d.price}f}","B":"{bq:.{d.qty}f}",'
            f'"a":"{ask * book.tick:.{d.price}f}","A":"{aq:.{d.qty}f}"}}'
        )
        if self.market == "spot":
            return ("{" + body).encode()
        return (f'{{"e":"bookTicker",' + body.replace('"s":', f'"E":{now_ms},"T":{book.time},"s":', 1)).encode()

    def _depth_event(self, sym: str, dep: _Depth, now_ms: int) -> bytes | None:
        book = self.books[sym]
        d = self.decimals(sym)
        tick = book.tick

        def levels(ticks: np.ndarray, qtys: np.ndarray) -> str:
            return ",".join(f'["{k * tick:.{d.price}f}","{q:.{d.qty}f}"]' for k, q in zip(ticks.tolist(), qtys.tolist()))

        if dep.levels:  # partial book
            bids, asks = book.sides(dep.levels)
            if not len(bids):
                return None
            b, a = levels(bids, book.qty_at(bids)), levels(asks, book.qty_at(asks))
            if self.market == "spot":
                return f'{{"lastUpdateId":{book.update_id},"bids":[{b}],"asks":[{a}]}}'.encode()
            pu, dep.last_u = dep.last_u, book.update_id
            return (
                f'{{"e":"depthUpdate","E":{now_ms},"T":{book.time},"s":"{sym}","U":{pu + 1},"u":{book.update_id},'
                f'"pu":{pu},"b":[{b}],"a":[{a}]}}'
            ).encode()
        if book.update_id == dep.last_u:
            return None
        bp, bq, ap, aq = book.diff(dep.extent)
        first, pu = dep.last_u + 1, dep.last_u
        dep.last_u = book.update_id
        b, a = levels(bp, bq), levels(ap, aq)
        if self.market == "spot":
            return (
                f'{{"e":"depthUpdate","E":{now_ms},"s":"{sym}","U":{first},"u":{book.update_id},"b":[{b}],"a":[{a}]}}'
            ).encode()
        return (
            f'{{"e":"depthUpdate","E":{now_ms},"T":{book.time},"s":"{sym}","U":{first},"u":{book.update_id},'
            f'"pu":{pu},"b":[{b}],"a":[{a}]}}'
        ).encode()


