"""FeedClient against a real scripted websockets server on 127.0.0.1 (port 0).

The scripted server serves no REST, so these clients run with ``backfill=False``
(gaps are reported at once, unfilled, reason ``"disabled"``); the backfill is
tested against the real exchange in ``test_feed_backfill.py``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import replace
from typing import Any, Callable

import pytest
from websockets.asyncio.server import ServerConnection

from quantkit.config import FeedConfig
from quantkit.errors import FeedError
from quantkit.feed import DROP_REASONS, FeedClient, FeedStats, Gap
from quantkit.schema import Trade

SYMS = ("BTCUSDT", "ETHUSDT")


class FixedRandom:
    """A fake jitter source: always the same fraction of the backoff cap."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def _config(server: Any, **overrides: Any) -> FeedConfig:
    base = FeedConfig.for_source("local", SYMS, local_url=f"http://127.0.0.1:{server.port}")
    fields: dict[str, Any] = {"backoff_initial": 0.5, "open_timeout": 2.0, "ping_interval": None, "ping_timeout": None}
    fields.update(overrides)
    return replace(base, **fields)


def _client(server: Any, sink: Callable[[Trade], None], *, rng: float = 0.01, **overrides: Any) -> FeedClient:
    return FeedClient(_config(server, **overrides), sink, rng=FixedRandom(rng), backfill=False)


def _accounted(s: FeedStats) -> bool:
    return s.received == s.accepted + sum(s.rejected.values()) + s.control_replies + s.server_shutdowns


