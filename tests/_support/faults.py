"""Ready-made fault injection for the local exchange: connection policies and a bursty clock.

A :class:`FaultPlan` is a ``policy_factory`` for :class:`~quantkit.exchange.LocalExchange`: every
request (WebSocket handshake or REST call) gets a fresh per-connection policy built from the plan's
faults, so each connection draws its own fault times. The plan counts what it injected
(:attr:`FaultPlan.injected`) and can be switched off at run time (:attr:`FaultPlan.enabled`)::

    plan = FaultPlan([Disconnects(mean_interval=2.0), RestErrors(rate_limit=0.2)], seed=1)
    with LocalExchange(SyntheticMarket(seed=1, speed=20), policy_factory=plan) as ex:
        ...
    plan.enabled = False          # let the client catch up, then compare
    print(plan.injected)          # {"disconnect": 7, "rest_429": 3, ...}

Faults (counter names in brackets) and what the client sees:

* :class:`Disconnects` (``disconnect``): the TCP connection aborted, no close frame.
* :class:`Stalls` (``stall``): silence, no data, no pings, no pongs; dropped after ``duration``.
* :class:`MalformedFrames` (``malformed``): invalid frames inserted, or real trade frames mangled
  (those trades then only come back through the REST backfill).
* :class:`DuplicateFrames` (``duplicate``): trade frames sent again, at once or up to ``max_delay`` frames later.
* :class:`ReorderFrames` (``out_of_order``): a trade frame held back, sent after up to ``distance`` later ones.
* :class:`ServerShutdowns` (``server_shutdown``): Binance's ``serverShutdown`` event, then a 1001 close.
* :class:`RefusedConnections` (``refused``, ``refusal_window``): in a window the live connection is
  dropped and handshakes are answered 503 for ``duration`` seconds.
* :class:`RestErrors` (``rest_429``, ``rest_5xx``): REST answered 429 + ``Retry-After``, or 500/502/503.
* :class:`BurstClock` (``burst``, not a policy): the market trades ``factor`` times faster for a while.

Fault times are random with exponential gaps (``mean_interval`` seconds of wall time per
connection), from the plan's seeded :class:`random.Random`. Every hook runs in the exchange's
event-loop thread, so the policies need no locks; :attr:`FaultPlan.injected` is read from any thread.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable, Sequence

import orjson

from quantkit.exchange.policy import ConnectionControl, ConnectionPolicy
from quantkit.exchange.rest import RestReply

__all__ = [
    "BurstClock",
    "Disconnects",
    "DuplicateFrames",
    "Fault",
    "FaultPlan",
    "MalformedFrames",
    "RefusedConnections",
    "ReorderFrames",
    "RestErrors",
    "ServerShutdowns",
    "Stalls",
    "is_rest_path",
    "plan_from_spec",
]

Clock = Callable[[], float]


def is_rest_path(path: str) -> bool:
    """Whether a request target is a REST call (``/api/...``, ``/fapi/...``) rather than a stream."""
    return path.startswith(("/api/", "/fapi/"))


def _check_positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}={value!r}: expected a finite number > 0")
    return float(value)


def _check_cap(mean: float, cap: float | None) -> None:
    if cap is not None:
        _check_positive("max_interval", cap)
        if cap < mean:
            raise ValueError(f"max_interval={cap!r}: must be >= mean_interval ({mean!r})")


def _delay(rng: random.Random, mean: float, cap: float | None) -> float:
    """An exponential delay of mean ``mean`` seconds, at most ``cap``."""
    d = rng.expovariate(1.0 / mean)
    return d if cap is None else min(d, cap)


def _check_probability(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name}={value!r}: expected a probability within [0, 1]")
    return float(value)


class Fault:
    """A kind of fault: makes the per-connection part of a :class:`FaultPlan`'s policy.

    Subclasses override :meth:`connection` (WebSocket streams) and/or :meth:`rest` (REST calls).
    """

    def connection(self, plan: "FaultPlan") -> ConnectionPolicy | None:
        """The policy part for one new WebSocket connection; ``None``: this fault leaves it alone."""
        return None

    def rest(self, plan: "FaultPlan") -> ConnectionPolicy | None:
        """The policy part for one REST request; ``None``: this fault leaves it alone."""
        return None


class _Timed(ConnectionPolicy):
    """Acts once on its connection after an exponential delay (checked on each outgoing batch)."""

    def __init__(self, plan: "FaultPlan", mean_interval: float, max_interval: float | None) -> None:
        self.plan = plan
        self.due = plan.clock() + _delay(plan.rng, mean_interval, max_interval)
        self.control: ConnectionControl | None = None

    def on_connect(self, control: ConnectionControl) -> None:
        self.control = control

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        control = self.control
        if control is not None and control.open and self.plan.clock() >= self.due:
            self.act(control)
        return frames

    def act(self, control: ConnectionControl) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class _Drop(_Timed):
    def act(self, control: ConnectionControl) -> None:
        self.plan.count("disconnect")
        control.drop()


class _Shutdown(_Timed):
    def act(self, control: ConnectionControl) -> None:
        self.plan.count("server_shutdown")
        control.server_shutdown()


@dataclass(frozen=True)
class _OnceAfter(Fault):
    """A fault acting once on each connection after a random time (its policy class says how)."""

    mean_interval: float = 3.0
    max_interval: float | None = None
    _policy: ClassVar[type[_Timed]] = _Timed

    def __post_init__(self) -> None:
        _check_positive("mean_interval", self.mean_interval)
        _check_cap(self.mean_interval, self.max_interval)

    def connection(self, plan: "FaultPlan") -> ConnectionPolicy:
        return self._policy(plan, self.mean_interval, self.max_interval)


@dataclass(frozen=True)
class Disconnects(_OnceAfter):
    """Drop each WebSocket connection (TCP abort, no close frame) after a random lifetime.

    Attributes:
        mean_interval: mean connection lifetime, seconds (exponential).
        max_interval: longest lifetime, seconds (``None``: unbounded), so a short run sees the fault.
    """

    _policy: ClassVar[type[_Timed]] = _Drop


@dataclass(frozen=True)
class Stalls(Fault):
    """Make each connection go silent after a random time: no data, no pings, no pongs.

    The client only notices through its own keep-alive (its ping gets no pong). After
    ``duration`` seconds the exchange drops the dead connection.

    Attributes:
        mean_interval: mean time before the stall, seconds (exponential).
        duration: seconds of silence before the TCP connection is dropped.
        max_interval: longest time before the stall, seconds (``None``: unbounded).
    """

    mean_interval: float = 4.0
    duration: float = 5.0
    max_interval: float | None = None

    def __post_init__(self) -> None:
        _check_positive("mean_interval", self.mean_interval)
        _check_positive("duration", self.duration)
        _check_cap(self.mean_interval, self.max_interval)

    def connection(self, plan: "FaultPlan") -> ConnectionPolicy:
        return _Stall(plan, self.mean_interval, self.max_interval, self.duration)


class _Stall(_Timed):
    def __init__(self, plan: "FaultPlan", mean_interval: float, max_interval: float | None, duration: float) -> None:
        super().__init__(plan, mean_interval, max_interval)
        self.duration = duration

    def act(self, control: ConnectionControl) -> None:
        self.plan.count("stall")
        control.stall(self.duration)


@dataclass(frozen=True)
class ServerShutdowns(_OnceAfter):
    """Send ``serverShutdown`` on each connection after a random time, then close it (1001).

    Attributes:
        mean_interval: mean time before the event, seconds (exponential).
        max_interval: longest time before the event, seconds (``None``: unbounded).
    """

    _policy: ClassVar[type[_Timed]] = _Shutdown


#: Invalid frames (valid UTF-8, so the WebSocket itself stays healthy) that a parser must reject.
_JUNK: tuple[bytes, ...] = (
    b"{not json",
    b"",
    b"null",
    b"[1,2,3]",
    b'"just a string"',
    b'{"stream":"btcusdt@trade"}',
    b'{"stream":"btcusdt@trade","data":[]}',
    b'{"stream":42,"data":{"e":"trade"}}',
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"q":"1","T":1,"m":true}}',
    b'{"e":"trade","E":"soon","s":"BTCUSDT","t":"x","p":"1","q":"1","T":1,"m":true}',
    b'{"stream":"zzzusdt@trade","data":{"e":"trade","E":1,"s":"ZZZUSDT","t":5,"p":"1","q":"1","T":1,"m":true}}',
    b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT"}}',
    b"\xef\xbb\xbf{}",
    b'{"a":' * 50,
    "{\"stream\":\"\u00e9\u00e9@trade\",\"data\":{}}".encode(),
)

#: How a real trade frame is mangled (the trade is then lost from the stream, not from the exchange).
_MANGLERS: tuple[Callable[[bytes], bytes], ...] = (
    lambda f: f[: max(1, len(f) // 2)],                       # truncated
    lambda f: f.replace(b'"p":"', b'"p":"-', 1),              # negative price
    lambda f: f.replace(b'"p":"', b'"p":"NaN', 1),            # not a number
    lambda f: f.replace(b'"q":"', b'"q":"0', 1).replace(b'"q":"0', b'"q":"-0', 1),  # negative qty
    lambda f: f.replace(b'"t":', b'"t":"', 1),                # id turned into a broken string
    lambda f: f.replace(b'"e":"trade"', b'"e":"trad"', 1),    # unknown event type
    lambda f: f.replace(b'"T":', b'"T":-', 1),                # negative time
    lambda f: f + b"garbage",                                 # trailing junk
)


@dataclass(frozen=True)
class MalformedFrames(Fault):
    """Insert invalid frames and mangle real ones.

    Attributes:
        probability: chance per outgoing trade frame that a fault happens there.
        mangle_share: of those, the share that mangles the real frame (its trade then reaches the
            client only through the REST backfill); the rest insert an invalid frame before it.
    """

    probability: float = 0.01
    mangle_share: float = 0.5

    def __post_init__(self) -> None:
        _check_probability("probability", self.probability)
        _check_probability("mangle_share", self.mangle_share)

    def connection(self, plan: "FaultPlan") -> ConnectionPolicy:
        return _Malformed(plan, self.probability, self.mangle_share)


class _Malformed(ConnectionPolicy):
    def __init__(self, plan: "FaultPlan", p: float, mangle: float) -> None:
        self.plan, self.p, self.mangle = plan, p, mangle

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        rng = self.plan.rng
        out: list[bytes] = []
        n = 0
        for f in frames:
            if rng.random() >= self.p:
                out.append(f)
                continue
            n += 1
            if rng.random() < self.mangle:
                out.append(rng.choice(_MANGLERS)(f))
            else:
                out.append(rng.choice(_JUNK))
                out.append(f)
        if n:
            self.plan.count("malformed", n)
        return out


@dataclass(frozen=True)
class DuplicateFrames(Fault):
    """Send trade frames twice: right after, or after up to ``max_delay`` later frames.

    Attributes:
        probability: chance per outgoing frame that it is duplicated.
        max_delay: the copy goes out after 0..max_delay later frames (kept across batches).
    """

    probability: float = 0.01
    max_delay: int = 50

    def __post_init__(self) -> None:
        _check_probability("probability", self.probability)
        if not isinstance(self.max_delay, int) or self.max_delay < 0:
            raise ValueError(f"max_delay={self.max_delay!r}: expected an integer >= 0")

    def connection(self, plan: "FaultPlan") -> ConnectionPolicy:
        return _Duplicate(plan, self.probability, self.max_delay)


class _Duplicate(ConnectionPolicy):
    def __init__(self, plan: "FaultPlan", p: float, max_delay: int) -> None:
        self.plan, self.p, self.max_delay = plan, p, max_delay
        self.later: list[tuple[int, bytes]] = []  # (frames still to pass, copy)

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        rng = self.plan.rng
        out: list[bytes] = []
        n = 0
        for f in frames:
            out.append(f)
            if self.later:
                due = [c for k, c in self.later if k <= 0]
                self.later = [(k - 1, c) for k, c in self.later if k > 0]
                out.extend(due)
            if rng.random() < self.p:
                n += 1
                delay = rng.randint(0, self.max_delay)
                if delay == 0:
                    out.append(f)
                else:
                    self.later.append((delay, f))
        if n:
            self.plan.count("duplicate", n)
        return out


@dataclass(frozen=True)
class ReorderFrames(Fault):
    """Hold a trade frame back and send it after up to ``distance`` later frames (late arrivals).

    Attributes:
        probability: chance per outgoing frame that it is held back.
        distance: the held frame goes out after 1..distance later frames (kept across batches).
    """

    probability: float = 0.01
    distance: int = 5

    def __post_init__(self) -> None:
        _check_probability("probability", self.probability)
        if not isinstance(self.distance, int) or self.distance < 1:
            raise ValueError(f"distance={self.distance!r}: expected an integer >= 1")

    def connection(self, plan: "FaultPlan") -> ConnectionPolicy:
        return _Reorder(plan, self.probability, self.distance)


class _Reorder(ConnectionPolicy):
    def __init__(self, plan: "FaultPlan", p: float, distance: int) -> None:
        self.plan, self.p, self.distance = plan, p, distance
        self.held: list[tuple[int, bytes]] = []

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        rng = self.plan.rng
        out: list[bytes] = []
        n = 0
        for f in frames:
            if rng.random() < self.p:
                n += 1
                self.held.append((rng.randint(1, self.distance), f))
                continue
            out.append(f)
            if self.held:
                due = [c for k, c in self.held if k <= 1]
                self.held = [(k - 1, c) for k, c in self.held if k > 1]
                out.extend(due)
        if n:
            self.plan.count("out_of_order", n)
        return out


@dataclass(frozen=True)
class RefusedConnections(Fault):
    """Refusal windows: the live connection is dropped and new handshakes get ``status`` for a while.

    Windows start after exponential gaps (``mean_interval`` seconds from the end of the previous
    one) and last ``duration`` seconds; they are shared by every connection of the plan.

    Attributes:
        mean_interval: mean gap between windows, seconds.
        duration: window length, seconds.
        status: HTTP status of a refused handshake (503: busy; 429 or 418 also make sense).
        max_interval: longest gap between windows, seconds (``None``: unbounded).
    """

    mean_interval: float = 4.0
    duration: float = 2.0
    status: int = 503
    max_interval: float | None = None

    def __post_init__(self) -> None:
        _check_positive("mean_interval", self.mean_interval)
        _check_positive("duration", self.duration)
        _check_cap(self.mean_interval, self.max_interval)
        if not 400 <= self.status <= 599:
            raise ValueError(f"status={self.status!r}: expected an HTTP error status 400..599")

    def connection(self, plan: "FaultPlan") -> ConnectionPolicy:
        windows = plan.shared(self, lambda: _Windows(plan, self.mean_interval, self.max_interval, self.duration))
        return _Refuse(plan, self, windows)  # type: ignore[arg-type]


class _Windows:
    """Refusal windows shared by all connections of a plan."""

    def __init__(self, plan: "FaultPlan", mean_interval: float, max_interval: float | None, duration: float) -> None:
        self.plan, self.mean, self.cap, self.duration = plan, mean_interval, max_interval, duration
        self.start = plan.clock() + _delay(plan.rng, mean_interval, max_interval)
        self.index = 0  # windows entered so far
        self._entered = -math.inf

    def current(self) -> int | None:
        """The number (1-based) of the window in force now, advancing the schedule; ``None`` outside one."""
        now = self.plan.clock()
        while now >= self.start + self.duration:  # that window is over: schedule the next one
            self.start += self.duration + _delay(self.plan.rng, self.mean, self.cap)
        if now < self.start:
            return None
        if self._entered != self.start:
            self._entered = self.start
            self.index += 1
            self.plan.count("refusal_window")
        return self.index


class _Refuse(ConnectionPolicy):
    def __init__(self, plan: "FaultPlan", fault: RefusedConnections, windows: _Windows) -> None:
        self.plan, self.fault, self.windows = plan, fault, windows
        self.control: ConnectionControl | None = None
        self.opened_in = windows.index

    def on_open(self, path: str) -> tuple[int, str] | None:
        if self.windows.current() is not None:
            self.plan.count("refused")
            return self.fault.status, "Service Unavailable (fault injection)\n"
        self.opened_in = self.windows.index
        return None

    def on_connect(self, control: ConnectionControl) -> None:
        self.control = control

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        control = self.control
        if control is not None and control.open:
            w = self.windows.current()
            if w is not None and w > self.opened_in:
                control.drop()
                return []
        return frames


@dataclass(frozen=True)
class RestErrors(Fault):
    """Answer REST requests with 429 + ``Retry-After`` or a 5xx instead of the data.

    Attributes:
        rate_limit: chance per REST request of ``429`` with ``Retry-After: retry_after``.
        server_error: chance per REST request of a 500, 502 or 503.
        retry_after: seconds in the ``Retry-After`` header of a 429.
    """

    rate_limit: float = 0.2
    server_error: float = 0.2
    retry_after: int = 1

    def __post_init__(self) -> None:
        _check_probability("rate_limit", self.rate_limit)
        _check_probability("server_error", self.server_error)
        if self.rate_limit + self.server_error > 1.0:
            raise ValueError(f"rate_limit + server_error = {self.rate_limit + self.server_error!r}: must be <= 1")
        if not isinstance(self.retry_after, int) or self.retry_after < 0:
            raise ValueError(f"retry_after={self.retry_after!r}: expected whole seconds >= 0")

    def rest(self, plan: "FaultPlan") -> ConnectionPolicy:
        return _Rest(plan, self)


class _Rest(ConnectionPolicy):
    def __init__(self, plan: "FaultPlan", fault: RestErrors) -> None:
        self.plan, self.fault = plan, fault

    def on_rest(self, path: str) -> RestReply | None:
        if "/exchangeInfo" in path or path.endswith(("/ping", "/time")):
            return None
        x = self.plan.rng.random()
        f = self.fault
        if x < f.rate_limit:
            self.plan.count("rest_429")
            body = orjson.dumps({"code": -1003, "msg": "Too many requests (fault injection)."})
            return RestReply(429, body, 1, (("Retry-After", str(f.retry_after)),))
        if x < f.rate_limit + f.server_error:
            self.plan.count("rest_5xx")
            status = self.plan.rng.choice((500, 502, 503))
            return RestReply(status, orjson.dumps({"code": -1000, "msg": "Internal error (fault injection)."}), 1)
        return None


class _Chain(ConnectionPolicy):
    """The plan's per-connection policy: its parts in order, all bypassed while the plan is disabled."""

    def __init__(self, plan: "FaultPlan", parts: Sequence[ConnectionPolicy]) -> None:
        self.plan = plan
        self.parts = tuple(parts)

    def on_open(self, path: str) -> tuple[int, str] | None:
        if not self.plan.enabled:
            return None
        for p in self.parts:
            r = p.on_open(path)
            if r is not None:
                return r
        return None

    def on_rest(self, path: str) -> RestReply | None:
        if not self.plan.enabled:
            return None
        for p in self.parts:
            r = p.on_rest(path)
            if r is not None:
                return r
        return None

    def on_connect(self, control: ConnectionControl) -> None:
        self.plan.count("connections")
        for p in self.parts:
            p.on_connect(control)

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        if not self.plan.enabled:
            return frames
        for p in self.parts:
            frames = p.outgoing(frames)
            if not frames:
                break
        return frames


