"""The fault campaign: run the real exchange -> feed -> ingest -> store path under injected faults.

Each scenario starts a :class:`~quantkit.exchange.LocalExchange` serving a seeded
:class:`~quantkit.exchange.SyntheticMarket` with a :class:`~_support.faults.FaultPlan`,
ingests it into a fresh store, switches the faults off once the market has stopped trading, waits
for the ingest to catch up, and then compares the store with what the exchange published
(:func:`compare_with_exchange`). Every figure of the result is counted, nothing is assumed:

* **published**: trades the exchange published from each symbol's first stored id on;
* **stored**: rows in the store;
* **lost**: published ids missing from the store and *not* recorded as an unfilled gap (must be 0);
* **recorded**: published ids missing from the store but recorded in ``store.gaps()`` as unfilled
  (a loss the store knows about and reports show);
* **duplicates**: repeated ids in the store (must be 0); **extra**: stored ids never published;
  **mismatched**: ids whose price, qty, time or side differ from the exchange's.

Scenarios beyond policies: :func:`run_kill_scenario` (``kill -9`` of an ingest process, restart,
verify after every kill), :func:`run_store_full_scenario` (LMDB map full, pause, restart with a
larger map), :func:`run_concurrency` (one writer, many reader processes) and :func:`run_sharded`
(several ingest processes, each owning symbols, writing one library, e.g. on S3).

``benchmarks/faults.py`` runs the whole campaign and prints the table; ``tests/faults`` runs a
short version.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from _support.faults import (
    BurstClock,
    Disconnects,
    DuplicateFrames,
    Fault,
    FaultPlan,
    MalformedFrames,
    RefusedConnections,
    ReorderFrames,
    RestErrors,
    ServerShutdowns,
    Stalls,
)
from quantkit.config import SYNTHETIC_SYMBOLS, FeedConfig, IngestConfig, StoreConfig
from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.ingest import Ingestor
from quantkit.store import MaintenancePolicy, TickStore

__all__ = [
    "Comparison",
    "ConcurrencyResult",
    "IngestChild",
    "STANDARD_SCENARIOS",
    "Scenario",
    "ScenarioResult",
    "compare_with_exchange",
    "format_table",
    "published_trades",
    "run_concurrency",
    "run_kill_scenario",
    "run_scenario",
    "run_sharded",
    "run_store_full_scenario",
]

log = logging.getLogger("quantkit.ingest")

#: The ingest child process script (run with this interpreter, not imported).
_CHILD = Path(__file__).with_name("ingest_child.py")

#: Counters of a FaultPlan that are bookkeeping, not injected faults.
_NOT_FAULTS = frozenset({"connections", "refusal_window"})


# ------------------------------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class Comparison:
    """The store against the exchange for one symbol (or summed over symbols); see the module docstring."""

    published: int = 0
    stored: int = 0
    lost: int = 0
    recorded: int = 0
    duplicates: int = 0
    extra: int = 0
    mismatched: int = 0
    first_id: int | None = None
    last_id: int | None = None

    @property
    def ok(self) -> bool:
        """Nothing lost unrecorded, nothing duplicated, invented or altered."""
        return self.lost == 0 and self.duplicates == 0 and self.extra == 0 and self.mismatched == 0

    def __add__(self, other: "Comparison") -> "Comparison":
        return Comparison(
            self.published + other.published, self.stored + other.stored, self.lost + other.lost,
            self.recorded + other.recorded, self.duplicates + other.duplicates, self.extra + other.extra,
            self.mismatched + other.mismatched,
        )


def published_trades(exchange: LocalExchange, symbol: str) -> tuple[np.ndarray, ...]:
    """The exchange's kept history of ``symbol``: ``(ids, price, qty, time_ms, is_buyer_maker)``.

    Read in the exchange's loop while it runs (consistent), directly once it has stopped.
    """

    def read() -> tuple[np.ndarray, ...]:
        hist = exchange.histories[symbol]
        ids, price, qty, _, t, m = hist.trades.rows(hist.trades.first_row, hist.trades.end_row)
        return ids, price, qty, t, m

    try:
        return exchange.call_in_loop(read, timeout=30.0)
    except Exception:  # not running (stopped): nothing mutates the history any more
        return read()


def _covered(ids: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Mask of ``ids`` inside any inclusive ``[from, to]`` row of ``ranges``."""
    if len(ids) == 0 or len(ranges) == 0:
        return np.zeros(len(ids), dtype=bool)
    out = np.zeros(len(ids), dtype=bool)
    for lo, hi in ranges:
        out |= (ids >= lo) & (ids <= hi)
    return out


