"""REST backfill against the real LocalExchange: holes filled in order, unfillable ranges reported, rate limits obeyed.

Gaps are forced three ways: a client seeded with ``last_ids`` below the stream
(the hole is probed on connect), frames dropped in the middle of a connection by
the exchange's fault-injection policy, and a hole older than the exchange's
bounded history. Faulty REST answers (429, 418, 5xx, 400) come from the policy's
``on_rest`` hook. The ground truth is the exchange's own history, read after it stopped.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from quantkit.config import SYNTHETIC_SYMBOLS, FeedConfig
from quantkit.exchange import ConnectionPolicy, LocalExchange, ReplaySource, RestReply, SyntheticMarket
from quantkit.feed import BackfillOptions, FeedClient, FeedStats, Gap
from quantkit.schema import Trade

CAPTURE = "binance_ws_capture_2024-08-08_hftbacktest/raw/spot_btcusdt_20240808.gz"
PREFIX = {"spot": "/api/v3", "futures": "/fapi/v1"}
ENDPOINT = {"trade": "historicalTrades", "aggTrade": "aggTrades"}
ID_KEY = {"trade": "id", "aggTrade": "a"}


class DropFrames(ConnectionPolicy):
    """Drop the data frames numbered ``start .. stop - 1`` for each ``(start, stop)`` of one WebSocket connection."""

    def __init__(self, *ranges: tuple[int, int]) -> None:
        self.ranges, self.seen = ranges, 0

    def outgoing(self, frames: list[bytes]) -> list[bytes]:
        out = [f for i, f in enumerate(frames, self.seen) if not any(a <= i < b for a, b in self.ranges)]
        self.seen += len(frames)
        return out


class ScriptedRest(ConnectionPolicy):
    """Answer the client's n-th backfill request (0-based) with ``replies[n]`` while there are replies; log their times.

    Only requests for full pages (``limit=1000``, the client's) are scripted; the test's own
    ``limit=1`` look-ups are served normally.
    """

    def __init__(self, shared: dict[str, Any]) -> None:
        self.shared = shared

    def on_rest(self, path: str) -> RestReply | None:
        if "limit=1000" not in path:
            return None
        with self.shared["lock"]:
            n = len(self.shared["times"])
            self.shared["times"].append(time.monotonic())
            replies = self.shared["replies"]
            reply = replies[n] if n < len(replies) else self.shared.get("then")
        return reply


def scripted_rest(replies: list[RestReply], then: RestReply | None = None) -> tuple[Callable[[str], ConnectionPolicy], dict[str, Any]]:
    """A policy factory whose REST answers follow ``replies`` (then ``then``, None = real answers)."""
    shared: dict[str, Any] = {"lock": threading.Lock(), "times": [], "replies": replies, "then": then}
    policy = ScriptedRest(shared)
    return (lambda path: policy if path.startswith(("/api/", "/fapi/")) else ConnectionPolicy()), shared


def _error(status: int, headers: tuple[tuple[str, str], ...] = (), code: int = -1003) -> RestReply:
    return RestReply(status, json.dumps({"code": code, "msg": "scripted"}).encode(), 1, headers)


def _rest(ex: LocalExchange, market: str, stream: str, symbol: str, from_id: int, limit: int = 1) -> list[dict[str, Any]]:
    url = f"{ex.url}{PREFIX[market]}/{ENDPOINT[stream]}?symbol={symbol}&fromId={from_id}&limit={limit}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        rows: list[dict[str, Any]] = json.loads(resp.read())
    return rows


def _first_id(ex: LocalExchange, market: str, stream: str, symbol: str, wait: Callable[..., None]) -> int:
    """The oldest id the exchange serves for ``symbol`` (waits for its first trade)."""
    got: list[int] = []

    def ready() -> bool:
        rows = _rest(ex, market, stream, symbol, 0)
        got[:] = [rows[0][ID_KEY[stream]]] if rows else []
        return bool(got)

    wait(ready, units=20, what=f"a first {symbol} trade")
    return got[0]


def _published(ex: LocalExchange, symbol: str, stream: str) -> tuple[np.ndarray, ...]:
    """The exchange's history of ``symbol`` (ids, price, qty, time, m) for the stream kind; read after stop()."""
    hist = ex.histories[symbol]
    if stream == "trade":
        ids, price, qty, _, t, m = hist.trades.rows(hist.trades.first_row, hist.trades.end_row)
    else:
        ids, price, qty, _, _, t, m = hist.aggs.rows(hist.aggs.first_row, hist.aggs.end_row)
    return ids, price, qty, t, m


def _assert_matches_exchange(got: list[Trade], ex: LocalExchange, symbol: str, stream: str) -> list[int]:
    """The sink's trades of ``symbol`` are exactly the exchange's over the span both cover, strictly increasing.

    Returns all the sink's ids of ``symbol``. The span starts at the exchange's oldest kept id
    when its bounded history dropped the sink's first trades meanwhile.
    """
    ids = [t.trade_id for t in got if t.symbol == symbol]
    assert ids, f"{symbol}: nothing delivered"
    assert all(a < b for a, b in zip(ids, ids[1:])), f"{symbol}: ids not strictly increasing"
    pub_ids, price, qty, t, m = _published(ex, symbol, stream)
    assert len(pub_ids) and pub_ids[0] <= ids[-1], f"{symbol}: the exchange no longer holds what was delivered"
    lo = max(ids[0], int(pub_ids[0]))
    mine = [x for x in got if x.symbol == symbol and x.trade_id >= lo]
    span = (pub_ids >= lo) & (pub_ids <= ids[-1])
    assert pub_ids[span].tolist() == [x.trade_id for x in mine], f"{symbol}: delivered ids differ from the exchange's"
    assert np.allclose(price[span], [x.price for x in mine], rtol=1e-12)
    assert np.allclose(qty[span], [x.qty for x in mine], rtol=1e-12)
    assert t[span].tolist() == [x.trade_time for x in mine]
    assert m[span].tolist() == [x.is_buyer_maker for x in mine]
    return ids


def _got_of(got: list[Trade], symbol: str) -> list[Trade]:
    return [t for t in got if t.symbol == symbol]


def _idle(client: FeedClient) -> bool:
    s = client.stats
    return s.held == 0 and s.backfill is not None and not s.backfill.active


def _accounted(s: FeedStats) -> bool:
    return s.received == s.accepted + s.rejected_total + s.control_replies + s.server_shutdowns + s.held


def _config(ex: LocalExchange, symbols: tuple[str, ...], market: str = "spot", stream: str = "trade") -> FeedConfig:
    base = FeedConfig.for_source("local", symbols, local_url=ex.url, market=market, stream=stream)
    return replace(base, backoff_initial=0.05, ping_interval=None)


FAST = BackfillOptions(retry_initial=0.05, retry_max=0.2, not_served_delay=0.02)


@pytest.mark.parametrize(("market", "stream"), [("spot", "trade"), ("futures", "aggTrade")])
def test_seeded_hole_is_backfilled_in_order(feed_runner, wait_until, market, stream) -> None:
    """A client seeded below the stream's first id gets every published id once, in order, before the live ones."""
    got: list[Trade] = []
    gaps: list[Gap] = []
    with LocalExchange(SyntheticMarket(seed=21, speed=20.0, market=market), ping_interval=None) as ex:
        first = {s: _first_id(ex, market, stream, s, wait_until) for s in SYNTHETIC_SYMBOLS}
        wait_until(lambda: ex.published >= 1500, units=30, what="1500 trades published before the client starts")
        client = FeedClient(_config(ex, SYNTHETIC_SYMBOLS, market, stream), got.append, on_gap=gaps.append,
                            last_ids={s: i - 1 for s, i in first.items()}, backfill_options=FAST)
        runner = feed_runner(client)
        wait_until(lambda: client.stats.accepted >= 400 and _idle(client), units=30, what="backfill done and live trades")
        runner.stop(10)
    s = client.stats
    assert s.backfill is not None and s.backfill.trades >= 500 and s.backfill.gaps_unfilled == 0
    assert s.missing_trades == 0 and s.held == 0 and _accounted(s)
    assert gaps and all(g.filled and g.reason is None for g in gaps)
    for sym in SYNTHETIC_SYMBOLS:
        ids = _assert_matches_exchange(got, ex, sym, stream)
        assert ids[0] == first[sym], f"{sym}: the hole before the stream was not backfilled from its start"
        filled = [g for g in gaps if g.symbol == sym]
        assert filled[0].from_id == first[sym] and filled[0].first_missing_time == _got_of(got, sym)[0].trade_time


@pytest.mark.parametrize("stream", ["trade", "aggTrade"])
def test_frames_dropped_mid_stream_are_backfilled(shared_data: Path, feed_runner, wait_until, stream) -> None:
    """Frames lost twice in the middle of a connection (real BTCUSDT capture) are fetched over REST; the sink equals the exchange.

    The second hole comes while the first one's held trades pile up or are being released, so it must
    stop that release at its start.
    """
    made: list[DropFrames] = []

    def factory(path: str) -> ConnectionPolicy:
        if path.startswith("/stream") and not made:
            made.append(DropFrames((1000, 2500), (2600, 2700)))
            return made[0]
        return ConnectionPolicy()

    got: list[Trade] = []
    gaps: list[Gap] = []
    source = ReplaySource(shared_data / CAPTURE, speed=float("inf"))
    with LocalExchange(source, ping_interval=None, policy_factory=factory) as ex:
        client = FeedClient(_config(ex, ("BTCUSDT",), stream=stream), got.append, on_gap=gaps.append, backfill_options=FAST)
        runner = feed_runner(client)
        wait_until(lambda: ex.done.is_set(), units=60, what="the whole capture published")
        wait_until(lambda: _idle(client) and client.stats.received == made[0].seen - 1600, units=30,
                   what="every sent frame received and the backfill done")
        runner.stop(10)
    s = client.stats
    ids = _assert_matches_exchange(got, ex, "BTCUSDT", stream)
    pub_ids = _published(ex, "BTCUSDT", stream)[0]
    assert ids == pub_ids.tolist(), "the sink must hold every id the exchange published, once"
    assert [(g.filled, g.from_id, g.to_id) for g in gaps] == [(True, ids[1000], ids[2499]), (True, ids[2600], ids[2699])]
    assert s.backfill is not None and s.backfill.trades == 1600 and s.backfill.held_max >= 1
    assert s.rejected_total == 0 and s.held == 0 and _accounted(s)


def test_gap_older_than_history_is_reported_unfillable(feed_runner, wait_until) -> None:
    """Ids older than the exchange's bounded history are reported unfilled (ids and times); the rest is filled."""
    sym = "SYNAUSDT"
    got: list[Trade] = []
    gaps: list[Gap] = []
    with LocalExchange(SyntheticMarket(seed=4, speed=50.0), ping_interval=None, history_size=300) as ex:
        first = _first_id(ex, "spot", "trade", sym, wait_until)
        wait_until(lambda: _rest(ex, "spot", "trade", sym, 0)[0]["id"] > first + 100, units=30,
                   what="the history dropping its oldest trades")
        client = FeedClient(_config(ex, (sym,)), got.append, on_gap=gaps.append, last_ids={sym: first}, backfill_options=FAST)
        runner = feed_runner(client)
        wait_until(lambda: client.stats.accepted >= 100 and _idle(client), units=30, what="backfill done")
        runner.stop(10)
    ids = _assert_matches_exchange(got, ex, sym, "trade")
    assert ids == list(range(ids[0], ids[-1] + 1))
    lost, filled = gaps[0], gaps[1]
    assert not lost.filled and lost.reason == "not_served"
    assert (lost.from_id, lost.to_id) == (first + 1, ids[0] - 1) and lost.missing > 100
    assert lost.first_missing_time is None and lost.next_trade_time == got[0].trade_time
    assert filled.filled and filled.from_id == ids[0]
    s = client.stats
    assert s.backfill is not None and s.backfill.gaps_unfilled == 1 and s.backfill.missing_unfilled == lost.missing
    assert s.missing_trades == lost.missing and _accounted(s)


def test_429_retry_after_and_5xx_are_retried(feed_runner, wait_until) -> None:
    """A 429 holds requests for Retry-After seconds, 5xx answers are retried, then the hole is filled."""
    factory, shared = scripted_rest([_error(429, (("Retry-After", "1"),)), _error(503), _error(500)])
    sym = "SYNBUSDT"
    got: list[Trade] = []
    with LocalExchange(SyntheticMarket(seed=8, speed=20.0), ping_interval=None, policy_factory=factory) as ex:
        first = _first_id(ex, "spot", "trade", sym, wait_until)
        client = FeedClient(_config(ex, (sym,)), got.append, last_ids={sym: first - 1}, backfill_options=FAST)
        runner = feed_runner(client)
        wait_until(lambda: client.stats.accepted >= 50 and _idle(client), units=30, what="backfill done")
        runner.stop(10)
    s = client.stats
    assert s.backfill is not None
    assert s.backfill.errors == {"429": 1, "503": 1, "500": 1} and s.backfill.retries == 3
    assert s.backfill.rate_limit_waits >= 1 and s.backfill.rate_limit_wait_s >= 0.9
    times = shared["times"]
    assert times[1] - times[0] >= 0.95, "the request after the 429 came before Retry-After elapsed"
    assert s.backfill.weight_used is not None and s.backfill.weight_used >= 25
    ids = _assert_matches_exchange(got, ex, sym, "trade")
    assert ids[0] == first and s.missing_trades == 0


@pytest.mark.parametrize(
    ("reply", "reason", "requests"),
    [
        (_error(418, (("Retry-After", "600"),)), "rate_limited", 1),  # banned longer than max_wait: give up at once
        (_error(400, code=-1121), "rest_error", 1),  # a client error is not retried
        (_error(502), "rest_error", 3),  # 5xx: retried, then given up
    ],
)
def test_rest_failure_reports_gap_unfilled_and_releases_live_trades(feed_runner, wait_until, reply, reason, requests) -> None:
    """When REST cannot help, the hole is reported unfilled with its reason and the held live trades flow on."""
    factory, shared = scripted_rest([], then=reply)
    sym = "SYNCUSDT"
    got: list[Trade] = []
    gaps: list[Gap] = []
    with LocalExchange(SyntheticMarket(seed=9, speed=20.0), ping_interval=None, policy_factory=factory) as ex:
        first = _first_id(ex, "spot", "trade", sym, wait_until)
        opts = replace(FAST, retries=2)
        client = FeedClient(_config(ex, (sym,)), got.append, on_gap=gaps.append, last_ids={sym: first - 100},
                            backfill_options=opts)
        runner = feed_runner(client)
        wait_until(lambda: client.stats.accepted >= 50 and _idle(client), units=30, what="live trades after the failure")
        runner.stop(10)
    s = client.stats
    assert s.backfill is not None and s.backfill.requests == requests == len(shared["times"])
    assert len(gaps) == 1 and not gaps[0].filled and gaps[0].reason == reason
    assert gaps[0].from_id == first - 99 and gaps[0].to_id == got[0].trade_id - 1
    ids = [t.trade_id for t in got]
    assert ids == list(range(ids[0], ids[-1] + 1)) and s.backfill.trades == 0
    assert s.backfill.gaps_unfilled == 1 and _accounted(s)


def test_held_buffer_overflow_gives_up_and_keeps_order(feed_runner, wait_until) -> None:
    """A backfill slower than the live stream is given up once max_held trades are held ("overflow"), every time."""
    rest_factory, _ = scripted_rest([], then=_error(503))
    drops = DropFrames((100, 110), (400, 410))

    def factory(path: str) -> ConnectionPolicy:
        return drops if path.startswith("/stream") else rest_factory(path)

    got: list[Trade] = []
    gaps: list[Gap] = []
    sym = "SYNBUSDT"
    with LocalExchange(SyntheticMarket(seed=3, speed=50.0), ping_interval=None, policy_factory=factory) as ex:
        opts = BackfillOptions(max_held=40, retry_initial=5.0, retry_max=5.0)
        client = FeedClient(_config(ex, (sym,)), got.append, on_gap=gaps.append, backfill_options=opts)
        runner = feed_runner(client)
        wait_until(lambda: len(gaps) == 2 and client.stats.accepted >= 500, units=30, what="two overflows")
        runner.stop(10)
    s = client.stats
    assert [(g.filled, g.reason, g.missing) for g in gaps] == [(False, "overflow", 10)] * 2
    assert s.backfill is not None and s.backfill.held_max == 41 and s.backfill.requests == 2
    ids = [t.trade_id for t in got]
    assert all(a < b for a, b in zip(ids, ids[1:]))
    assert sorted(set(range(ids[0], ids[-1] + 1)) - set(ids)) == [
        i for g in gaps for i in range(g.from_id, g.to_id + 1)
    ]
    assert _accounted(s)


def test_stop_drops_held_trades_and_accounts_them(feed_runner, wait_until) -> None:
    """Stopping mid-backfill drops the held live trades as "held_at_stop" (a restart refetches them)."""
    factory, _ = scripted_rest([], then=_error(503))
    got: list[Trade] = []
    gaps: list[Gap] = []
    sym = "SYNAUSDT"
    with LocalExchange(SyntheticMarket(seed=3, speed=20.0), ping_interval=None, policy_factory=factory) as ex:
        opts = BackfillOptions(retry_initial=30.0, retry_max=30.0)
        client = FeedClient(_config(ex, (sym,)), got.append, on_gap=gaps.append, last_ids={sym: 1000}, backfill_options=opts)
        runner = feed_runner(client)
        wait_until(lambda: client.stats.held >= 20, units=30, what="live trades held")
        runner.stop(10)
    s = client.stats
    assert got == [] and gaps == [] and s.held == 0
    assert s.rejected["held_at_stop"] == s.received >= 20
    assert _accounted(s)
