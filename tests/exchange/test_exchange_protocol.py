"""Sans-I/O protocol core: event bytes, stream names and paths, control messages and their errors."""

from __future__ import annotations

import json

import pytest

from quantkit.exchange.protocol import (
    AggTrade,
    PathError,
    Renderer,
    StreamSession,
    WsTarget,
    parse_stream_name,
    parse_ws_path,
    server_shutdown_event,
    wrap_combined,
)
from quantkit.exchange.source import SymbolSpec
from quantkit.schema import Trade

# Verbatim first @trade lines of the 2024-08-08 captures (also in shared/notes/binance_protocol.md).
SPOT_LINE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
    b'"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}'
)
FUT_LINE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT",'
    b'"t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)
FUT_SPEC = SymbolSpec("BTCUSDT", tick_size="0.10", step_size="0.001", price_decimals=2)


def test_spot_trade_bytes_match_the_capture() -> None:
    """A spot trade renders byte for byte like Binance's captured combined frame."""
    t = Trade("BTCUSDT", 3735683259, 61837.63, 0.02, 1236.7526, 1723161255342, 1723161255343, True)
    assert wrap_combined("btcusdt@trade", Renderer("spot", SymbolSpec("BTCUSDT")).trade(t, False)) == SPOT_LINE


def test_futures_trade_bytes_match_the_capture() -> None:
    """A USD-M trade renders with the symbol's decimals, X=MARKET and no M, byte for byte."""
    t = Trade("BTCUSDT", 5266583935, 61800.3, 0.006, 370.8018, 1723161256322, 1723161256322, False)
    assert wrap_combined("btcusdt@trade", Renderer("futures", FUT_SPEC).trade(t, False)) == FUT_LINE


def test_real_capture_lines_round_trip(raw_dir, capture_trade_lines) -> None:
    """Parsing then rendering the first 2000 captured spot and USD-M trades gives the same bytes."""
    cases = [("spot_btcusdt_20240808.gz", "spot", SymbolSpec("BTCUSDT")), ("usdm_ethusdt_20240808.gz", "futures",
             SymbolSpec("ETHUSDT", tick_size="0.01", step_size="0.001"))]
    for name, market, spec in cases:
        renderer = Renderer(market, spec)
        lines = capture_trade_lines(raw_dir / name)[:2000]
        assert len(lines) == 2000
        for line in lines:
            d = json.loads(line)["data"]
            t = Trade(d["s"], d["t"], float(d["p"]), float(d["q"]), 0.0, d["T"], d["E"], d["m"])
            assert wrap_combined(json.loads(line)["stream"], renderer.trade(t, False)) == line


def test_agg_trade_shapes_and_key_order() -> None:
    """aggTrade payloads follow the documented key order: spot with M, futures with nq and without M."""
    a = AggTrade(26129, 0.01633102, 4.70443515, 27781, 27781, 1498793709153, 1498793709154, True)
    spot = Renderer("spot", SymbolSpec("BNBBTC", tick_size="0.00000001", step_size="0.00000001")).agg(a, False)
    assert spot == (
        b'{"e":"aggTrade","E":1498793709154,"s":"BNBBTC","a":26129,"p":"0.01633102","q":"4.70443515",'
        b'"f":27781,"l":27781,"T":1498793709153,"m":true,"M":true}'
    )
    b = AggTrade(5933014, 61800.3, 0.2, 100, 105, 123456785, 123456789, False)
    fut = Renderer("futures", FUT_SPEC).agg(b, False)
    assert fut == (
        b'{"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"61800.30","q":"0.200","nq":"0.200",'
        b'"f":100,"l":105,"T":123456785,"m":false}'
    )
    assert list(json.loads(fut)) == ["e", "E", "s", "a", "p", "q", "nq", "f", "l", "T", "m"]


def test_microsecond_time_unit() -> None:
    """With timeUnit=MICROSECOND, E and T are in microseconds."""
    t = Trade("BTCUSDT", 1, 1.0, 1.0, 1.0, 1723161255342, 1723161255343, False)
    d = json.loads(Renderer("spot", SymbolSpec("BTCUSDT")).trade(t, True))
    assert (d["E"], d["T"]) == (1723161255343000, 1723161255342000)