def compare_with_exchange(
    store: TickStore,
    exchange: LocalExchange,
    symbols: Sequence[str],
    *,
    through: str = "published",
) -> dict[str, Comparison]:
    """Compare each symbol's stored ticks with the exchange's published trades.

    Args:
        store: the store the ingest wrote.
        exchange: the exchange it ingested from (running or stopped).
        symbols: symbols to compare.
        through: ``"published"``: every trade the exchange published after the first stored id
            must be stored (use once the ingest has caught up); ``"stored"``: only up to the last
            stored id (a mid-run check: no hole, no duplicate in what is there).

    Returns:
        One :class:`Comparison` per symbol.

    Raises:
        ValueError: ``through`` is neither ``"published"`` nor ``"stored"``.
    """
    if through not in ("published", "stored"):
        raise ValueError(f"through={through!r}: expected 'published' or 'stored'")
    gaps = store.gaps()
    out: dict[str, Comparison] = {}
    for sym in symbols:
        pub_ids, price, qty, t_ms, m = published_trades(exchange, sym)
        if not store.has_symbol(sym):
            out[sym] = Comparison()
            continue
        ticks = store.ticks(sym)
        ids = ticks["trade_id"].to_numpy()
        if len(ids) == 0:
            out[sym] = Comparison()
            continue
        uniq, first_pos = np.unique(ids, return_index=True)
        duplicates = len(ids) - len(uniq)
        lo = int(uniq[0])
        hi = int(uniq[-1]) if through == "stored" else max(int(uniq[-1]), int(pub_ids[-1]) if len(pub_ids) else lo)
        window = (pub_ids >= lo) & (pub_ids <= hi)
        expected = pub_ids[window]
        missing = np.setdiff1d(expected, uniq, assume_unique=True)
        mine = gaps[(gaps["symbol"] == sym) & ~gaps["filled"]] if len(gaps) else gaps
        ranges = mine[["from_id", "to_id"]].to_numpy(dtype=np.int64) if len(mine) else np.empty((0, 2), np.int64)
        recorded = int(_covered(missing, ranges).sum())
        kept = uniq[uniq >= pub_ids[0]] if len(pub_ids) else uniq[:0]  # older ids may have left the bounded history
        extra = int(len(np.setdiff1d(kept, pub_ids, assume_unique=True)))
        # values of the ids both hold
        both, i_pub, i_sto = np.intersect1d(pub_ids, uniq, assume_unique=True, return_indices=True)
        rows = first_pos[i_sto]
        st_price = ticks["price"].to_numpy()[rows]
        st_qty = ticks["qty"].to_numpy()[rows]
        st_time = ticks.index.asi8[rows] // 1_000_000
        st_m = ticks["is_buyer_maker"].to_numpy()[rows]
        bad = (
            (st_price != price[i_pub]) | (st_qty != qty[i_pub]) | (st_time != t_ms[i_pub]) | (st_m != m[i_pub].astype(bool))
        )
        out[sym] = Comparison(
            published=int(len(expected)),
            stored=int(len(ids)),
            lost=int(len(missing)) - recorded,
            recorded=recorded,
            duplicates=int(duplicates),
            extra=extra,
            mismatched=int(bad.sum()),
            first_id=lo,
            last_id=int(uniq[-1]),
        )
    return out


def _total(cmp: Mapping[str, Comparison]) -> Comparison:
    total = Comparison()
    for c in cmp.values():
        total = total + c
    return total


# ------------------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class Scenario:
    """One fault scenario of the campaign.

    Attributes:
        name: label in the table.
        faults: the exchange-side faults (see :mod:`_support.faults`).
        burst: burst factor of the market (e.g. 20.0), ``None`` for a steady market.
        burst_every: mean wall seconds between bursts.
        burst_seconds: wall seconds per burst.
    """

    name: str
    faults: tuple[Fault, ...] = ()
    burst: float | None = None
    burst_every: float = 2.0
    burst_seconds: float = 1.0


#: The campaign's scenarios, one per fault of the issue, then all of them at once.
STANDARD_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("drop connection", (Disconnects(mean_interval=1.0, max_interval=2.5),)),
    Scenario("stall (no data, no pings)", (Stalls(mean_interval=1.5, duration=3.0, max_interval=2.5),)),
    Scenario("malformed frames", (MalformedFrames(probability=0.005),)),
    Scenario("duplicates + out of order", (DuplicateFrames(probability=0.005), ReorderFrames(probability=0.005))),
    Scenario("burst 20x", burst=20.0, burst_every=1.0, burst_seconds=0.25),
    Scenario("serverShutdown", (ServerShutdowns(mean_interval=1.0, max_interval=2.5),)),
    Scenario("refuse connections", (RefusedConnections(mean_interval=1.5, duration=1.5, max_interval=2.5),)),
    Scenario("REST 429 + 5xx (with drops)", (RestErrors(rate_limit=0.25, server_error=0.25, retry_after=1),
                                              Disconnects(mean_interval=1.0, max_interval=2.5))),
    Scenario(
        "all of the above at once",
        (
            Disconnects(mean_interval=3.0), Stalls(mean_interval=6.0, duration=3.0), MalformedFrames(probability=0.003),
            DuplicateFrames(probability=0.003), ReorderFrames(probability=0.003), ServerShutdowns(mean_interval=4.0),
            RefusedConnections(mean_interval=5.0, duration=1.0), RestErrors(rate_limit=0.15, server_error=0.15),
        ),
        burst=20.0, burst_every=2.0, burst_seconds=0.25,
    ),
)


@dataclass(frozen=True)
class ScenarioResult:
    """What one scenario injected and what the store ended up holding.

    Attributes:
        name: scenario name.
        injected: fault counters (kind -> count).
        survived: the ingest ran through without crashing, caught up, and the comparison is clean.
        comparison: the store against the exchange, summed over symbols.
        stats: the ingest's final stats as a dict (``{}`` when it ran in other processes).
        seconds: wall time of the scenario.
        notes: problems found (empty when survived).
    """

    name: str
    injected: dict[str, int]
    survived: bool
    comparison: Comparison
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def injected_total(self) -> int:
        """Faults injected (bookkeeping counters excluded)."""
        return sum(v for k, v in self.injected.items() if k not in _NOT_FAULTS)


class _GatedSource:
    """A market source that starts trading once ``gate`` is set (so the ingest sees the first trade)
    and stops once ``stop`` is set."""

    def __init__(self, inner: Any, gate: threading.Event, stop: threading.Event) -> None:
        self._inner = inner
        self._gate = gate
        self._stop = stop

    def __getattr__(self, name: str) -> Any:  # symbols, market, speed, specs, first_agg_ids
        return getattr(self._inner, name)

    def __aiter__(self) -> Any:
        return self._run()

    async def _run(self) -> Any:
        while not self._gate.is_set():
            await asyncio.sleep(0.01)
        async for batch in self._inner:
            if self._stop.is_set():
                break
            yield batch


def _feed_config(url: str, symbols: Sequence[str]) -> FeedConfig:
    # Short keep-alive and backoff so the faults of a few seconds are noticed and recovered quickly.
    return FeedConfig.for_source(
        "local", list(symbols), local_url=url, ping_interval=1.0, ping_timeout=1.0,
        backoff_initial=0.05, backoff_max=1.0, open_timeout=5.0,
    )


def _last_published(exchange: LocalExchange, symbols: Sequence[str]) -> dict[str, int]:
    def read() -> dict[str, int]:
        out = {}
        for s in symbols:
            h = exchange.histories[s]
            if h.last_id is not None:
                out[s] = int(h.last_id)
        return out

    try:
        return exchange.call_in_loop(read, timeout=30.0)
    except Exception:
        return read()


