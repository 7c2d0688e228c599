"""Sans-I/O core of the local exchange's WebSocket side: stream names, paths, event bytes, control messages.

Nothing here touches a socket or a clock; :mod:`quantkit.exchange.server` does
the I/O. Shapes follow Binance byte for byte (see
``shared/notes/binance_protocol.md``):

* spot ``@trade``: ``{"e":"trade","E":..,"s":..,"t":..,"p":"61837.63000000","q":"0.02000000","T":..,"m":true,"M":true}``
  (prices and quantities as 8-decimal strings);
* futures ``@trade``: ``{"e":"trade","E":..,"T":..,"s":..,"t":..,"p":"61800.30","q":"0.006","X":"MARKET","m":false}``
  (decimals of the symbol, no ``M``);
* spot ``@aggTrade``: ``{"e":"aggTrade","E":..,"s":..,"a":..,"p":..,"q":..,"f":..,"l":..,"T":..,"m":..,"M":true}``;
* futures ``@aggTrade``: ``{"e":"aggTrade","E":..,"s":..,"a":..,"p":..,"q":..,"nq":..,"f":..,"l":..,"T":..,"m":..}``
  (``nq`` equals ``q``: there are no RPI orders here);
* combined streams wrap the payload as ``{"stream":"<name>","data":<payload>}``;
* ``serverShutdown``: ``{"e":"serverShutdown","E":..}``, combined as ``{"stream":"!serverShutdown","data":{..}}``.

Control messages (``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``,
``SET_PROPERTY``, ``GET_PROPERTY``) are answered by :meth:`StreamSession.handle`
with Binance's replies and error messages. Binance's parser is serde_json; the
``line/column`` positions in its messages are reproduced for the cases in the
documented table (missing ``method``, unknown method, invalid JSON) and are
approximate elsewhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

from quantkit.exchange.klines import INTERVALS
from quantkit.exchange.source import SymbolSpec
from quantkit.schema import Trade

__all__ = [
    "AGG_TRADE",
    "AggTrade",
    "DATA_KINDS",
    "METHODS",
    "PathError",
    "Renderer",
    "StreamName",
    "StreamSession",
    "TRADE",
    "WsTarget",
    "error_reply",
    "event_period_ms",
    "parse_stream_name",
    "parse_ws_path",
    "server_shutdown_event",
    "wrap_combined",
]

TRADE = "trade"
AGG_TRADE = "aggTrade"
#: Stream kinds published trade by trade (other served kinds are events: klines, tickers, book, mark price).
DATA_KINDS: tuple[str, ...] = (TRADE, AGG_TRADE)
_PARTIAL_DEPTH = ("5", "10", "20")


def event_period_ms(market: str, kind: str) -> int | None:
    """Update period (wall ms) of an event stream kind this exchange serves; ``None`` when not served.

    Served: ``kline_<interval>`` (spot every 2 s, ``1s`` klines every 1 s; USD-M 250 ms; plus the
    closing message), ``ticker`` and ``miniTicker`` (1 s), ``bookTicker`` (0: real time),
    ``depth`` (spot 1 s, USD-M 250 ms), ``depth@100ms``, ``depth@1000ms`` (spot), ``depth@500ms``
    (USD-M), partial ``depth5/10/20`` with the same suffixes, and on USD-M ``markPrice`` (3 s)
    and ``markPrice@1s``. Trade kinds (``trade``, ``aggTrade``) are not events (``None``).
    """
    spot = market == "spot"
    if kind.startswith("kline_"):
        interval = kind[6:]
        if interval not in INTERVALS or (interval == "1s" and not spot):
            return None
        return (1000 if interval == "1s" else 2000) if spot else 250
    if kind in ("ticker", "miniTicker"):
        return 1000
    if kind == "bookTicker":
        return 0
    if kind.startswith("depth"):
        base, _, speed = kind.partition("@")
        if base != "depth" and base[5:] not in _PARTIAL_DEPTH:
            return None
        if not speed:
            return 1000 if spot else 250
        allowed = ("100ms", "1000ms") if spot else ("100ms", "250ms", "500ms")
        return int(speed[:-2]) if speed in allowed else None
    if not spot and kind in ("markPrice", "markPrice@1s"):
        return 1000 if kind.endswith("@1s") else 3000
    return None
#: Control methods, in the order Binance's error message lists them.
METHODS: tuple[str, ...] = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")

_STREAM_RE = re.compile(r"^([A-Za-z0-9_]+)@([A-Za-z0-9_@]+)$")
_SPECIAL_RE = re.compile(r"^![A-Za-z0-9_@]+$")
_ID_STR_RE = re.compile(r"^[A-Za-z0-9]{1,36}$")
_ROUTES = ("/public", "/market", "/private")
_INT64 = (-(2**63), 2**63 - 1)


class StreamName(NamedTuple):
    """A parsed stream name.

    Attributes:
        name: normalized name (symbol part lower-cased), e.g. ``"btcusdt@trade"``.
        symbol: upper-case symbol, ``""`` for special streams like ``!miniTicker@arr``.
        kind: the part after the first ``@``, e.g. ``"trade"``, ``"aggTrade"``, ``"depth@100ms"``.
    """

    name: str
    symbol: str
    kind: str


def parse_stream_name(raw: object) -> StreamName | None:
    """Parse ``"btcusdt@trade"``-like names; ``None`` when the name is not a valid stream name.

    The symbol part is case-insensitive (normalized to lower case); the kind is
    case-sensitive as on Binance (``aggTrade``).
    """
    if not isinstance(raw, str):
        return None
    m = _STREAM_RE.match(raw)
    if m:
        sym, kind = m.group(1), m.group(2)
        return StreamName(f"{sym.lower()}@{kind}", sym.upper(), kind)
    if _SPECIAL_RE.match(raw):
        return StreamName(raw, "", raw[1:])
    return None


class AggTrade(NamedTuple):
    """One aggregate trade: consecutive fills of one taker order at one price.

    Attributes:
        agg_id: aggregate trade id ``a``.
        price: price.
        qty: summed quantity.
        first_id: first trade id ``f``.
        last_id: last trade id ``l``.
        trade_time: trade time ``T``, ms.
        event_time: event time ``E`` (of the last fill), ms.
        is_buyer_maker: ``m``.
    """

    agg_id: int
    price: float
    qty: float
    first_id: int
    last_id: int
    trade_time: int
    event_time: int
    is_buyer_maker: bool


@dataclass(frozen=True)
class WsTarget:
    """What a WebSocket request path asks for.

    Attributes:
        combined: ``True`` for ``/stream`` (events wrapped in ``{"stream","data"}``).
        streams: stream names given in the path (normalized), in order.
        micro: ``timeUnit=MICROSECOND``: times in µs instead of ms.
    """

    combined: bool
    streams: tuple[str, ...]
    micro: bool = False


class PathError(ValueError):
    """A WebSocket path the exchange refuses, with the HTTP status to answer.

    Attributes:
        status: HTTP status code.
        message: body text.
    """

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}")


def parse_ws_path(target: str) -> WsTarget | None:
    """Parse a request target: ``/ws/<s1>/<s2>``, ``/ws``, ``/stream?streams=<s1>/<s2>`` (+ ``timeUnit``).

    USD-M route prefixes (``/public``, ``/market``, ``/private``) are accepted and ignored.

    Returns:
        The target, or ``None`` when the path is not a stream path (REST or unknown).

    Raises:
        PathError: a stream path with an invalid stream name or ``timeUnit``.
    """
    parts = urlsplit(target)
    path = parts.path
    for route in _ROUTES:
        if path == route or path.startswith(route + "/"):
            path = path[len(route) :] or "/"
            break
    query = parse_qs(parts.query, keep_blank_values=True)
    if path == "/ws" or path.startswith("/ws/"):
        combined = False
        # Binance accepts any path segment after /ws (ccxt.pro opens /ws/<n> and subscribes by message):
        # segments that are not stream names subscribe nothing.
        raw_names = [p for p in path[4:].split("/") if parse_stream_name(p) is not None]
    elif path in ("/stream", "/stream/"):
        combined = True
        raw_names = [p for p in (query.get("streams", [""])[0]).split("/") if p]
    else:
        return None
    unit = query.get("timeUnit", ["MILLISECOND"])[0]
    if unit.upper() not in ("MILLISECOND", "MICROSECOND"):
        raise PathError(400, f"Invalid timeUnit: {unit}")
    names = []
    for raw in raw_names:
        parsed = parse_stream_name(raw)
        if parsed is None:
            raise PathError(400, f"Invalid stream name: {raw}")
        names.append(parsed.name)
    return WsTarget(combined, tuple(dict.fromkeys(names)), unit.upper() == "MICROSECOND")


# ----------------------------------------------------------------------------------------------------------- rendering



class Renderer:
    """Event bytes for one symbol of one market (spot or futures).

    Args:
        market: ``"spot"`` or ``"futures"``.
        spec: the symbol's spec (decimals for futures; spot always uses 8).
    """

    def __init__(self, market: str, spec: SymbolSpec) -> None:
        self.market = market
        self.spec = spec
        self.symbol = spec.symbol
        if market == "spot":
            self.price_decimals = self.qty_decimals = 8
        else:
            self.price_decimals, self.qty_decimals = spec.price_decimals, spec.qty_decimals
        self.trade: Callable[[Trade, bool], bytes] = self._make_trade()
        self.agg: Callable[[AggTrade, bool], bytes] = self._make_agg()

    def _make_trade(self) -> Callable[[Trade, bool], bytes]:
        s, pd, qd = self.symbol, self.price_decimals, self.qty_decimals
        if self.market == "spot":

            def trade(t: Trade, micro: bool = False) -> bytes:
                k = 1000 if micro else 1
                return (
                    f'{{"e":"trade","E":{t[6] * k},"s":"{s}","t":{t[1]},"p":"{t[2]:.{pd}f}","q":"{t[3]:.{qd}f}",'
                    f'"T":{t[5] * k},"m":{"true" if t[7] else "false"},"M":true}}'
                ).encode()

        else:

            def trade(t: Trade, micro: bool = False) -> bytes:
                k = 1000 if micro else 1
                return (
                    f'{{"e":"trade","E":{t[6] * k},"T":{t[5] * k},"s":"{s}","t":{t[1]},"p":"{t[2]:.{pd}f}",'
                    f'"q":"{t[3]:.{qd}f}","X":"MARKET","m":{"true" if t[7] else "false"}}}'
                ).encode()

        return trade

    def _make_agg(self) -> Callable[[AggTrade, bool], bytes]:
        s, pd, qd = self.symbol, self.price_decimals, self.qty_decimals
        if self.market == "spot":

            def agg(a: AggTrade, micro: bool = False) -> bytes:
                k = 1000 if micro else 1
                return (
                    f'{{"e":"aggTrade","E":{a[6] * k},"s":"{s}","a":{a[0]},"p":"{a[1]:.{pd}f}","q":"{a[2]:.{qd}f}",'
                    f'"f":{a[3]},"l":{a[4]},"T":{a[5] * k},"m":{"true" if a[7] else "false"},"M":true}}'
                ).encode()

        else:

            def agg(a: AggTrade, micro: bool = False) -> bytes:
                k = 1000 if micro else 1
                q = f"{a[2]:.{qd}f}"
                return (
                    f'{{"e":"aggTrade","E":{a[6] * k},"s":"{s}","a":{a[0]},"p":"{a[1]:.{pd}f}","q":"{q}","nq":"{q}",'
                    f'"f":{a[3]},"l":{a[4]},"T":{a[5] * k},"m":{"true" if a[7] else "false"}}}'
                ).encode()

        return agg


def wrap_combined(stream: str, payload: bytes) -> bytes:
    """``{"stream":"<stream>","data":<payload>}``."""
    return b'{"stream":"' + stream.encode() + b'","data":' + payload + b"}"


def server_shutdown_event(now_ms: int, *, combined: bool) -> bytes:
    """The ``serverShutdown`` event, raw or wrapped as stream ``!serverShutdown``."""
    payload = b'{"e":"serverShutdown","E":%d}' % now_ms
    return wrap_combined("!serverShutdown", payload) if combined else payload


# ------------------------------------------------------------------------------------------------------------- control


def error_reply(code: int, msg: str, request_id: object = None, *, with_id: bool = False) -> bytes:
    """A Binance stream error reply ``{"code":..,"msg":..}`` (plus ``"id"`` when ``with_id``)."""
    out: dict[str, object] = {"code": code, "msg": msg}
    if with_id:
        out["id"] = request_id
    return orjson.dumps(out)


def _result_reply(result: object, request_id: object) -> bytes:
    return orjson.dumps({"result": result, "id": request_id})


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """serde_json-style 1-based line and column of the character at ``offset`` (0-based)."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def _json_error(text: str, exc: json.JSONDecodeError) -> str:
    msg = exc.msg
    pos = exc.pos
    if msg.startswith("Expecting value"):
        kind = "expected value"
    elif msg.startswith("Extra data"):
        kind = "trailing characters"
    elif msg.startswith("Unterminated string") or pos >= len(text):
        kind = "EOF while parsing a value"
        pos = len(text) - 1 if text else 0
        if text.lstrip().startswith("{"):
            kind = "EOF while parsing an object"
        elif text.lstrip().startswith("["):
            kind = "EOF while parsing a list"
    elif msg.startswith("Expecting property name"):
        kind = "key must be a string"
    elif msg.startswith("Expecting ':'"):
        kind = "expected `:`"
    elif msg.startswith("Expecting ',' delimiter"):
        kind = "expected `,` or `}`"
    else:
        kind = msg[0].lower() + msg[1:] if msg else "invalid JSON"
    line, col = _line_col(text, max(0, min(pos, max(len(text) - 1, 0))))
    return f"Invalid JSON: {kind} at line {line} column {col}"


def _method_end(text: str) -> int | None:
    """Offset of the closing quote of the ``"method"`` string value, if found."""
    m = re.search(r'"method"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
    return m.end() - 1 if m else None


def _valid_id(value: object) -> bool:
    if value is None:
        return True
    if type(value) is int:
        return _INT64[0] <= value <= _INT64[1]
    if type(value) is str:
        return bool(_ID_STR_RE.match(value))
    return False


class StreamSession:
    """Subscription state of one WebSocket connection and its control-message handling.

    Args:
        combined: initial ``combined`` property (``True`` on ``/stream``).
        streams: stream names subscribed by the connection path.
        micro: times in µs (``timeUnit=MICROSECOND``).

    Attributes:
        combined: wrap events in ``{"stream","data"}``.
        micro: times in µs.
        version: incremented on every change of the subscriptions.
    """

    def __init__(
        self,
        combined: bool,
        streams: tuple[str, ...] = (),
        *,
        micro: bool = False,
        can_serve: Callable[[StreamName], bool] | None = None,
    ) -> None:
        self.combined = combined
        self.micro = micro
        self._can_serve = can_serve
        self._subs: dict[str, StreamName] = {}
        self.version = 0
        self._data: tuple[tuple[str, str], ...] = ()
        self._events: frozenset[tuple[str, str]] = frozenset()
        for name in streams:
            parsed = parse_stream_name(name)
            if parsed is not None:
                self._subs[parsed.name] = parsed
        self._refresh()

    @property
    def subscriptions(self) -> list[str]:
        """Subscribed stream names, in subscription order."""
        return list(self._subs)

    @property
    def data_streams(self) -> tuple[tuple[str, str], ...]:
        """``(SYMBOL, kind)`` of the subscribed streams that carry data (trade, aggTrade), sorted."""
        return self._data

    @property
    def event_streams(self) -> frozenset[tuple[str, str]]:
        """``(SYMBOL, kind)`` of the subscribed streams that are not trade kinds (klines, tickers, depth...)."""
        return self._events

    def unservable(self) -> list[str]:
        """Subscribed names the exchange cannot serve (always empty without ``can_serve``)."""
        if self._can_serve is None:
            return []
        return [n for n, p in self._subs.items() if not self._can_serve(p)]

    def _refresh(self) -> None:
        self._events = frozenset(
            (s.symbol, s.kind) for s in self._subs.values() if s.kind not in DATA_KINDS and s.symbol
        )
        data = {(s.symbol, s.kind) for s in self._subs.values() if s.kind in DATA_KINDS and s.symbol}
        # Sorted with trade before aggTrade for one symbol, so merged batches put a fill before its aggregate.
        self._data = tuple(sorted(data, key=lambda sk: (sk[0], DATA_KINDS.index(sk[1]))))
        self.version += 1

    def handle(self, raw: str | bytes) -> bytes:
        """Answer one control message (text of the frame); returns the reply bytes."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray, memoryview)) else raw
        try:
            msg = json.loads(text)
        except json.JSONDecodeError as exc:
            return error_reply(3, _json_error(text, exc))
        if not isinstance(msg, dict):
            kind = type(msg).__name__
            kinds = {"list": "sequence", "str": "string", "int": "integer", "float": "floating point",
                     "bool": "boolean", "NoneType": "null"}
            line, col = _line_col(text, max(len(text.rstrip()) - 1, 0))
            return error_reply(
                2, f"Invalid request: invalid type: {kinds.get(kind, kind)}, expected struct Request at line {line} column {col}"
            )
        if "method" not in msg:
            line, col = _line_col(text, max(len(text.rstrip()) - 1, 0))
            return error_reply(2, f"Invalid request: missing field `method` at line {line} column {col}")
        method = msg["method"]
        if method not in METHODS or not isinstance(method, str):
            end = _method_end(text)
            line, col = _line_col(text, end if end is not None else max(len(text.rstrip()) - 1, 0))
            expected = ", ".join(f"`{m}`" for m in METHODS)
            shown = f"`{method}`" if isinstance(method, str) else json.dumps(method)
            return error_reply(
                2, f"Invalid request: unknown variant {shown}, expected one of {expected} at line {line} column {col}"
            )
        if "id" not in msg or not _valid_id(msg["id"]):
            return error_reply(2, "Invalid request: request ID must be an unsigned integer")
        rid = msg["id"]
        params = msg.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            return error_reply(2, "Invalid request: invalid type: expected a sequence for `params`")
        if method == "SUBSCRIBE" or method == "UNSUBSCRIBE":
            parsed = [parse_stream_name(p) for p in params]
            if any(p is None for p in parsed):
                return error_reply(2, "Invalid request: invalid stream")
            if method == "SUBSCRIBE" and self._can_serve is not None:
                refused = [p.name for p in parsed if p is not None and not self._can_serve(p)]
                if refused:  # Binance's live shape for a refused subscription: {"error":{..},"id":..}
                    msg = f"Invalid request: stream {refused[0]} is not served by this exchange"
                    return orjson.dumps({"error": {"code": 2, "msg": msg}, "id": rid})
            if method == "SUBSCRIBE":
                for p in parsed:
                    assert p is not None
                    self._subs.setdefault(p.name, p)
            else:
                for p in parsed:
                    assert p is not None
                    self._subs.pop(p.name, None)
            self._refresh()
            return _result_reply(None, rid)
        if method == "LIST_SUBSCRIPTIONS":
            if params:
                return error_reply(2, "Invalid request: too many parameters")
            return _result_reply(self.subscriptions, rid)
        # SET_PROPERTY / GET_PROPERTY
        if not params or not isinstance(params[0], str):
            return error_reply(2, "Invalid request: property name must be a string")
        name = params[0]
        if method == "GET_PROPERTY":
            if len(params) > 1:
                return error_reply(2, "Invalid request: too many parameters")
            if name != "combined":
                return error_reply(0, "Unknown property", rid, with_id=True)
            return _result_reply(self.combined, rid)
        if len(params) > 2:
            return error_reply(2, "Invalid request: too many parameters")
        if name != "combined":
            return error_reply(0, "Unknown property", rid, with_id=True)
        if len(params) < 2 or not isinstance(params[1], bool):
            return error_reply(1, "Invalid value type: expected Boolean")
        self.combined = params[1]
        return _result_reply(None, rid)