def test_server_shutdown_event_raw_and_combined() -> None:
    """serverShutdown is {"e":"serverShutdown","E":..}, wrapped in stream !serverShutdown on combined connections."""
    assert server_shutdown_event(1770123456789, combined=False) == b'{"e":"serverShutdown","E":1770123456789}'
    assert server_shutdown_event(5, combined=True) == b'{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":5}}'


def test_stream_names() -> None:
    """Stream names parse to (normalized name, SYMBOL, kind); malformed names are None."""
    assert parse_stream_name("btcusdt@trade") == ("btcusdt@trade", "BTCUSDT", "trade")
    assert parse_stream_name("BTCUSDT@aggTrade") == ("btcusdt@aggTrade", "BTCUSDT", "aggTrade")
    assert parse_stream_name("btcusdt@depth@100ms").kind == "depth@100ms"
    assert parse_stream_name("!miniTicker@arr") == ("!miniTicker@arr", "", "miniTicker@arr")
    for bad in ("not asdfads", "btcusdt", "@trade", "", 5, None):
        assert parse_stream_name(bad) is None


def test_ws_paths() -> None:
    """/ws/<a>/<b> is raw, /stream?streams=a/b combined, timeUnit and USD-M routes are understood."""
    assert parse_ws_path("/ws/btcusdt@trade") == parse_ws_path("/market/ws/btcusdt@trade")
    raw = parse_ws_path("/ws/btcusdt@trade/ethusdt@aggTrade")
    assert raw is not None and not raw.combined and raw.streams == ("btcusdt@trade", "ethusdt@aggTrade")
    comb = parse_ws_path("/stream?streams=btcusdt@trade/ethusdt@trade&timeUnit=MICROSECOND")
    assert comb is not None and comb.combined and comb.micro and comb.streams == ("btcusdt@trade", "ethusdt@trade")
    assert parse_ws_path("/ws") == parse_ws_path("/ws/") and parse_ws_path("/ws").streams == ()  # type: ignore[union-attr]
    assert parse_ws_path("/api/v3/aggTrades?symbol=X") is None and parse_ws_path("/") is None
    # any segment after /ws is accepted, as on Binance (ccxt.pro opens /ws/<n> and subscribes by message)
    for path in ("/ws/0", "/ws/not-a-stream", "/public/ws/3", "/market/ws/12"):
        assert parse_ws_path(path) == WsTarget(False, ())
    with pytest.raises(PathError) as err:
        parse_ws_path("/stream?streams=not-a-stream")
    assert err.value.status == 400
    with pytest.raises(PathError):
        parse_ws_path("/stream?streams=btcusdt@trade&timeUnit=NANOSECOND")


def test_subscribe_unsubscribe_list_replies() -> None:
    """SUBSCRIBE/UNSUBSCRIBE answer {"result":null,"id":..}; LIST_SUBSCRIPTIONS lists in subscription order."""
    s = StreamSession(True, ("btcusdt@trade",))
    assert s.handle('{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1}') == b'{"result":null,"id":1}'
    assert s.handle('{"method":"LIST_SUBSCRIPTIONS","id":3}') == (
        b'{"result":["btcusdt@trade","btcusdt@aggTrade","btcusdt@depth"],"id":3}'
    )
    assert s.data_streams == (("BTCUSDT", "trade"), ("BTCUSDT", "aggTrade"))
    assert s.handle('{"method":"UNSUBSCRIBE","params":["btcusdt@depth","btcusdt@trade"],"id":312}') == (
        b'{"result":null,"id":312}'
    )
    assert s.handle('{"method":"LIST_SUBSCRIPTIONS","id":"abc"}') == b'{"result":["btcusdt@aggTrade"],"id":"abc"}'
    assert s.handle('{"method":"LIST_SUBSCRIPTIONS","id":null}') == b'{"result":["btcusdt@aggTrade"],"id":null}'