def run_scenario(
    scenario: Scenario,
    uri: str,
    *,
    seconds: float = 4.0,
    speed: float = 20.0,
    seed: int = 0,
    symbols: Sequence[str] = SYNTHETIC_SYMBOLS,
    catch_up_timeout: float = 60.0,
    tail: float = 1.0,
) -> ScenarioResult:
    """Run one fault scenario into the store at ``uri`` and compare (see the module docstring).

    Timeline: the market starts once the ingest is connected; faults are on for ``seconds``; the
    market trades ``tail`` more seconds without faults (as a real market does: a loss the feed can
    only notice from a later trade gets that trade), then stops; the ingest must then catch up.

    Args:
        scenario: what to inject.
        uri: an empty store (ArcticDB URI).
        seconds: wall seconds the market trades with faults on.
        tail: wall seconds the market trades after the faults are off.
        speed: market speed factor (~80 trades/s at 1x over the four symbols).
        seed: seed of the market and of the fault times.
        symbols: symbols ingested (the synthetic market's four by default).
        catch_up_timeout: seconds allowed, after the market stopped, for the ingest to store everything.

    Returns:
        :class:`ScenarioResult`.
    """
    t0 = time.monotonic()
    plan = FaultPlan(scenario.faults, seed=seed)
    kwargs: dict[str, Any] = {}
    burst: BurstClock | None = None
    if scenario.burst:
        burst = BurstClock(scenario.burst, mean_interval=scenario.burst_every, duration=scenario.burst_seconds,
                           max_interval=2 * scenario.burst_every, seed=seed, plan=plan)
        kwargs = {"clock": burst.clock, "sleep": burst.sleep}
    gate, stop = threading.Event(), threading.Event()
    market = _GatedSource(SyntheticMarket(seed=seed, speed=speed, **kwargs), gate, stop)
    notes: list[str] = []
    store = TickStore(uri)
    with LocalExchange(market, policy_factory=plan, ping_interval=2.0, ping_timeout=2.0) as ex:  # type: ignore[arg-type]
        ing = Ingestor(_feed_config(ex.url, symbols), store,
                       config=IngestConfig(flush_interval=0.1, batch_size=5000, queue_size=200_000))
        ing.start()
        try:
            deadline = time.monotonic() + catch_up_timeout
            while ing.stats.feed_state != "connected" and time.monotonic() < deadline:
                time.sleep(0.01)
            gate.set()
            time.sleep(seconds)
            plan.enabled = False
            if burst is not None:
                burst.enabled = False
            time.sleep(tail)
            stop.set()
            if not ex.done.wait(catch_up_timeout):
                notes.append("the market did not stop")
            target = _last_published(ex, symbols)
            deadline = time.monotonic() + catch_up_timeout
            while time.monotonic() < deadline:
                st = ing.stats
                if all(st.last_ids.get(s, -1) >= target.get(s, 0) for s in symbols) and st.queue_depth == 0:
                    break
                time.sleep(0.05)
            else:
                notes.append(f"did not catch up within {catch_up_timeout:.0f} s: {ing.stats.last_ids} < {target}")
        finally:
            try:
                stats = ing.stop()
            except Exception as exc:  # noqa: BLE001 - reported as a failure of the scenario
                notes.append(f"stop failed: {exc}")
                stats = ing.stats
    cmp = compare_with_exchange(store, ex, symbols)
    total = _total(cmp)
    if stats.feed_restarts:
        notes.append(f"feed loop crashed {stats.feed_restarts} times")
    if not total.ok:
        notes.append(f"comparison: {total}")
    survived = not notes
    return ScenarioResult(scenario.name, plan.injected, survived, total, stats.to_dict(), time.monotonic() - t0, tuple(notes))


# ------------------------------------------------------------------------------------------ child processes


