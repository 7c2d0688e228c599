"""The real LocalExchange on 127.0.0.1:0 with the real websockets client: streams, control messages, lifecycle."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Opcode
from websockets.uri import parse_uri

from quantkit.errors import ExchangeError
from quantkit.exchange import ConnectionPolicy, LocalExchange, SyntheticMarket
from quantkit.exchange.protocol import Renderer, wrap_combined

START_MS = 1_723_161_600_000
INF = float("inf")


def _market(duration_s: float = 20.0, **kwargs: object) -> SyntheticMarket:
    return SyntheticMarket(seed=42, speed=INF, start_ms=START_MS, duration_s=duration_s, **kwargs)  # type: ignore[arg-type]


async def _recv_n(url: str, n: int) -> list[bytes]:
    async with connect(url, compression=None, max_queue=None) as ws:  # max_queue=None: read on to the close reply
        return [await ws.recv(decode=False) for _ in range(n)]


def test_raw_stream_is_every_trade_byte_for_byte(start_exchange, run) -> None:
    """/ws/<symbol>@trade carries every trade of the symbol, unwrapped, exactly as rendered from the generator."""
    market = _market()
    trades = [t for t in market.generate_trades(20.0, start_ms=START_MS) if t.symbol == "SYNAUSDT"]
    ex = start_exchange(market)
    got = run(_recv_n(ex.ws_url + "/ws/synausdt@trade", len(trades)))
    renderer = Renderer("spot", market.specs["SYNAUSDT"])
    assert got == [renderer.trade(t, False) for t in trades]
    assert ex.done.wait(10) and ex.published == len(market.generate_trades(20.0, start_ms=START_MS))


def test_combined_stream_wraps_and_interleaves_in_time_order(start_exchange, run) -> None:
    """/stream?streams=a/b wraps each event in {"stream","data"} and merges the symbols in publication order."""
    market = _market()
    trades = [t for t in market.generate_trades(20.0, start_ms=START_MS) if t.symbol in ("SYNAUSDT", "SYNBUSDT")]
    ex = start_exchange(market)
    got = run(_recv_n(ex.ws_url + "/stream?streams=synausdt@trade/synbusdt@trade", len(trades)))
    expected = [
        wrap_combined(f"{t.symbol.lower()}@trade", Renderer("spot", market.specs[t.symbol]).trade(t, False))
        for t in trades
    ]
    assert got == expected


def test_agg_trades_match_between_websocket_and_rest(start_exchange, run, rest) -> None:
    """@aggTrade events follow their last fill, group one taker order's fills, and REST aggTrades has the same rows."""
    market = _market()
    ex = start_exchange(market)
    n_trades = sum(1 for t in market.generate_trades(20.0, start_ms=START_MS) if t.symbol == "SYNBUSDT")

    async def read_all() -> list[dict]:
        out: list[dict] = []
        async with connect(ex.ws_url + "/stream?streams=synbusdt@trade/synbusdt@aggTrade", max_queue=None) as ws:
            trades = 0
            while True:
                msg = json.loads(await ws.recv())
                out.append(msg)
                trades += msg["stream"] == "synbusdt@trade"
                if trades == n_trades and msg["stream"] == "synbusdt@aggTrade" and msg["data"]["l"] == out[-2]["data"]["t"]:
                    return out

    msgs = run(read_all())
    fills: dict[int, dict] = {}
    aggs = []
    for m in msgs:
        d = m["data"]
        if m["stream"] == "synbusdt@trade":
            fills[d["t"]] = d
        else:
            aggs.append(d)
            members = [fills[i] for i in range(d["f"], d["l"] + 1)]  # every fill arrived before its aggregate
            assert {(f["T"], f["m"], f["p"]) for f in members} == {(d["T"], d["m"], d["p"])}
            assert abs(sum(float(f["q"]) for f in members) - float(d["q"])) < 1e-9
    assert [a["a"] for a in aggs] == list(range(aggs[0]["a"], aggs[0]["a"] + len(aggs)))
    assert sum(a["l"] - a["f"] + 1 for a in aggs) == n_trades and len(aggs) < n_trades
    assert ex.done.wait(10)
    status, body, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNBUSDT&fromId={aggs[0]['a']}&limit=1000")
    assert status == 200
    ws_rows = [{k: a[k] for k in ("a", "p", "q", "f", "l", "T", "m")} | {"M": True} for a in aggs]
    assert body == ws_rows[: len(body)] and len(body) == min(1000, len(aggs))


def test_live_subscribe_and_unsubscribe(start_exchange, run) -> None:
    """On a bare /ws connection SUBSCRIBE starts data after its reply; after UNSUBSCRIBE's reply the stream stops."""
    ex = start_exchange(SyntheticMarket(seed=1, speed=20.0, start_ms=START_MS))

    async def session() -> None:
        async with connect(ex.ws_url + "/ws", max_queue=None) as ws:
            await ws.send('{"method":"GET_PROPERTY","params":["combined"],"id":1}')
            assert json.loads(await ws.recv()) == {"result": False, "id": 1}
            await ws.send('{"method":"SUBSCRIBE","params":["synausdt@trade","syncusdt@trade"],"id":2}')
            assert json.loads(await ws.recv()) == {"result": None, "id": 2}
            seen: set[str] = set()
            while seen != {"SYNAUSDT", "SYNCUSDT"}:
                d = json.loads(await ws.recv())
                assert d["e"] == "trade"  # raw payloads on /ws
                seen.add(d["s"])
            await ws.send('{"method":"UNSUBSCRIBE","params":["synausdt@trade"],"id":3}')
            while "result" not in (d := json.loads(await ws.recv())):
                pass
            assert d == {"result": None, "id": 3}
            for _ in range(300):
                assert json.loads(await ws.recv())["s"] == "SYNCUSDT"
            await ws.send('{"method":"SET_PROPERTY","params":["combined",true],"id":4}')
            while "result" not in (d := json.loads(await ws.recv())):
                pass
            assert d == {"result": None, "id": 4}
            assert json.loads(await ws.recv())["stream"] == "syncusdt@trade"
            await ws.send('{"method":"LIST_SUBSCRIPTIONS","id":5}')
            while "result" not in (d := json.loads(await ws.recv())):
                pass
            assert d == {"result": ["syncusdt@trade"], "id": 5}
            await ws.send('{"method":"UNSUBSCRIBE","params":["nonsense"],"id":6}')
            while "code" not in (d := json.loads(await ws.recv())):
                pass
            assert d == {"code": 2, "msg": "Invalid request: invalid stream"}

    run(session())


def test_server_shutdown_event_then_close_and_reconnect(start_exchange, run) -> None:
    """broadcast_server_shutdown sends {"stream":"!serverShutdown",...} then closes with 1001; new clients still connect."""
    ex = start_exchange(SyntheticMarket(seed=2, speed=20.0, start_ms=START_MS))

    async def session() -> tuple[dict, int | None]:
        async with connect(ex.ws_url + "/stream?streams=synausdt@trade/synbusdt@trade") as ws:
            await ws.recv()
            n = await asyncio.to_thread(ex.broadcast_server_shutdown)
            assert n == 1
            last = None
            try:
                while True:
                    last = json.loads(await ws.recv())
            except ConnectionClosed:
                pass
            return last, ws.close_code

    last, code = run(session())
    assert last is not None and last["stream"] == "!serverShutdown"
    assert set(last["data"]) == {"e", "E"} and last["data"]["e"] == "serverShutdown" and code == 1001
    assert len(run(_recv_n(ex.ws_url + "/ws/synbusdt@trade", 3))) == 3


def test_slow_consumer_is_closed_with_1008(start_exchange, run, timeout_unit) -> None:
    """A client that stops reading from a paced exchange is closed with 1008 instead of being buffered forever."""
    ex = start_exchange(
        SyntheticMarket(seed=3, speed=2000.0, start_ms=START_MS), max_pending=2000, close_timeout=60 * timeout_unit
    )

    async def session() -> tuple[int | None, str | None]:
        async with connect(ex.ws_url + "/stream?streams=synausdt@trade/synbusdt@trade", max_queue=4) as ws:
            for _ in range(200 * int(max(timeout_unit, 1))):
                if ex.stats()["slow_consumers_closed"]:
                    break
                await asyncio.sleep(0.1)
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed:
                pass
            return ws.close_code, ws.close_reason

    code, reason = run(session(), units=60)
    assert ex.stats()["slow_consumers_closed"] == 1
    assert (code, reason) == (1008, "Slow consumer")


