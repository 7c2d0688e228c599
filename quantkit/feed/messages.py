"""Parse and validate Binance trade-stream messages (Sans-I/O: bytes in, objects out).

One function, :func:`parse_message`, turns one WebSocket frame into one of:

* :class:`~quantkit.schema.Trade` for a ``trade`` (id ``t``) or ``aggTrade``
  (id ``a``) event, spot shape (with ``"M"``) or USD-M futures shape (with
  ``"X"``, no ``"M"``), raw (``/ws``) or wrapped in the combined-stream
  envelope ``{"stream": "btcusdt@trade", "data": {...}}``;
* :class:`ControlReply` for a reply to a JSON request: ``{"result": .., "id": ..}``
  or an error ``{"code": .., "msg": ..}`` (told apart by key);
* :class:`ServerShutdown` for ``{"e": "serverShutdown", "E": ..}``, raw or as
  ``{"stream": "!serverShutdown", "data": {...}}``;
* :class:`Quote` for a ``bookTicker`` event (spot: no ``e``, known by its ``@bookTicker``
  stream name; USD-M: ``"e": "bookTicker"``) when ``events`` accepts ``"bookTicker"``
  (``FeedConfig(quotes=True)``); otherwise it is an ``unexpected_event``.

Anything else raises :class:`~quantkit.errors.MessageRejected` whose ``reason`` is
one of :data:`REJECT_REASONS`:

==================== =====================================================================
reason               meaning
==================== =====================================================================
``malformed_json``   not JSON (or not UTF-8)
``not_an_object``    JSON, but not an object (or the envelope's ``data`` is not an object)
``missing_field``    a required key is absent
``bad_type``         a key has the wrong JSON type (e.g. ``"t": "12"``, ``"m": 1``)
``bad_number``       price/qty not a decimal number, NaN or infinite; an id or time out of range
                     (negative; an id above 2**63-1; a time past 2262, which int64 ns cannot hold)
``non_positive``     price or qty <= 0
``unknown_symbol``   ``s`` is not one of the subscribed symbols
``unexpected_event`` an event type we did not subscribe to (depthUpdate, kline, ...)
``bad_stream``       the envelope's stream name does not match the payload's symbol/event
==================== =====================================================================

Two decoders, one verdict. A trade frame as Binance sends it (UTF-8 bytes, all ASCII, the
combined envelope's ``"stream"`` key first or a raw event) is decoded by msgspec straight into typed
structs (the JSON types of ``s``, the id, ``p``, ``q``, ``T``, ``E`` and ``m`` checked in C, no dict
built): 1.7-1.9 us per frame, checks included, where the general path takes 2.4-2.7 us. The
fast path only ever *accepts*:
a frame it cannot decode, or one that fails any check below, goes to the general path (orjson and
the checks one by one), which alone decides every rejection and its reason. So the reasons are
those of the general path whatever the input; the one difference is that the fast path does not
look inside fields quantkit does not read (``"M"``, ``"X"``, ``"f"``...): an out-of-range number
there (``1e400``) does not make a trade ``malformed_json``.

Nothing here does I/O or logging: the client counts rejections by reason.
``quote_qty`` is always ``price * qty``: Binance trade events carry no quote
quantity. Futures trades are accepted whatever their ``X`` (``MARKET``,
``INSURANCE_FUND``, ``ADL``): they are real trades that take a trade id.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import msgspec
import orjson

from quantkit.errors import MessageRejected
from quantkit.schema import MAX_TIME_MS, MAX_TRADE_ID, Trade

__all__ = [
    "EVENT_TYPES",
    "REJECT_REASONS",
    "ControlReply",
    "Quote",
    "ServerShutdown",
    "parse_message",
]

#: Reasons a message is rejected, as carried by :attr:`MessageRejected.reason`.
REJECT_REASONS: tuple[str, ...] = (
    "malformed_json",
    "not_an_object",
    "missing_field",
    "bad_type",
    "bad_number",
    "non_positive",
    "unknown_symbol",
    "unexpected_event",
    "bad_stream",
)

#: Trade event types and the key holding their id.
EVENT_TYPES: dict[str, str] = {"trade": "t", "aggTrade": "a"}

_INF = float("inf")
_loads = orjson.loads
# Trade(...) runs NamedTuple's Python-level __new__; tuple.__new__ builds the same object 4x faster.
_new_tuple = tuple.__new__
_JSONDecodeError = orjson.JSONDecodeError


# --- the fast path's typed decoders (see the module docstring) ------------------------------------
class _Event(msgspec.Struct, tag_field="e", gc=False):
    """The fields of a trade event the parser reads (the id, named by kind, is in the subclasses)."""

    E: int
    s: str
    p: str
    q: str
    T: int
    m: bool


class _TradeEvent(_Event, tag="trade"):
    kind: ClassVar[str] = "trade"
    id: int = msgspec.field(name="t")


class _AggTradeEvent(_Event, tag="aggTrade"):
    kind: ClassVar[str] = "aggTrade"
    id: int = msgspec.field(name="a")


class _Combined(msgspec.Struct, gc=False):
    stream: str
    data: _TradeEvent | _AggTradeEvent


_decode_combined = msgspec.json.Decoder(_Combined).decode
_decode_event = msgspec.json.Decoder(_TradeEvent | _AggTradeEvent).decode
_DecodeError = msgspec.DecodeError  # ValidationError is one
_COMBINED = b'{"stream":'


class ControlReply(NamedTuple):
    """A reply to a JSON request (SUBSCRIBE, LIST_SUBSCRIPTIONS, ...) or an error reply.

    Attributes:
        id: the request id echoed by the server (``None`` if absent).
        result: the ``result`` value (``None`` means success, or an error reply).
        code: the error code of an error reply, else ``None``.
        msg: the error message of an error reply, else ``None``.
    """

    id: Any
    result: Any
    code: int | None = None
    msg: str | None = None

    @property
    def is_error(self) -> bool:
        """True for an error reply (``{"code": .., "msg": ..}``)."""
        return self.code is not None


class Quote(NamedTuple):
    """The best bid and ask of one symbol, from its ``@bookTicker`` stream.

    Attributes:
        symbol: upper-case exchange symbol.
        bid: best bid price, quote currency.
        bid_qty: quantity at the best bid, base currency.
        ask: best ask price, quote currency.
        ask_qty: quantity at the best ask, base currency.
        update_id: the book's update id ``u``.
        time_ms: event time ``E`` (USD-M), ms since the epoch; ``None`` on spot (no time in the message).
    """

    symbol: str
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float
    update_id: int
    time_ms: int | None = None

    @property
    def spread_bps(self) -> float:
        """Quoted spread ``(ask - bid) / mid`` in basis points."""
        mid = (self.ask + self.bid) / 2
        return (self.ask - self.bid) / mid * 1e4 if mid > 0 else _INF


class ServerShutdown(NamedTuple):
    """The server announced it will shut down: reconnect now.

    Attributes:
        event_time: ``E``, integer ms since the epoch (UTC), or ``None`` if absent.
    """

    event_time: int | None = None


def parse_message(
    raw: str | bytes,
    *,
    symbols: frozenset[str] | None,
    events: frozenset[str] | None = None,
) -> Trade | ControlReply | ServerShutdown | Quote:
    """Parse and validate one WebSocket message.

    Args:
        raw: the frame's payload, text or UTF-8 bytes.
        symbols: accepted upper-case symbols; ``None`` accepts any symbol.
        events: accepted event types: trade kinds (subset of ``{"trade", "aggTrade"}``) and
            ``"bookTicker"`` (quotes); ``None`` accepts all. The feed client passes only the one it subscribed
            to, so ids of the two kinds never mix.

    Returns:
        A :class:`~quantkit.schema.Trade`, :class:`ControlReply`, :class:`ServerShutdown`, or a
        :class:`Quote` (a ``@bookTicker`` event).

    Raises:
        MessageRejected: the message is invalid; ``reason`` is one of :data:`REJECT_REASONS`.
    """
    if raw.__class__ is bytes and raw.isascii():  # type: ignore[union-attr]
        try:
            if raw.startswith(_COMBINED):  # type: ignore[arg-type]
                env = _decode_combined(raw)
                d, stream = env.data, env.stream
            else:
                d, stream = _decode_event(raw), None
            price = float(d.p)
            qty = float(d.q)
        except (_DecodeError, ValueError, RecursionError):
            pass  # the general path says why
        else:
            s, tid, tt, et, e = d.s, d.id, d.T, d.E, d.kind
            if (
                0.0 < price < _INF
                and 0.0 < qty < _INF
                and not (tid >> 63 or tt >> 43 or et >> 43)
                and (symbols is None or s in symbols)
                and (events is None or e in events)
                and (stream is None or stream == f"{s.lower()}@{e}")
            ):
                return _new_tuple(Trade, (s, tid, price, qty, price * qty, tt, et, d.m))  # type: ignore[no-any-return]
    return _parse_general(raw, symbols, events)


def _parse_general(
    raw: str | bytes, symbols: frozenset[str] | None, events: frozenset[str] | None
) -> Trade | ControlReply | ServerShutdown | Quote:
    """Every message, every check in turn: decides each rejection and its reason (see :func:`parse_message`)."""
    try:
        obj = _loads(raw)
    except (_JSONDecodeError, TypeError) as exc:
        raise MessageRejected("malformed_json", str(exc)) from None
    if obj.__class__ is not dict:
        raise MessageRejected("not_an_object", f"got JSON {type(obj).__name__}")
    data = obj.get("data")
    if data is None:
        payload: dict[str, Any] = obj
        stream = None
    else:
        stream = obj.get("stream")
        if stream.__class__ is not str or data.__class__ is not dict:
            _bad_envelope(obj)
        payload = data
    e = payload.get("e")
    id_key = EVENT_TYPES.get(e) if e.__class__ is str else None  # type: ignore[arg-type]
    if id_key is None or (events is not None and e not in events):
        return _not_a_trade(obj, payload, stream, e, events, symbols)
    try:
        s = payload["s"]
        tid = payload[id_key]
        p = payload["p"]
        q = payload["q"]
        tt = payload["T"]
        et = payload["E"]
        m = payload["m"]
    except KeyError as exc:
        raise MessageRejected("missing_field", f"{e} event without {exc.args[0]!r}") from None
    if (
        s.__class__ is not str
        or tid.__class__ is not int
        or tt.__class__ is not int
        or et.__class__ is not int
        or m.__class__ is not bool
    ):
        _bad_field_type(s, tid, tt, et, m, id_key)
    try:
        price = float(p)
        qty = float(q)
    except (TypeError, ValueError, OverflowError):
        _bad_decimal(p, q)
    if p.__class__ is bool or q.__class__ is bool or not (0.0 < price < _INF and 0.0 < qty < _INF):
        _bad_value(p, q, price, qty)
    if tid >> 63 or tt >> 43 or et >> 43:  # negative, or above 2**63 / 2**43 ms (2248): checked exactly there
        _check_range(e, id_key, tid, tt, et)
    if symbols is not None and s not in symbols:
        raise MessageRejected("unknown_symbol", f"symbol {s!r} is not subscribed")
    if stream is not None and stream != f"{s.lower()}@{e}":
        raise MessageRejected("bad_stream", f"stream {stream!r} carries a {e} event for {s!r}")
    return _new_tuple(Trade, (s, tid, price, qty, price * qty, tt, et, m))  # type: ignore[no-any-return]


# --- slow paths (kept out of parse_message so its body stays short) -------------------------------


def _bad_envelope(obj: dict[str, Any]) -> None:
    stream = obj.get("stream")
    if stream is None:
        raise MessageRejected("missing_field", "combined-stream envelope without 'stream'")
    if stream.__class__ is not str:
        raise MessageRejected("bad_type", f"'stream' must be a string, got {type(stream).__name__}")
    raise MessageRejected("not_an_object", f"'data' of stream {stream!r} is a {type(obj['data']).__name__}")


def _not_a_trade(
    obj: dict[str, Any],
    payload: dict[str, Any],
    stream: str | None,
    e: object,
    events: frozenset[str] | None,
    symbols: frozenset[str] | None = None,
) -> ControlReply | ServerShutdown | Quote:
    if (e == "bookTicker" or (e is None and stream is not None and stream.endswith("@bookTicker"))) and (
        events is None or "bookTicker" in events
    ):
        return _quote(payload, symbols)
    if e == "serverShutdown":
        et = payload.get("E")
        if et is not None and et.__class__ is not int:
            raise MessageRejected("bad_type", f"serverShutdown 'E' must be an integer, got {type(et).__name__}")
        return ServerShutdown(et)
    if e is None:
        if stream is None:
            if "result" in obj and "id" in obj:
                return ControlReply(obj["id"], obj["result"])
            if "code" in obj and "msg" in obj:
                code, msg = obj["code"], obj["msg"]
                if code.__class__ is not int or msg.__class__ is not str:
                    raise MessageRejected("bad_type", "error reply needs an integer 'code' and a string 'msg'")
                return ControlReply(obj.get("id"), None, code, msg)
            raise MessageRejected("missing_field", "object has no 'e' (event type) and is not a control reply")
        # Combined streams without an event type (bookTicker) are other streams, not broken trades.
        kind = stream.rpartition("@")[2]
        if kind not in EVENT_TYPES:
            raise MessageRejected("unexpected_event", f"stream {stream!r} is not a trade stream")
        raise MessageRejected("missing_field", f"stream {stream!r} payload has no 'e'")
    if e.__class__ is not str:
        raise MessageRejected("bad_type", f"'e' must be a string, got {type(e).__name__}")
    allowed = "/".join(sorted(events if events is not None else EVENT_TYPES))
    raise MessageRejected("unexpected_event", f"event {e!r} (accepting {allowed})")


def _quote(payload: dict[str, Any], symbols: frozenset[str] | None) -> Quote:
    """A ``bookTicker`` payload (spot: no ``e`` and no time; USD-M: ``e``, ``E`` and ``T``)."""
    try:
        s, u = payload["s"], payload["u"]
        raw = (payload["b"], payload["B"], payload["a"], payload["A"])
    except KeyError as exc:
        raise MessageRejected("missing_field", f"bookTicker event without {exc.args[0]!r}") from None
    et = payload.get("E")
    if s.__class__ is not str or u.__class__ is not int or (et is not None and et.__class__ is not int):
        raise MessageRejected("bad_type", "bookTicker needs a string 's' and integer 'u' and 'E'")
    try:
        bid, bid_qty, ask, ask_qty = (float(v) for v in raw)
    except (TypeError, ValueError):
        raise MessageRejected("bad_number", f"bookTicker prices/quantities {raw!r}") from None
    if not (0.0 < bid <= ask < _INF and 0.0 <= bid_qty < _INF and 0.0 <= ask_qty < _INF):
        raise MessageRejected("bad_number", f"bookTicker bid {raw[0]!r} / ask {raw[2]!r}: expected 0 < bid <= ask")
    if symbols is not None and s not in symbols:
        raise MessageRejected("unknown_symbol", f"symbol {s!r} is not subscribed")
    return Quote(s, bid, bid_qty, ask, ask_qty, u, et)


def _bad_field_type(s: object, tid: object, tt: object, et: object, m: object, id_key: str) -> None:
    for key, value, want in (
        ("s", s, str),
        (id_key, tid, int),
        ("T", tt, int),
        ("E", et, int),
        ("m", m, bool),
    ):
        if value.__class__ is not want:
            raise MessageRejected("bad_type", f"{key!r} must be {want.__name__}, got {type(value).__name__}")
    raise AssertionError("unreachable")  # pragma: no cover


def _check_range(e: object, id_key: str, tid: int, tt: int, et: int) -> None:
    if not (0 <= tid <= MAX_TRADE_ID and 0 <= tt <= MAX_TIME_MS and 0 <= et <= MAX_TIME_MS):
        raise MessageRejected("bad_number", f"id or time out of range in {e} event: {id_key}={tid} T={tt} E={et}")


def _bad_decimal(p: object, q: object) -> None:
    for key, value in (("p", p), ("q", q)):
        if value.__class__ not in (str, int, float) or value.__class__ is bool:
            raise MessageRejected("bad_type", f"{key!r} must be a decimal string, got {type(value).__name__}")
        try:
            float(value)  # type: ignore[arg-type]
        except (ValueError, OverflowError):
            raise MessageRejected("bad_number", f"{key!r}={value!r} is not a number") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _bad_value(p: object, q: object, price: float, qty: float) -> None:
    for key, raw, value in (("p", p, price), ("q", q, qty)):
        if raw.__class__ is bool:
            raise MessageRejected("bad_type", f"{key!r} must be a decimal string, got bool")
        if value != value or value in (_INF, -_INF):
            raise MessageRejected("bad_number", f"{key!r}={raw!r} is not finite")
        if not value > 0.0:
            raise MessageRejected("non_positive", f"{key!r}={raw!r} must be > 0")
    raise AssertionError("unreachable")  # pragma: no cover