class IngestChild:
    """An ingest in its own process (``python tests/_support/ingest_child.py``) whose acknowledgements we read.

    Args:
        exchange_url: the exchange's REST base URL.
        uri: store URI.
        symbols: the symbols this process owns (one writer per symbol).
        extra: more command-line options of the child (``--maintain-every 5``...).
    """

    def __init__(self, exchange_url: str, uri: str, symbols: Sequence[str], *extra: str) -> None:
        cmd = [sys.executable, str(_CHILD), "--exchange-url", exchange_url, "--store", uri,
               "--symbols", ",".join(symbols), *extra]
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.symbols = tuple(symbols)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.acks: dict[str, int] = {}
        self.lines: list[dict[str, Any]] = []
        self.started = threading.Event()
        self.final: dict[str, Any] | None = None
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.lines.append(msg)
                if msg.get("event") == "started":
                    self.started.set()
                if "acks" in msg:
                    for s, i in msg["acks"].items():
                        self.acks[s] = max(int(i), self.acks.get(s, -1))
                if "final" in msg:
                    self.final = msg["final"]
                self._cond.notify_all()

    @property
    def last(self) -> dict[str, Any]:
        """The latest status line (``{}`` before the first)."""
        with self._cond:
            for msg in reversed(self.lines):
                if "state" in msg:
                    return dict(msg)
        return {}

    def wait_for(self, pred: Callable[["IngestChild"], bool], timeout: float) -> bool:
        """Wait until ``pred(self)`` holds (re-checked on every line); False on timeout or exit."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return pred(self)
                self._cond.wait(min(left, 0.2))
        return True

    def kill(self) -> None:
        """``kill -9``."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(5)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM (a clean stop: flush, print the final stats); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = -9
        self._reader.join(5)
        return code


def _check_store(store: TickStore, ex: LocalExchange, symbols: Sequence[str], acks: Mapping[str, int], through: str) -> tuple[dict[str, Comparison], list[str]]:
    cmp = compare_with_exchange(store, ex, symbols, through=through)
    problems = [f"{s}: {c}" for s, c in cmp.items() if not c.ok]
    for s, acked in acks.items():
        last = store.last_trade_id(s)
        if last is None or last < acked:
            problems.append(f"{s}: acknowledged id {acked} is not stored (last stored {last})")
    return cmp, problems


def _caught_up(child: IngestChild, target: Mapping[str, int]) -> Callable[[IngestChild], bool]:
    return lambda c: all(c.acks.get(s, -1) >= i for s, i in target.items())


def _catch_up_and_check(
    child: IngestChild, ex: LocalExchange, store: TickStore, symbols: Sequence[str], timeout: float, label: str,
    notes: list[str],
) -> tuple[dict[str, int], dict[str, Comparison]]:
    """Let ``child`` catch up with what the exchange published so far, stop it, compare the store; note problems."""
    target = _last_published(ex, symbols)
    if not child.wait_for(_caught_up(child, target), timeout):
        notes.append(f"{label}: the ingest did not catch up: {child.acks} < {target}")
    code = child.terminate()
    if code != 0:
        notes.append(f"{label}: the ingest exited with {code}")
    cmp, problems = _check_store(store, ex, symbols, child.acks, "stored")
    notes += [f"{label}: {p}" for p in problems]
    return target, cmp


