"""Sans-I/O REST endpoints of the local exchange: request target in, ``(status, body, weight)`` out.

Endpoints (GET only; spot under ``/api/v3``, USD-M futures under ``/fapi/v1``):

=========================== ====== ====== ===========================================================
path                        weight weight parameters
                            spot   fut.
=========================== ====== ====== ===========================================================
``aggTrades``               4      20     symbol, fromId, startTime, endTime (ms, inclusive), limit
``historicalTrades``        25     20     symbol, fromId, limit (also startTime/endTime: local extension)
``trades``                  25     5      symbol, limit
``exchangeInfo``            20     1      symbol or symbols=["A","B"] (spot); none (futures)
``ping`` / ``time``         1      1
=========================== ====== ====== ===========================================================

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

import orjson

from quantkit.exchange.history import SymbolHistory
from quantkit.exchange.source import SymbolSpec

__all__ = ["REST_PREFIXES", "RestApi", "RestReply", "WeightCounter", "rest_error"]

#: REST path prefix -> market whose shapes it renders.
REST_PREFIXES: dict[str, str] = {"/api/v3": "spot", "/fapi/v1": "futures"}

_WEIGHTS: dict[str, dict[str, int]] = {
    "spot": {"aggTrades": 4, "historicalTrades": 25, "trades": 25, "exchangeInfo": 20, "ping": 1, "time": 1},
    "futures": {"aggTrades": 20, "historicalTrades": 20, "trades": 5, "exchangeInfo": 1, "ping": 1, "time": 1},
}
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


class WeightCounter:
    """Request weight used in the current minute (Binance's ``X-MBX-USED-WEIGHT-1M``).

    Args:
        clock: seconds since the epoch (``time.time`` or a fake).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._minute = -1
        self._used = 0

    def add(self, weight: int) -> int:
        """Charge ``weight`` and return the weight used so far in this minute."""
        minute = int(self._clock() // 60)
        if minute != self._minute:
            self._minute = minute
            self._used = 0
        self._used += weight
        return self._used


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
    ) -> None:
        self._histories = histories
        self._specs = specs
        self._now_ms = now_ms

    @staticmethod
    def is_rest_path(target: str) -> bool:
        """True when ``target`` is under a REST prefix (``/api/v3/``, ``/fapi/v1/``)."""
        path = urlsplit(target).path
        return any(path.startswith(p + "/") for p in REST_PREFIXES)

    def handle(self, target: str) -> RestReply:
        """Answer a GET of ``target`` (path and query)."""
        parts = urlsplit(target)
        prefix, _, endpoint = parts.path.rpartition("/")
        market = REST_PREFIXES.get(prefix)
        if market is None or endpoint not in _WEIGHTS[market]:
            return rest_error(-1000, f"Unknown endpoint {parts.path}.", status=404, weight=0)
        weight = _WEIGHTS[market][endpoint]
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            if endpoint == "ping":
                body = b"{}"
            elif endpoint == "time":
                body = b'{"serverTime":%d}' % self._now_ms()
            elif endpoint == "exchangeInfo":
                body = self._exchange_info(market, query)
            elif endpoint == "aggTrades":
                body = self._agg_trades(market, query)
            elif endpoint == "trades":
                body = self._trades(market, query, recent_only=True)
            else:
                body = self._trades(market, query, recent_only=False)
        except _BadRequest as exc:
            r = exc.reply
            return RestReply(r.status, r.body, weight)
        return RestReply(200, body, weight)

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
        qqd = min(pd + qd, 8) if market == "futures" else 8
        tail = ',"isBestMatch":true}' if market == "spot" else "}"
        rows = [
            f'{{"id":{i},"price":"{p:.{pd}f}","qty":"{q:.{qd}f}","quoteQty":"{_fmt_strip(qq, qqd)}","time":{ti},'
            f'"isBuyerMaker":{"true" if mi else "false"}{tail}'
            for i, p, q, qq, ti, mi in zip(ids.tolist(), price.tolist(), qty.tolist(), quote.tolist(), t.tolist(), m.tolist())
        ]
        return ("[" + ",".join(rows) + "]").encode()

    def _exchange_info(self, market: str, query: Mapping[str, str]) -> bytes:
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

