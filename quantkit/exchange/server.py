"""The local exchange: Binance's WebSocket streams and REST market data on one port, fed by a source.

:class:`LocalExchange` runs a ``websockets`` asyncio server behind a small
HTTP/1.1 front (:mod:`quantkit.exchange._httpd`). WebSocket handshakes on
``/ws/...`` (any path after ``/ws``, as ccxt.pro's ``/ws/<n>``) and
``/stream?streams=...`` (also under ``/public``, ``/market``) open stream
connections; every other request is REST under ``/api/v3``, ``/fapi/v1``,
``/dapi/v1`` (see :mod:`quantkit.exchange.rest`) with keep-alive, Binance's
404 body elsewhere and 405 for methods other than GET. Request weight is
limited per IP and minute as on Binance (:mod:`quantkit.exchange.limits`).

Streams: ``trade`` and ``aggTrade`` trade by trade; klines, tickers, the book
(``bookTicker``, ``depth``) and USD-M ``markPrice`` as events computed from the
trades (:mod:`quantkit.exchange.streams`). Subscribing to a stream the exchange
cannot serve answers an error (``{"code":2,...,"id":..}``) instead of silence.

Data path: the source is iterated **once**; each batch is stored in the
per-symbol history (which assigns aggregate ids) and rendered once per
(stream, wrapper, time unit), then queued to every connection subscribed to
those streams at that moment. Each connection has a sender task draining its
queue (frames of a batch go out in one socket write; the sender then awaits the
transport's drain, so TCP flow control applies). Control replies go through the
same queue: frames before a ``SUBSCRIBE``/``UNSUBSCRIBE`` reply predate the
change, frames after it follow it.

The exchange's clock (``serverTime``, event times ``E`` of events, 24 h
windows) is the time of the trades it serves: the newest trade time published
plus the wall time since, scaled by the source's speed.

Finite sources (a replay without loop) are held until the first connection
subscribes, so none of their trades is published unseen. ``GET /quantkit/v1/status``
(:data:`~quantkit.config.LOCAL_STATUS_PATH`, a quantkit extension that Binance
does not have) tells a client the market, the symbols, whether the source is
finite and done, and the first/last trade id and count published per symbol.

Slow consumers:

* **Paced sources** (finite speed): the source never waits for clients. A
  connection with more than ``max_pending`` frames queued is closed with code
  1008 ("Slow consumer") instead of buffering without bound, as a real exchange
  drops clients that cannot keep up.
* **Max speed** (``speed == inf``): the exchange runs in lockstep with its
  subscribers: after each batch it waits until every subscribed connection has
  fewer than ``high_water`` frames queued. A connection that makes no progress
  for ``stall_timeout`` seconds is closed with 1008. By default the source also
  pauses while no connection is subscribed to a served data stream, so a
  max-speed replay waits for its client instead of finishing unseen.

Fault injection plugs in through :mod:`quantkit.exchange.policy`.

Logging: ``quantkit.exchange`` (start, stop, source end, slow consumers; never
per trade); websockets' own per-connection lines go to ``quantkit.exchange.wire``.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Mapping, TypeVar

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from quantkit.config import LOCAL_STATUS_PATH
from quantkit.errors import ExchangeError
from quantkit.exchange._httpd import HttpReply, HttpRequest, front_connection
from quantkit.exchange.history import SymbolHistory
from quantkit.exchange.limits import RateLimiter
from quantkit.exchange.policy import ConnectionPolicy, PolicyFactory, default_policy
from quantkit.exchange.protocol import (
    AGG_TRADE,
    TRADE,
    PathError,
    Renderer,
    StreamName,
    StreamSession,
    WsTarget,
    parse_ws_path,
    server_shutdown_event,
    wrap_combined,
)
from quantkit.exchange.rest import RestApi, RestReply, rest_error
from quantkit.exchange.streams import EventStreams
from quantkit.exchange.source import (
    MarketSource,
    SymbolSpec,
    source_finite,
    source_specs,
    source_speed,
)
from quantkit.schema import Trade

__all__ = ["LocalExchange"]

log = logging.getLogger("quantkit.exchange")
#: Most frames written to a socket in one write.
_WRITE_FRAMES = 1024
#: Transport write buffer high-water mark, bytes (websockets' default is 32 KiB).
_WRITE_LIMIT = 2**18
_wire_log = logging.getLogger("quantkit.exchange.wire")
#: Aggregate trades merge fills within this many ms (USD-M: same price and taker side within 100 ms).
_MERGE_MS = {"spot": 0, "futures": 100}
_R = TypeVar("_R")


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class _Conn:
    """One WebSocket client: its session, policy and outgoing queue."""

    __slots__ = ("ws", "session", "policy", "custom_policy", "outbox", "pending", "wakeup", "space", "idle",
                 "closing", "sent", "stalled")

    def __init__(self, ws: ServerConnection, session: StreamSession, policy: ConnectionPolicy) -> None:
        self.ws = ws
        self.session = session
        self.policy = policy
        self.custom_policy = type(policy) is not ConnectionPolicy
        self.outbox: deque[list[bytes] | _Close] = deque()
        self.pending = 0  # frames queued, not yet handed to the socket
        self.wakeup = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.idle = asyncio.Event()
        self.idle.set()
        self.closing = False
        self.sent = 0
        self.stalled = False

    def queue(self, frames: list[bytes]) -> None:
        """Queue frames for the sender task and wake it."""
        self.outbox.append(frames)
        self.pending += len(frames)
        self.idle.clear()
        self.wakeup.set()


class _Control:
    """The :class:`~quantkit.exchange.policy.ConnectionControl` of one connection (loop thread only)."""

    __slots__ = ("_conn", "_exchange")

    def __init__(self, exchange: "LocalExchange", conn: _Conn) -> None:
        self._exchange = exchange
        self._conn = conn

    @property
    def open(self) -> bool:
        return not self._conn.closing

    def _discard_queue(self) -> None:
        conn = self._conn
        conn.closing = True
        conn.outbox.clear()
        conn.pending = 0
        conn.space.set()
        conn.idle.set()
        self._exchange._update_subscribed()

    def drop(self) -> None:
        conn = self._conn
        if conn.closing and not conn.stalled:
            return
        self._discard_queue()
        transport = conn.ws.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    def close(self, code: int = 1000, reason: str = "") -> None:
        conn = self._conn
        if conn.closing:
            return
        conn.outbox.append(_Close(code, reason))
        conn.closing = True
        conn.idle.clear()
        conn.wakeup.set()
        self._exchange._update_subscribed()

    def stall(self, seconds: float | None = None) -> None:
        conn = self._conn
        if conn.closing:
            return
        self._discard_queue()
        conn.stalled = True
        ws = conn.ws
        keepalive = getattr(ws, "keepalive_task", None)
        if keepalive is not None:
            keepalive.cancel()
        transport = ws.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()
        if seconds is not None:
            asyncio.get_running_loop().call_later(seconds, self.drop)

    def server_shutdown(self) -> None:
        conn = self._conn
        if conn.closing:
            return
        now = int(self._exchange._clock() * 1000)
        conn.outbox.append([server_shutdown_event(now, combined=conn.session.combined)])
        conn.pending += 1
        self.close(1001, "Server shutdown")


class LocalExchange:
    """A local Binance-protocol exchange serving one :class:`~quantkit.exchange.MarketSource`.

    Use it as a context manager (a daemon thread runs its event loop), or
    ``await serve()`` inside a running loop::

        with LocalExchange(SyntheticMarket(seed=1)) as ex:
            feed = FeedConfig.for_source("local", ["SYNAUSDT"], local_url=ex.url)

    Args:
        source: the trades to serve (iterated once, from :meth:`start`/:meth:`serve`).
        host: interface to bind.
        port: TCP port; 0 picks a free one (see :attr:`port`).
        ping_interval: seconds between server pings (Binance spot: 20); ``None`` disables.
        ping_timeout: seconds to wait for the pong before closing (Binance: 60); ``None`` disables.
        history_size: trades kept per symbol for REST (and as many aggregates).
        pause_without_subscribers: hold the source while no connection is subscribed to a
            served data stream. ``None`` (default): only for max-speed sources.
        hold_until_subscribed: publish nothing before the first connection subscribes to a served
            data stream, so a finite source is not published unseen. ``None`` (default): for finite
            sources (:func:`~quantkit.exchange.source.source_finite`) unless
            ``pause_without_subscribers`` is False.
        max_pending: frames queued per connection before a paced exchange closes it (1008).
        high_water: frames queued per connection above which a max-speed exchange waits.
        stall_timeout: seconds a max-speed exchange waits for a stalled connection before closing it.
        close_timeout: seconds to wait for a client's closing handshake before dropping the TCP
            connection (a slow consumer must read what is already buffered first); ``None`` waits forever.
        policy_factory: makes a :class:`~quantkit.exchange.policy.ConnectionPolicy` per request path;
            ``None`` behaves like Binance.
        clock: wall clock in seconds since the epoch (weight minutes; the exchange clock before the first trade).
        rate_limits: enforce Binance's request-weight limits (429, then 418 bans); ``False`` only counts
            (for benchmarks). See :mod:`quantkit.exchange.limits`.
        weight_limits: weight per minute and IP by market (``"spot"``, ``"futures"``, ``"delivery"``);
            ``None``: Binance's 6,000 / 2,400 / 2,400.

    Raises:
        ValueError: a bad argument (named in the message).
    """

    def __init__(
        self,
        source: MarketSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 60.0,
        history_size: int = 2_000_000,
        pause_without_subscribers: bool | None = None,
        hold_until_subscribed: bool | None = None,
        max_pending: int = 100_000,
        high_water: int = 8192,
        stall_timeout: float = 60.0,
        close_timeout: float | None = 5.0,
        policy_factory: PolicyFactory | None = None,
        clock: Callable[[], float] = time.time,
        rate_limits: bool = True,
        weight_limits: Mapping[str, int] | None = None,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port={port!r}: expected an integer within 0..65535")
        if ping_interval is not None and not ping_interval > 0:
            raise ValueError(f"ping_interval={ping_interval!r}: expected seconds > 0 or None")
        if ping_timeout is not None and not ping_timeout > 0:
            raise ValueError(f"ping_timeout={ping_timeout!r}: expected seconds > 0 or None")
        if not isinstance(history_size, int) or history_size < 1:
            raise ValueError(f"history_size={history_size!r}: expected an integer >= 1")
        if max_pending < 1 or high_water < 2:
            raise ValueError(f"max_pending={max_pending!r}, high_water={high_water!r}: expected >= 1 and >= 2")
        if not stall_timeout > 0:
            raise ValueError(f"stall_timeout={stall_timeout!r}: expected seconds > 0")
        if close_timeout is not None and not close_timeout > 0:
            raise ValueError(f"close_timeout={close_timeout!r}: expected seconds > 0 or None")
        market = getattr(source, "market", None)
        if market not in ("spot", "futures"):
            raise ValueError(f"source.market={market!r}: expected 'spot' or 'futures'")
        self._source = source
        self._host = host
        self._requested_port = port
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._history_size = history_size
        speed = source_speed(source)
        self._lockstep = speed == float("inf")
        self._pause = self._lockstep if pause_without_subscribers is None else bool(pause_without_subscribers)
        self._finite = source_finite(source)
        self._hold = (
            (self._finite and pause_without_subscribers is not False)
            if hold_until_subscribed is None
            else bool(hold_until_subscribed)
        )
        # per symbol: first and last trade id published, trades published (the status endpoint)
        self._id_range: dict[str, list[int]] = {}
        self._max_pending = int(max_pending)
        self._high_water = int(high_water)
        self._low_water = self._high_water // 2
        self._stall_timeout = float(stall_timeout)
        self._close_timeout = close_timeout
        self._policy_factory: PolicyFactory = policy_factory or default_policy
        self._clock = clock
        self.market: str = market
        self._specs: dict[str, SymbolSpec] = source_specs(source)
        self._histories: dict[str, SymbolHistory] = {
            s: SymbolHistory(s, history_size, first_agg_id=getattr(source, "first_agg_ids", {}).get(s, 1),
                             merge_ms=_MERGE_MS[market])
            for s in self._specs
        }
        self._renderers: dict[str, Renderer] = {s: Renderer(market, spec) for s, spec in self._specs.items()}
        self._speed = speed
        self._last_trade_ms: int | None = None
        self._last_trade_wall = 0.0
        self._last_event_ms: dict[str, int] = {}
        self._events = EventStreams(market, self._specs, self._histories, books=getattr(source, "books", None))
        self._rest = RestApi(self._histories, self._specs, self._now_ms, self._events.books)
        self._limiter = RateLimiter(clock, weight_limits, enabled=rate_limits)
        self._fronts: weakref.WeakSet[Any] = weakref.WeakSet()
        self._conns: set[_Conn] = set()
        self._handshakes: weakref.WeakKeyDictionary[ServerConnection, tuple[WsTarget, ConnectionPolicy]] = (
            weakref.WeakKeyDictionary()
        )
        self._published = 0
        self._slow_closed = 0
        self._source_error: BaseException | None = None
        self._done = threading.Event()
        self._ready = threading.Event()
        self._port = 0
        self._served = False
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._subscribed: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------------------------------------ properties

    @property
    def port(self) -> int:
        """The bound TCP port (0 until listening)."""
        return self._port

    @property
    def url(self) -> str:
        """REST base URL, ``http://127.0.0.1:PORT`` (also what ``FeedConfig.for_source("local", local_url=...)`` takes)."""
        return f"http://{self._host_for_url()}:{self._port}"

    @property
    def ws_url(self) -> str:
        """WebSocket base URL, ``ws://127.0.0.1:PORT``."""
        return f"ws://{self._host_for_url()}:{self._port}"

    @property
    def published(self) -> int:
        """Trades published so far (stored and fanned out)."""
        return self._published

    @property
    def done(self) -> threading.Event:
        """Set once a finite source is exhausted and every queued frame was handed to the sockets."""
        return self._done

    @property
    def histories(self) -> Mapping[str, SymbolHistory]:
        """Per-symbol trade histories (read them from the exchange's loop or after :meth:`stop`)."""
        return self._histories

    @property
    def source_error(self) -> BaseException | None:
        """The exception that ended the source, if it failed (the server keeps serving REST)."""
        return self._source_error

    def status(self) -> dict[str, Any]:
        """What the status endpoint (:data:`~quantkit.config.LOCAL_STATUS_PATH`) answers.

        Keys: ``market``, ``symbols``, ``finite``, ``done``, ``published`` (all trades), and per symbol
        ``first_ids``, ``last_ids`` (first and last trade id published) and ``counts`` (trades published).
        Call it from the exchange's loop (the endpoint does) or through :meth:`call_in_loop`.
        """
        ranges = self._id_range
        return {
            "market": self.market,
            "symbols": list(self._specs),
            "finite": self._finite,
            "done": self._done.is_set(),
            "published": self._published,
            # published first ids; before publishing, the ids the source says it starts with
            "first_ids": {**getattr(self._source, "first_ids", {}), **{s: r[0] for s, r in ranges.items()}},
            "last_ids": {s: r[1] for s, r in ranges.items()},
            "counts": {s: r[2] for s, r in ranges.items()},
        }

    def stats(self) -> dict[str, int]:
        """Counters: ``published``, ``connections``, ``slow_consumers_closed``, ``rest_429``, ``rest_418``."""
        return {
            "published": self._published,
            "connections": len(self._conns),
            "slow_consumers_closed": self._slow_closed,
            "rest_429": self._limiter.refused[429],
            "rest_418": self._limiter.refused[418],
        }

    def _now_ms(self) -> int:
        """The exchange's clock, ms: the newest trade time plus the wall time since, times the speed."""
        if self._last_trade_ms is None:
            return int(self._clock() * 1000)
        rate = 1.0 if self._speed == float("inf") else self._speed
        return self._last_trade_ms + int(max(0.0, self._clock() - self._last_trade_wall) * 1000 * rate)

    def _host_for_url(self) -> str:
        return f"[{self._host}]" if ":" in self._host else self._host

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> "LocalExchange":
        """Run the exchange in a daemon thread; return once it listens.

        Raises:
            ExchangeError: it was already started, or could not listen.
        """
        if self._thread is not None or self._served:
            raise ExchangeError("this LocalExchange was already started; make a new one")
        self._thread = threading.Thread(target=self._thread_main, name="quantkit-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ExchangeError(f"the exchange did not start listening within {timeout} s")
        if self._startup_error is not None:
            self._thread.join(timeout)
            err = self._startup_error
            raise err if isinstance(err, ExchangeError) else ExchangeError(f"the exchange failed to start: {err}")
        return self

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged
            if not self._port:
                self._startup_error = exc
            else:
                log.error("local exchange failed: %s", exc, exc_info=True)
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self._ready.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop serving: close connections (1001), stop the source, join the thread. Idempotent, thread-safe.

        Args:
            timeout: seconds to wait for the thread; ``None``: ``close_timeout`` + 5 s (30 s without one).
        """
        if timeout is None:
            timeout = (self._close_timeout or 25.0) + 5.0
        self._stop_requested = True
        loop, ev = self._loop, self._stop_event
        if loop is not None and ev is not None and not loop.is_closed():
            try:
                if _running_loop() is loop:
                    ev.set()
                else:
                    loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # loop closed meanwhile
                pass
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            if t.is_alive():
                log.warning("local exchange thread did not stop within %.1f s", timeout)

    def __enter__(self) -> "LocalExchange":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve(self) -> None:
        """Serve in the running event loop until :meth:`stop` is called (or the task is cancelled).

        Raises:
            ExchangeError: already served once, or the port cannot be bound.
        """
        if self._served:
            raise ExchangeError("this LocalExchange was already started; make a new one")
        self._served = True
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._subscribed = asyncio.Event()
        if self._stop_requested:
            return
        try:
            server: Server = await serve(
                self._handle_ws,
                self._host,
                self._requested_port,
                process_request=self._process_request,
                create_connection=front_connection(self._http, on_open=self._fronts.add),
                compression=None,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                write_limit=_WRITE_LIMIT,
                close_timeout=self._close_timeout,
                logger=_wire_log,
            )
        except OSError as exc:
            raise ExchangeError(f"cannot listen on {self._host}:{self._requested_port}: {exc}") from exc
        source_task: asyncio.Task[None] | None = None
        tick_task: asyncio.Task[None] | None = None
        try:
            self._port = int(next(iter(server.sockets)).getsockname()[1])
            log.info(
                "local exchange listening on %s (WebSocket %s): %s %s, %d symbols, speed %s",
                self.url, self.ws_url, type(self._source).__name__, self.market, len(self._specs),
                source_speed(self._source),
            )
            self._ready.set()
            source_task = asyncio.create_task(self._run_source(), name="quantkit-exchange-source")
            tick_task = asyncio.create_task(self._run_events(), name="quantkit-exchange-events")
            if self._stop_requested:  # stop() raced with start-up
                self._stop_event.set()
            await self._stop_event.wait()
        finally:
            for task_ in (source_task, tick_task):
                if task_ is not None:
                    task_.cancel()
                    await asyncio.gather(task_, return_exceptions=True)
            for front in list(self._fronts):
                front.qk_close()
            server.close()
            await server.wait_closed()
            for task in list(self._tasks):
                task.cancel()
            log.info("local exchange on port %d stopped after %d trades", self._port, self._published)

    # ------------------------------------------------------------------------------------------------ HTTP

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """WebSocket handshakes only (plain HTTP requests are answered by :meth:`_http`)."""
        target = request.path
        policy = self._policy_factory(target)
        custom = type(policy) is not ConnectionPolicy
        if custom:
            refusal = policy.on_open(target)
            if refusal is not None:
                status, text = refusal
                return connection.respond(status, text)
        try:
            ws_target = parse_ws_path(target)
        except PathError as exc:
            return connection.respond(exc.status, exc.message + "\n")
        if ws_target is None:
            body = rest_error(-1000, "Not found.", status=404, weight=0).body
            headers = Headers([("Content-Type", "application/json;charset=UTF-8"), ("Content-Length", str(len(body)))])
            return Response(404, "Not Found", headers, body)
        self._handshakes[connection] = (ws_target, policy)
        return None

    def _http(self, request: HttpRequest) -> HttpReply:
        """Answer one plain HTTP request: REST (GET), 405 for other methods, Binance's 404 elsewhere."""
        target = request.target
        if target.split("?", 1)[0] == LOCAL_STATUS_PATH:
            return self._reply(request, "", RestReply(200, orjson.dumps(self.status())))
        policy = self._policy_factory(target)
        custom = type(policy) is not ConnectionPolicy
        if custom:
            refusal = policy.on_open(target)
            if refusal is not None:
                status, text = refusal
                return HttpReply(status, text.encode(), (("Content-Type", "text/plain"),), close=True)
        route = RestApi.route(target)
        market = route[0] if route is not None else RestApi.market_of(target)
        if request.method not in ("GET", "HEAD") and market is not None:  # no trading here: market data only
            msg = f"Request method '{request.method}' not supported."
            return self._reply(request, market, RestReply(405, rest_error(-1000, msg).body, 1, (("Allow", "GET"),)))
        if route is None:
            return self._reply(request, "", rest_error(-1000, "Not found.", status=404, weight=0))
        reply = policy.on_rest(target) if custom else None
        if reply is None:
            reply = self._rest.handle(target, api_key=request.headers.get("x-mbx-apikey"))
        return self._reply(request, route[0], reply)

    def _reply(self, request: HttpRequest, market: str, reply: RestReply) -> HttpReply:
        """Charge the weight (refusing with 429/418 over the limit) and build the HTTP reply."""
        extra: tuple[tuple[str, str], ...] = ()
        used = 0
        if market:
            check = self._limiter.check(request.peer, market, reply.weight)
            used = check.used
            if check.status != 200:
                reply = RestReply(check.status, check.body, reply.weight)
                extra = (("Retry-After", str(check.retry_after)),)
        headers = (
            ("Content-Type", "application/json;charset=UTF-8"),
            ("X-MBX-USED-WEIGHT-1M", str(used)),
            *reply.headers,
            *extra,
        )
        body = b"" if request.method == "HEAD" else reply.body
        return HttpReply(reply.status, body, headers)

    # ------------------------------------------------------------------------------------------------ WebSocket

    async def _handle_ws(self, ws: ServerConnection) -> None:
        target, policy = self._handshakes.pop(ws, (WsTarget(True, ()), default_policy("")))
        session = StreamSession(target.combined, target.streams, micro=target.micro, can_serve=self._can_serve)
        conn = _Conn(ws, session, policy)
        self._conns.add(conn)
        self._update_subscribed()
        for name in session.unservable():
            conn.queue([orjson.dumps({"error": {"code": 2, "msg": f"Invalid request: stream {name} is not served by this exchange"}})])
        if conn.custom_policy:
            policy.on_connect(_Control(self, conn))
        sender = asyncio.create_task(self._sender(conn))
        try:
            async for raw in ws:
                version = session.version
                reply = session.handle(raw)
                if session.version != version:
                    self._update_subscribed()
                # Replies share the data queue: data queued before a SUBSCRIBE/UNSUBSCRIBE reply
                # predates the change, data after it follows the new subscriptions.
                if not conn.closing:
                    conn.queue([reply])
        except ConnectionClosed:
            pass
        finally:
            conn.closing = True
            self._conns.discard(conn)
            self._update_subscribed()
            if not sender.done():
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            conn.space.set()
            conn.idle.set()

    async def _sender(self, conn: _Conn) -> None:
        ws = conn.ws
        low = self._low_water
        try:
            while True:
                if not conn.outbox:
                    conn.idle.set()
                    conn.wakeup.clear()
                    await conn.wakeup.wait()
                    continue
                item = conn.outbox.popleft()
                if isinstance(item, _Close):
                    await ws.close(item.code, item.reason)
                    return
                for i in range(0, len(item), _WRITE_FRAMES):
                    await _send_frames(ws, item[i : i + _WRITE_FRAMES])
                conn.pending -= len(item)
                conn.sent += len(item)
                if conn.pending <= low:
                    conn.space.set()
        except ConnectionClosed:
            pass
        finally:
            conn.space.set()
            conn.idle.set()

    def _can_serve(self, name: StreamName) -> bool:
        return self._events.can_serve(name)

    def _update_subscribed(self) -> None:
        events: set[tuple[str, str]] = set()
        for c in self._conns:
            if not c.closing:
                events |= c.session.event_streams
        self._events.subscribe(events, self._now_ms(), time.monotonic() * 1000)
        ev = self._subscribed
        if ev is None:
            return
        served = self._specs
        if any(s in served for s, _ in events) or any(
            not c.closing and any(s in served for s, _ in c.session.data_streams) for c in self._conns
        ):
            ev.set()
        else:
            ev.clear()

    def _close_slow(self, conn: _Conn, why: str) -> None:
        if conn.closing:
            return
        conn.closing = True
        self._slow_closed += 1
        log.warning(
            "closing slow consumer %s (%s): %d frames queued", conn.ws.remote_address, why, conn.pending
        )
        conn.outbox.clear()
        conn.pending = 0
        conn.space.set()
        task = asyncio.create_task(conn.ws.close(1008, "Slow consumer"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------------------------------ data path

    async def _run_source(self) -> None:
        assert self._subscribed is not None
        n_batches = 0
        if self._hold and not self._subscribed.is_set():
            log.info("holding the source until a client subscribes")
            await self._subscribed.wait()
        try:
            async for batch in self._source:
                if not batch:
                    continue
                if self._pause and not self._subscribed.is_set():
                    log.info("source paused until a client subscribes (%d trades published)", self._published)
                    await self._subscribed.wait()
                self._publish(batch)
                n_batches += 1
                if self._lockstep:
                    await self._backpressure()
                else:
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server keeps serving REST from what was published
            self._source_error = exc
            log.error("market source failed after %d trades: %s", self._published, exc, exc_info=True)
            return
        for conn in list(self._conns):
            if not conn.closing:
                try:
                    await asyncio.wait_for(conn.idle.wait(), self._stall_timeout)
                except (TimeoutError, asyncio.TimeoutError):
                    self._close_slow(conn, f"no progress for {self._stall_timeout:.0f} s")
        log.info("source exhausted: %d trades in %d batches, all sent", self._published, n_batches)
        self._done.set()

    def _publish(self, batch: list[Trade]) -> None:
        self._published += len(batch)
        groups: dict[str, list[int]] = {}
        last_e = self._last_event_ms
        for i, t in enumerate(batch):
            g = groups.get(t[0])
            if g is None:
                groups[t[0]] = g = []
            g.append(i)
            prev = last_e.get(t[0], t[6])
            if t[6] < prev:  # event time never goes back within a symbol
                batch[i] = t._replace(event_time=prev)
            else:
                last_e[t[0]] = t[6]
        newest = max(t[5] for t in batch)
        if self._last_trade_ms is None or newest >= self._last_trade_ms:
            self._last_trade_ms = newest
            self._last_trade_wall = self._clock()
        per_symbol: dict[str, tuple[list[int], list[Trade], list[Any]]] = {}
        for sym, idxs in groups.items():
            hist = self._histories.get(sym)
            if hist is None:
                hist = self._add_symbol(sym)
            trades = batch if len(idxs) == len(batch) else [batch[i] for i in idxs]
            per_symbol[sym] = (idxs, trades, hist.add(trades))
            rng = self._id_range.get(sym)
            if rng is None:
                self._id_range[sym] = [trades[0][1], trades[-1][1], len(trades)]
            else:
                rng[1] = max(rng[1], trades[-1][1])
                rng[2] += len(trades)
        now = self._now_ms()
        events: dict[tuple[str, str], list[bytes]] = {}
        for sym, (_, trades, _) in per_symbol.items():
            events.update(self._events.on_batch(sym, trades, now))
        if not self._conns:
            return
        if events:
            self._fan_out(events)
        rendered: dict[tuple[str, str, bool, bool], list[tuple[int, bytes]]] = {}
        merged: dict[tuple[Any, bool, bool], list[bytes]] = {}
        for conn in list(self._conns):
            if conn.closing or conn.stalled:
                continue
            sess = conn.session
            data = sess.data_streams
            if not data:
                continue
            key = (data, sess.combined, sess.micro)
            frames = merged.get(key)
            if frames is None:
                lists = []
                for sym, kind in data:
                    entry = per_symbol.get(sym)
                    if entry is None:
                        continue
                    rk = (sym, kind, sess.combined, sess.micro)
                    lst = rendered.get(rk)
                    if lst is None:
                        lst = rendered[rk] = self._render(sym, kind, entry, sess.combined, sess.micro)
                    if lst:
                        lists.append(lst)
                if not lists:
                    frames = []
                elif len(lists) == 1:
                    frames = [b for _, b in lists[0]]
                else:
                    frames = [b for _, b in heapq.merge(*lists, key=itemgetter(0))]
                merged[key] = frames
            if not frames:
                continue
            out = conn.policy.outgoing(list(frames)) if conn.custom_policy else frames
            if not out:
                continue
            conn.queue(out)
            if not self._lockstep and conn.pending > self._max_pending:
                self._close_slow(conn, f"more than {self._max_pending} frames queued")

    def _fan_out(self, events: dict[tuple[str, str], list[bytes]]) -> None:
        """Queue event payloads to every connection subscribed to their stream (wrapped when combined)."""
        wrapped: dict[tuple[str, str], list[bytes]] = {}
        for conn in list(self._conns):
            if conn.closing or conn.stalled:
                continue
            sess = conn.session
            subs = sess.event_streams
            if not subs:
                continue
            out: list[bytes] = []
            for key, payloads in events.items():
                if key not in subs:
                    continue
                if sess.combined:
                    w = wrapped.get(key)
                    if w is None:
                        name = f"{key[0].lower()}@{key[1]}"
                        w = wrapped[key] = [wrap_combined(name, p) for p in payloads]
                    out.extend(w)
                else:
                    out.extend(payloads)
            if out:
                conn.queue(out)

    async def _run_events(self) -> None:
        """Every 100 ms of wall time: periodic event streams (klines, depth, tickers, mark price)."""
        failed = False
        while True:
            await asyncio.sleep(0.1)
            if not self._conns:
                continue
            try:
                events = self._events.tick(time.monotonic() * 1000, self._now_ms())
            except Exception as exc:  # noqa: BLE001 - keep serving trades; say it once
                if not failed:
                    log.error("event streams failed: %s", exc, exc_info=True)
                failed = True
                continue
            if events:
                self._fan_out(events)

    def _render(
        self, sym: str, kind: str, entry: tuple[list[int], list[Trade], list[Any]], combined: bool, micro: bool
    ) -> list[tuple[int, bytes]]:
        idxs, trades, aggs = entry
        renderer = self._renderers[sym]
        if kind == TRADE:
            f = renderer.trade
            items = [(p, f(t, micro)) for p, t in zip(idxs, trades)]
        elif kind == AGG_TRADE:
            g = renderer.agg
            items = [(idxs[li], g(a, micro)) for li, a in aggs]
        else:
            return []
        if combined:
            head = b'{"stream":"' + f"{sym.lower()}@{kind}".encode() + b'","data":'
            items = [(p, head + b + b"}") for p, b in items]
        return items

    async def _backpressure(self) -> None:
        for conn in list(self._conns):
            if conn.closing or conn.pending <= self._high_water:
                continue
            conn.space.clear()
            try:
                await asyncio.wait_for(conn.space.wait(), self._stall_timeout)
            except (TimeoutError, asyncio.TimeoutError):
                self._close_slow(conn, f"no progress for {self._stall_timeout:.0f} s")

    def _add_symbol(self, sym: str) -> SymbolHistory:
        log.warning("source published %s, which it did not declare; serving it with default tick/step sizes", sym)
        spec = SymbolSpec(sym)
        self._specs[sym] = spec
        self._renderers[sym] = Renderer(self.market, spec)
        hist = self._histories[sym] = SymbolHistory(sym, self._history_size, merge_ms=_MERGE_MS[self.market])
        self._events.add_symbol(sym)
        return hist

    # ------------------------------------------------------------------------------------------------ control

    def broadcast_server_shutdown(self, timeout: float = 10.0) -> int:
        """Send Binance's ``serverShutdown`` event to every WebSocket client, then close them (1001).

        The server keeps listening, so clients can reconnect. Thread-safe.

        Returns:
            The number of connections notified.
        """
        return self._call_in_loop(self._server_shutdown, timeout)

    def _server_shutdown(self) -> int:
        now = int(self._clock() * 1000)
        n = 0
        for conn in list(self._conns):
            if conn.closing:
                continue
            conn.outbox.append([server_shutdown_event(now, combined=conn.session.combined)])
            conn.pending += 1
            conn.outbox.append(_Close(1001, "Server shutdown"))
            conn.closing = True
            conn.idle.clear()
            conn.wakeup.set()
            n += 1
        self._update_subscribed()
        log.info("serverShutdown sent to %d connections", n)
        return n

    def call_in_loop(self, fn: Callable[[], _R], timeout: float = 10.0) -> _R:
        """Run ``fn()`` in the exchange's event-loop thread and return its result.

        The way to read :attr:`histories` while the exchange serves (they are only
        consistent from the loop thread). Thread-safe.

        Raises:
            ExchangeError: the exchange is not running.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            raise ExchangeError("the exchange is not running")
        if _running_loop() is loop:
            return fn()

        async def call() -> _R:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    def _call_in_loop(self, fn: Callable[[], int], timeout: float) -> int:
        loop = self._loop
        if loop is None or loop.is_closed():
            raise ExchangeError("the exchange is not running")
        if _running_loop() is loop:
            return fn()

        async def call() -> int:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)


async def _send_frames(ws: ServerConnection, frames: list[bytes]) -> None:
    """Send text frames with one socket write, then wait for the write buffer to drain.

    Uses websockets' Sans-I/O layer (``protocol.send_text`` + ``data_to_send``) so a batch
    costs one ``transport.write`` instead of one per frame; falls back to ``send()`` when
    the connection is not open (which raises ``ConnectionClosed`` as usual).
    """
    proto = ws.protocol
    if proto.state is not State.OPEN or proto.expect_continuation_frame:
        for frame in frames:
            await ws.send(frame, text=True)
        return
    for frame in frames:
        proto.send_text(frame)
    ws.transport.write(b"".join(proto.data_to_send()))
    await ws.drain()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
