"""Sans-I/O REST endpoints of the local exchange: request target in, ``(status, body, weight)`` out.

Endpoints (spot under ``/api/v3``, USD-M futures under ``/fapi/v1``; COIN-M ``/dapi/v1`` serves
``exchangeInfo`` with no symbols, ``ping`` and ``time``; ``/sapi/v1/system/status`` says "normal"):

============================ ========= ========= ================================================================
path                         weight    weight    parameters
                             spot      USD-M
============================ ========= ========= ================================================================
``aggTrades``                4         20        symbol, fromId, startTime, endTime (ms, inclusive), limit
``historicalTrades``         25        20        symbol, fromId, limit (also startTime/endTime: local extension);
                                                 USD-M asks for an API key (``X-MBX-APIKEY``, any value)
``trades``                   25        5         symbol, limit
``klines`` / ``uiKlines``    2         1-10      symbol, interval, startTime, endTime, limit (spot <= 1000, USD-M <= 1500);
                                                 USD-M ``continuousKlines`` (pair), ``markPriceKlines``, ``indexPriceKlines``
                                                 (pair) from the same trades (mark = index = trade prices, no volumes)
``depth``                    5-250     2-20      symbol, limit (spot <= 5000, USD-M 5/10/20/50/100/500/1000)
``ticker/24hr``              2 / 80    1 / 40    symbol or symbols (spot) or none (all symbols; the second weight)
``ticker/price``             2 / 4     1 / 2     symbol or symbols (spot) or none
``ticker/bookTicker``        2 / 4     2 / 5     symbol or symbols (spot) or none
``avgPrice``                 2         -         symbol
``premiumIndex``             -         1 / 10    symbol or none
``fundingRate``              -         1         symbol, startTime, endTime, limit (default 100, at most 1000)
``exchangeInfo``             20        1         symbol or symbols=["A","B"] (spot); none (futures)
``ping`` / ``time``          1         1
============================ ========= ========= ================================================================

Klines, tickers and the book are computed from the trade history (see
:mod:`quantkit.exchange.klines`, :mod:`quantkit.exchange.tickers`,
:mod:`quantkit.exchange.book`); ``serverTime`` and the 24 h window use the
exchange's clock (the time of the trades being served, so a replay answers at
the capture's time).

Rules, as on Binance: ``limit`` defaults to 500; spot caps it at 1000, futures
answers ``-1130`` above 1000; with no ``fromId``/``startTime``/``endTime`` the
newest rows come back; with ``fromId`` or ``startTime`` the first ``limit`` rows
from there; with only ``endTime`` the last ``limit`` rows up to it (Binance does
not document that case). Futures rejects ``startTime``/``endTime`` more than one
hour apart (``-1127``). Errors are Binance bodies with status 400, e.g.
``{"code":-1121,"msg":"Invalid symbol."}``. Unknown parameters are ignored.

The same trade history serves both prefixes; each prefix renders its market's
shapes (spot: 8-decimal strings and ``M``; futures: the symbol's decimals, no ``M``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson

from quantkit.exchange.book import FUNDING_INTERVAL_MS, FUNDING_RATE, Book, TouchBook, funding_times
from quantkit.exchange.history import SymbolHistory
from quantkit.exchange.klines import INTERVALS, kline_rows, select_klines
from quantkit.exchange.source import SymbolSpec
from quantkit.exchange.tickers import AVG_PRICE_MINS, Decimals, rolling_stats

__all__ = ["REST_PREFIXES", "RestApi", "RestReply", "rest_error"]

#: REST path prefix -> market whose shapes it renders.
REST_PREFIXES: dict[str, str] = {"/api/v3": "spot", "/fapi/v1": "futures", "/dapi/v1": "delivery", "/sapi/v1": "sapi"}

#: Weight per endpoint (with a symbol where that matters; see ``_weight`` for the rest).
_WEIGHTS: dict[str, dict[str, int]] = {
    "spot": {"aggTrades": 4, "historicalTrades": 25, "trades": 25, "exchangeInfo": 20, "ping": 1, "time": 1,
             "klines": 2, "uiKlines": 2, "depth": 5, "ticker/24hr": 2, "ticker/price": 2, "ticker/bookTicker": 2,
             "avgPrice": 2},
    "futures": {"aggTrades": 20, "historicalTrades": 20, "trades": 5, "exchangeInfo": 1, "ping": 1, "time": 1,
                "klines": 1, "continuousKlines": 1, "markPriceKlines": 1, "indexPriceKlines": 1, "depth": 2, "ticker/24hr": 1, "ticker/price": 1, "ticker/bookTicker": 2,
                "premiumIndex": 1, "fundingRate": 1},
    "delivery": {"exchangeInfo": 1, "ping": 1, "time": 1},
    "sapi": {"system/status": 1},
}
#: Weight when the symbol is left out (all symbols).
_ALL_SYMBOLS_WEIGHTS: dict[str, dict[str, int]] = {
    "spot": {"ticker/24hr": 80, "ticker/price": 4, "ticker/bookTicker": 4},
    "futures": {"ticker/24hr": 40, "ticker/price": 2, "ticker/bookTicker": 5, "premiumIndex": 10},
}
_SPOT_DEPTH_LIMIT = 5000
_FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_INT_RE = re.compile(r"^-?[0-9]{1,20}$")
_MAX_LIMIT = 1000
_DEFAULT_LIMIT = 500
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class RestReply:
    """One REST answer.

    Attributes:
        status: HTTP status.
        body: JSON bytes.
        weight: request weight charged (0 for unknown paths).
        headers: extra headers, e.g. ``(("Retry-After", "5"),)``.
    """

    status: int
    body: bytes
    weight: int = 0
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def rest_error(code: int, msg: str, status: int = 400, weight: int = 1) -> RestReply:
    """A Binance error reply: ``{"code":code,"msg":msg}`` with ``status``."""
    return RestReply(status, orjson.dumps({"code": code, "msg": msg}), weight)


class _BadRequest(Exception):
    def __init__(self, reply: RestReply) -> None:
        self.reply = reply


def _fmt_strip(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


class RestApi:
    """Answer REST requests from the histories (see the module docstring).

    Args:
        histories: symbol -> history (the symbols served).
        specs: symbol -> spec (tick/step sizes, decimals).
        now_ms: current time in ms (for ``serverTime``).
    """

    def __init__(
        self,
        histories: Mapping[str, SymbolHistory],
        specs: Mapping[str, SymbolSpec],
        now_ms: Callable[[], int],
        books: Mapping[str, Book] | None = None,
    ) -> None:
        self._histories = histories
        self._specs = specs
        self._now_ms = now_ms
        self._books: Mapping[str, Book] = books if books is not None else {}

    @staticmethod
    def market_of(target: str) -> str | None:
        """The market of a target under a REST prefix (known endpoint or not), else ``None``."""
        path = urlsplit(target).path
        return next((m for p, m in REST_PREFIXES.items() if path.startswith(p + "/")), None)

    @staticmethod
    def route(target: str) -> tuple[str, str] | None:
        """``(market, endpoint)`` of a REST target, e.g. ``("spot", "ticker/24hr")``; ``None`` when unknown."""
        path = urlsplit(target).path
        if path == "/fapi/v2/ticker/price":  # the v2 price ticker (ccxt's fetch_last_prices) has v1's shape
            return "futures", "ticker/price"
        for prefix, market in REST_PREFIXES.items():
            if path.startswith(prefix + "/"):
                endpoint = path[len(prefix) + 1 :]
                return (market, endpoint) if endpoint in _WEIGHTS[market] else None
        return None

    def handle(self, target: str, *, api_key: str | None = None) -> RestReply:
        """Answer a GET of ``target`` (path and query); ``api_key`` is the ``X-MBX-APIKEY`` header, if any."""
        parts = urlsplit(target)
        route = self.route(target)
        if route is None:
            return rest_error(-1000, f"Unknown endpoint {parts.path}.", status=404, weight=0)
        market, endpoint = route
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        weight = _WEIGHTS[market][endpoint]
        if "symbol" not in query and "symbols" not in query:
            weight = _ALL_SYMBOLS_WEIGHTS.get(market, {}).get(endpoint, weight)
        try:
            if endpoint == "depth":
                weight = self._depth_weight(market, query)
            elif endpoint.endswith("lines") and market == "futures":
                lim = self._int(query, "limit") or 500
                weight = 1 if lim < 100 else 2 if lim < 500 else 5 if lim <= 1000 else 10
            if endpoint == "historicalTrades" and market == "futures" and not api_key:
                return rest_error(-2014, "API-key format invalid.", status=401, weight=weight)
            body = self._dispatch(market, endpoint, query)
        except _BadRequest as exc:
            r = exc.reply
            return RestReply(r.status, r.body, weight)
        return RestReply(200, body, weight)

    def _dispatch(self, market: str, endpoint: str, query: Mapping[str, str]) -> bytes:
        if endpoint == "ping":
            return b"{}"
        if endpoint == "time":
            return b'{"serverTime":%d}' % self._now_ms()
        if endpoint == "system/status":
            return b'{"status":0,"msg":"normal"}'
        if endpoint == "exchangeInfo":
            return self._exchange_info(market, query)
        if endpoint == "aggTrades":
            return self._agg_trades(market, query)
        if endpoint == "trades":
            return self._trades(market, query, recent_only=True)
        if endpoint == "historicalTrades":
            return self._trades(market, query, recent_only=False)
        if endpoint in ("klines", "uiKlines", "continuousKlines"):
            return self._klines(market, query)
        if endpoint in ("markPriceKlines", "indexPriceKlines"):
            return self._klines(market, query, prices_only=True)
        if endpoint == "depth":
            return self._depth(market, query)
        if endpoint == "avgPrice":
            return self._avg_price(query)
        if endpoint == "premiumIndex":
            return self._premium_index(query)
        if endpoint == "fundingRate":
            return self._funding_rate(query)
        return self._tickers(market, endpoint, query)

    # ------------------------------------------------------------------------------------------------ parameters

    def _symbol(self, query: Mapping[str, str]) -> tuple[str, SymbolHistory]:
        sym = query.get("symbol", "")
        if not sym:
            raise _BadRequest(
                rest_error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
            )
        hist = self._histories.get(sym)
        if hist is None:
            raise _BadRequest(rest_error(-1121, "Invalid symbol."))
        return sym, hist

    @staticmethod
    def _int(query: Mapping[str, str], name: str) -> int | None:
        raw = query.get(name)
        if raw is None:
            return None
        if not _INT_RE.match(raw):
            raise _BadRequest(
                rest_error(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
            )
        return int(raw)

    def _limit(self, market: str, query: Mapping[str, str]) -> int:
        limit = self._int(query, "limit")
        if limit is None:
            return _DEFAULT_LIMIT
        if limit < 1 or (market == "futures" and limit > _MAX_LIMIT):
            raise _BadRequest(rest_error(-1130, "Data sent for parameter 'limit' is not valid."))
        return min(limit, _MAX_LIMIT)

    def _window(self, market: str, query: Mapping[str, str]) -> tuple[int | None, int | None]:
        start = self._int(query, "startTime")
        end = self._int(query, "endTime")
        if market == "futures" and start is not None and end is not None and end - start > _HOUR_MS:
            raise _BadRequest(rest_error(-1127, "More than 1 hours between startTime and endTime."))
        return start, end

    # ------------------------------------------------------------------------------------------------ endpoints

    def _decimals(self, market: str, sym: str) -> tuple[int, int]:
        if market == "spot":
            return 8, 8
        spec = self._specs[sym]
        return spec.price_decimals, spec.qty_decimals

    def _agg_trades(self, market: str, query: Mapping[str, str]) -> bytes:
        sym, hist = self._symbol(query)
        limit = self._limit(market, query)
        from_id = self._int(query, "fromId")
        start, end = self._window(market, query)
        a, price, qty, first, last, t, m = hist.aggs_query(from_id=from_id, start_time=start, end_time=end, limit=limit)
        pd, qd = self._decimals(market, sym)
        tail = ',"M":true}' if market == "spot" else "}"
        rows = [
            f'{{"a":{ai},"p":"{pi:.{pd}f}","q":"{qi:.{qd}f}","f":{fi},"l":{li},"T":{ti},"m":{"true" if mi else "false"}{tail}'
            for ai, pi, qi, fi, li, ti, mi in zip(
                a.tolist(), price.tolist(), qty.tolist(), first.tolist(), last.tolist(), t.tolist(), m.tolist()
            )
        ]
        return ("[" + ",".join(rows) + "]").encode()

    def _trades(self, market: str, query: Mapping[str, str], *, recent_only: bool) -> bytes:
        sym, hist = self._symbol(query)
        limit = self._limit(market, query)
        if recent_only:
            cols = hist.recent_trades(limit)
        else:
            from_id = self._int(query, "fromId")
            start, end = self._window(market, query)
            cols = hist.trades_query(from_id=from_id, start_time=start, end_time=end, limit=limit)
        ids, price, qty, quote, t, m = cols
        pd, qd = self._decimals(market, sym)
        spot = market == "spot"
        qqd = 8 if spot else min(pd + qd, 8)
        tail = ',"isBestMatch":true}' if spot else "}"
        rows = [
            f'{{"id":{i},"price":"{p:.{pd}f}","qty":"{q:.{qd}f}","quoteQty":"{f"{qq:.8f}" if spot else _fmt_strip(qq, qqd)}","time":{ti},'
            f'"isBuyerMaker":{"true" if mi else "false"}{tail}'
            for i, p, q, qq, ti, mi in zip(ids.tolist(), price.tolist(), qty.tolist(), quote.tolist(), t.tolist(), m.tolist())
        ]
        return ("[" + ",".join(rows) + "]").encode()

    # ------------------------------------------------------------------------------------------------ market data

    def _quote_decimals(self, market: str, sym: str) -> Decimals:
        pd, qd = self._decimals(market, sym)
        return Decimals(pd, qd, 8 if market == "spot" else min(pd + qd, 8))

    def _symbols(self, market: str, query: Mapping[str, str]) -> list[str]:
        """``symbol`` or (spot) ``symbols=["A","B"]``, else every symbol."""
        if "symbol" in query:
            return [self._symbol(query)[0]]
        if "symbols" in query and market == "spot":
            try:
                wanted = orjson.loads(query["symbols"])
                if not isinstance(wanted, list) or not wanted or not all(isinstance(x, str) for x in wanted):
                    raise ValueError
            except (ValueError, orjson.JSONDecodeError):
                raise _BadRequest(rest_error(-1100, "Illegal characters found in parameter 'symbols'.")) from None
            if any(x not in self._histories for x in wanted):
                raise _BadRequest(rest_error(-1121, "Invalid symbol."))
            return list(dict.fromkeys(wanted))
        return list(self._histories)

    def _depth_weight(self, market: str, query: Mapping[str, str]) -> int:
        limit = self._int(query, "limit")
        if market == "spot":
            lim = 100 if limit is None else limit
            return 5 if lim <= 100 else 25 if lim <= 500 else 50 if lim <= 1000 else 250
        lim = 500 if limit is None else limit
        return 2 if lim <= 50 else 5 if lim <= 100 else 10 if lim <= 500 else 20

    def _klines(self, market: str, query: Mapping[str, str], *, prices_only: bool = False) -> bytes:
        if "symbol" not in query and "pair" in query:  # continuousKlines / indexPriceKlines name the pair
            query = {**query, "symbol": query["pair"]}
        sym, hist = self._symbol(query)
        interval = query.get("interval", "")
        if not interval:
            raise _BadRequest(
                rest_error(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.")
            )
        if interval not in INTERVALS or (interval == "1s" and market != "spot"):
            raise _BadRequest(rest_error(-1120, "Invalid interval."))
        limit = self._int(query, "limit")
        cap = 1000 if market == "spot" else 1500
        if limit is None:
            limit = 500
        elif limit < 1 or (market == "futures" and limit > cap):
            raise _BadRequest(rest_error(-1130, "Data sent for parameter 'limit' is not valid."))
        limit = min(limit, cap)
        start = self._int(query, "startTime")
        end = self._int(query, "endTime")
        if start is not None and end is not None and start > end:
            raise _BadRequest(rest_error(-1023, "Start time is greater than end time."))
        klines = select_klines(hist.trades, interval, start=start, end=end, limit=limit, now_ms=self._now_ms())
        d = self._quote_decimals(market, sym)
        return kline_rows(klines, d.price, d.qty, d.quote, prices_only=prices_only)

    def _book(self, sym: str) -> Book:
        book = self._books.get(sym)
        if book is None:
            book = TouchBook(self._specs[sym])
        return book

    def _depth(self, market: str, query: Mapping[str, str]) -> bytes:
        sym, _ = self._symbol(query)
        limit = self._int(query, "limit")
        if market == "spot":
            limit = 100 if limit is None else limit
            if limit < 1:
                raise _BadRequest(rest_error(-1130, "Data sent for parameter 'limit' is not valid."))
            limit = min(limit, _SPOT_DEPTH_LIMIT)
        else:
            limit = 500 if limit is None else limit
            if limit not in _FUTURES_DEPTH_LIMITS:
                raise _BadRequest(rest_error(-1130, "Data sent for parameter 'limit' is not valid."))
        book = self._book(sym)
        pd, qd = self._decimals(market, sym)
        bids, asks = book.sides(limit)
        side = lambda ticks: ",".join(  # noqa: E731
            f'["{k * book.tick:.{pd}f}","{q:.{qd}f}"]' for k, q in zip(ticks.tolist(), book.qty_at(ticks).tolist())
        )
        head = f'{{"lastUpdateId":{book.update_id},'
        if market == "futures":
            now = self._now_ms()
            head += f'"E":{now},"T":{now},'
        return (head + f'"bids":[{side(bids)}],"asks":[{side(asks)}]}}').encode()

    def _tickers(self, market: str, endpoint: str, query: Mapping[str, str]) -> bytes:
        single = "symbol" in query
        symbols = self._symbols(market, query)
        now = self._now_ms()
        out: list[dict[str, object]] = []
        for sym in symbols:
            d = self._quote_decimals(market, sym)
            book = self._book(sym)
            if endpoint == "ticker/24hr":
                out.append(rolling_stats(self._histories[sym], now).ticker_24hr(market, d, book))
            elif endpoint == "ticker/price":
                last = rolling_stats(self._histories[sym], now).last
                row: dict[str, object] = {"symbol": sym, "price": f"{last:.{d.price}f}"}
                if market == "futures":
                    row["time"] = now
                out.append(row)
            else:
                bid, ask = book.touch() or (0, 0)
                bq = float(book.qty_at(np.array([bid]))[0]) if bid else 0.0
                aq = float(book.qty_at(np.array([ask]))[0]) if ask else 0.0
                row = {"symbol": sym, "bidPrice": f"{bid * book.tick:.{d.price}f}", "bidQty": f"{bq:.{d.qty}f}",
                       "askPrice": f"{ask * book.tick:.{d.price}f}", "askQty": f"{aq:.{d.qty}f}"}
                if market == "futures":
                    row["time"] = now
                out.append(row)
        return orjson.dumps(out[0] if single else out)

    def _avg_price(self, query: Mapping[str, str]) -> bytes:
        sym, hist = self._symbol(query)
        now = self._now_ms()
        stats = rolling_stats(hist, now, AVG_PRICE_MINS * 60_000)
        last_t = hist.last_time if hist.last_time is not None else now
        return orjson.dumps({"mins": AVG_PRICE_MINS, "price": f"{stats.vwap:.8f}", "closeTime": last_t})

    def _premium_index(self, query: Mapping[str, str]) -> bytes:
        single = "symbol" in query
        symbols = [self._symbol(query)[0]] if single else list(self._histories)
        now = self._now_ms()
        out = []
        for sym in symbols:
            pd, _ = self._decimals("futures", sym)
            mid = self._book(sym).mid
            mark = f"{mid:.{pd}f}" if mid is not None else f"{0:.{pd}f}"
            out.append({
                "symbol": sym, "markPrice": mark, "indexPrice": mark, "estimatedSettlePrice": mark,
                "lastFundingRate": f"{FUNDING_RATE:.8f}", "interestRate": f"{FUNDING_RATE:.8f}",
                "nextFundingTime": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS, "time": now,
            })
        return orjson.dumps(out[0] if single else out)

    def _funding_rate(self, query: Mapping[str, str]) -> bytes:
        now = self._now_ms()
        symbols = [self._symbol(query)[0]] if "symbol" in query else list(self._histories)
        limit = self._int(query, "limit")
        limit = 100 if limit is None else limit
        if not 1 <= limit <= 1000:
            raise _BadRequest(rest_error(-1130, "Data sent for parameter 'limit' is not valid."))
        start = self._int(query, "startTime")
        end = self._int(query, "endTime")
        rows: list[dict[str, object]] = []
        for sym in symbols:
            hist = self._histories[sym]
            if len(hist.trades) == 0:
                continue
            first_t = int(hist.trades.rows(hist.trades.first_row, hist.trades.first_row + 1)[4][0])
            lo = max(first_t, start) if start is not None else first_t
            hi = min(now, end) if end is not None else now
            pd, _ = self._decimals("futures", sym)
            for ft in funding_times(lo, hi):
                r = hist.trades.search("time", ft, side="right")
                px = hist.trades.rows(r - 1, r)[1]
                mark = float(px[0]) if len(px) else 0.0
                rows.append({"symbol": sym, "fundingTime": ft, "fundingRate": f"{FUNDING_RATE:.8f}",
                             "markPrice": f"{mark:.{pd}f}"})
        rows.sort(key=lambda r: (r["fundingTime"], r["symbol"]))  # type: ignore[arg-type, return-value]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return orjson.dumps(rows)

    def _exchange_info(self, market: str, query: Mapping[str, str]) -> bytes:
        if market == "delivery":
            return orjson.dumps({"timezone": "UTC", "serverTime": self._now_ms(), "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ], "exchangeFilters": [], "symbols": []})
        symbols = list(self._specs)
        if "symbol" in query:
            if query["symbol"] not in self._specs:
                raise _BadRequest(rest_error(-1121, "Invalid symbol."))
            symbols = [query["symbol"]]
        elif "symbols" in query:
            try:
                wanted = orjson.loads(query["symbols"])
                if not isinstance(wanted, list) or not all(isinstance(s, str) for s in wanted):
                    raise ValueError
            except (ValueError, orjson.JSONDecodeError):
                raise _BadRequest(
                    rest_error(-1100, "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.")
                ) from None
            unknown = [s for s in wanted if s not in self._specs]
            if unknown:
                raise _BadRequest(rest_error(-1121, "Invalid symbol."))
            symbols = list(dict.fromkeys(wanted))
        now = self._now_ms()
        if market == "spot":
            info = {
                "timezone": "UTC",
                "serverTime": now,
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
                ],
                "exchangeFilters": [],
                "symbols": [_spot_symbol(self._specs[s]) for s in symbols],
            }
        else:
            info = {
                "timezone": "UTC",
                "serverTime": now,
                "futuresType": "U_MARGINED",
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                ],
                "exchangeFilters": [],
                "symbols": [_futures_symbol(self._specs[s]) for s in symbols],
            }
        return orjson.dumps(info)


def _spot_decimal(text: str) -> str:
    return f"{float(text):.8f}"


def _spot_symbol(spec: SymbolSpec) -> dict[str, object]:
    return {
        "symbol": spec.symbol,
        "status": "TRADING",
        "baseAsset": spec.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _spot_decimal(spec.tick_size),
                "maxPrice": "1000000.00000000",
                "tickSize": _spot_decimal(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _spot_decimal(spec.step_size),
                "maxQty": "9000.00000000",
                "stepSize": _spot_decimal(spec.step_size),
            },
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _futures_symbol(spec: SymbolSpec) -> dict[str, object]:
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.price_decimals,
        "quantityPrecision": spec.qty_decimals,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": spec.tick_size, "maxPrice": "1000000", "tickSize": spec.tick_size},
            {"filterType": "LOT_SIZE", "stepSize": spec.step_size, "maxQty": "1000", "minQty": spec.step_size},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": spec.step_size, "maxQty": "1000", "minQty": spec.step_size},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }

