"""Fixtures for the feed tests: a scripted WebSocket server and a client runner, both in threads.

``feed_server(scripts, ...)`` starts a real ``websockets`` server on 127.0.0.1 port 0
in its own thread and event loop. Connection ``i`` (0-based) runs
``scripts[min(i, len(scripts) - 1)]``, an ``async def script(ws, rec)`` where ``rec``
is that connection's :class:`ConnRecord`. The first ``refuse_first`` handshakes are
answered with HTTP 503, the first ``stall_first`` handshakes never get an answer;
``on_handshake(n)`` runs inside the n-th (1-based) handshake before the response is sent
(returning True refuses that handshake with HTTP 503).

``feed_runner(client)`` runs ``client.run()`` with ``asyncio.run`` in a thread and
stops it at teardown; ``wait_until(predicate, timeout)`` polls a condition.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Iterator

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from _support.waiting import wait_until as _wait_until

from quantkit.feed import FeedClient

Script = Callable[[ServerConnection, "ConnRecord"], Awaitable[None]]


@dataclass
class ConnRecord:
    """What the server saw on one connection."""

    index: int
    path: str
    ws: ServerConnection | None = None
    pongs: int = 0
    close_code: int | None = None
    closed: threading.Event = field(default_factory=threading.Event)


class ScriptedServer:
    """A websockets server running scripted connections in a daemon thread."""

    def __init__(
        self,
        scripts: list[Script],
        *,
        refuse_first: int = 0,
        stall_first: int = 0,
        ping_interval: float | None = None,
        on_handshake: Callable[[int], Awaitable[bool | None]] | None = None,
    ) -> None:
        self.scripts = scripts
        self.on_handshake = on_handshake
        self.refuse_first = refuse_first
        self.stall_first = stall_first
        self.ping_interval = ping_interval
        self.handshakes = 0
        self.records: list[ConnRecord] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="scripted-ws-server", daemon=True)
        self._error: BaseException | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        return len(self.records)

    def start(self) -> "ScriptedServer":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"scripted server did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    async def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        self.handshakes += 1
        n = self.handshakes
        if n <= self.stall_first:
            assert self._stopped is not None
            await self._stopped.wait()  # never answer while the server runs
        if n <= self.stall_first + self.refuse_first:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try later\n")
        if self.on_handshake is not None:
            refuse = await self.on_handshake(n)  # runs before the 101 response leaves
            if refuse:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "refused by on_handshake\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        rec = ConnRecord(index=len(self.records), path=ws.request.path if ws.request else "", ws=ws)
        self.records.append(rec)
        script = self.scripts[min(rec.index, len(self.scripts) - 1)]
        try:
            await script(ws, rec)
        except Exception:
            pass
        finally:
            try:
                await ws.wait_closed()
            finally:
                rec.close_code = ws.close_code
                rec.closed.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            ping_interval=self.ping_interval,
            close_timeout=1,
            compression=None,
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopped.wait()
            server.close(close_connections=True)


# --- script building blocks -------------------------------------------------------------------


def trade_json(
    symbol: str,
    trade_id: int,
    *,
    price: str = "100.5",
    qty: str = "2",
    time_ms: int = 1_723_161_255_342,
    futures: bool = False,
    wrap: bool = True,
    event: str = "trade",
) -> bytes:
    """One Binance trade event (spot or futures shape), wrapped in the combined envelope by default."""
    id_key = "t" if event == "trade" else "a"
    payload: dict[str, Any] = {"e": event, "E": time_ms + 1, "s": symbol, id_key: trade_id, "p": price, "q": qty,
                               "T": time_ms}
    if event == "aggTrade":
        payload.update({"f": trade_id * 10, "l": trade_id * 10 + 1})
    if futures:
        payload.update({"X": "MARKET", "m": False})
    else:
        payload.update({"m": True, "M": True})
    if not wrap:
        return orjson.dumps(payload)
    return orjson.dumps({"stream": f"{symbol.lower()}@{event}", "data": payload})


def send_frames(frames: list[bytes | str], then: str = "hold", code: int = 1000) -> Script:
    """Script: send ``frames`` as text, then ``hold`` the connection, ``close`` with ``code`` or ``abort`` TCP."""

    async def script(ws: ServerConnection, rec: ConnRecord) -> None:
        for frame in frames:
            await ws.send(frame.decode() if isinstance(frame, bytes) else frame)
        if then == "close":
            await ws.close(code, "scripted close")
        elif then == "abort":
            assert ws.transport is not None
            ws.transport.abort()
        else:
            await ws.wait_closed()

    return script


@pytest.fixture
def feed_server() -> Iterator[Callable[..., ScriptedServer]]:
    """Factory: start a :class:`ScriptedServer`; all are stopped at teardown."""
    servers: list[ScriptedServer] = []

    def make(scripts: list[Script], **kwargs: Any) -> ScriptedServer:
        server = ScriptedServer(scripts, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


class ClientThread:
    """Runs ``client.run()`` in its own thread and event loop."""

    def __init__(self, client: FeedClient) -> None:
        self.client = client
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="feed-client", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self.client.run())
        except BaseException as exc:
            self.error = exc

    def start(self) -> "ClientThread":
        self.thread.start()
        return self

    def stop(self, timeout: float) -> None:
        self.client.stop()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("FeedClient.run() did not return after stop()")
        if self.error is not None:
            raise AssertionError(f"FeedClient.run() raised {self.error!r}") from self.error


@pytest.fixture
def feed_runner(timeout_unit: float) -> Iterator[Callable[[FeedClient], ClientThread]]:
    """Factory: run a FeedClient in a thread; stopped (and checked to return cleanly) at teardown."""
    runners: list[ClientThread] = []

    def run(client: FeedClient) -> ClientThread:
        runner = ClientThread(client).start()
        runners.append(runner)
        return runner

    yield run
    for runner in runners:
        if runner.thread.is_alive():
            runner.stop(15 * timeout_unit)


@pytest.fixture
def wait_until(timeout_unit: float) -> Callable[..., None]:
    """Poll ``predicate`` every 10 ms until true; fail after ``units`` x timeout_unit seconds."""

    def wait(predicate: Callable[[], bool], units: float = 10.0, what: str = "condition") -> None:
        if not _wait_until(predicate, units * timeout_unit, 0.01):
            raise AssertionError(f"timed out waiting for {what}")

    return wait


@pytest.fixture
def make_trade() -> Callable[..., bytes]:
    """The :func:`trade_json` builder."""
    return trade_json


@pytest.fixture
def script_send() -> Callable[..., Script]:
    """The :func:`send_frames` script builder."""
    return send_frames