def run_kill_scenario(
    workdir: str | Path,
    *,
    kills: int = 10,
    speed: float = 20.0,
    seed: int = 0,
    min_wait: float = 0.3,
    max_wait: float = 3.0,
    symbols: Sequence[str] = SYNTHETIC_SYMBOLS,
    uri: str | None = None,
    maintain_every: int = 20,
    timeout: float = 120.0,
) -> ScenarioResult:
    """``kill -9`` an ingest process ``kills`` times at random moments, restarting it each time.

    After every kill the store is checked: what the killed process had acknowledged is stored,
    and the store holds no duplicate, no hole and no altered trade up to its last id. After the
    last kill a final process catches up with the exchange and stops cleanly; then the whole store
    must equal what the exchange published.

    Args:
        workdir: a fresh folder for the LMDB store (unless ``uri`` is given).
        kills: kill -9 count.
        speed: market speed factor.
        seed: seed of the market and the kill moments.
        min_wait: shortest time a process runs (after it started) before its kill, seconds.
        max_wait: longest, seconds.
        symbols: symbols ingested.
        uri: store URI (default an LMDB store in ``workdir``).
        maintain_every: appends between the child's maintenance passes (small = kills hit maintenance too).
        timeout: seconds allowed for a start-up or the final catch-up.
    """
    t0 = time.monotonic()
    rng = random.Random(seed)
    uri = uri or f"lmdb://{Path(workdir) / 'kill9'}"
    notes: list[str] = []
    checks = 0
    with LocalExchange(SyntheticMarket(seed=seed, speed=speed), ping_interval=2.0, ping_timeout=2.0) as ex:
        store = TickStore(uri, maintenance=None)
        extra = ("--maintain-every", str(maintain_every))
        for k in range(kills):
            child = IngestChild(ex.url, uri, symbols, *extra)
            if not child.started.wait(timeout):
                notes.append(f"kill {k + 1}: the ingest did not start")
                child.kill()
                continue
            time.sleep(rng.uniform(min_wait, max_wait))
            child.kill()
            _, problems = _check_store(store, ex, symbols, child.acks, "stored")
            checks += 1
            notes += [f"after kill {k + 1}: {p}" for p in problems]
        final = IngestChild(ex.url, uri, symbols, *extra)
        target, cmp = _catch_up_and_check(final, ex, store, symbols, timeout, "final", notes)
        for s, i in target.items():
            if (cmp[s].last_id or -1) < i:
                notes.append(f"final: {s} stored up to {cmp[s].last_id}, published {i} before the final start")
    total = _total(cmp)
    stats = dict(final.final or {})
    stats["checks_after_kill"] = checks
    return ScenarioResult(f"kill -9 x{kills}", {"kill -9": kills}, not notes, total, stats, time.monotonic() - t0, tuple(notes))


def run_store_full_scenario(
    workdir: str | Path,
    *,
    map_size: str = "2MB",
    bigger_map_size: str = "2GB",
    speed: float = 20.0,
    seed: int = 0,
    symbols: Sequence[str] = SYNTHETIC_SYMBOLS,
    timeout: float = 120.0,
) -> ScenarioResult:
    """Fill an LMDB store (small ``map_size``) under a live ingest, then give it room again.

    1. An ingest process writes into ``lmdb://...?map_size=<map_size>`` until the store is full.
       Expected: its state becomes ``"store_full"`` with a ``StoreFullError`` as ``last_error``, the
       feed is disconnected and nothing more is acknowledged.
    2. The stored data is checked (intact: no hole, no duplicate, all acknowledged ids present).
    3. SIGTERM: the ingest stops loudly (exit code 3: accepted trades could not be written).
    4. An ingest restarted with ``map_size=<bigger_map_size>`` (the way to give LMDB room) resumes
       from the store, backfills the outage over REST and catches up; then the whole store must
       equal what the exchange published.
    """
    t0 = time.monotonic()
    path = Path(workdir) / "full"
    small = f"lmdb://{path}?map_size={map_size}"
    big = f"lmdb://{path}?map_size={bigger_map_size}"
    notes: list[str] = []
    injected = {"store full": 0}
    with LocalExchange(SyntheticMarket(seed=seed, speed=speed), ping_interval=2.0, ping_timeout=2.0) as ex:
        first = IngestChild(ex.url, small, symbols, "--maintain-every", "0", "--store-full-retry", "0.5")
        if not first.wait_for(lambda c: c.last.get("state") == "store_full", timeout):
            notes.append(f"the store never reported full: {first.last}")
        else:
            injected["store full"] = 1
            last = first.last
            if "StoreFullError" not in str(last.get("last_error")):
                notes.append(f"last_error does not name StoreFullError: {last.get('last_error')!r}")
            acked = dict(first.acks)
            time.sleep(2.0)  # paused: nothing more may be acknowledged, the feed stays disconnected
            if first.acks != acked:
                notes.append(f"acknowledgements moved while the store was full: {acked} -> {first.acks}")
            if first.last.get("state") != "store_full" or first.last.get("feed_state") != "stopped":
                notes.append(f"not paused while full: {first.last}")
        code = first.terminate()
        if injected["store full"] and code != 3:
            notes.append(f"the full ingest should stop loudly (exit 3), exited {code}")
        store = TickStore(big, maintenance=None)
        _, problems = _check_store(store, ex, symbols, first.acks, "stored")
        notes += [f"while full: {p}" for p in problems]
        second = IngestChild(ex.url, big, symbols, "--maintain-every", "0")
        _, cmp = _catch_up_and_check(second, ex, store, symbols, timeout, "after resume", notes)
    stats = dict(second.final or {})
    return ScenarioResult(f"store full (map_size={map_size})", injected, not notes, _total(cmp), stats,
                          time.monotonic() - t0, tuple(notes))