def test_server_sends_pings_at_the_configured_interval(start_exchange, timeout_unit) -> None:
    """With ping_interval set, the server sends WebSocket ping frames (seen with a sans-I/O client on a raw socket)."""
    ex = start_exchange(_market(), ping_interval=0.2)
    proto = ClientProtocol(parse_uri(ex.ws_url + "/ws/synausdt@trade"))
    with socket.create_connection(("127.0.0.1", ex.port), timeout=5 * timeout_unit) as sock:
        proto.send_request(proto.connect())
        sock.sendall(b"".join(proto.data_to_send()))
        pings = 0
        while pings < 2:
            data = sock.recv(65536)
            assert data, "connection closed before two pings"
            proto.receive_data(data)
            pings += sum(1 for e in proto.events_received() if getattr(e, "opcode", None) is Opcode.PING)
            sock.sendall(b"".join(proto.data_to_send()))  # the sans-I/O client answers pings with pongs
    assert pings >= 2


def test_policy_hooks_refuse_override_and_filter(start_exchange, run, rest) -> None:
    """ConnectionPolicy hooks refuse a handshake, replace a REST answer, and filter outgoing frames."""
    from quantkit.exchange import RestReply

    class Faulty(ConnectionPolicy):
        def on_open(self, path: str) -> tuple[int, str] | None:
            return (503, "busy\n") if "sync" in path else None

        def on_rest(self, path: str) -> RestReply | None:
            return RestReply(429, b'{"code":-1003,"msg":"Too many requests."}', 1, (("Retry-After", "7"),))

        def outgoing(self, frames: list[bytes]) -> list[bytes]:
            return [f for f in frames if json.loads(f)["t"] % 2 == 0]

    ex = start_exchange(_market(), policy_factory=lambda path: Faulty())
    with pytest.raises(InvalidStatus) as err:
        run(_recv_n(ex.ws_url + "/ws/syncusdt@trade", 1))
    assert err.value.response.status_code == 503
    status, body, headers = rest(ex.url + "/api/v3/trades?symbol=SYNAUSDT")
    assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "7")
    got = run(_recv_n(ex.ws_url + "/ws/synausdt@trade", 50))
    assert all(json.loads(f)["t"] % 2 == 0 for f in got)


def test_futures_market_shapes_on_the_wire(start_exchange, run) -> None:
    """A futures source streams USD-M shapes: X=MARKET, no M; aggTrade has nq."""
    ex = start_exchange(_market(market="futures"))
    got = run(_recv_n(ex.ws_url + "/stream?streams=synbusdt@trade/synbusdt@aggTrade", 50))
    for raw in got:
        d = json.loads(raw)["data"]
        if d["e"] == "trade":
            assert list(d) == ["e", "E", "T", "s", "t", "p", "q", "X", "m"] and d["X"] == "MARKET"
            assert len(d["p"].split(".")[1]) == 2 and len(d["q"].split(".")[1]) == 5
        else:
            assert list(d) == ["e", "E", "s", "a", "p", "q", "nq", "f", "l", "T", "m"]


def test_lifecycle(start_exchange) -> None:
    """start() returns listening, stop() is idempotent, a second start or a bad argument raises."""
    ex = start_exchange(_market())
    assert ex.port > 0 and ex.url == f"http://127.0.0.1:{ex.port}" and ex.ws_url == f"ws://127.0.0.1:{ex.port}"
    with pytest.raises(ExchangeError):
        ex.start()
    ex.stop()
    ex.stop()
    with pytest.raises(ValueError, match="port"):
        LocalExchange(_market(), port=70000)
    with pytest.raises(ValueError, match="history_size"):
        LocalExchange(_market(), history_size=0)
    busy = start_exchange(_market())
    with pytest.raises(ExchangeError, match="cannot listen"):
        LocalExchange(_market(), port=busy.port).start()
    assert threading.active_count() < 50
