"""24-hour rolling statistics, price / book tickers and average price, from the trade history (sans-I/O).

``ticker/24hr`` and the ``@ticker`` / ``@miniTicker`` streams use the trades of
the last 24 hours of exchange time kept in the history (a history shorter than
a day gives statistics over what it holds). ``avgPrice`` is the volume-weighted
price of the last 5 minutes (Binance's ``mins: 5``). The book tickers come from
:mod:`quantkit.exchange.book` (the model or a replayed recording).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantkit.exchange.book import Book
from quantkit.exchange.history import SymbolHistory

__all__ = ["AVG_PRICE_MINS", "DAY_MS", "Decimals", "RollingStats", "rolling_stats"]

#: Rolling window of the 24 h ticker, ms.
DAY_MS = 86_400_000
#: ``avgPrice`` window, minutes.
AVG_PRICE_MINS = 5


@dataclass(frozen=True)
class Decimals:
    """Decimals of rendered prices, quantities and quote amounts."""

    price: int
    qty: int
    quote: int


@dataclass(frozen=True)
class RollingStats:
    """Statistics of the trades in ``[open_time, close_time]``.

    Attributes:
        open_time, close_time: window, ms. open, high, low, last: prices.
        last_qty: quantity of the last trade. volume, quote_volume: sums. vwap: quote / volume.
        first_id, last_id: trade ids (-1 when empty). count: trades.
    """

    symbol: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    last: float
    last_qty: float
    volume: float
    quote_volume: float
    vwap: float
    first_id: int
    last_id: int
    count: int

    def _common(self, d: Decimals) -> dict[str, str | int]:
        change = self.last - self.open
        pct = change / self.open * 100 if self.open else 0.0
        return {
            "priceChange": f"{change:.{d.price}f}",
            "priceChangePercent": f"{pct:.3f}",
            "weightedAvgPrice": f"{self.vwap:.{d.price}f}",
        }

    def ticker_24hr(self, market: str, d: Decimals, book: Book) -> dict[str, object]:
        """The REST ``ticker/24hr`` object (spot or USD-M key order)."""
        p, q, v = d.price, d.qty, d.quote
        out: dict[str, object] = {"symbol": self.symbol, **self._common(d)}
        if market == "spot":
            bid, ask = book.touch() or (0, 0)
            out |= {
                "prevClosePrice": f"{self.open:.{p}f}",
                "lastPrice": f"{self.last:.{p}f}",
                "lastQty": f"{self.last_qty:.{q}f}",
                "bidPrice": f"{bid * book.tick:.{p}f}",
                "bidQty": f"{float(book.qty_at(np.array([bid]))[0]) if bid else 0.0:.{q}f}",
                "askPrice": f"{ask * book.tick:.{p}f}",
                "askQty": f"{float(book.qty_at(np.array([ask]))[0]) if ask else 0.0:.{q}f}",
            }
        else:
            out |= {"lastPrice": f"{self.last:.{p}f}", "lastQty": f"{self.last_qty:.{q}f}"}
        out |= {
            "openPrice": f"{self.open:.{p}f}",
            "highPrice": f"{self.high:.{p}f}",
            "lowPrice": f"{self.low:.{p}f}",
            "volume": f"{self.volume:.{q}f}",
            "quoteVolume": f"{self.quote_volume:.{v}f}",
            "openTime": self.open_time,
            "closeTime": self.close_time,
            "firstId": self.first_id,
            "lastId": self.last_id,
            "count": self.count,
        }
        return out

    def ticker_event(self, market: str, d: Decimals, book: Book, event_ms: int) -> bytes:
        """The ``@ticker`` stream payload."""
        p, q, v = d.price, d.qty, d.quote
        c = self._common(d)
        head = (
            f'{{"e":"24hrTicker","E":{event_ms},"s":"{self.symbol}","p":"{c["priceChange"]}",'
            f'"P":"{c["priceChangePercent"]}","w":"{c["weightedAvgPrice"]}",'
        )
        if market == "spot":
            bid, ask = book.touch() or (0, 0)
            bq = float(book.qty_at(np.array([bid]))[0]) if bid else 0.0
            aq = float(book.qty_at(np.array([ask]))[0]) if ask else 0.0
            mid = (
                f'"x":"{self.open:.{p}f}","c":"{self.last:.{p}f}","Q":"{self.last_qty:.{q}f}",'
                f'"b":"{bid * book.tick:.{p}f}","B":"{bq:.{q}f}","a":"{ask * book.tick:.{p}f}","A":"{aq:.{q}f}",'
            )
        else:
            mid = f'"c":"{self.last:.{p}f}","Q":"{self.last_qty:.{q}f}",'
        tail = (
            f'"o":"{self.open:.{p}f}","h":"{self.high:.{p}f}","l":"{self.low:.{p}f}","v":"{self.volume:.{q}f}",'
            f'"q":"{self.quote_volume:.{v}f}","O":{self.open_time},"C":{self.close_time},"F":{self.first_id},'
            f'"L":{self.last_id},"n":{self.count}}}'
        )
        return (head + mid + tail).encode()

    def mini_ticker_event(self, d: Decimals, event_ms: int) -> bytes:
        """The ``@miniTicker`` stream payload."""
        p, q, v = d.price, d.qty, d.quote
        return (
            f'{{"e":"24hrMiniTicker","E":{event_ms},"s":"{self.symbol}","c":"{self.last:.{p}f}",'
            f'"o":"{self.open:.{p}f}","h":"{self.high:.{p}f}","l":"{self.low:.{p}f}",'
            f'"v":"{self.volume:.{q}f}","q":"{self.quote_volume:.{v}f}"}}'
        ).encode()


def rolling_stats(hist: SymbolHistory, now_ms: int, window_ms: int = DAY_MS) -> RollingStats:
    """Statistics of ``hist``'s trades within ``(now_ms - window_ms, now_ms]``."""
    log = hist.trades
    lo = log.search("time", now_ms - window_ms + 1)
    hi = log.search("time", now_ms, side="right")
    ids, price, qty, quote, t, _m = log.rows(lo, hi)
    if len(ids) == 0:
        last_rows = log.rows(log.end_row - 1, log.end_row)
        last = float(last_rows[1][0]) if len(last_rows[0]) else 0.0
        return RollingStats(hist.symbol, now_ms - window_ms + 1, now_ms, last, last, last, last, 0.0, 0.0, 0.0,
                            0.0, -1, -1, 0)
    vol = float(qty.sum())
    qv = float(quote.sum())
    return RollingStats(
        hist.symbol,
        now_ms - window_ms + 1,
        now_ms,
        float(price[0]),
        float(price.max()),
        float(price.min()),
        float(price[-1]),
        float(qty[-1]),
        vol,
        qv,
        qv / vol if vol else float(price[-1]),
        int(ids[0]),
        int(ids[-1]),
        len(ids),
    )