def test_streams_trades_of_all_symbols(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """Trades of two symbols arrive in order through the combined-stream URL; stop() ends run()."""
    frames = [make_trade(sym, i) for i in range(1, 51) for sym in SYMS]
    server = feed_server([script_send(frames)])
    got: list[Trade] = []
    client = _client(server, got.append)
    assert client.stats.state == "stopped"
    runner = feed_runner(client)
    wait_until(lambda: client.stats.accepted == 100, what="100 trades")
    s = client.stats
    assert s.state == "connected" and s.connected and s.connections == 1 and s.reconnects == 0
    assert server.records[0].path == "/stream?streams=btcusdt@trade/ethusdt@trade"
    for sym in SYMS:
        assert [t.trade_id for t in got if t.symbol == sym] == list(range(1, 51))
    assert all(type(t) is Trade for t in got)
    assert s.rejected_total == 0 and s.gaps == 0 and _accounted(s)
    assert s.last_trade_time == 1_723_161_255_342 and s.last_message_monotonic is not None
    runner.stop(10)
    assert client.stats.state == "stopped" and not client.stats.connected
    server.records[0].closed.wait(5)
    assert server.records[0].close_code == 1000


def test_malformed_messages_counted_not_fatal(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """Every kind of bad frame is counted by reason and the same connection keeps delivering."""
    bad = [
        "{oops",  # malformed_json
        "[1]",  # not_an_object
        '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}',  # missing_field
        make_trade("BTCUSDT", 2).replace(b'"t":2', b'"t":"2"'),  # bad_type
        make_trade("BTCUSDT", 2, price="abc"),  # bad_number
        make_trade("BTCUSDT", 2, qty="0"),  # non_positive
        make_trade("DOGEUSDT", 2),  # unknown_symbol
        '{"stream":"btcusdt@depth","data":{"e":"depthUpdate","s":"BTCUSDT"}}',  # unexpected_event
        make_trade("BTCUSDT", 2, event="aggTrade"),  # unexpected_event (subscribed to @trade)
        make_trade("BTCUSDT", 2).replace(b'"stream":"btcusdt@trade"', b'"stream":"ethusdt@trade"'),  # bad_stream
        make_trade("BTCUSDT", 2, price="NaN"),  # bad_number
    ]
    frames = [make_trade("BTCUSDT", 1), *bad, make_trade("BTCUSDT", 2), make_trade("BTCUSDT", 2), make_trade("BTCUSDT", 3)]
    server = feed_server([script_send(frames)])
    got: list[Trade] = []
    client = _client(server, got.append)
    feed_runner(client)
    wait_until(lambda: client.stats.received == len(frames), what="all frames")
    s = client.stats
    assert [t.trade_id for t in got] == [1, 2, 3]
    assert s.rejected == {
        **dict.fromkeys(DROP_REASONS, 0),
        "malformed_json": 1, "not_an_object": 1, "missing_field": 1, "bad_type": 1, "bad_number": 2,
        "non_positive": 1, "unknown_symbol": 1, "unexpected_event": 2, "bad_stream": 1, "duplicate": 1,
    }
    assert s.connections == 1 and s.connected and _accounted(s)


def test_refused_connections_back_off_then_connect(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """Three HTTP 503 handshakes are retried with capped exponential jittered delays, then data flows."""
    server = feed_server([script_send([make_trade("BTCUSDT", 7)])], refuse_first=3)
    got: list[Trade] = []
    client = _client(server, got.append, rng=0.01, backoff_initial=0.5, backoff_factor=2.0, backoff_max=1.5)
    feed_runner(client)
    wait_until(lambda: len(got) == 1, what="first trade")
    s = client.stats
    assert server.handshakes == 4 and s.attempts == 4 and s.connections == 1
    assert s.reconnects == 3  # reconnect attempts, the refused ones included
    # delays 0.01 x cap, caps 0.5, 1.0, 1.5 (capped): the last one is 0.015 s
    assert s.last_retry_delay == pytest.approx(0.015)
    assert s.last_error is not None and "503" in s.last_error


def test_open_timeout_retried(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """A handshake that never completes times out after open_timeout and the client tries again."""
    server = feed_server([script_send([make_trade("ETHUSDT", 1)])], stall_first=1)
    got: list[Trade] = []
    client = _client(server, got.append, open_timeout=0.3)
    feed_runner(client)
    wait_until(lambda: len(got) == 1, what="trade after the timed-out handshake")
    s = client.stats
    assert s.attempts == 2 and s.connections == 1
    assert s.last_error is not None and "TimeoutError" in s.last_error


@pytest.mark.parametrize("ending", ["abort", "close"])
def test_abnormal_close_reconnects_and_records_gap(feed_server, feed_runner, wait_until, make_trade, script_send, ending) -> None:
    """A dropped connection (TCP abort or close 1011) reconnects; the id jump across it is a Gap, replays are duplicates."""
    first = script_send([make_trade("BTCUSDT", i) for i in (1, 2, 3)], then=ending, code=1011)
    second = script_send([make_trade("BTCUSDT", i) for i in (2, 3, 7, 8)])
    server = feed_server([first, second])
    got: list[Trade] = []
    gaps: list[Gap] = []
    client = FeedClient(_config(server), got.append, on_gap=gaps.append, rng=FixedRandom(0.01), backfill=False)
    feed_runner(client)
    wait_until(lambda: client.stats.accepted == 5, what="5 trades over 2 connections")
    s = client.stats
    assert [t.trade_id for t in got] == [1, 2, 3, 7, 8]
    assert s.connections == 2 and s.reconnects == 1 and s.rotations == 0
    assert s.rejected["duplicate"] == 2
    assert len(gaps) == 1 and (gaps[0].symbol, gaps[0].from_id, gaps[0].to_id) == ("BTCUSDT", 4, 6)
    assert not gaps[0].filled and gaps[0].reason == "disabled"
    assert s.gaps == 1 and s.missing_trades == 3 and s.recent_gaps == (gaps[0],)
    assert s.last_error is not None and "connection lost" in s.last_error
    assert _accounted(s)


@pytest.mark.parametrize(
    "shutdown",
    ['{"e":"serverShutdown","E":1770123456789}', '{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}'],
)
def test_server_shutdown_rotates_without_loss(feed_server, feed_runner, wait_until, make_trade, script_send, shutdown) -> None:
    """serverShutdown makes the client open a new connection, then close the old one; no trade is lost."""
    async def first(ws: ServerConnection, rec: Any) -> None:
        for i in (1, 2):
            await ws.send(make_trade("BTCUSDT", i).decode())
        await ws.send(shutdown)
        await ws.wait_closed()

    async def on_handshake(n: int) -> None:
        if n == 2:  # the market moves on while the client opens its new connection: the old one still carries it
            old = server.records[0].ws
            assert old is not None
            for i in (3, 4):
                await old.send(make_trade("BTCUSDT", i).decode())

    second = script_send([make_trade("BTCUSDT", i) for i in (4, 5, 6)])
    server = feed_server([first, second], on_handshake=on_handshake)
    got: list[Trade] = []
    client = _client(server, got.append)
    feed_runner(client)
    wait_until(lambda: client.stats.accepted == 6, what="6 trades")
    s = client.stats
    assert [t.trade_id for t in got] == [1, 2, 3, 4, 5, 6]
    assert s.server_shutdowns == 1 and s.rotations == 1 and s.connections == 2
    assert s.gaps == 0 and s.rejected["duplicate"] == 1
    assert server.records[0].closed.wait(5) and server.records[0].close_code == 1000  # closed by the client


def test_max_connection_age_rotates(feed_server, feed_runner, wait_until, make_trade) -> None:
    """Connections older than max_connection_age are replaced; ids continue without gaps."""

    async def script(ws: ServerConnection, rec: Any) -> None:
        await ws.send(make_trade("ETHUSDT", rec.index + 1).decode())
        await ws.wait_closed()

    server = feed_server([script])
    got: list[Trade] = []
    client = _client(server, got.append, max_connection_age=0.2)
    feed_runner(client)
    wait_until(lambda: client.stats.accepted >= 3, what="3 rotations")
    s = client.stats
    assert s.rotations >= 2 and s.connections >= 3 and s.gaps == 0
    assert [t.trade_id for t in got][:3] == [1, 2, 3]
    assert all(r.closed.wait(5) and r.close_code == 1000 for r in server.records[:2])


def test_stop_from_another_thread(feed_server, wait_until, make_trade, script_send, timeout_unit) -> None:
    """stop() called from a foreign thread makes run() return and closes the connection with 1000."""
    server = feed_server([script_send([make_trade("BTCUSDT", 1)])])
    client = _client(server, lambda t: None)
    done = threading.Event()

    def main() -> None:
        asyncio.run(client.run())
        done.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    wait_until(lambda: client.stats.accepted == 1, what="a trade")
    threading.Thread(target=client.stop).start()
    assert done.wait(10 * timeout_unit)
    assert client.stats.state == "stopped"
    assert server.records[0].closed.wait(5) and server.records[0].close_code == 1000
    client.stop()  # idempotent after run() returned


def test_stop_during_backoff_and_before_run(feed_server, feed_runner, wait_until, timeout_unit) -> None:
    """stop() interrupts a long backoff sleep; stop() before run() makes run() return at once."""
    server = feed_server([], refuse_first=10**6)
    client = _client(server, lambda t: None, rng=0.999, backoff_initial=30.0, backoff_max=30.0)
    runner = feed_runner(client)
    wait_until(lambda: client.stats.attempts >= 1 and client.stats.last_retry_delay is not None, what="a failed attempt")
    assert client.stats.state == "connecting"
    runner.stop(5 * timeout_unit)  # would hang ~30 s without interruption

    early = _client(server, lambda t: None)
    early.stop()
    asyncio.run(asyncio.wait_for(early.run(), 5 * timeout_unit))
    assert early.stats.attempts == 0 and early.stats.state == "stopped"


def test_run_twice_concurrently_refused(feed_server, make_trade, script_send) -> None:
    """A second concurrent run() raises FeedError."""
    server = feed_server([script_send([make_trade("BTCUSDT", 1)])])
    client = _client(server, lambda t: None)

    async def both() -> None:
        task = asyncio.ensure_future(client.run())
        await asyncio.sleep(0)
        with pytest.raises(FeedError, match="already running"):
            await client.run()
        client.stop()
        await task

    asyncio.run(both())


def test_sink_exception_counted(feed_server, feed_runner, wait_until, make_trade, script_send, caplog) -> None:
    """A sink that raises is counted as sink_error, logged rate-limited, and never kills the loop."""
    server = feed_server([script_send([make_trade("BTCUSDT", i) for i in range(1, 21)])])
    ok: list[int] = []

    def sink(t: Trade) -> None:
        if t.trade_id % 2:
            raise RuntimeError(f"boom {t.trade_id}")
        ok.append(t.trade_id)

    client = _client(server, sink)
    with caplog.at_level(logging.WARNING, logger="quantkit.feed"):
        feed_runner(client)
        wait_until(lambda: client.stats.received == 20, what="20 frames")
    s = client.stats
    assert ok == list(range(2, 21, 2))
    assert s.rejected["sink_error"] == 10 and s.accepted == 10 and s.connections == 1 and _accounted(s)
    assert s.last_error is not None and "RuntimeError" in s.last_error
    sink_logs = [r for r in caplog.records if "sink raised" in r.getMessage()]
    assert len(sink_logs) == 1


def test_answers_server_pings(feed_server, feed_runner, wait_until, make_trade) -> None:
    """Pings from the server are answered with pongs while the client streams (websockets does it)."""

    async def pinger(ws: ServerConnection, rec: Any) -> None:
        for i in range(1, 6):
            await ws.send(make_trade("BTCUSDT", i).decode())
            waiter = await ws.ping(f"p{i}".encode())
            await asyncio.wait_for(waiter, 5)
            rec.pongs += 1
        await ws.wait_closed()

    server = feed_server([pinger])
    client = _client(server, lambda t: None)
    feed_runner(client)
    wait_until(lambda: server.connections == 1 and server.records[0].pongs == 5, what="5 pongs")
    assert client.stats.connections == 1 and client.stats.accepted == 5


def test_stalled_connection_detected_by_keepalive(feed_server, feed_runner, wait_until, make_trade) -> None:
    """A server that stops reading (no pong, no message) is dropped after ping_timeout and the client reconnects."""

    async def stall(ws: ServerConnection, rec: Any) -> None:
        await ws.send(make_trade("BTCUSDT", rec.index + 1).decode())
        if rec.index == 0:
            assert ws.transport is not None
            ws.transport.pause_reading()  # pings pile up unanswered
            while server.connections < 2:
                await asyncio.sleep(0.01)
            ws.transport.resume_reading()  # let the server notice the client is gone
        await ws.wait_closed()

    server = feed_server([stall])
    got: list[Trade] = []
    client = _client(server, got.append, ping_interval=0.1, ping_timeout=0.2, open_timeout=0.5)
    feed_runner(client)
    wait_until(lambda: len(got) == 2, what="a trade from the second connection")
    s = client.stats
    assert s.connections == 2 and s.gaps == 0
    assert s.last_error is not None and "keepalive" in s.last_error


def test_control_and_error_replies_counted(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """Control replies are counted; an error reply is kept as last_error; neither drops the connection."""
    frames = ['{"result":null,"id":1}', '{"code":2,"msg":"Invalid request: too many parameters"}', make_trade("BTCUSDT", 1)]
    server = feed_server([script_send(frames)])
    client = _client(server, lambda t: None)
    feed_runner(client)
    wait_until(lambda: client.stats.accepted == 1, what="the trade")
    s = client.stats
    assert s.control_replies == 2 and s.rejected_total == 0 and s.connections == 1
    assert s.last_error is not None and "too many parameters" in s.last_error


def test_last_ids_seed_reports_gap_since_store(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """Seeding last_ids from the store turns the hole before the first live trade into a Gap and drops stale ids."""
    server = feed_server([script_send([make_trade("BTCUSDT", i) for i in (95, 100, 101)])])
    got: list[Trade] = []
    client = FeedClient(_config(server), got.append, last_ids={"BTCUSDT": 96}, rng=FixedRandom(0.01), backfill=False)
    feed_runner(client)
    wait_until(lambda: client.stats.received == 3, what="3 frames")
    s = client.stats
    assert [t.trade_id for t in got] == [100, 101]
    assert s.rejected["duplicate"] == 1
    assert [(g.from_id, g.to_id) for g in s.recent_gaps] == [(97, 99)]


def test_invalid_url_is_config_error() -> None:
    """A ws_url that is not a WebSocket URI fails at construction, naming ws_url."""
    cfg = FeedConfig(symbols=("BTCUSDT",), ws_url="ws://exa mple:99999", rest_url="http://x")
    with pytest.raises(ValueError, match="ws_url"):
        FeedClient(cfg, lambda t: None)


def test_futures_aggtrade_stream(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """A USD-M @aggTrade subscription takes futures-shaped aggTrade events and rejects @trade ones."""
    frames = [make_trade("ETHUSDT", i, futures=True, event="aggTrade") for i in (10, 11)]
    frames.insert(1, make_trade("ETHUSDT", 99, futures=True))
    server = feed_server([script_send(frames)])
    got: list[Trade] = []
    client = _client(server, got.append, market="futures", stream="aggTrade")
    feed_runner(client)
    wait_until(lambda: client.stats.received == 3, what="3 frames")
    assert server.records[0].path == "/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
    assert [(t.trade_id, t.is_buyer_maker) for t in got] == [(10, False), (11, False)]
    assert client.stats.rejected["unexpected_event"] == 1


def test_message_rate_reported(feed_server, feed_runner, wait_until, make_trade) -> None:
    """messages_per_second becomes positive while frames keep arriving."""

    async def trickle(ws: ServerConnection, rec: Any) -> None:
        for i in range(1, 10_000):
            await ws.send(make_trade("BTCUSDT", i).decode())
            await asyncio.sleep(0.005)

    server = feed_server([trickle])
    client = _client(server, lambda t: None)
    feed_runner(client)
    wait_until(lambda: client.stats.messages_per_second > 0, what="a positive message rate")
    assert client.stats.accepted > 0


def test_rotation_retries_while_old_connection_flows(feed_server, feed_runner, wait_until, make_trade, script_send) -> None:
    """If the rotation's new connection is refused, the old one keeps delivering until a retry succeeds."""

    async def first(ws: ServerConnection, rec: Any) -> None:
        await ws.send(make_trade("BTCUSDT", 1).decode())
        await ws.send('{"e":"serverShutdown","E":1}')
        await ws.wait_closed()

    async def on_handshake(n: int) -> bool:
        if n == 2:  # the rotation's first attempt fails; the old connection still carries trade 2
            old = server.records[0].ws
            assert old is not None
            await old.send(make_trade("BTCUSDT", 2).decode())
            return True
        return False

    server = feed_server([first, script_send([make_trade("BTCUSDT", i) for i in (2, 3)])], on_handshake=on_handshake)
    got: list[Trade] = []
    client = _client(server, got.append)
    feed_runner(client)
    wait_until(lambda: client.stats.accepted == 3, what="3 trades")
    s = client.stats
    assert [t.trade_id for t in got] == [1, 2, 3]
    assert s.attempts == 3 and s.connections == 2 and s.rotations == 1 and s.gaps == 0
    assert s.last_error is not None and "503" in s.last_error