def test_properties() -> None:
    """GET/SET_PROPERTY combined: true on /stream, false on /ws, settable to a boolean."""
    s = StreamSession(False)
    assert s.handle('{"method":"GET_PROPERTY","params":["combined"],"id":2}') == b'{"result":false,"id":2}'
    assert s.handle('{"method":"SET_PROPERTY","params":["combined",true],"id":5}') == b'{"result":null,"id":5}'
    assert s.combined and s.handle('{"method":"GET_PROPERTY","params":["combined"],"id":6}') == b'{"result":true,"id":6}'


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ('{"method":"GET_PROPERTY","params":["colour"],"id":7}', {"code": 0, "msg": "Unknown property", "id": 7}),
        ('{"method":"SET_PROPERTY","params":["combined","yes"],"id":1}',
         {"code": 1, "msg": "Invalid value type: expected Boolean"}),
        ('{"method":"SET_PROPERTY","params":[5,true],"id":1}',
         {"code": 2, "msg": "Invalid request: property name must be a string"}),
        ('{"method":"LIST_SUBSCRIPTIONS","id":1.5}',
         {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}),
        ('{"method":"LIST_SUBSCRIPTIONS"}', {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}),
        ('{"method":"SUBSCRIBEX","params":[],"id":1}',
         {"code": 2, "msg": "Invalid request: unknown variant `SUBSCRIBEX`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, "
          "`LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 22"}),
        ('{"method":"GET_PROPERTY","params":["combined","x"],"id":1}',
         {"code": 2, "msg": "Invalid request: too many parameters"}),
        ('{"params":["btcusdt@trade"],"id":1}',
         {"code": 2, "msg": "Invalid request: missing field `method` at line 1 column 35"}),
        ('{"method":"SUBSCRIBE","params":["not asdfads"],"id":1}', {"code": 2, "msg": "Invalid request: invalid stream"}),
        ('{"method":"SUBSCRIBE",', {"code": 3, "msg": "Invalid JSON: EOF while parsing an object at line 1 column 22"}),
        ("hello", {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}),
    ],
)
def test_control_errors(message: str, reply: dict[str, object]) -> None:
    """Each documented error case gets Binance's code and message (compact JSON, id only on code 0)."""
    s = StreamSession(True)
    out = s.handle(message)
    assert json.loads(out) == reply
    assert b" " not in out.split(b'"msg"')[0]  # compact separators, like Binance
    assert s.subscriptions == []


def test_event_stream_kinds_served_per_market() -> None:
    """Klines (1s spot only), tickers, book ticker, depth speeds per market, USD-M mark price; others are not served."""
    from quantkit.exchange.protocol import event_period_ms

    assert event_period_ms("spot", "kline_1s") == 1000 and event_period_ms("futures", "kline_1s") is None
    assert event_period_ms("spot", "kline_1M") == 2000 and event_period_ms("futures", "kline_1M") == 250
    assert event_period_ms("spot", "depth") == 1000 and event_period_ms("futures", "depth") == 250
    assert event_period_ms("spot", "depth@100ms") == 100 and event_period_ms("spot", "depth@500ms") is None
    assert event_period_ms("futures", "depth20@500ms") == 500 and event_period_ms("spot", "depth7") is None
    assert event_period_ms("spot", "bookTicker") == 0 and event_period_ms("spot", "ticker") == 1000
    assert event_period_ms("futures", "markPrice@1s") == 1000 and event_period_ms("spot", "markPrice") is None
    for kind in ("trade", "aggTrade", "forceOrder", "kline_2m", "ticker_1h", "continuousKline_1m"):
        assert event_period_ms("spot", kind) is None


def test_subscribe_refuses_what_cannot_be_served() -> None:
    """With a can_serve check, SUBSCRIBE of an unserved stream answers Binance's {"error":..,"id":..}, nothing changes."""
    s = StreamSession(False, ("btcusdt@forceOrder",), can_serve=lambda n: n.kind == "trade")
    assert s.unservable() == ["btcusdt@forceOrder"]
    reply = s.handle('{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@kline_1m"],"id":9}')
    assert reply == b'{"error":{"code":2,"msg":"Invalid request: stream btcusdt@kline_1m is not served by this exchange"},"id":9}'
    assert s.subscriptions == ["btcusdt@forceOrder"]
    assert s.handle('{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":10}') == b'{"result":null,"id":10}'
    assert s.event_streams == frozenset({("BTCUSDT", "forceOrder")}) and s.data_streams == (("BTCUSDT", "trade"),)