class FaultPlan:
    """A ``policy_factory`` injecting ``faults`` into every connection of a :class:`~quantkit.exchange.LocalExchange`.

    Args:
        faults: the faults to inject (each makes its own part of every connection's policy).
        seed: seed of the random fault times and choices.
        clock: monotonic seconds (inject a fake in tests).

    Attributes:
        enabled: switch; while False every connection behaves like Binance (counted parts stay).

    Raises:
        ValueError: ``faults`` holds something that is not a :class:`Fault`.
    """

    def __init__(self, faults: Iterable[Fault] = (), *, seed: int = 0, clock: Clock = time.monotonic) -> None:
        self.faults = tuple(faults)
        for f in self.faults:
            if not isinstance(f, Fault):
                raise ValueError(f"faults: {f!r} is not a Fault of the test harness (_support.faults)")
        self.rng = random.Random(seed)
        self.clock = clock
        self.enabled = True
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._shared: dict[int, object] = {}

    def __call__(self, path: str) -> ConnectionPolicy:
        """Make the policy of one request (the ``policy_factory`` protocol)."""
        if is_rest_path(path):
            parts = [p for p in (f.rest(self) for f in self.faults) if p is not None]
        else:
            parts = [p for p in (f.connection(self) for f in self.faults) if p is not None]
        return _Chain(self, parts)

    def shared(self, owner: object, make: Callable[[], object]) -> object:
        """State shared by all connections for ``owner`` (a fault), made on first use."""
        key = id(owner)
        obj = self._shared.get(key)
        if obj is None:
            obj = self._shared[key] = make()
        return obj

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name`` (thread-safe)."""
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    @property
    def injected(self) -> dict[str, int]:
        """A snapshot of the counters: faults injected by kind, plus ``connections`` seen."""
        with self._lock:
            return dict(self._counts)

    def __repr__(self) -> str:
        return f"FaultPlan({list(self.faults)!r}, enabled={self.enabled})"


class BurstClock:
    """A pacing clock that runs ``factor`` times faster during bursts: the market trades that much faster.

    Give its :meth:`clock` and :meth:`sleep` to a paced source
    (``SyntheticMarket(speed=20, clock=bc.clock, sleep=bc.sleep)``): outside bursts it is the wall
    clock; during a burst exchange time, and so the trade rate, runs ``factor`` times faster.
    Bursts start after exponential gaps of mean ``mean_interval`` seconds (none if ``None``) and
    last ``duration`` wall seconds; :meth:`burst` starts one now.

    Args:
        factor: speed-up during a burst (20 = twenty times the normal trade rate).
        mean_interval: mean wall seconds between bursts; ``None``: only :meth:`burst` starts them.
        duration: wall seconds per burst.
        max_interval: longest wall time between bursts, seconds (``None``: unbounded).
        seed: seed of the burst times.
        plan: counts each burst under ``"burst"`` in this plan's counters (optional).
        wall: the underlying monotonic clock.

    Raises:
        ValueError: a non-positive factor or duration.
    """

    def __init__(
        self,
        factor: float = 20.0,
        *,
        mean_interval: float | None = 5.0,
        duration: float = 1.0,
        max_interval: float | None = None,
        seed: int = 0,
        plan: FaultPlan | None = None,
        wall: Clock = time.monotonic,
    ) -> None:
        self.factor = _check_positive("factor", factor)
        self.duration = _check_positive("duration", duration)
        self.mean_interval = None if mean_interval is None else _check_positive("mean_interval", mean_interval)
        if self.mean_interval is not None:
            _check_cap(self.mean_interval, max_interval)
        self.max_interval = max_interval
        self._rng = random.Random(seed)
        self._plan = plan
        self._wall = wall
        self._lock = threading.Lock()
        self.enabled = True
        self.bursts = 0
        t0 = wall()
        self._last_wall = t0
        self._virtual = t0
        self._burst_end = -math.inf
        self._next = t0 + _delay(self._rng, self.mean_interval, max_interval) if self.mean_interval else math.inf

    def burst(self, duration: float | None = None) -> None:
        """Start a burst now (thread-safe)."""
        with self._lock:
            self._advance()
            self._start(self._last_wall, duration if duration is not None else self.duration)

    def _start(self, now: float, duration: float) -> None:
        self._burst_end = now + duration
        self.bursts += 1
        if self._plan is not None:
            self._plan.count("burst")

    def _advance(self) -> None:
        """Integrate the virtual clock up to the wall clock, starting the scheduled bursts on the way."""
        now = self._wall()
        t = self._last_wall
        while t < now:
            if t < self._burst_end:
                end = min(now, self._burst_end)
                self._virtual += (end - t) * self.factor
            elif self.enabled and self._next <= t:
                self._start(t, self.duration)
                assert self.mean_interval is not None
                self._next = self._burst_end + _delay(self._rng, self.mean_interval, self.max_interval)
                continue
            else:
                end = min(now, self._next) if self.enabled else now
                self._virtual += end - t
            t = end
        self._last_wall = max(now, self._last_wall)

    def clock(self) -> float:
        """Virtual monotonic seconds (the pacing clock)."""
        with self._lock:
            self._advance()
            return self._virtual

    def in_burst(self) -> bool:
        """Whether a burst is running now."""
        with self._lock:
            self._advance()
            return self._wall() < self._burst_end

    async def sleep(self, seconds: float) -> None:
        """Sleep until the virtual clock has advanced ``seconds`` (shorter in wall time during a burst)."""
        target = self.clock() + seconds
        while True:
            left = target - self.clock()
            if left <= 0:
                return
            rate = self.factor if self.in_burst() else 1.0
            await asyncio.sleep(min(left / rate, 0.05))



#: ``plan_from_spec`` names -> (fault maker from the value, default value).
_SPEC: dict[str, tuple[Callable[[float], Fault], float]] = {
    "disconnect": (lambda v: Disconnects(mean_interval=v), 3.0),
    "stall": (lambda v: Stalls(mean_interval=v), 4.0),
    "malformed": (lambda v: MalformedFrames(probability=v), 0.01),
    "duplicate": (lambda v: DuplicateFrames(probability=v), 0.01),
    "reorder": (lambda v: ReorderFrames(probability=v), 0.01),
    "shutdown": (lambda v: ServerShutdowns(mean_interval=v), 3.0),
    "refuse": (lambda v: RefusedConnections(mean_interval=v), 4.0),
    "rest429": (lambda v: RestErrors(rate_limit=v, server_error=0.0), 0.2),
    "rest5xx": (lambda v: RestErrors(rate_limit=0.0, server_error=v), 0.2),
}


def plan_from_spec(spec: str, *, seed: int = 0) -> FaultPlan:
    """A :class:`FaultPlan` from a short text, e.g. for a CLI flag: ``"disconnect=2,malformed=0.01,rest429"``.

    Items are ``name`` or ``name=value``: ``disconnect``, ``stall``, ``shutdown``, ``refuse`` take a
    mean interval in seconds; ``malformed``, ``duplicate``, ``reorder``, ``rest429``, ``rest5xx`` a
    probability. Without a value the defaults apply (3 s, 4 s, 0.01, 0.2...).

    Raises:
        ValueError: an unknown name or a bad value (named in the message).

    Examples:
        >>> plan_from_spec("disconnect=2,rest5xx=0.1").faults  # doctest: +ELLIPSIS
        (Disconnects(mean_interval=2.0, max_interval=None), RestErrors(rate_limit=0.0, server_error=0.1, ...))
    """
    faults: list[Fault] = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        name, _, raw = item.partition("=")
        name = name.strip().lower()
        if name not in _SPEC:
            raise ValueError(f"fault {name!r} in {spec!r}: choose from {', '.join(sorted(_SPEC))}")
        make, default = _SPEC[name]
        try:
            value = float(raw) if raw.strip() else default
        except ValueError:
            raise ValueError(f"fault {item!r}: {raw!r} is not a number") from None
        faults.append(make(value))
    return FaultPlan(faults, seed=seed)
