"""The WebSocket feed client: one combined-stream connection, kept alive forever.

:class:`FeedClient` connects to ``{ws_url}/stream?streams=a@trade/b@trade/...``
(live Binance or the local exchange: only ``FeedConfig.ws_url`` differs), parses
every frame with :func:`~quantkit.feed.messages.parse_message`, filters ids with a
:class:`~quantkit.feed.gaps.GapDetector` and calls ``sink(trade)`` for each new
trade, in the event loop's thread.

Connection life cycle:

* **Keep-alive.** websockets answers the server's pings by itself and pings the
  server every ``ping_interval`` s; a pong missing for ``ping_timeout`` s closes
  the connection (a stalled link) and the client reconnects.
* **Failures** (refused, handshake error or ``open_timeout``, abnormal close,
  keep-alive timeout, normal close by the server): reconnect after a
  :class:`~quantkit.feed.backoff.Backoff` delay (capped exponential, full jitter).
  The backoff resets once a connection delivered a trade or lived ``backoff_max`` s.
* **Rotation** (``max_connection_age`` reached, before Binance's 24 h cut-off, or a
  ``serverShutdown`` event): make-before-break. A new connection is opened while
  the old one keeps flowing; then the old one is closed and drained, and only
  then is the new one read. Trades seen on both are dropped as ``"duplicate"``, so
  a rotation loses nothing. If the old connection dies first, the new one is opened
  at once (no backoff).

Per-message problems never reach the loop: they are counted in
:attr:`FeedStats.rejected` by reason (:data:`DROP_REASONS`), and logged at most
once per reason per :data:`LOG_INTERVAL` seconds. Accounting identity::

    received == accepted + sum(rejected.values()) + control_replies + server_shutdowns + held

(``held``: live trades waiting behind a backfill; at :meth:`FeedClient.stop` they
are dropped as ``"held_at_stop"``, so the identity holds with ``held == 0`` after
:meth:`FeedClient.run` returns). Backfilled trades are not received messages: they
are counted in :attr:`FeedStats.backfill` (``trades``); :attr:`FeedStats.delivered`
is the sum of both.

Delivery rule: per symbol only ids greater than the last delivered id reach the
sink (strictly increasing); lower ids are dropped as ``"duplicate"`` or
``"out_of_order"``. A jump in ids, or a reconnection, starts a **REST backfill**
(:mod:`quantkit.feed.backfill`, on by default): that symbol's live trades are
held, the missing trades are fetched and delivered in id order, then the held
ones. Each gap's outcome is reported as :class:`~quantkit.feed.gaps.Gap` records
(``filled`` True, or False with a ``reason``) to ``on_gap`` and
:attr:`FeedStats.recent_gaps`. With ``backfill=False`` a jump is reported at once,
unfilled, with reason ``"disabled"``.

The sink runs inside the event loop: it must be quick and must not block (a
blocked loop cannot answer pings and the server will drop the connection).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidURI
from websockets.uri import parse_uri

from quantkit.config import FeedConfig
from quantkit.errors import ConfigError, FeedError, MessageRejected
from quantkit.feed.backfill import BackfillOptions, Backfiller, BackfillStats
from quantkit.feed.backoff import Backoff, RandomSource
from quantkit.feed.endpoints import stream_url
from quantkit.feed.gaps import Gap, GapDetector
from quantkit.feed.messages import REJECT_REASONS, ControlReply, Quote, ServerShutdown, parse_message
from quantkit.schema import Trade

__all__ = ["DROP_REASONS", "FeedClient", "FeedStats", "LOG_INTERVAL", "STATES"]

#: Values of :attr:`FeedStats.state`.
STATES: tuple[str, ...] = ("connecting", "connected", "reconnecting", "stopped")

#: Keys of :attr:`FeedStats.rejected`: the parser's reasons, then the client's own.
DROP_REASONS: tuple[str, ...] = REJECT_REASONS + ("duplicate", "out_of_order", "sink_error", "held_at_stop")

#: Seconds between two log lines about the same kind of per-message problem.
LOG_INTERVAL = 60.0

_RECENT_GAPS = 100
_MAX_QUEUE = 1024  # frames buffered by websockets before it stops reading the socket
_LOGGER = logging.getLogger("quantkit.feed")
_WARNING = logging.WARNING


@dataclass(frozen=True)
class FeedStats:
    """A snapshot of a :class:`FeedClient`'s counters.

    Attributes:
        state: ``"connecting"`` (first connection), ``"connected"``,
            ``"reconnecting"`` (after a loss, waiting or connecting) or ``"stopped"``
            (not running: before :meth:`FeedClient.run` or after it returned).
        connected: a connection is open and being read.
        url: the combined-stream URL.
        received: WebSocket messages received (all kinds).
        accepted: live trades delivered to the sink (sink returned normally);
            backfilled trades are counted in ``backfill.trades``.
        rejected: count per reason, every reason of :data:`DROP_REASONS` present.
        control_replies: ``{"result","id"}`` and ``{"code","msg"}`` replies received.
        server_shutdowns: ``serverShutdown`` events received.
        attempts: connection attempts.
        connections: connections opened.
        reconnects: connection attempts after the first, failed ones included (rotations included):
            a client that cannot reach its exchange shows a growing count, not 0.
        rotations: make-before-break handovers (max age or serverShutdown).
        gaps: :class:`~quantkit.feed.gaps.Gap` records reported since start (filled and unfilled).
        missing_trades: trade ids in unfilled gap records (not delivered).
        recent_gaps: the last 100 gap records, oldest first.
        last_trade_time: trade time of the last delivered trade, ms (UTC), or ``None``.
        last_message_monotonic: ``clock()`` when the last message arrived, or ``None``.
        connected_since: ``clock()`` when the current connection opened, or ``None``.
        last_error: the last connection problem / error reply / sink error, or ``None``.
        last_retry_delay: the last backoff delay, seconds, or ``None``.
        messages_per_second: received messages per second over the last second.
        held: live trades held behind a backfill now (see the accounting identity).
        backfill: backfill counters, or ``None`` when backfill is off.
    """

    state: str
    connected: bool
    url: str
    received: int
    accepted: int
    rejected: dict[str, int]
    control_replies: int
    server_shutdowns: int
    attempts: int
    connections: int
    reconnects: int
    rotations: int
    gaps: int
    missing_trades: int
    recent_gaps: tuple[Gap, ...] = field(default_factory=tuple)
    last_trade_time: int | None = None
    last_message_monotonic: float | None = None
    connected_since: float | None = None
    last_error: str | None = None
    last_retry_delay: float | None = None
    messages_per_second: float = 0.0
    held: int = 0
    backfill: BackfillStats | None = None

    @property
    def rejected_total(self) -> int:
        """Sum of :attr:`rejected`."""
        return sum(self.rejected.values())

    @property
    def delivered(self) -> int:
        """Trades delivered to the sink: live (:attr:`accepted`) plus backfilled."""
        return self.accepted + (self.backfill.trades if self.backfill is not None else 0)


class FeedClient:
    """Stream trades of N symbols from a Binance-protocol WebSocket into ``sink``.

    Args:
        config: symbols, URL, stream kind, timeouts and backoff (:class:`~quantkit.config.FeedConfig`).
        sink: called with each new :class:`~quantkit.schema.Trade`, in the loop thread.
            Exceptions are counted (``"sink_error"``) and logged, never propagated.
        on_gap: called with each :class:`~quantkit.feed.gaps.Gap`, in the loop thread
            (exceptions logged and ignored). ``None``: gaps are only kept in :attr:`stats`.
        logger: logger (default ``logging.getLogger("quantkit.feed")``).
        clock: monotonic seconds, for :attr:`FeedStats.last_message_monotonic`, rates,
            log rate limits and backoff resets (default ``time.monotonic``).
        rng: random source for backoff jitter (default a fresh :class:`random.Random`).
        last_ids: last trade id already stored per symbol: the hole between the
            store and the live stream is backfilled (or reported) as a gap, and ids at
            or below are dropped as duplicates (default ``None``).
        wall_clock: epoch seconds for :attr:`Gap.detected_at` and the REST weight
            minutes (default ``time.time``).
        backfill: fetch missing trades over REST (``config.rest_url`` +
            ``config.rest_prefix``) on gaps and reconnections, holding the symbol's
            live trades meanwhile (default True). False: gaps are only reported.
        backfill_options: limits, retries and rate-limit behaviour of the backfill
            (:class:`~quantkit.feed.backfill.BackfillOptions`; ``None``: defaults).

    Raises:
        ConfigError: the URL is not a valid WebSocket URI, or too many symbols.

    A client runs once: :meth:`run` until :meth:`stop`; make a new client to start over.
    """

    def __init__(
        self,
        config: FeedConfig,
        sink: Callable[[Trade], None],
        *,
        on_gap: Callable[[Gap], None] | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: RandomSource | None = None,
        last_ids: Mapping[str, int] | None = None,
        wall_clock: Callable[[], float] = time.time,
        backfill: bool = True,
        backfill_options: BackfillOptions | None = None,
    ) -> None:
        self._config = config
        self._url = stream_url(config)
        try:
            parse_uri(self._url)
        except (InvalidURI, ValueError) as exc:
            raise ConfigError("ws_url", config.ws_url, f"not a WebSocket URI ({exc})") from None
        self._sink = sink
        self._on_gap = on_gap
        self._log = logger if logger is not None else _LOGGER
        self._clock = clock
        self._symbols = frozenset(config.symbols)
        self._events = frozenset((config.stream, "bookTicker") if config.quotes else (config.stream,))
        self._quotes: dict[str, Quote] = {}  # the latest @bookTicker per symbol (FeedConfig.quotes)
        rng = rng if rng is not None else random.Random()
        self._backoff = Backoff(
            config.backoff_initial,
            max(config.backoff_max, config.backoff_initial),
            max(config.backoff_factor, 1.0),
            rng=rng,
        )
        self._gaps = GapDetector(last_ids, wall_clock=wall_clock)
        self._backfill: Backfiller | None = None
        if backfill:
            self._backfill = Backfiller(
                config,
                backfill_options if backfill_options is not None else BackfillOptions(),
                detector=self._gaps,
                sink=sink,
                deliver_live=self._deliver_live,
                drop_live=self._drop_live,
                report=self._report_gap,
                sleep=self._sleep,
                stopping=lambda: self._stop_requested,
                warn=self._warn_limited,
                logger=self._log,
                wall_clock=wall_clock,
                rng=rng,
            )
        # counters (ints, written only by the loop thread)
        self._received = 0
        self._accepted = 0
        self._rejected: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self._control_replies = 0
        self._server_shutdowns = 0
        self._attempts = 0
        self._connections = 0
        self._rotations = 0
        self._gap_count = 0
        self._missing = 0
        self._recent_gaps: deque[Gap] = deque(maxlen=_RECENT_GAPS)
        self._last_trade_time: int | None = None
        self._last_message_monotonic: float | None = None
        self._connected_since: float | None = None
        self._last_error: str | None = None
        self._last_retry_delay: float | None = None
        self._rate = 0.0
        self._rate_mark = (0.0, 0)
        self._state = "stopped"
        self._connected = False
        # loop plumbing
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stop_requested = False
        self._running = False
        self._rotation_reason = ""
        self._ticker: asyncio.TimerHandle | None = None
        self._active: set[ClientConnection] = set()
        self._opening: set[asyncio.Task[ClientConnection]] = set()
        self._bg: set[asyncio.Task[None]] = set()
        self._log_due: dict[str, float] = {}
        self._log_suppressed: dict[str, int] = {}

    # --- public API ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The combined-stream URL this client connects to."""
        return self._url

    @property
    def config(self) -> FeedConfig:
        """The configuration."""
        return self._config

    @property
    def quotes(self) -> dict[str, Quote]:
        """The latest best bid and ask per symbol (``FeedConfig(quotes=True)``; empty otherwise). Any thread."""
        return dict(self._quotes)

    @property
    def stats(self) -> FeedStats:
        """A consistent-enough snapshot of the counters; safe to read from any thread."""
        return FeedStats(
            state=self._state,
            connected=self._connected,
            url=self._url,
            received=self._received,
            accepted=self._accepted,
            rejected=dict(self._rejected),
            control_replies=self._control_replies,
            server_shutdowns=self._server_shutdowns,
            attempts=self._attempts,
            connections=self._connections,
            reconnects=max(self._attempts - 1, 0),
            rotations=self._rotations,
            gaps=self._gap_count,
            missing_trades=self._missing,
            recent_gaps=tuple(self._recent_gaps),
            last_trade_time=self._last_trade_time,
            last_message_monotonic=self._last_message_monotonic,
            connected_since=self._connected_since,
            last_error=self._last_error,
            last_retry_delay=self._last_retry_delay,
            messages_per_second=self._rate,
            held=self._backfill.held if self._backfill is not None else 0,
            backfill=self._backfill.stats() if self._backfill is not None else None,
        )

    def stop(self) -> None:
        """Ask :meth:`run` to return: close the connections and stop reconnecting.

        Thread-safe and idempotent; may be called before :meth:`run` (which then
        returns at once) or from another thread while it runs. Returns immediately;
        :meth:`run` returns once the connections are closed and drained.
        """
        self._stop_requested = True
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._on_stop)
        except RuntimeError:  # the loop is already closed: run() is over
            pass

    async def run(self) -> None:
        """Connect, stream into the sink and reconnect until :meth:`stop` is called.

        Raises:
            FeedError: :meth:`run` is already running.
        """
        if self._running:
            raise FeedError("FeedClient.run() is already running")
        self._running = True
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._loop = loop
        self._rate_mark = (self._clock(), self._received)
        self._ticker = loop.call_later(1.0, self._tick)
        ws: ClientConnection | None = None
        delay = 0.0
        rotated = False
        try:
            while not self._stop_requested:
                if ws is None:
                    self._state = "connecting" if self._connections == 0 else "reconnecting"
                    if delay > 0.0:
                        await self._sleep(delay)
                        if self._stop_requested:
                            break
                    try:
                        ws = await self._open()
                    except Exception as exc:  # refused, DNS, TLS, HTTP status, open timeout, ...
                        self._connect_failed(exc)
                        delay = self._retry_delay()
                        continue
                    if ws is None:  # stopped while connecting
                        break
                    rotated = False
                ws, delay = await self._serve(ws, rotated)
                rotated = ws is not None
        finally:
            if self._backfill is not None:
                await self._backfill.aclose()
            if self._ticker is not None:
                self._ticker.cancel()
            self._state = "stopped"
            self._connected = False
            self._connected_since = None
            for conn in list(self._active):
                await conn.close()
            self._active.clear()
            self._running = False
            if self._log.isEnabledFor(logging.INFO):
                self._log.info("feed stopped: %d received, %d accepted, %d rejected, %d connections",
                               self._received, self._accepted, sum(self._rejected.values()), self._connections)

    # --- connection life cycle ------------------------------------------------------------------

    async def _open(self) -> ClientConnection | None:
        """Open one connection; ``None`` if :meth:`stop` interrupted the attempt."""
        cfg = self._config
        self._attempts += 1

        async def handshake() -> ClientConnection:
            return await connect(
                self._url,
                open_timeout=cfg.open_timeout,
                ping_interval=cfg.ping_interval,
                ping_timeout=cfg.ping_timeout,
                close_timeout=cfg.open_timeout,
                compression=None,
                max_queue=_MAX_QUEUE,
            )

        assert self._loop is not None
        task = self._loop.create_task(handshake())
        self._opening.add(task)
        try:
            ws = await task
        except asyncio.CancelledError:
            if self._stop_requested and task.cancelled():
                return None
            raise
        finally:
            self._opening.discard(task)
        self._active.add(ws)
        if self._stop_requested:
            await ws.close()
            self._active.discard(ws)
            return None
        return ws

    async def _serve(self, ws: ClientConnection, rotated: bool) -> tuple[ClientConnection | None, float]:
        """Read ``ws`` until it ends; return the next connection (from a rotation) and the delay before a new one.

        ``rotated``: ``ws`` replaced a live connection make-before-break (nothing lost: no backfill probe).
        """
        loop = self._loop
        assert loop is not None
        clock = self._clock
        self._connections += 1
        self._connected = True
        self._state = "connected"
        opened_at = self._connected_since = clock()
        accepted_before = self._accepted
        if self._log.isEnabledFor(logging.INFO):
            self._log.info("connected to %s (connection %d)", self._url, self._connections)
        if self._backfill is not None and not rotated:
            self._backfill.on_connected()
        trigger = asyncio.Event()
        age = self._config.max_connection_age
        age_timer = loop.call_later(age, self._request_rotation, trigger, "max_connection_age") if age else None
        rotation = loop.create_task(self._rotate(ws, trigger))
        try:
            await self._consume(ws, trigger)
        except ConnectionClosed as exc:
            self._connection_closed(exc)
        except asyncio.CancelledError:  # run() itself was cancelled
            rotation.cancel()
            raise
        except Exception as exc:  # defensive: a bug here must not end the feed
            self._last_error = f"feed loop error: {type(exc).__name__}: {exc}"
            self._log.exception("feed loop error on %s; reconnecting", self._url)
            await ws.close()
        finally:
            if age_timer is not None:
                age_timer.cancel()
            self._active.discard(ws)
            self._connected = False
            self._connected_since = None
        if self._stop_requested:
            await _cancel(rotation)
            return None, 0.0
        if trigger.is_set():
            self._state = "reconnecting"
            try:
                new = await rotation
            except Exception as exc:  # pragma: no cover - defensive: _rotate handles its errors
                self._connect_failed(exc)
                return None, self._retry_delay()
            if new is not None:
                self._rotations += 1
                self._backoff.reset()
            return new, 0.0
        await _cancel(rotation)
        self._state = "reconnecting"
        if self._accepted > accepted_before or clock() - opened_at >= self._backoff.maximum:
            self._backoff.reset()
        return None, self._retry_delay()

    async def _consume(self, ws: ClientConnection, trigger: asyncio.Event) -> None:
        """The hot loop: receive, parse, filter ids, deliver. Ends by raising ConnectionClosed."""
        recv = ws.recv
        parse = parse_message
        symbols = self._symbols
        events = self._events
        observe = self._gaps.observe
        sink = self._sink
        clock = self._clock
        rejected = self._rejected
        trade_cls = Trade
        backfill = self._backfill
        holds = backfill.holds if backfill is not None else {}  # symbols held behind a backfill
        hold_trade = backfill.hold_trade if backfill is not None else None
        start_gap = backfill.start_gap if backfill is not None else None
        while True:
            raw = await recv(False)
            self._received += 1
            self._last_message_monotonic = clock()
            try:
                msg = parse(raw, symbols=symbols, events=events)
            except MessageRejected as exc:
                self._message_rejected(exc, raw)
                continue
            if msg.__class__ is trade_cls:
                if holds and msg[0] in holds:  # type: ignore[index]
                    hold_trade(msg)  # type: ignore[misc,arg-type]
                    continue
                verdict = observe(msg[0], msg[1], msg[5])  # type: ignore[index]
                if verdict is not None:
                    if verdict.__class__ is str:
                        rejected[verdict] += 1  # type: ignore[index]
                        continue
                    if start_gap is not None:
                        start_gap(verdict, msg)  # type: ignore[arg-type]
                        continue
                    self._gap_found(verdict)  # type: ignore[arg-type]
                try:
                    sink(msg)  # type: ignore[arg-type]
                except Exception as exc:
                    self._sink_failed(exc)
                    continue
                self._accepted += 1
                self._last_trade_time = msg[5]  # type: ignore[index]
            else:
                self._control(msg, trigger)  # type: ignore[arg-type]

    async def _rotate(self, old: ClientConnection, trigger: asyncio.Event) -> ClientConnection | None:
        """Wait for a rotation request, open a new connection, then close (and so drain) ``old``."""
        await trigger.wait()
        if self._log.isEnabledFor(logging.INFO):
            self._log.info("rotating the connection (%s)", self._rotation_reason)
        new: ClientConnection | None = None
        try:
            while not self._stop_requested:
                try:
                    new = await self._open()
                except Exception as exc:
                    self._connect_failed(exc)
                    await self._sleep(self._retry_delay())
                    continue
                if new is None:
                    return None
                await old.close()
                return new
            return None
        except asyncio.CancelledError:
            if new is not None:
                self._active.discard(new)
                await new.close()
            raise

    def _request_rotation(self, trigger: asyncio.Event, reason: str) -> None:
        if not trigger.is_set():
            self._rotation_reason = reason
            trigger.set()

    async def _sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less if :meth:`stop` is called."""
        assert self._stop_event is not None
        if delay <= 0.0 or self._stop_event.is_set():
            return
        try:
            await asyncio.wait_for(self._stop_event.wait(), delay)
        except TimeoutError:
            pass

    def _retry_delay(self) -> float:
        delay = self._backoff.next_delay()
        self._last_retry_delay = delay
        return delay

    def _on_stop(self) -> None:
        """In the loop thread: wake sleepers, abort handshakes, close connections."""
        assert self._stop_event is not None and self._loop is not None
        self._stop_event.set()
        for task in list(self._opening):
            task.cancel()
        for ws in list(self._active):
            closing = self._loop.create_task(ws.close())
            self._bg.add(closing)  # type: ignore[arg-type]
            closing.add_done_callback(self._bg.discard)  # type: ignore[arg-type]

    def _tick(self) -> None:
        """Once a second: message rate."""
        now = self._clock()
        then, count = self._rate_mark
        if now > then:
            self._rate = (self._received - count) / (now - then)
            self._rate_mark = (now, self._received)
        if self._loop is not None and self._running:
            self._ticker = self._loop.call_later(1.0, self._tick)

    # --- slow paths ----------------------------------------------------------------------------

    def _message_rejected(self, exc: MessageRejected, raw: str | bytes) -> None:
        self._rejected[exc.reason] += 1
        if self._log.isEnabledFor(_WARNING):
            head = raw[:200] if isinstance(raw, (str, bytes)) else raw
            self._warn_limited("reject:" + exc.reason, "rejected message (%s): %r", exc, head)

    def _gap_found(self, gap: Gap) -> None:
        """A gap with backfill off: report it unfilled at once."""
        self._report_gap(replace(gap, filled=False, reason="disabled"))

    def _report_gap(self, gap: Gap) -> None:
        """Count, keep, log and pass on one gap record (its outcome known)."""
        self._gap_count += 1
        if not gap.filled:
            self._missing += gap.missing
            if self._log.isEnabledFor(_WARNING):
                self._warn_limited("gap:" + gap.symbol, "%s: %d trade(s) missing (%s), ids %d..%d",
                                   gap.symbol, gap.missing, gap.reason, gap.from_id, gap.to_id)
        elif self._log.isEnabledFor(logging.INFO):
            self._warn_limited("filled:" + gap.symbol, "%s: backfilled %d trade(s), ids %d..%d",
                               gap.symbol, gap.missing, gap.from_id, gap.to_id, level=logging.INFO)
        self._recent_gaps.append(gap)
        if self._on_gap is not None:
            try:
                self._on_gap(gap)
            except Exception as exc:
                self._warn_limited("on_gap", "on_gap callback raised %r", exc)

    def _deliver_live(self, trade: Trade) -> None:
        """Deliver one live trade released from a backfill hold."""
        try:
            self._sink(trade)
        except Exception as exc:
            self._sink_failed(exc)
            return
        self._accepted += 1
        self._last_trade_time = trade[5]

    def _drop_live(self, reason: str, n: int) -> None:
        self._rejected[reason] += n

    def _sink_failed(self, exc: Exception) -> None:
        self._rejected["sink_error"] += 1
        self._last_error = f"sink raised {type(exc).__name__}: {exc}"
        if self._log.isEnabledFor(_WARNING):
            self._warn_limited("sink", "sink raised %r", exc)

    def _control(self, msg: ControlReply | ServerShutdown | Quote, trigger: asyncio.Event) -> None:
        if msg.__class__ is Quote:
            self._quotes[msg[0]] = msg  # type: ignore[assignment]
            return
        if msg.__class__ is ServerShutdown:
            self._server_shutdowns += 1
            self._request_rotation(trigger, "serverShutdown")
            return
        self._control_replies += 1
        if isinstance(msg, ControlReply) and msg.is_error:
            self._last_error = f"error reply code={msg.code} msg={msg.msg!r}"
            self._warn_limited("error_reply", "server error reply: code=%s msg=%r", msg.code, msg.msg)

    def _connect_failed(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._last_error = f"connect to {self._url} failed: {text}"
        self._warn_limited("connect", "%s", self._last_error)

    def _connection_closed(self, exc: ConnectionClosed) -> None:
        code = exc.rcvd.code if exc.rcvd is not None else None
        if isinstance(exc, ConnectionClosedError):
            self._last_error = f"connection lost: {exc}"
            self._warn_limited("closed", "connection to %s lost: %s", self._url, exc)
        elif not self._stop_requested and self._log.isEnabledFor(logging.INFO):
            self._log.info("connection to %s closed (code %s)", self._url, code)

    def _warn_limited(self, key: str, fmt: str, *args: object, level: int = _WARNING) -> None:
        """Log (a warning by default) at most once per :data:`LOG_INTERVAL` seconds per ``key``."""
        if not self._log.isEnabledFor(level):
            return
        now = self._clock()
        due = self._log_due.get(key)
        if due is not None and now < due:
            self._log_suppressed[key] = self._log_suppressed.get(key, 0) + 1
            return
        suppressed = self._log_suppressed.pop(key, 0)
        self._log_due[key] = now + LOG_INTERVAL
        if suppressed:
            fmt += " (%d similar suppressed)"
            args = (*args, suppressed)
        self._log.log(level, fmt, *args)


async def _cancel(task: asyncio.Task[ClientConnection | None]) -> None:
    """Cancel ``task`` and wait for it; a connection it produced meanwhile is closed."""
    if task.done():
        if not task.cancelled() and task.exception() is None:
            conn = task.result()
            if conn is not None:
                await conn.close()
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