# ------------------------------------------------------------------------------------------ readers


@dataclass(frozen=True)
class ConcurrencyResult:
    """One writer and N reader processes.

    Attributes:
        seconds: how long the readers read (after all had started).
        readers: reader processes.
        reads: reads completed, all readers.
        errors: read errors (must be empty).
        regressions: a version, row count or last id seen going backwards (must be empty).
        stored: ticks the writer(s) stored meanwhile.
        max_version: the highest ArcticDB version a reader saw (each append and each compaction adds one).
        by_kind: reads per reader kind.
        versions: per reader, per symbol (first version seen, last version seen).
    """

    seconds: float
    readers: int
    reads: int
    errors: tuple[str, ...]
    regressions: tuple[str, ...]
    stored: int
    max_version: int
    by_kind: dict[str, int]
    versions: tuple[dict[str, tuple[int, int]], ...] = ()

    @property
    def ok(self) -> bool:
        """Zero read errors and no regression."""
        return not self.errors and not self.regressions and self.reads > 0


def _start_readers(uri: str, library: str, symbols: Sequence[str], n: int, seconds: float, timeout: float) -> tuple[list[Any], Any, Any]:
    from _support.ingest_child import READER_KINDS, read_loop

    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = []
    for i in range(n):
        kind = READER_KINDS[i % len(READER_KINDS)] if n < 4 else ("dashboard", "dashboard", "report", "notebook")[i % 4]
        p = ctx.Process(target=read_loop, args=(uri, library, list(symbols), kind, seconds, ready, go, out), daemon=True)
        p.start()
        procs.append(p)
    for _ in range(n):
        ready.get(timeout=timeout)
    return procs, go, out


def _collect_readers(procs: list[Any], out: Any, seconds: float, timeout: float) -> list[dict[str, Any]]:
    results = [out.get(timeout=seconds + timeout) for _ in procs]
    for p in procs:
        p.join(timeout)
        if p.is_alive():
            p.terminate()
    return results


def run_concurrency(
    uri: str,
    *,
    seconds: float = 20.0,
    readers: int = 8,
    speed: float = 20.0,
    seed: int = 0,
    symbols: Sequence[str] = SYNTHETIC_SYMBOLS,
    maintain_every: int = 5,
    timeout: float = 180.0,
) -> ConcurrencyResult:
    """One ingest writer (with frequent prune + compact) and ``readers`` reader processes for ``seconds``.

    Readers are dashboards (tail + 1 s bars + catalogue), reports (full read + 1 min bars + gaps)
    and notebooks (recent window + bars); see :func:`_support.ingest_child.read_loop`.
    """
    store = TickStore(uri, maintenance=MaintenancePolicy(interval=None, every_appends=maintain_every))
    with LocalExchange(SyntheticMarket(seed=seed, speed=speed), ping_interval=2.0, ping_timeout=2.0) as ex:
        ing = Ingestor(_feed_config(ex.url, symbols), store,
                       config=IngestConfig(flush_interval=0.1, batch_size=5000, queue_size=200_000)).start()
        try:
            ing.wait_stored(100, timeout=timeout)
            procs, go, out = _start_readers(uri, store.library, symbols, readers, seconds, timeout)
            stored0 = ing.stats.stored
            go.set()
            results = _collect_readers(procs, out, seconds, timeout)
            stored = ing.stats.stored - stored0
        finally:
            stats = ing.stop()
    return _readers_result(seconds, results, stored)


