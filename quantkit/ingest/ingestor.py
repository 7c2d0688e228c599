"""The background ingest: feed -> bounded buffer -> batched writes to the store.

Two daemon threads per :class:`Ingestor`:

* the **feed thread** runs the :class:`~quantkit.feed.FeedClient` event loop;
  each validated trade goes into a bounded in-memory buffer (back-pressure
  when full: the feed waits, nothing accepted is dropped);
* the **writer thread** drains the buffer every ``flush_interval`` seconds or
  as soon as ``batch_size`` trades are waiting, turns them into columns and
  groups them by symbol in a few array operations (:mod:`quantkit.ingest._batch`,
  no Python work per trade) and appends one batch per symbol to the
  :class:`~quantkit.store.TickStore`.

A failed write keeps its batch and is retried with backoff; a crash of the
feed loop is logged, counted and the loop restarted. Either way the error is
visible in :attr:`Ingestor.stats` (``last_error``, ``write_errors``,
``feed_restarts``) and in the ``quantkit.ingest`` log: the ingest never dies
silently. :meth:`Ingestor.stop` flushes everything already accepted.

Durability rules (what survives ``kill -9`` at any moment):

* ``stats.stored`` / ``stats.last_ids`` only count trades whose append returned:
  an acknowledged trade is on disk.
* Gap records are written before the trades that follow them, so an unfilled
  gap is never silently lost by a crash between the two writes.
* After a restart the feed resumes from the store's last trade id per symbol and
  backfills the hole over REST (:class:`~quantkit.feed.FeedClient` ``last_ids``).

Initial backfill (``backfill_from`` trade ids, or ``backfill_since_ms`` a start time
turned into ids with ``aggTrades?startTime=``): a symbol whose store holds nothing at
or after that start is backfilled over REST from there before its live trades are
delivered, exactly like a restart's hole. The ids the exchange cannot serve are
reported as unfilled gaps (``missing_trades``): what is lost is measured, not assumed.
The CLI uses it with a finite replay's first trade ids, so trades published before the
ingest subscribed are stored too; it also serves a warm start ("the last hour").

Receiving without storing: when trades keep arriving but none is stored for
``no_store_alarm_s`` seconds (all duplicates, all rejected), ``stats.state`` becomes
``"error"`` and ``stats.error`` says why (logged once, ``stats.alarms`` counts it);
the state returns to ``"running"`` as soon as a trade is stored again.

Store full (:class:`~quantkit.errors.StoreFullError`: LMDB ``MDB_MAP_FULL``, disk
full): the ingest **pauses**: ``stats.state == "store_full"``, ``last_error`` says
why, the feed is disconnected so nothing more is accepted, and the unwritten batch
stays in memory. Nothing stored is touched. Then, by back-end:

* **Object stores** (``s3://``...): the write is retried every ``store_full_retry``
  seconds; once one succeeds the feed reconnects and backfills the outage over REST.
* **LMDB**: the writer stops writing for good in this process
  (``stats.restart_required``): with ArcticDB 6.28 a write to an LMDB environment
  after ``MDB_MAP_FULL`` or after a failed (I/O error) commit was measured to crash
  the process (SIGSEGV), even a ``delete``. An LMDB map only grows by reopening it,
  so give it room and restart the ingest: a larger ``map_size``
  (``lmdb:///path?map_size=50GB``) or free disk. The restarted ingest resumes from
  the store and backfills the outage over REST; :meth:`Ingestor.stop` of the full
  one raises :class:`~quantkit.errors.IngestError` naming the trades it could not write.

Stored names and several markets: trades are stored under the symbol grammar's names
(:func:`quantkit.symbols.stored_name`): a USD-M feed's ``BTCUSDT`` is stored as
``BTCUSDT_PERP``, a spot feed's as ``BTCUSDT``. ``feed`` may be a sequence of feeds, one
per market (a coin's spot and its perpetual): each runs in its own feed thread with its own
client and restart loop, one writer stores them all, and the stats (and so the heartbeat)
cover every feed (``feed_state`` is ``"connected"`` only when every feed is). ``stats.per_symbol``
and ``last_ids``, ``backfill_from`` and :meth:`Ingestor.wait_through` speak stored names; an
exchange name that only one feed subscribes is read as that feed's stored name.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from quantkit.config import Config, FeedConfig, IngestConfig, StoreConfig
from quantkit.errors import IngestError, StoreFullError
from quantkit.feed import BackfillOptions, FeedClient, first_ids_since
from quantkit.ingest.stats import IngestStats
from quantkit.ingest._batch import FIELDS, PendingTicks, last_ids, split_fields
from quantkit.schema import Trade
from quantkit.symbols import check_symbol, stored_name

if TYPE_CHECKING:
    from quantkit.feed import Gap
    from quantkit.store import TickStore

__all__ = ["Ingestor"]


@dataclasses.dataclass(eq=False)
class _Lane:
    """One feed of an ingestor: its config, exchange -> stored names, sinks, and its thread and live client."""

    feed: FeedConfig
    names: dict[str, str]
    sink: Callable[[Trade], None]
    on_gap: Callable[["Gap"], None]
    since_ms: int | None = None
    client: FeedClient | None = None
    thread: threading.Thread | None = None

_LAG_SAMPLES = 20_000
_RATE_WINDOW_S = 5.0
_MAX_RETRY_DELAY_S = 5.0
#: Error texts after which the store must not be written again in this process (LMDB environment broken).
_NO_RETRY_MARKERS = ("Input/output error", "MDB_PANIC")


def _forbids_retry(exc: BaseException) -> bool:
    """Whether ``exc`` leaves the store unusable in this process (so retrying would be unsafe)."""
    text = str(exc)
    return any(m in text for m in _NO_RETRY_MARKERS)


class Ingestor:
    """Stream trades from a Binance-protocol feed into a tick store, in the background.

    Usable from a notebook cell (``start()`` returns at once; the kernel stays
    free) and from the CLI (``quantkit ingest``).

    Args:
        feed: what to subscribe to and where (see :meth:`FeedConfig.for_source`), or a sequence of
            feeds, one per market (e.g. a coin's spot and USD-M feeds; see the module docstring).
        store: a :class:`~quantkit.store.TickStore`, a store URI, a
            :class:`~quantkit.config.StoreConfig`, or ``None`` for
            ``StoreConfig.from_env()``. The ingestor must be the only writer of
            its symbols (ArcticDB supports one writer per symbol).
        config: batching and queue bounds; defaults to ``IngestConfig()``.
        logger: defaults to ``logging.getLogger("quantkit.ingest")``.
        clock: wall clock in seconds since the epoch, for lag figures (tests may inject one).
        store_full_retry: seconds between write attempts while an object store is full (default 5;
            LMDB stores are never retried in-process, see the module docstring).
        backfill_from: stored symbol -> first trade id wanted: a symbol whose store holds nothing at or after
            it is backfilled over REST from that id (see the module docstring). ``None``: none.
        backfill_since_ms: a start time, epoch ms: each symbol's first trade id at or after it is asked
            of the exchange (``aggTrades?startTime=``) when the feed first starts, then used as
            ``backfill_from`` (an id given in ``backfill_from`` wins). ``None``: none.
        no_store_alarm_s: seconds of receiving trades while storing none before ``state`` becomes
            ``"error"`` (default 5).
        backfill_options: REST backfill limits and API key (USD-M ``historicalTrades`` needs a key);
            ``None``: :class:`~quantkit.feed.BackfillOptions` defaults.

    Example:
        >>> from quantkit.config import FeedConfig
        >>> ing = Ingestor(FeedConfig.for_source("local", ["SYNAUSDT"], local_url=url), store_uri)  # doctest: +SKIP
        >>> ing.start()                                                                           # doctest: +SKIP
        >>> print(ing.stats)                                                                      # doctest: +SKIP
        >>> ing.stop()                                                                            # doctest: +SKIP
    """

    def __init__(
        self,
        feed: FeedConfig | Sequence[FeedConfig],
        store: "TickStore | StoreConfig | str | None" = None,
        *,
        config: IngestConfig | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.time,
        store_full_retry: float = 5.0,
        backfill_from: Mapping[str, int] | None = None,
        backfill_since_ms: int | None = None,
        no_store_alarm_s: float = 5.0,
        backfill_options: BackfillOptions | None = None,
    ) -> None:
        if not store_full_retry > 0:
            raise ValueError(f"store_full_retry={store_full_retry!r}: expected seconds > 0")
        if not no_store_alarm_s > 0:
            raise ValueError(f"no_store_alarm_s={no_store_alarm_s!r}: expected seconds > 0")
        feeds = (feed,) if isinstance(feed, FeedConfig) else tuple(feed)
        if not feeds or not all(isinstance(f, FeedConfig) for f in feeds):
            raise ValueError(f"feed={feed!r}: expected a FeedConfig or a non-empty sequence of them")
        since = None if backfill_since_ms is None else int(backfill_since_ms)
        self._lanes = [self._lane(f, since) for f in feeds]
        self._market_of: dict[str, str] = {}  # stored name -> market of its feed
        for lane in self._lanes:
            for stored in lane.names.values():
                if stored in self._market_of:
                    raise ValueError(f"feed: {stored} is subscribed by two feeds")
                self._market_of[stored] = lane.feed.market
        self._backfill_from: dict[str, int] = {}
        for sym, first in (backfill_from or {}).items():
            if isinstance(first, bool) or not isinstance(first, int) or first < 0:
                raise ValueError(f"backfill_from[{sym!r}]={first!r}: expected a trade id >= 0")
            self._backfill_from[self._stored_key(sym)] = int(first)
        self._no_store_alarm_s = float(no_store_alarm_s)
        self._backfill_options = backfill_options
        self.feeds: tuple[FeedConfig, ...] = feeds
        self.feed_config = feeds[0]  # the first (or only) feed
        self._store_full_retry = float(store_full_retry)
        self.config = config or IngestConfig()
        self._store_arg = store
        self._store: TickStore | None = None
        self.log = logger or logging.getLogger("quantkit.ingest")
        self._clock = clock

        self._fields: list[Any] = []  # accepted, not yet taken by the writer: FIELDS fields per trade, flat
        self._wake = threading.Event()
        self._not_full = threading.Event()
        self._not_full.set()
        self._stopping = threading.Event()
        self._writer_stop = threading.Event()
        self._lock = threading.Lock()
        self._writer_thread: threading.Thread | None = None
        self._pending: dict[str, PendingTicks] = {}  # per stored symbol: drained from the buffer, not yet written
        self._gaps: collections.deque[Gap] = collections.deque()

        self._state = "stopped"
        self._active = False
        self._paused = threading.Event()  # set while the store refuses writes: the feed is disconnected
        self._room = self.config.batch_size * FIELDS  # _sink's fast path below this many fields; 0 while paused
        self._fatal = False  # the store must not be written again in this process
        self._paused_drops = 0
        self._last_ids: dict[str, int] = {}
        self._accepted = 0
        self._stored = 0
        self._duplicates = 0
        self._write_errors = 0
        self._feed_restarts = 0
        self._gap_count = 0
        self._gaps_unfilled = 0
        self._missing = 0
        self._last_error: str | None = None
        self._last_trade_time = 0
        self._lag_last: float | None = None
        self._lags: collections.deque[np.ndarray] = collections.deque()  # per write, ms; the last _LAG_SAMPLES kept
        self._lag_count = 0
        self._rate: collections.deque[tuple[float, int]] = collections.deque()
        self._per_symbol: collections.Counter[str] = collections.Counter()
        self._feed_base: dict[str, Any] = {"received": 0, "reconnects": 0, "backfilled": 0, "rejected": collections.Counter()}
        self._error: str | None = None
        self._alarms = 0
        self._resumed: dict[str, int] = {}  # last id per symbol held when the feed last (re)started
        # receiving-without-storing watch: (stored, received, duplicates, rejected) when a trade was last
        # stored, and since when trades arrive without any being stored (monotonic seconds)
        self._watch_mark = (0, 0, 0, 0)
        self._unstored_since: float | None = None
        self._watch_due = 0.0

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_config(cls, config: Config, *, local_url: str = "http://127.0.0.1:9443", **kwargs: Any) -> "Ingestor":
        """An ingestor for a whole :class:`~quantkit.config.Config` (source, symbols, store, batching)."""
        return cls(config.feed(local_url=local_url), config.store, config=config.ingest, **kwargs)

    def _lane(self, feed: FeedConfig, since_ms: int | None) -> _Lane:
        """A feed's lane: its trades and gaps renamed to stored names (no per-trade cost when the names agree)."""
        names = {s: stored_name(s, feed.market) for s in feed.symbols}
        if all(k == v for k, v in names.items()):
            return _Lane(feed, names, self._sink, self._on_gap, since_ms)
        sink = self._sink

        def renamed(t: Trade) -> None:
            sink(Trade(names[t[0]], t[1], t[2], t[3], t[4], t[5], t[6], t[7]))

        return _Lane(feed, names, renamed, functools.partial(self._on_renamed_gap, names), since_ms)

    def _on_renamed_gap(self, names: Mapping[str, str], gap: "Gap") -> None:
        self._on_gap(dataclasses.replace(gap, symbol=names.get(gap.symbol, gap.symbol)))

    def _stored_key(self, symbol: str) -> str:
        """The stored name a caller means: a stored name as is; an exchange name only one feed subscribes mapped."""
        sym = check_symbol(symbol)
        if sym in self._market_of:
            return sym
        owners = [lane.names[sym] for lane in self._lanes if sym in lane.names]
        return owners[0] if len(owners) == 1 else sym

    def _clients(self) -> list[FeedClient]:
        return [c for c in (lane.client for lane in self._lanes) if c is not None]

    @property
    def store(self) -> "TickStore":
        """The store written to (opened on first use)."""
        if self._store is None:
            from quantkit.store import TickStore

            arg = self._store_arg
            if arg is None:
                self._store = TickStore(config=StoreConfig.from_env())
            elif isinstance(arg, StoreConfig):
                self._store = TickStore(config=arg)
            elif isinstance(arg, str):
                self._store = TickStore(arg)
            else:
                self._store = arg
        return self._store

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        """True between :meth:`start` and the end of :meth:`stop` (also while paused by a full store)."""
        return self._active

    def start(self) -> "Ingestor":
        """Start the feed and writer threads; returns at once. Idempotent."""
        with self._lock:
            if self.running:
                return self
            _ = self.store  # open now, so a bad URI fails here and not in a thread
            self._stopping.clear()
            self._writer_stop.clear()
            self._paused.clear()
            self._room = self.config.batch_size * FIELDS
            self._fatal = False
            self._state = "running"
            self._error = None
            self._unstored_since = None
            self._active = True
            self._writer_thread = threading.Thread(target=self._writer_main, name="quantkit-ingest-writer", daemon=True)
            self._writer_thread.start()
            for i, lane in enumerate(self._lanes):
                name = "quantkit-ingest-feed" + (f"-{i}" if i else "")
                lane.thread = threading.Thread(target=self._feed_main, args=(lane,), name=name, daemon=True)
                lane.thread.start()
        for lane in self._lanes:
            self.log.info("ingest started: %s from %s into %s", ",".join(lane.names.values()), lane.feed.ws_url,
                          self.store.uri)
        return self

    def stop(self, timeout: float = 30.0) -> IngestStats:
        """Stop the feed, write everything already accepted, and return the final stats. Idempotent.

        Args:
            timeout: seconds to wait for each thread. If the writer cannot
                finish in time (e.g. the store keeps failing) the accepted but
                unwritten trades stay counted in ``queue_depth`` and an
                :class:`~quantkit.errors.IngestError` is raised.
        """
        with self._lock:
            if not self.running:
                return self.stats
            self._state = "stopping"
            self._stopping.set()
            clients = self._clients()
        for client in clients:
            client.stop()
        for lane in self._lanes:
            if lane.thread is not None:
                lane.thread.join(timeout)
                if lane.thread.is_alive():
                    self.log.error("feed thread did not stop within %.1f s", timeout)
        self._writer_stop.set()
        self._wake.set()
        if self._writer_thread is not None:
            self._writer_thread.join(timeout)
        unwritten = self._unwritten()
        self._state = "stopped" if unwritten == 0 and not self._fatal else "failed"
        self._active = False
        stats = self.stats
        self.log.info("ingest stopped: %s", stats)
        if unwritten:
            raise IngestError(f"stopped with {unwritten} accepted trades not written: {self._last_error}")
        return stats

    def __enter__(self) -> "Ingestor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every trade accepted so far is written. Returns False on timeout."""
        deadline = time.monotonic() + timeout
        target = self._accepted
        while time.monotonic() < deadline:
            if self._written_through(target):
                return True
            self._wake.set()
            time.sleep(0.01)
        return self._written_through(target)

    def _written_through(self, target: int) -> bool:
        return self._stored + self._duplicates >= target and not self._unwritten()

    def wait_through(self, last_ids: Mapping[str, int], *, idle_timeout: float = 10.0) -> bool:
        """Wait until every trade up to ``last_ids[symbol]`` is written or known to be held already.

        A symbol counts as through when this ingestor wrote (or the store dropped as a duplicate) a
        trade at or above that id, or the store held it when the feed (re)started. Gives up when
        nothing moves (stored, duplicates, gaps) for ``idle_timeout`` seconds. Keys are stored names
        (an exchange name only one feed subscribes is read as its stored name).

        Returns:
            True when through, False when it gave up (the caller measures what is missing).
        """
        def progress() -> tuple[int, int, int, int]:
            return (self._stored, self._duplicates, self._gap_count, self._accepted)

        wanted = {self._stored_key(s): last for s, last in last_ids.items()}
        mark, since = progress(), time.monotonic()
        while True:
            done = all(
                max(self._last_ids.get(s, -1), self._resumed.get(s, -1)) >= last
                for s, last in wanted.items()
            )
            if done and self.flush(timeout=idle_timeout):
                return True
            now = progress()
            if now != mark:
                mark, since = now, time.monotonic()
            elif time.monotonic() - since > idle_timeout:
                return False
            time.sleep(0.05)

    def wait_stored(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``n`` trades are stored. Returns False on timeout."""
        deadline = time.monotonic() + timeout
        while self._stored < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._stored >= n

    # ------------------------------------------------------------------ stats
    @property
    def stats(self) -> IngestStats:
        """A snapshot of the live counters (cheap; safe from any thread)."""
        rejected: collections.Counter[str] = collections.Counter(self._feed_base["rejected"])
        received = self._feed_base["received"]
        reconnects = self._feed_base["reconnects"]
        backfilled = self._feed_base["backfilled"]
        states = []  # per feed; the ingest's feed is "connected" only when every feed is
        quotes: dict[str, dict[str, Any]] = {}
        for lane in self._lanes:
            client = lane.client
            if client is None:
                states.append("stopped")
                continue
            for sym, q in client.quotes.items():
                fields = q._asdict()
                del fields["symbol"]  # the key, under its stored name
                quotes[lane.names.get(sym, sym)] = {**fields, "spread_bps": q.spread_bps}
            fs = client.stats
            rejected.update(fs.rejected)
            received += fs.received
            reconnects += fs.reconnects
            backfilled += fs.backfill.trades if fs.backfill is not None else 0
            states.append(fs.state)
        feed_state = next((s for s in states if s != "connected"), "connected")
        lags = np.concatenate(list(self._lags))[-_LAG_SAMPLES:] if self._lags else None
        now = time.monotonic()
        rate = 0.0
        if len(self._rate) >= 2:
            (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
            span = max(now - t0, 1e-9)
            rate = (n1 - n0) / span if now - t1 < _RATE_WINDOW_S else 0.0
        feed_dups = rejected.pop("duplicate", 0)
        return IngestStats(
            state=self._state,
            feed_state=feed_state,
            received=received,
            accepted=self._accepted,
            stored=self._stored,
            duplicates=self._duplicates,
            feed_duplicates=feed_dups,
            rejected={k: v for k, v in rejected.items() if v},
            reconnects=reconnects,
            gaps=self._gap_count,
            gaps_unfilled=self._gaps_unfilled,
            missing_trades=self._missing,
            backfilled=backfilled,
            queue_depth=self._unwritten(),
            pending_symbols=sum(1 for v in self._pending.values() if v),
            write_errors=self._write_errors,
            feed_restarts=self._feed_restarts,
            lag_ms_last=self._lag_last,
            lag_ms_p50=float(np.percentile(lags, 50)) if lags is not None else None,
            lag_ms_p99=float(np.percentile(lags, 99)) if lags is not None else None,
            last_trade_time=self._last_trade_time,
            ticks_per_second=rate,
            last_error=self._last_error,
            per_symbol=dict(self._per_symbol),
            last_ids=dict(self._last_ids),
            restart_required=self._fatal,
            error=self._error,
            alarms=self._alarms,
            quotes=quotes,
        )

    # ------------------------------------------------------------------ feed side
    def _sink(self, trade: Trade) -> None:
        # The per-trade hot path: one length comparison against ``_room`` (the batch size in fields
        # while the writer takes trades, 0 while paused), then the hand-over. Everything else is the
        # slow path. The hand-over extends one flat list with the trade's fields: no allocation, and
        # nothing for the cycle collector. A buffer of tuples (one per trade) made every collection
        # walk the 20k-200k buffered trades (a tuple *subclass* such as Trade is never untracked);
        # the copy into a plain tuple cost 0.1-0.3 us per trade on the feed thread.
        fields = self._fields
        if len(fields) < self._room:
            fields.extend(trade)
            self._accepted += 1
            return
        self._sink_slow(trade)

    def _sink_slow(self, trade: Trade) -> None:
        # While paused (store full) nothing is accepted: trades still arriving before the feed
        # disconnects are not buffered; their ids are above everything buffered, so the feed
        # that resumes from the buffer's last ids fetches them again over REST.
        if self._paused.is_set():
            self._paused_drops += 1
            return
        fields = self._fields
        if len(fields) >= self.config.queue_size * FIELDS and not self._stopping.is_set():
            self._wait_for_space()
            if self._paused.is_set():
                self._paused_drops += 1
                return
        fields.extend(trade)
        self._accepted += 1
        if len(fields) >= self._room and not self._wake.is_set():  # set() per trade costs a lock
            self._wake.set()

    def _wait_for_space(self) -> None:
        self._wake.set()
        full = self.config.queue_size * FIELDS
        while len(self._fields) >= full and not self._stopping.is_set() and not self._paused.is_set():
            self._not_full.clear()
            self._not_full.wait(0.05)

    def _on_gap(self, gap: "Gap") -> None:
        self._gaps.append(gap)
        self._gap_count += 1
        if not gap.filled:
            self._gaps_unfilled += 1
            self._missing += gap.to_id - gap.from_id + 1

    def _feed_main(self, lane: _Lane) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            if self._paused.is_set():  # the store is full: stay disconnected until it takes writes again
                self._stopping.wait(0.1)
                continue
            loop = asyncio.new_event_loop()
            try:
                if lane.since_ms is not None:
                    found = loop.run_until_complete(first_ids_since(lane.feed, lane.since_ms))
                    self.log.info("initial backfill from %s: first trade ids %s", lane.since_ms, found)
                    for sym, first in found.items():
                        self._backfill_from.setdefault(lane.names.get(sym, sym), first)
                    lane.since_ms = None
                client = FeedClient(
                    lane.feed,
                    lane.sink,
                    on_gap=lane.on_gap,
                    logger=logging.getLogger("quantkit.feed"),
                    last_ids=self._resume_ids(lane),
                    backfill_options=self._backfill_options,
                )
                with self._lock:
                    lane.client = client
                if self._stopping.is_set():
                    break
                if self._paused.is_set():
                    self._retire_client(lane)
                    continue
                loop.run_until_complete(client.run())
                if self._stopping.is_set():
                    break
                if self._paused.is_set():
                    self._retire_client(lane)
                    continue
                raise IngestError("feed loop returned without being stopped")
            except Exception as exc:  # noqa: BLE001 - the feed thread must never die silently
                self._feed_restarts += 1
                self._last_error = f"feed: {type(exc).__name__}: {exc}"
                self.log.exception("feed loop crashed (restart %d in %.1f s)", self._feed_restarts, delay)
                self._retire_client(lane)
                if self._stopping.wait(delay):
                    break
                delay = min(delay * 2, 30.0)
            finally:
                loop.close()

    def _resume_ids(self, lane: _Lane) -> dict[str, int]:
        """Last trade id per exchange symbol of ``lane`` already stored or accepted, so its feed resumes after it.

        With these the feed drops re-sent trades and reports a restart's missing
        ids as a gap (recorded in the store) instead of silently skipping them.
        """
        held: dict[str, int] = {}  # by stored name
        for symbol, stored in lane.names.items():
            last = self.store.last_trade_id(stored)
            if last is not None:
                held[stored] = int(last)
            first = self._backfill_from.get(stored)
            if first is not None and first >= 1 and held.get(stored, -1) < first - 1:
                held[stored] = first - 1  # the probe on connect backfills from `first` over REST
        mine = set(lane.names.values())
        for symbol, trade_id in last_ids(self._fields[:]).items():  # a copy: the feed may be extending it
            if symbol in mine and trade_id > held.get(symbol, -1):
                held[symbol] = trade_id
        for stored, trades in list(self._pending.items()):
            if stored in mine and trades and trades.last_id > held.get(stored, -1):
                held[stored] = trades.last_id
        for stored in mine:
            self._resumed.pop(stored, None)
        self._resumed.update({s: i for s, i in held.items() if i >= self._backfill_from.get(s, -1)})
        return {exch: held[stored] for exch, stored in lane.names.items() if stored in held}

    def _retire_client(self, lane: _Lane) -> None:
        """Fold a dead client's counters into the base so stats stay cumulative."""
        with self._lock:
            client, lane.client = lane.client, None
        if client is not None:
            fs = client.stats
            self._feed_base["received"] += fs.received
            self._feed_base["reconnects"] += fs.reconnects
            self._feed_base["backfilled"] += fs.backfill.trades if fs.backfill is not None else 0
            self._feed_base["rejected"].update(fs.rejected)

    # ------------------------------------------------------------------ writer side
    def _writer_main(self) -> None:
        cfg = self.config
        retry_delay = 0.0
        last_maintenance = time.monotonic()
        touched: set[str] = set()
        while True:
            self._wake.wait(retry_delay or cfg.flush_interval)
            self._wake.clear()
            final = self._writer_stop.is_set()
            try:
                touched |= self._drain_and_write()
                self._watch_storing()
                retry_delay = 0.0
                if self._paused.is_set():
                    self._resume_feed()
                if cfg.maintenance_interval and time.monotonic() - last_maintenance >= cfg.maintenance_interval:
                    self._maintain(touched)
                    touched = set()
                    last_maintenance = time.monotonic()
            except StoreFullError as exc:
                self._write_errors += 1
                self._last_error = f"writer: StoreFullError: {exc}"
                if not self._paused.is_set():
                    self._pause_feed(exc)
                if self._fatal:
                    return
                if final:
                    self.log.error("store still full at stop: %d accepted trades not written", self._unwritten())
                    return
                retry_delay = self._store_full_retry
            except Exception as exc:  # noqa: BLE001 - keep the data, report, retry
                self._write_errors += 1
                self._last_error = f"writer: {type(exc).__name__}: {exc}"
                if _forbids_retry(exc):
                    self._fail_for_good(exc)
                    return
                retry_delay = min(max(retry_delay * 2, 0.1), _MAX_RETRY_DELAY_S)
                self.log.error("store write failed (%d so far), retrying in %.1f s: %s", self._write_errors, retry_delay, exc)
                if final and self._stopping.is_set() and self._write_errors > 50:
                    self.log.error("giving up after %d failed writes at stop", self._write_errors)
                    return
            if final and not self._unwritten():
                try:
                    self._record_gaps()
                except Exception as exc:  # noqa: BLE001 - reported; the trades are stored
                    self._last_error = f"writer: gap records: {type(exc).__name__}: {exc}"
                    self.log.error("could not record %d gap(s) at stop: %s", len(self._gaps), exc)
                return

    def _unwritten(self) -> int:
        return len(self._fields) // FIELDS + sum(len(v) for v in self._pending.values())

    def _watch_storing(self) -> None:
        """Raise (or clear) the receiving-without-storing alarm; called by the writer after each drain."""
        now = time.monotonic()
        if now < self._watch_due:
            return
        self._watch_due = now + 0.5
        received = self._feed_base["received"] + self._feed_base["backfilled"]
        rejected: collections.Counter[str] = collections.Counter(self._feed_base["rejected"])
        held = 0
        for client in self._clients():
            fs = client.stats
            received += fs.received + (fs.backfill.trades if fs.backfill is not None else 0)
            rejected.update(fs.rejected)
            held += fs.held
        dups = self._duplicates + rejected.pop("duplicate", 0)
        rejected.pop("held_at_stop", None)
        n_rejected = sum(rejected.values())
        stored = self._stored
        mark_stored, mark_received, mark_dups, mark_rejected = self._watch_mark
        if stored > mark_stored:
            self._watch_mark = (stored, received, dups, n_rejected)
            self._unstored_since = None
            if self._state == "error":
                self._state = "running"
                self.log.warning("ingest stores trades again (alarm cleared: %s)", self._error)
                self._error = None
            return
        got, new_dups, new_rejected = received - mark_received, dups - mark_dups, n_rejected - mark_rejected
        if got <= 0 or new_dups + new_rejected <= 0 or held or self._unwritten():
            return
        if self._unstored_since is None:
            self._unstored_since = now
            return
        if now - self._unstored_since < self._no_store_alarm_s or self._state != "running":
            return
        if new_dups >= new_rejected:
            why = (f"{new_dups:,} duplicates: the store already holds these trade ids "
                   "(did the exchange restart its ids from the beginning?)")
        else:
            top = ", ".join(f"{k} {v:,}" for k, v in rejected.most_common(3) if v)
            why = f"{new_rejected:,} rejected ({top})"
        self._error = (
            f"receiving without storing for {now - self._unstored_since:.0f} s: {got:,} received since the "
            f"last stored trade, none stored: {why}"
        )
        self._state = "error"
        self._alarms += 1
        self.log.error("INGEST ALARM: %s", self._error)

    def _retry_is_safe(self) -> bool:
        """Whether a write may be retried in this process after the store was full (not on LMDB)."""
        return not str(self.store.uri).lower().startswith("lmdb")

    def _pause_feed(self, exc: BaseException) -> None:
        """The store is full: disconnect the feed, keep the unwritten trades, retry later (or never, on LMDB)."""
        self._room = 0
        self._paused.set()
        if self._state in ("running", "error"):
            self._state = "store_full"
        with self._lock:
            clients = self._clients()
        for client in clients:
            client.stop()
        if self._retry_is_safe():
            self.log.error(
                "STORE FULL: %s. Ingest paused: the feed is disconnected, %d accepted trades are kept in memory "
                "and the write is retried every %.0f s; once it succeeds the outage is backfilled over REST.",
                exc, self._unwritten(), self._store_full_retry,
            )
            return
        self._fatal = True  # an LMDB write after MDB_MAP_FULL can crash the process: never write again here
        self.log.critical(
            "STORE FULL: %s. Ingest paused for good in this process: the feed is disconnected and %d accepted "
            "trades are not written. Give the store room and RESTART the ingest (LMDB map full: a larger map_size, "
            "e.g. lmdb:///path?map_size=50GB; disk full: free space); it resumes from the store and backfills "
            "the outage over REST.", exc, self._unwritten(),
        )

    def _resume_feed(self) -> None:
        """A write succeeded after the store was full: reconnect the feed (it backfills the outage)."""
        if self._fatal:
            return
        if self._state == "store_full":
            self._state = "running"
        self._paused.clear()
        self._room = self.config.batch_size * FIELDS
        self.log.warning("store accepts writes again: resuming the feed (%d trades arrived while paused are "
                         "fetched again over REST)", self._paused_drops)

    def _fail_for_good(self, exc: BaseException) -> None:
        """The store may not be written again in this process: stop the feed and the writer loudly."""
        self._fatal = True
        self._room = 0
        self._paused.set()
        self._state = "failed"
        with self._lock:
            clients = self._clients()
        for client in clients:
            client.stop()
        self.log.critical(
            "store write failed in a way that forbids retrying in this process (%s); the ingest stopped writing "
            "with %d accepted trades unwritten. Free space and restart the ingest: it resumes from the store and "
            "backfills over REST.", exc, self._unwritten(),
        )

    def _drain_and_write(self) -> set[str]:
        fields, pending = self._fields, self._pending
        n = len(fields)  # whole trades: the feed's extend() of one trade is atomic under the GIL
        if n:
            taken = fields[:n]
            del fields[:n]  # only the first n: whatever the feed appended meanwhile stays queued
            self._not_full.set()
            for symbol, records in split_fields(taken).items():  # columns, grouped without a per-trade loop
                held = pending.get(symbol)
                if held is None:
                    pending[symbol] = held = PendingTicks()
                held.add(records)
        # Gap records first: a gap reported before these trades arrived is on disk before any of them.
        self._record_gaps()
        written: set[str] = set()
        for symbol in list(pending):
            trades = pending[symbol]
            if not trades:
                continue
            records = trades.records()
            frame = trades.frame()
            result = self.store.append_ticks(symbol, frame, market=self._market_of.get(symbol, self.feed_config.market))
            now_ms = self._clock() * 1000.0
            ev = records["event_time"][-_LAG_SAMPLES:].astype(float)
            trades.clear()
            self._stored += result.stored
            self._duplicates += result.duplicates
            self._per_symbol[symbol] += result.stored
            top = int(records["trade_id"].max())
            if top > self._last_ids.get(symbol, -1):
                self._last_ids[symbol] = top
            self._keep_lags(now_ms - ev)
            self._lag_last = float(now_ms - ev.max())
            self._last_trade_time = max(self._last_trade_time, int(records["trade_time"][-1]))
            written.add(symbol)
        if written:
            self._rate.append((time.monotonic(), self._stored))
            cutoff = time.monotonic() - _RATE_WINDOW_S
            while len(self._rate) > 2 and self._rate[0][0] < cutoff:
                self._rate.popleft()
        return written

    def _keep_lags(self, lags: np.ndarray) -> None:
        """Keep one write's lags (ms) among the last ``_LAG_SAMPLES`` (as arrays: no Python float per trade)."""
        kept = self._lags
        kept.append(lags)
        self._lag_count += len(lags)
        while self._lag_count - len(kept[0]) >= _LAG_SAMPLES:
            self._lag_count -= len(kept.popleft())

    def _record_gaps(self) -> None:
        from quantkit.store.gaps import GapRecord

        while self._gaps:
            g = self._gaps[0]
            self.store.record_gap(GapRecord(g.symbol, g.from_id, g.to_id, g.first_missing_time, g.next_trade_time,
                                            g.detected_at, g.filled, g.reason))
            self._gaps.popleft()

    def _maintain(self, symbols: set[str]) -> None:
        if self._paused.is_set():
            return
        for symbol in sorted(symbols):
            try:
                self.store.maintain(symbol)
            except Exception as exc:  # noqa: BLE001 - maintenance is best effort; data is safe
                if isinstance(exc, StoreFullError) or _forbids_retry(exc):
                    raise  # the writer loop pauses the ingest: the store must not be written blindly
                self._last_error = f"maintenance {symbol}: {type(exc).__name__}: {exc}"
                self.log.warning("maintenance of %s failed: %s", symbol, exc)
