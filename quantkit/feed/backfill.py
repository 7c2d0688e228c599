"""REST backfill of missing trades, keeping per-symbol delivery order (used by :class:`~quantkit.feed.FeedClient`).

When the live stream skips ids, or after a reconnection, the missing trades are
fetched from the exchange's REST API (``historicalTrades`` for ``@trade``,
``aggTrades`` for ``@aggTrade``, ``fromId`` paging, 1000 rows a page; see
:mod:`quantkit.feed.rest`), so the sink receives what the exchange published.

**Holds.** While a symbol has ids being backfilled, its live trades are *held*
(buffered, at most ``max_held`` per symbol) instead of delivered. The backfill
delivers the recovered trades in id order, then releases the held ones; so the
sink still sees strictly increasing ids per symbol. Other symbols are not held.
If the held buffer overflows, the backfill of that symbol is given up (the rest
is reported unfilled with reason ``"overflow"``) and the held trades are released.

**Probes.** After a connection loss (and on the first connection when the client
was seeded with ``last_ids``), each symbol with a known last id is backfilled
from ``last + 1`` up to the first live trade (or until the REST pages run out),
so trades made while disconnected are recovered even for a symbol that does not
trade again soon. Rotations (make-before-break) lose nothing and are not probed.

**Outcomes.** Each gap is reported to ``on_gap`` once its backfill ends, as
:class:`~quantkit.feed.gaps.Gap` records: ``filled=True`` for ids recovered,
``filled=False`` with a ``reason`` (:data:`~quantkit.feed.gaps.GAP_REASONS`) for
ids that could not be: ``"not_served"`` when REST does not hold them (the page
starts after ``fromId``, or is empty although later ids exist: the ids are older
than the exchange keeps), ``"rest_error"``, ``"rate_limited"`` or ``"overflow"``.
A probe that finds nothing missing reports nothing.

**Rate limits.** REST requests go out one at a time per client. A
:class:`~quantkit.feed.rest.WeightBudget` tracks ``X-MBX-USED-WEIGHT-1M`` and
waits for the next minute before going over ``weight_share`` of the limit; a
``429`` or ``418`` holds every request for ``Retry-After`` seconds (418 without
it: 120 s); 5xx answers, timeouts, connection errors and unreadable bodies are
retried with capped exponential backoff (full jitter). A wait longer than
``max_wait`` gives the gap up as ``"rate_limited"`` rather than holding live
trades for minutes. Other 4xx answers (bad symbol, missing API key) are not retried.

**Stop.** :meth:`Backfiller.aclose` cancels the backfills and drops the held
trades (counted as ``"held_at_stop"``): their ids are above the last delivered
one, so a client restarted with ``last_ids`` from the store fetches them again.

Everything runs in the feed's event loop; the HTTP requests are non-blocking and reuse
one kept-alive connection per client, through a proxy if the environment names one
(:mod:`quantkit.feed._http`, over ``httpx``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from quantkit.config import FeedConfig
from quantkit.errors import ConfigError
from quantkit.feed._http import HttpClient, HttpError
from quantkit.feed.backoff import Backoff, RandomSource
from quantkit.feed.gaps import Gap, GapDetector
from quantkit.feed.rest import (
    BAN_DEFAULT_S,
    MAX_PAGE,
    REST_WEIGHTS,
    WEIGHT_LIMITS,
    RestError,
    WeightBudget,
    backfill_target,
    parse_page,
    parse_retry_after,
)
from quantkit.schema import Trade

__all__ = ["BackfillOptions", "BackfillStats", "Backfiller"]

_RELEASE_CHUNK = 5000  # held trades released between two yields to the event loop


@dataclass(frozen=True)
class BackfillOptions:
    """How the REST backfill behaves (all optional; the defaults suit Binance).

    Attributes:
        limit: rows per REST page, 1..1000. Default 1000.
        max_held: live trades held per symbol while its gap is backfilled; more
            gives the backfill up (``"overflow"``). Default 100,000 (~15 MB).
        probe_on_connect: after a connection loss (and on the first connection of a
            client seeded with ``last_ids``) backfill every symbol from its last id.
            Default True.
        weight_limit: the IP's REST weight limit per minute; ``None``: Binance's
            (6000 spot, 2400 USD-M).
        weight_share: fraction of ``weight_limit`` the backfill may use per minute,
            (0, 1]. Default 0.5.
        retries: retries of one page after 5xx, timeouts, connection errors, bad
            bodies or 429/418, before the gap is given up. Default 5.
        retry_initial: cap of the first retry delay, seconds. Default 0.5.
        retry_max: cap of every retry delay, seconds. Default 10.
        max_wait: longest single wait (``Retry-After``, ban, weight budget) the
            backfill accepts while live trades are held; longer gives up the gap
            (``"rate_limited"``). Seconds, default 60.
        not_served_retries: times a page that is empty although later ids exist is
            asked again (REST may lag the stream) before the ids count as not served.
            Default 2.
        not_served_delay: seconds before such a re-ask, times the attempt number. Default 0.25.
        request_timeout: seconds for one HTTP request. Default 10.
        api_key: sent as ``X-MBX-APIKEY`` (USD-M ``historicalTrades`` needs one);
            ``None`` sends none. Never logged.

    Raises:
        ConfigError: a value is out of range (named in the message).
    """

    limit: int = MAX_PAGE
    max_held: int = 100_000
    probe_on_connect: bool = True
    weight_limit: int | None = None
    weight_share: float = 0.5
    retries: int = 5
    retry_initial: float = 0.5
    retry_max: float = 10.0
    max_wait: float = 60.0
    not_served_retries: int = 2
    not_served_delay: float = 0.25
    request_timeout: float = 10.0
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise ConfigError("limit", self.limit, f"must be within 1..{MAX_PAGE}")
        if self.max_held < 1:
            raise ConfigError("max_held", self.max_held, "must be >= 1")
        if self.weight_limit is not None and self.weight_limit < 1:
            raise ConfigError("weight_limit", self.weight_limit, "must be >= 1 or None")
        if not 0.0 < self.weight_share <= 1.0:
            raise ConfigError("weight_share", self.weight_share, "must be within (0, 1]")
        if self.retries < 0 or self.not_served_retries < 0:
            raise ConfigError("retries", (self.retries, self.not_served_retries), "must be >= 0")
        for name in ("retry_initial", "retry_max", "max_wait", "request_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(name, getattr(self, name), "must be > 0 seconds")
        if self.retry_max < self.retry_initial:
            raise ConfigError("retry_max", self.retry_max, f"must be >= retry_initial ({self.retry_initial})")
        if not self.not_served_delay >= 0:
            raise ConfigError("not_served_delay", self.not_served_delay, "must be >= 0 seconds")
        if self.api_key is not None and any(c in self.api_key for c in "\r\n"):
            raise ConfigError("api_key", "<redacted>", "must not contain CR/LF")


@dataclass(frozen=True)
class BackfillStats:
    """A snapshot of the backfill counters.

    Attributes:
        requests: REST requests sent.
        trades: backfilled trades delivered to the sink.
        gaps_filled: filled :class:`~quantkit.feed.gaps.Gap` records reported.
        gaps_unfilled: unfilled records reported (any reason).
        missing_unfilled: ids in unfilled records (trades lost for good, as far as the feed knows).
        errors: failed requests by kind: the HTTP status (``"429"``, ``"418"``,
            ``"500"``, ``"400"``, ...), ``"timeout"``, ``"connection"``,
            ``"bad_response"`` (not HTTP) or ``"bad_body"`` (200 with an unusable body).
        retries: requests retried after a failure.
        rate_limit_waits: waits for the weight budget or a 429/418 hold.
        rate_limit_wait_s: seconds of those waits (as scheduled).
        weight_used: the last ``X-MBX-USED-WEIGHT-1M`` seen, or ``None``.
        held: live trades held now (all symbols).
        held_max: the most live trades held at once for one symbol.
        active: symbols being backfilled now.
        sink_errors: backfilled trades whose sink call raised (not delivered).
        last_error: the last REST problem, or ``None``.
    """

    requests: int = 0
    trades: int = 0
    gaps_filled: int = 0
    gaps_unfilled: int = 0
    missing_unfilled: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    weight_used: int | None = None
    held: int = 0
    held_max: int = 0
    active: tuple[str, ...] = ()
    sink_errors: int = 0
    last_error: str | None = None


class _GiveUp(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


class _Stopped(Exception):
    pass


class _Segment:
    """A run of ids of one range with one outcome (reported as one Gap)."""

    __slots__ = ("lo", "hi", "filled", "reason", "first_time", "next_time")

    def __init__(self, lo: int, hi: int, filled: bool, reason: str | None, first_time: int | None,
                 next_time: int | None) -> None:
        self.lo = lo
        self.hi = hi
        self.filled = filled
        self.reason = reason
        self.first_time = first_time
        self.next_time = next_time


class _Range:
    """Ids ``lo..hi`` of one symbol to backfill (``hi`` None: open, a probe), and what became of them."""

    __slots__ = ("lo", "hi", "cursor", "prev_time", "next_time", "detected_at", "segments")

    def __init__(self, lo: int, hi: int | None, prev_time: int | None, next_time: int | None, detected_at: int) -> None:
        self.lo = lo
        self.hi = hi
        self.cursor = lo  # next id wanted
        self.prev_time = prev_time  # trade time of the last known trade before `cursor`
        self.next_time = next_time  # trade time of trade hi + 1 (known once hi is)
        self.detected_at = detected_at
        self.segments: list[_Segment] = []

    def filled(self, trade: Trade) -> None:
        tid, tt = trade[1], trade[5]
        segs = self.segments
        if segs and segs[-1].filled and segs[-1].hi == tid - 1:
            segs[-1].hi = tid
            segs[-1].next_time = tt
        else:
            segs.append(_Segment(tid, tid, True, None, tt, tt))
        self.cursor = tid + 1
        self.prev_time = tt

    def unfilled(self, lo: int, hi: int, reason: str, next_time: int | None) -> None:
        segs = self.segments
        if segs and not segs[-1].filled and segs[-1].reason == reason and segs[-1].hi == lo - 1:
            segs[-1].hi = hi
            segs[-1].next_time = next_time
        else:
            segs.append(_Segment(lo, hi, False, reason, self.prev_time, next_time))
        self.cursor = hi + 1


class _Hold:
    __slots__ = ("symbol", "ranges", "held", "task", "failed")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.ranges: deque[_Range] = deque()
        self.held: deque[Trade] = deque()
        self.task: asyncio.Task[None] | None = None
        # (reason, detail) of a probe given up before a live trade told where its range ends
        self.failed: tuple[str, str] | None = None


class Backfiller:
    """Backfill gaps over REST and hold the affected symbols' live trades (see the module docstring).

    Owned by a :class:`~quantkit.feed.FeedClient`, which routes a held symbol's
    live trades to :meth:`hold_trade` (checking ``symbol in holds``), calls
    :meth:`start_gap` for a new gap, :meth:`on_connected` for each new non-rotation
    connection and :meth:`aclose` when it stops. Not thread-safe: loop thread only
    (:meth:`stats` excepted).

    Args:
        config: feed configuration (symbols, market, stream, ``rest_url``, ``rest_prefix``).
        options: backfill options.
        detector: the client's gap detector (held trades are classified by it; backfilled
            ids beyond it advance it).
        sink: the client's sink, for backfilled trades.
        deliver_live: delivers one released held (live) trade: the client counts it.
        drop_live: counts ``n`` live trades dropped with a reason (``(reason, n)``).
        report: reports one gap outcome (the client's ``on_gap`` path).
        sleep: interruptible sleep, seconds (returns early when the client stops).
        stopping: True once the client is stopping.
        warn: rate-limited logger ``warn(key, fmt, *args)``.
        logger: for unexpected errors.
        wall_clock: seconds since the epoch (weight minutes, ``Retry-After`` dates, ``detected_at``).
        rng: jitter source for retry delays.
    """

    def __init__(
        self,
        config: FeedConfig,
        options: BackfillOptions,
        *,
        detector: GapDetector,
        sink: Callable[[Trade], None],
        deliver_live: Callable[[Trade], None],
        drop_live: Callable[[str, int], None],
        report: Callable[[Gap], None],
        sleep: Callable[[float], Awaitable[None]],
        stopping: Callable[[], bool],
        warn: Callable[..., None],
        logger: logging.Logger,
        wall_clock: Callable[[], float] = time.time,
        rng: RandomSource,
    ) -> None:
        self._config = config
        self._opts = options
        self._detector = detector
        self._sink = sink
        self._deliver_live = deliver_live
        self._drop_live = drop_live
        self._report = report
        self._sleep = sleep
        self._stopping = stopping
        self._warn = warn
        self._log = logger
        self._wall = wall_clock
        self._rng = rng
        self._base = config.rest_url.rstrip("/")
        self._prefix = config.rest_prefix
        self._stream = config.stream
        self._weight = REST_WEIGHTS[(config.market, config.stream)]
        self._budget = WeightBudget(
            options.weight_limit or WEIGHT_LIMITS[config.market], options.weight_share, clock=wall_clock
        )
        self._headers = {"X-MBX-APIKEY": options.api_key} if options.api_key else {}
        self._http: HttpClient | None = None  # made in the event loop on first use; closed by aclose()
        self._lock = asyncio.Lock()
        #: symbol -> hold, for symbols with a backfill in progress (the client's hot path reads it).
        self.holds: dict[str, _Hold] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._held = 0
        self._held_max = 0
        self._requests = 0
        self._trades = 0
        self._filled = 0
        self._unfilled = 0
        self._missing = 0
        self._errors: dict[str, int] = {}
        self._retries = 0
        self._waits = 0
        self._wait_s = 0.0
        self._sink_errors = 0
        self._last_error: str | None = None

    # --- API used by the client -----------------------------------------------------------------

    @property
    def held(self) -> int:
        """Live trades held now, all symbols."""
        return self._held

    def stats(self) -> BackfillStats:
        """A snapshot of the counters; safe from any thread."""
        return BackfillStats(
            requests=self._requests,
            trades=self._trades,
            gaps_filled=self._filled,
            gaps_unfilled=self._unfilled,
            missing_unfilled=self._missing,
            errors=dict(self._errors),
            retries=self._retries,
            rate_limit_waits=self._waits,
            rate_limit_wait_s=self._wait_s,
            weight_used=self._budget.last_header,
            held=self._held,
            held_max=self._held_max,
            active=tuple(self.holds),
            sink_errors=self._sink_errors,
            last_error=self._last_error,
        )

    def start_gap(self, gap: Gap, trade: Trade) -> None:
        """The live stream of a symbol that is not held skipped ids: hold ``trade`` (the one after the gap) and backfill."""
        hold = _Hold(gap.symbol)
        hold.ranges.append(_Range(gap.from_id, gap.to_id, gap.first_missing_time, gap.next_trade_time, gap.detected_at))
        self.holds[gap.symbol] = hold
        self._hold(hold, trade)
        self._start(hold)

    def hold_trade(self, trade: Trade) -> None:
        """A live trade of a held symbol: classify it, extend the backfill if it reveals a gap, hold it."""
        symbol, tid, tt = trade[0], trade[1], trade[5]
        hold = self.holds[symbol]
        verdict = self._detector.observe(symbol, tid, tt)
        if verdict is not None and verdict.__class__ is str:
            self._drop_live(verdict, 1)  # type: ignore[arg-type]
            return
        ranges = hold.ranges
        if ranges and ranges[-1].hi is None:  # an open probe: the first live trade closes it
            ranges[-1].hi = tid - 1
            ranges[-1].next_time = tt
        elif verdict is not None:
            gap: Gap = verdict  # type: ignore[assignment]
            ranges.append(_Range(gap.from_id, gap.to_id, gap.first_missing_time, tt, gap.detected_at))
        self._hold(hold, trade)
        if hold.failed is not None and self.holds.get(symbol) is hold:  # the failed probe's range is known now
            self._abort(hold, *hold.failed)

    def on_connected(self) -> None:
        """A new connection after a loss (or the first one): probe symbols with a known last id."""
        if not self._opts.probe_on_connect:
            return
        now_ms = int(self._wall() * 1000)
        for symbol in dict.fromkeys(self._config.symbols):
            last = self._detector.last_id(symbol)
            if last is None:
                continue
            probe = _Range(last + 1, None, self._detector.last_time(symbol), None, now_ms)
            hold = self.holds.get(symbol)
            if hold is None:
                hold = self.holds[symbol] = _Hold(symbol)
                hold.ranges.append(probe)
                self._start(hold)
            elif not hold.ranges or hold.ranges[-1].hi is not None:
                hold.ranges.append(probe)

    async def aclose(self) -> int:
        """Cancel every backfill and drop the held trades; returns how many were dropped."""
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        dropped = sum(len(h.held) for h in self.holds.values())
        self.holds.clear()
        self._held = 0
        if dropped:
            self._drop_live("held_at_stop", dropped)
        return dropped

    # --- holds ------------------------------------------------------------------------------------

    def _hold(self, hold: _Hold, trade: Trade) -> None:
        hold.held.append(trade)
        self._held += 1
        n = len(hold.held)
        if n > self._held_max:
            self._held_max = n
        if n > self._opts.max_held:
            self._overflow(hold)

    def _overflow(self, hold: _Hold) -> None:
        self._warn("overflow:" + hold.symbol, "%s: more than %d live trades held while backfilling; giving the backfill up",
                   hold.symbol, self._opts.max_held)
        if hold.task is not None and not hold.task.done():
            hold.task.cancel()
        self._abort(hold, "overflow", f"more than {self._opts.max_held} live trades held")

    def _start(self, hold: _Hold) -> None:
        task = asyncio.get_running_loop().create_task(self._run(hold), name=f"quantkit-backfill-{hold.symbol}")
        hold.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, hold: _Hold) -> None:
        try:
            while True:
                if hold.ranges:
                    r = hold.ranges[0]
                    await self._release(hold)
                    try:
                        await self._fill(hold.symbol, r)
                    except _GiveUp as exc:
                        self._last_error = f"{hold.symbol}: {exc}"
                        self._warn("giveup:" + hold.symbol, "%s: backfill given up (%s): %s", hold.symbol, exc.reason, exc)
                        if r.hi is None and len(hold.ranges) == 1 and not hold.held:
                            # A probe: how many ids are missing is unknown until the next live trade;
                            # keep the hold (nothing is held) so that trade closes and reports the range.
                            hold.failed = (exc.reason, str(exc))
                            return
                        self._abort(hold, exc.reason, str(exc))
                        return
                    hold.ranges.popleft()
                    self._finish(hold.symbol, r)
                elif hold.held:
                    await self._release(hold)
                else:
                    if self.holds.get(hold.symbol) is hold:
                        del self.holds[hold.symbol]
                    return
        except (asyncio.CancelledError, _Stopped):
            return  # aclose() or an overflow took over the hold
        except Exception as exc:  # a bug must not leave the symbol held forever
            self._last_error = f"{hold.symbol}: backfill failed: {type(exc).__name__}: {exc}"
            self._log.exception("backfill of %s failed", hold.symbol)
            if self.holds.get(hold.symbol) is hold:
                self._abort(hold, "rest_error", self._last_error)

    async def _release(self, hold: _Hold) -> None:
        """Deliver the held trades that precede the first range still to fill (all if none), yielding now and then.

        The bound is read again after every yield: a gap found meanwhile stops the release at its start.
        """
        held = hold.held
        ranges = hold.ranges
        deliver = self._deliver_live
        n = 0
        while held and (not ranges or held[0][1] < ranges[0].lo):
            trade = held.popleft()
            self._held -= 1
            deliver(trade)
            n += 1
            if n >= _RELEASE_CHUNK:
                n = 0
                await asyncio.sleep(0)

    def _abort(self, hold: _Hold, reason: str, detail: str) -> None:
        """Give up the symbol's remaining ranges (report them unfilled) and release its held trades now."""
        symbol = hold.symbol
        while hold.ranges:
            r = hold.ranges.popleft()
            if r.hi is not None and r.cursor <= r.hi:
                r.unfilled(r.cursor, r.hi, reason, r.next_time)
            self._finish(symbol, r)
        while hold.held:
            trade = hold.held.popleft()
            self._held -= 1
            self._deliver_live(trade)
        if self.holds.get(symbol) is hold:
            del self.holds[symbol]

    def _finish(self, symbol: str, r: _Range) -> None:
        """Report the range's outcome: one Gap per run of filled / unfilled ids."""
        for seg in r.segments:
            next_time = seg.next_time
            if next_time is None:  # not known (cannot happen for closed ranges); keep the field an int
                next_time = seg.first_time if seg.first_time is not None else 0
            gap = Gap(symbol, seg.lo, seg.hi, seg.first_time, next_time, r.detected_at, seg.filled, seg.reason)
            if seg.filled:
                self._filled += 1
            else:
                self._unfilled += 1
                self._missing += gap.missing
            self._report(gap)

    # --- filling ----------------------------------------------------------------------------------

    async def _fill(self, symbol: str, r: _Range) -> None:
        """Fetch pages until ``r`` is done: every id delivered or marked unfilled (open: no more pages)."""
        limit = self._opts.limit
        empty_tries = 0
        while True:
            if r.hi is not None and r.cursor > r.hi:
                return
            page = await self._fetch(symbol, r.cursor)
            hi = r.hi  # live trades may have closed an open range while we waited
            cursor = r.cursor
            progressed = False
            for trade in page:
                tid = trade[1]
                if tid < cursor:
                    continue
                if hi is not None and tid > hi:
                    break
                if tid > cursor:
                    r.unfilled(cursor, tid - 1, "not_served", trade[5])
                self._deliver_backfilled(trade)
                if hi is None:
                    self._detector.advance(symbol, tid, trade[5])
                r.filled(trade)
                cursor = tid + 1
                progressed = True
            if hi is None:
                if len(page) < limit or not progressed:
                    return  # caught up with the exchange
                continue
            if cursor > hi:
                return
            if page and page[-1][1] > hi:  # REST has later ids but not these: older than it keeps
                r.unfilled(cursor, hi, "not_served", r.next_time)
                return
            if progressed:
                empty_tries = 0
                continue
            empty_tries += 1  # nothing at or after fromId although the stream has later ids: REST may lag
            if empty_tries > self._opts.not_served_retries:
                r.unfilled(cursor, hi, "not_served", r.next_time)
                return
            await self._sleep(self._opts.not_served_delay * empty_tries)
            if self._stopping():
                raise _Stopped

    def _deliver_backfilled(self, trade: Trade) -> None:
        try:
            self._sink(trade)
        except Exception as exc:
            self._sink_errors += 1
            self._warn("backfill_sink", "sink raised %r on a backfilled trade", exc)
            return
        self._trades += 1

    async def _fetch(self, symbol: str, from_id: int) -> list[Trade]:
        """One page from ``from_id``, within the rate limits, retried as the module docstring says."""
        url = self._base + backfill_target(self._prefix, self._stream, symbol, from_id, self._opts.limit)
        opts = self._opts
        backoff = Backoff(opts.retry_initial, opts.retry_max, 2.0, rng=self._rng)
        failures = 0
        async with self._lock:
            while True:
                if self._stopping():
                    raise _Stopped
                wait = self._budget.wait_before(self._weight)
                if wait > 0:
                    if wait > opts.max_wait:
                        raise _GiveUp("rate_limited", f"REST blocked for {wait:.0f} s (> max_wait {opts.max_wait:g} s)")
                    self._waits += 1
                    self._wait_s += wait
                    await self._sleep(wait)
                    continue
                self._budget.spend(self._weight)
                self._requests += 1
                status = 0
                retry_after: str | None = None
                try:
                    if self._http is None:
                        self._http = HttpClient(max_connections=1)
                    resp = await self._http.get(url, headers=self._headers, timeout=opts.request_timeout)
                except TimeoutError:
                    kind, detail = "timeout", f"no answer within {opts.request_timeout:g} s"
                except HttpError as exc:
                    kind, detail = "bad_response", str(exc)
                except OSError as exc:
                    kind, detail = "connection", f"{type(exc).__name__}: {exc}"
                else:
                    self._budget.observe(resp.headers.get("x-mbx-used-weight-1m"))
                    status = resp.status
                    retry_after = resp.headers.get("retry-after")
                    if status == 200:
                        try:
                            return parse_page(resp.body, symbol, self._stream)
                        except RestError as exc:
                            kind, detail = "bad_body", str(exc)
                    else:
                        kind, detail = str(status), f"HTTP {status}: {resp.body[:200]!r}"
                self._errors[kind] = self._errors.get(kind, 0) + 1
                self._last_error = f"GET {url}: {detail}"
                failures += 1
                if status in (429, 418):
                    seconds = parse_retry_after(retry_after, self._wall())
                    if seconds is None:
                        seconds = BAN_DEFAULT_S if status == 418 else max(backoff.next_delay(), 1.0)
                    self._budget.block(seconds)
                    self._warn("rest:" + kind, "backfill REST answered %s; holding requests for %.1f s", status, seconds)
                    if failures > opts.retries:
                        raise _GiveUp("rate_limited", f"HTTP {status} {failures} times")
                    self._retries += 1
                    continue  # the budget's hold makes the next round wait (or give up past max_wait)
                if 400 <= status < 500:
                    raise _GiveUp("rest_error", detail)
                if failures > opts.retries:
                    raise _GiveUp("rest_error", f"{failures} failures, last: {detail}")
                self._warn("rest:" + kind, "backfill REST failed (%s); retrying", detail)
                self._retries += 1
                await self._sleep(backoff.next_delay())