def _readers_result(seconds: float, results: list[dict[str, Any]], stored: int) -> ConcurrencyResult:
    by_kind: dict[str, int] = {}
    for r in results:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + r["reads"]
    top = max((v[1] for r in results for v in r["versions"].values()), default=-1)
    return ConcurrencyResult(
        seconds, len(results), sum(r["reads"] for r in results),
        tuple(e for r in results for e in r["errors"]), tuple(g for r in results for g in r["regressions"]),
        stored, int(top), by_kind, tuple(r["versions"] for r in results),
    )


def run_sharded(
    uri: str,
    *,
    shards: Sequence[Sequence[str]] = (SYNTHETIC_SYMBOLS[:2], SYNTHETIC_SYMBOLS[2:]),
    seconds: float = 10.0,
    readers: int = 2,
    speed: float = 20.0,
    seed: int = 0,
    library: str = "quantkit",
    timeout: float = 180.0,
) -> tuple[ScenarioResult, ConcurrencyResult]:
    """Several ingest processes, each owning a shard of symbols, write one library while readers read.

    Returns the store-vs-exchange result over all symbols and the readers' result.
    """
    t0 = time.monotonic()
    symbols = [s for shard in shards for s in shard]
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"shards={shards!r}: a symbol must belong to exactly one shard (one writer per symbol)")
    notes: list[str] = []
    store = TickStore(config=StoreConfig(uri=uri, library=library), maintenance=None)
    with LocalExchange(SyntheticMarket(seed=seed, speed=speed), ping_interval=2.0, ping_timeout=2.0) as ex:
        writers = [IngestChild(ex.url, uri, shard, "--maintain-every", "20", "--flush", "0.25") for shard in shards]
        for w in writers:
            if not w.wait_for(lambda c: bool(c.acks), timeout):
                notes.append(f"writer {w.symbols} stored nothing")
        procs, go, out = _start_readers(uri, library, symbols, readers, seconds, timeout)
        go.set()
        results = _collect_readers(procs, out, seconds, timeout)
        target = _last_published(ex, symbols)
        for w in writers:
            mine = {s: target[s] for s in w.symbols if s in target}
            if not w.wait_for(_caught_up(w, mine), timeout):
                notes.append(f"writer {w.symbols} did not catch up: {w.acks} < {mine}")
        for w in writers:
            code = w.terminate()
            if code != 0:
                notes.append(f"writer {w.symbols} exited with {code}")
        acks = {s: i for w in writers for s, i in w.acks.items()}
        cmp, problems = _check_store(store, ex, symbols, acks, "stored")
        notes += problems
    readers_result = _readers_result(seconds, results, sum(c.stored for c in cmp.values()))
    notes += [f"reader: {e}" for e in readers_result.errors[:5]] + [f"reader: {g}" for g in readers_result.regressions[:5]]
    res = ScenarioResult(f"{len(shards)} writers x {len(symbols) // max(1, len(shards))} symbols", {"writers": len(shards)},
                         not notes, _total(cmp), {}, time.monotonic() - t0, tuple(notes))
    return res, readers_result


# ------------------------------------------------------------------------------------------ report


def format_table(results: Sequence[ScenarioResult]) -> str:
    """The campaign table: one row per scenario (plain text, fixed width)."""
    head = ("fault", "injected", "survived", "published", "stored", "lost", "unfilled (recorded)", "duplicates", "reconnects", "backfilled", "rejected", "s")
    rows = []
    for r in results:
        c = r.comparison
        inj = ", ".join(f"{k} {v}" for k, v in sorted(r.injected.items()) if k not in _NOT_FAULTS) or "-"
        rows.append((
            r.name, inj, "yes" if r.survived else "NO", f"{c.published:,}", f"{c.stored:,}", f"{c.lost:,}",
            f"{c.recorded:,}", f"{c.duplicates:,}", str(r.stats.get("reconnects", "-")),
            f"{r.stats['backfilled']:,}" if "backfilled" in r.stats else "-",
            f"{r.stats['rejected_total']:,}" if "rejected_total" in r.stats else "-", f"{r.seconds:.1f}",
        ))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    out = [line(head), line(tuple("-" * w for w in widths))]
    out += [line(r) for r in rows]
    return "\n".join(out)

