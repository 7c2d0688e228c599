"""Klines (candlesticks) computed from the exchange's trade history: intervals, REST rows, stream events.

Sans-I/O: trade columns in, bytes out. Every Binance interval is served:
``1s`` (spot only), ``1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M``. Buckets
open at multiples of the interval since the epoch (UTC), weeks on Mondays,
months on the first of the month, as on Binance.

REST rows are Binance's 12-element arrays::

    [open time, "open", "high", "low", "close", "volume", close time,
     "quote volume", trades, "taker buy base volume", "taker buy quote volume", "0"]

Selection (``startTime``/``endTime`` in ms, ``limit`` default 500, at most 1000 spot,
1500 USD-M): klines whose open time lies within the window; the first ``limit``
from ``startTime``, else the last ``limit`` up to ``endTime`` (or up to now). An
interval without trades inside the span of the history is a flat kline at the
previous close with zero volume (Binance serves every interval of a listed
symbol); intervals before the first kept trade are not served.

Stream events (``<symbol>@kline_<interval>``) carry the open kline (``x: false``)
and, once its close time has passed, the final kline (``x: true``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from quantkit.exchange.history import ColumnLog

__all__ = [
    "INTERVALS",
    "KlineState",
    "Kline",
    "interval_ms",
    "kline_rows",
    "kline_open",
    "klines_from_trades",
    "next_open",
    "select_klines",
]

_MIN = 60_000
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR
#: Interval name -> fixed length in ms (``1M`` is calendar months: length 0 here).
INTERVALS: dict[str, int] = {
    "1s": 1000, "1m": _MIN, "3m": 3 * _MIN, "5m": 5 * _MIN, "15m": 15 * _MIN, "30m": 30 * _MIN,
    "1h": _HOUR, "2h": 2 * _HOUR, "4h": 4 * _HOUR, "6h": 6 * _HOUR, "8h": 8 * _HOUR, "12h": 12 * _HOUR,
    "1d": _DAY, "3d": 3 * _DAY, "1w": 7 * _DAY, "1M": 0,
}
_MONDAY_OFFSET = 4 * _DAY  # 1970-01-05 (a Monday) is 4 days after the epoch


def interval_ms(interval: str) -> int:
    """Fixed length of ``interval`` in ms (0 for ``1M``).

    Raises:
        KeyError: not a Binance interval.
    """
    return INTERVALS[interval]


def kline_open(interval: str, t_ms: np.ndarray) -> np.ndarray:
    """Open time (ms) of the kline containing each time of ``t_ms``."""
    t = np.asarray(t_ms, dtype="int64")
    if interval == "1M":
        months = t.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype("int64")
    size = INTERVALS[interval]
    if interval == "1w":
        return (t - _MONDAY_OFFSET) // size * size + _MONDAY_OFFSET
    return t // size * size


def next_open(interval: str, open_ms: int) -> int:
    """Open time (ms) of the kline after the one opening at ``open_ms``."""
    if interval == "1M":
        d = datetime.fromtimestamp(open_ms / 1000, tz=timezone.utc)
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return calendar.timegm((y, m, 1, 0, 0, 0)) * 1000
    return open_ms + INTERVALS[interval]


@dataclass
class Kline:
    """One kline's state (also the open kline of a stream).

    Attributes:
        open_time: ms. close_time: ms (``next open - 1``).
        first_id / last_id: trade ids (``-1`` when no trade).
        open, high, low, close: prices. volume: base volume. quote_volume: quote volume.
        trades: number of trades. taker_buy_volume / taker_buy_quote: the taker-buy part.
    """

    open_time: int
    close_time: int
    first_id: int
    last_id: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    quote_volume: float = 0.0
    trades: int = 0
    taker_buy_volume: float = 0.0
    taker_buy_quote: float = 0.0

    @classmethod
    def flat(cls, interval: str, open_time: int, price: float) -> "Kline":
        """An empty kline at ``price``."""
        return cls(open_time, next_open(interval, open_time) - 1, -1, -1, price, price, price, price)

    def add(self, trade_id: int, price: float, qty: float, quote: float, buyer_maker: bool) -> None:
        """Count one trade."""
        if self.trades == 0:
            self.first_id = trade_id
            self.open = self.high = self.low = price
        elif price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.last_id = trade_id
        self.close = price
        self.volume += qty
        self.quote_volume += quote
        self.trades += 1
        if not buyer_maker:
            self.taker_buy_volume += qty
            self.taker_buy_quote += quote


def klines_from_trades(
    interval: str,
    ids: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    quote: np.ndarray,
    t: np.ndarray,
    m: np.ndarray,
    *,
    prev_close: float | None = None,
    first_open: int | None = None,
    last_open: int | None = None,
) -> list[Kline]:
    """Klines of trades sorted by time, every interval from ``first_open`` to ``last_open`` included.

    Args:
        interval: a Binance interval.
        ids, price, qty, quote, t, m: trade columns (``t`` in ms, ``m`` buyer-is-maker).
        prev_close: close before the first trade (flat klines before it); ``None``: the first price.
        first_open: first kline open time (default: the first trade's).
        last_open: last kline open time (default: the last trade's).
    """
    n = len(t)
    if n == 0 and (prev_close is None or first_open is None or last_open is None):
        return []
    opens = kline_open(interval, t)
    if first_open is None:
        first_open = int(opens[0])
    if last_open is None:
        last_open = int(opens[-1])
    # one group per distinct open time
    starts = np.flatnonzero(np.r_[True, opens[1:] != opens[:-1]]) if n else np.empty(0, "int64")
    out: list[Kline] = []
    close = prev_close if prev_close is not None else (float(price[0]) if n else 0.0)
    if n:
        hi = np.maximum.reduceat(price, starts)
        lo = np.minimum.reduceat(price, starts)
        vol = np.add.reduceat(qty, starts)
        qv = np.add.reduceat(quote, starts)
        buy = ~m.astype(bool)
        tbv = np.add.reduceat(np.where(buy, qty, 0.0), starts)
        tbq = np.add.reduceat(np.where(buy, quote, 0.0), starts)
        ends = np.r_[starts[1:], n] - 1
        groups = {
            int(opens[s]): (s, e, g)
            for g, (s, e) in enumerate(zip(starts.tolist(), ends.tolist()))
        }
    else:
        groups = {}
    o = first_open
    while o <= last_open:
        nxt = next_open(interval, o)
        grp = groups.get(o)
        if grp is None:
            out.append(Kline.flat(interval, o, close))
        else:
            s, e, g = grp
            k = Kline(
                o, nxt - 1, int(ids[s]), int(ids[e]), float(price[s]), float(hi[g]), float(lo[g]), float(price[e]),
                float(vol[g]), float(qv[g]), e - s + 1, float(tbv[g]), float(tbq[g]),
            )
            close = k.close
            out.append(k)
        o = nxt
    return out


def select_klines(
    log: "ColumnLog", interval: str, *, start: int | None, end: int | None, limit: int, now_ms: int
) -> list[Kline]:
    """The klines Binance would return for ``startTime``/``endTime``/``limit`` (see the module docstring).

    Args:
        log: the symbol's trade table (columns id, price, qty, quote_qty, time, m).
        interval: a Binance interval.
        start, end: ``startTime`` / ``endTime``, ms (``None`` when not sent).
        limit: most klines.
        now_ms: exchange time (the newest kline is the one open now).
    """
    if len(log) == 0:
        return []
    first_t = int(log.rows(log.first_row, log.first_row + 1)[4][0])
    first_avail = int(kline_open(interval, np.array([first_t]))[0])
    newest = int(kline_open(interval, np.array([max(now_ms, first_t)]))[0])
    lo = first_avail
    if start is not None:
        k = int(kline_open(interval, np.array([start]))[0])
        lo = max(lo, k if k >= start else next_open(interval, k))
    hi = newest
    if end is not None:
        hi = min(hi, int(kline_open(interval, np.array([end]))[0]))
    if hi < lo:
        return []
    opens = [lo]
    if start is not None:
        while len(opens) < limit and opens[-1] < hi:
            opens.append(next_open(interval, opens[-1]))
    else:
        size = INTERVALS[interval]
        if size:
            first = max(lo, hi - (limit - 1) * size)
        else:  # calendar months: step back from hi
            first = hi
            for _ in range(limit - 1):
                prev = int(kline_open(interval, np.array([first - 1]))[0])
                if prev < lo:
                    break
                first = prev
        opens = [first]
        while opens[-1] < hi:
            opens.append(next_open(interval, opens[-1]))
    first_open, last_open = opens[0], opens[-1]
    r0 = log.search("time", first_open)
    r1 = log.search("time", next_open(interval, last_open))
    ids, price, qty, quote, t, m = log.rows(r0, r1)
    prev_close: float | None = None
    if r0 > log.first_row:
        prev_close = float(log.rows(r0 - 1, r0)[1][0])
    elif len(price):
        prev_close = float(price[0])
    if prev_close is None:
        return []
    return klines_from_trades(
        interval, ids, price, qty, quote, t, m, prev_close=prev_close, first_open=first_open, last_open=last_open
    )


def kline_rows(
    klines: list[Kline], price_decimals: int, qty_decimals: int, quote_decimals: int, *, prices_only: bool = False
) -> bytes:
    """Binance's REST kline arrays as JSON bytes (``prices_only``: mark/index price klines, volumes ``"0"``)."""
    pd, qd, vd = price_decimals, qty_decimals, quote_decimals
    if prices_only:
        return ("[" + ",".join(
            f'[{k.open_time},"{k.open:.{pd}f}","{k.high:.{pd}f}","{k.low:.{pd}f}","{k.close:.{pd}f}","0",'
            f'{k.close_time},"0",{k.trades},"0","0","0"]'
            for k in klines
        ) + "]").encode()
    rows = [
        f'[{k.open_time},"{k.open:.{pd}f}","{k.high:.{pd}f}","{k.low:.{pd}f}","{k.close:.{pd}f}","{k.volume:.{qd}f}",'
        f'{k.close_time},"{k.quote_volume:.{vd}f}",{k.trades},"{k.taker_buy_volume:.{qd}f}","{k.taker_buy_quote:.{vd}f}","0"]'
        for k in klines
    ]
    return ("[" + ",".join(rows) + "]").encode()


class KlineState:
    """The open kline of one ``<symbol>@kline_<interval>`` stream, fed trade by trade.

    Args:
        symbol: upper-case symbol. interval: a Binance interval.
        current: the open kline (from the history when the first client subscribes).
        decimals: ``(price, qty, quote)`` decimals of the rendered strings.
    """

    def __init__(self, symbol: str, interval: str, current: Kline, decimals: tuple[int, int, int]) -> None:
        self.symbol = symbol
        self.interval = interval
        self.current = current
        self.decimals = decimals
        self.dirty = True

    def add(self, t_ms: int, trade_id: int, price: float, qty: float, quote: float, m: bool) -> list[Kline]:
        """Count one trade; returns the klines it closed (the open kline first moves past ``t_ms``)."""
        closed = self.roll(t_ms)
        self.current.add(trade_id, price, qty, quote, m)
        self.dirty = True
        return closed

    def roll(self, now_ms: int) -> list[Kline]:
        """Close every kline whose close time is before ``now_ms``; returns them (at most a few)."""
        closed: list[Kline] = []
        while now_ms > self.current.close_time:
            closed.append(self.current)
            self.current = Kline.flat(self.interval, self.current.close_time + 1, self.current.close)
            self.dirty = True
            if len(closed) > 1000:  # a long pause: skip ahead instead of emitting every empty kline
                start = int(kline_open(self.interval, np.array([now_ms]))[0])
                self.current = Kline.flat(self.interval, start, self.current.close)
                break
        return closed

    def event(self, kline: Kline, event_ms: int, final: bool) -> bytes:
        """The stream payload ``{"e":"kline",...,"k":{...}}`` of ``kline``."""
        pd, qd, vd = self.decimals
        k = kline
        return (
            f'{{"e":"kline","E":{event_ms},"s":"{self.symbol}","k":{{"t":{k.open_time},"T":{k.close_time},'
            f'"s":"{self.symbol}","i":"{self.interval}","f":{k.first_id},"L":{k.last_id},"o":"{k.open:.{pd}f}",'
            f'"c":"{k.close:.{pd}f}","h":"{k.high:.{pd}f}","l":"{k.low:.{pd}f}","v":"{k.volume:.{qd}f}",'
            f'"n":{k.trades},"x":{"true" if final else "false"},"q":"{k.quote_volume:.{vd}f}",'
            f'"V":"{k.taker_buy_volume:.{qd}f}","Q":"{k.taker_buy_quote:.{vd}f}","B":"0"}}}}'
        ).encode()
