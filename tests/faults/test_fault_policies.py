"""The ready-made faults of the test harness (_support.faults), each seen from a real client of a real LocalExchange."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from quantkit.errors import MessageRejected
from quantkit.exchange import LocalExchange, SyntheticMarket
from _support.faults import (
    BurstClock,
    Disconnects,
    DuplicateFrames,
    FaultPlan,
    MalformedFrames,
    RefusedConnections,
    ReorderFrames,
    RestErrors,
    ServerShutdowns,
    Stalls,
    plan_from_spec,
)
from quantkit.feed.messages import parse_message

STREAM = "/stream?streams=synausdt@trade/synbusdt@trade/syncusdt@trade/syndusdt@trade"
SYMBOLS = frozenset({"SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT"})


@pytest.fixture
def exchange() -> Iterator[Any]:
    """Start a LocalExchange on a fast synthetic market with a given policy factory; stopped at teardown."""
    started: list[LocalExchange] = []

    def start(plan: Any, **kwargs: Any) -> LocalExchange:
        ex = LocalExchange(SyntheticMarket(seed=11, speed=50.0), policy_factory=plan, **kwargs).start()
        started.append(ex)
        return ex

    yield start
    for ex in started:
        ex.stop()


def _frames(n: int) -> list[bytes]:
    """``n`` valid combined-stream spot trade frames with ids 1..n."""
    return [
        (f'{{"stream":"synausdt@trade","data":{{"e":"trade","E":{1_700_000_000_000 + i},"s":"SYNAUSDT","t":{i},'
         f'"p":"2700.50000000","q":"0.01000000","T":{1_700_000_000_000 + i},"m":true,"M":true}}}}').encode()
        for i in range(1, n + 1)
    ]


def _valid(frame: bytes) -> bool:
    try:
        parse_message(frame, symbols=SYMBOLS)
    except MessageRejected:
        return False
    return True


async def _read_until_closed(url: str, limit: float, **kwargs: Any) -> tuple[list[str], ConnectionClosed]:
    """Receive until the server ends the connection; return the frames and the ConnectionClosed."""
    frames: list[str] = []
    async with connect(url, **kwargs) as ws:
        try:
            while True:
                frames.append(str(await asyncio.wait_for(ws.recv(), limit)))
        except ConnectionClosed as exc:
            return frames, exc
    raise AssertionError("unreachable")


def test_disconnect_aborts_the_tcp_connection_without_a_close_frame(exchange, timeout_unit: float) -> None:
    """Disconnects drops the connection after its lifetime: data arrived, then an abnormal close, counted once."""
    plan = FaultPlan([Disconnects(mean_interval=0.2, max_interval=0.5)], seed=1)
    ex = exchange(plan)
    frames, closed = asyncio.run(_read_until_closed(ex.ws_url + STREAM, 10 * timeout_unit, ping_interval=None))
    assert frames and closed.rcvd is None and closed.sent is None  # no closing handshake either way
    assert plan.injected["disconnect"] == 1 and plan.injected["connections"] == 1


def test_stall_sends_nothing_not_even_pongs_then_drops(exchange, timeout_unit: float) -> None:
    """A stalled connection goes silent (no data, no pong to our ping) and is dropped after its duration."""
    plan = FaultPlan([Stalls(mean_interval=0.2, max_interval=0.5, duration=2.0 * timeout_unit)], seed=2)
    ex = exchange(plan, ping_interval=0.2, ping_timeout=10.0)

    async def scenario() -> tuple[int, bool, ConnectionClosed]:
        async with connect(ex.ws_url + STREAM, ping_interval=None) as ws:
            n = 0
            while True:  # data flows (~1,000 trades/s) until the stall: then 0.5 s without a frame
                try:
                    await asyncio.wait_for(ws.recv(), 0.5 * timeout_unit)
                    n += 1
                except TimeoutError:
                    break
            pong = await ws.ping()
            try:
                await asyncio.wait_for(pong, 0.5 * timeout_unit)
                answered = True
            except TimeoutError:
                answered = False
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed as exc:
                return n, answered, exc
        raise AssertionError("unreachable")

    n, answered, closed = asyncio.run(asyncio.wait_for(scenario(), 20 * timeout_unit))
    assert n > 0 and not answered
    assert closed.rcvd is None  # dropped, not closed
    assert plan.injected["stall"] == 1


def test_server_shutdown_sends_the_event_then_closes_1001(exchange, timeout_unit: float) -> None:
    """ServerShutdowns ends the data with Binance's serverShutdown event and a 1001 close."""
    plan = FaultPlan([ServerShutdowns(mean_interval=0.2, max_interval=0.5)], seed=3)
    ex = exchange(plan)
    frames, closed = asyncio.run(_read_until_closed(ex.ws_url + STREAM, 10 * timeout_unit, ping_interval=None))
    last = json.loads(frames[-1])
    assert last["stream"] == "!serverShutdown" and last["data"]["e"] == "serverShutdown"
    assert all(json.loads(f)["data"]["e"] == "trade" for f in frames[:-1]) and len(frames) > 1
    assert closed.rcvd is not None and closed.rcvd.code == 1001
    assert plan.injected["server_shutdown"] == 1


def test_refusal_window_drops_the_live_connection_and_refuses_handshakes(exchange, timeout_unit: float) -> None:
    """In a refusal window the open connection is dropped and handshakes get 503; after it, they succeed."""
    now = [0.0]
    plan = FaultPlan([RefusedConnections(mean_interval=5.0, max_interval=5.0, duration=10.0)], seed=4, clock=lambda: now[0])
    ex = exchange(plan)

    async def scenario() -> tuple[int, ConnectionClosed, int]:
        async with connect(ex.ws_url + STREAM, ping_interval=None) as ws:
            await ws.recv()  # open, before any window
            now[0] = 5.0  # a window is in force (it starts within max_interval = 5 s)
            n = 0
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5 * timeout_unit)
                    n += 1
            except ConnectionClosed as exc:
                dropped = exc
        with pytest.raises(InvalidStatus) as refused:
            await connect(ex.ws_url + STREAM)
        now[0] = 100.0  # past the window (the next one is at least 10 s... after this one ends)
        plan.enabled = False  # and no more windows: the handshake must succeed
        async with connect(ex.ws_url + STREAM, ping_interval=None) as ws:
            await ws.recv()
        return n, dropped, refused.value.response.status_code

    _, dropped, status = asyncio.run(asyncio.wait_for(scenario(), 30 * timeout_unit))
    assert dropped.rcvd is None and status == 503
    assert plan.injected["refused"] == 1 and plan.injected["refusal_window"] == 1


@pytest.mark.parametrize(("fault", "statuses"), [(RestErrors(rate_limit=1.0, server_error=0.0, retry_after=3), {429}),
                                                 (RestErrors(rate_limit=0.0, server_error=1.0), {500, 502, 503})])
def test_rest_errors_answer_429_with_retry_after_or_5xx(exchange, fault: RestErrors, statuses: set[int]) -> None:
    """RestErrors replaces REST data answers with 429 + Retry-After or a 5xx; exchangeInfo is left alone."""
    plan = FaultPlan([fault], seed=5)
    ex = exchange(plan)
    seen = set()
    for _ in range(6):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(ex.url + "/api/v3/historicalTrades?symbol=SYNAUSDT&limit=5", timeout=10)
        seen.add(err.value.code)
        if err.value.code == 429:
            assert err.value.headers["Retry-After"] == "3"
        assert json.loads(err.value.read())["code"] in (-1003, -1000)
    assert seen <= statuses and seen
    with urllib.request.urlopen(ex.url + "/api/v3/exchangeInfo?symbol=SYNAUSDT", timeout=10) as ok:
        assert ok.status == 200
    assert sum(plan.injected.get(k, 0) for k in ("rest_429", "rest_5xx")) == 6


def test_malformed_frames_are_all_rejected_by_the_parser() -> None:
    """Every frame MalformedFrames inserts or mangles is rejected by parse_message; the rest are untouched."""
    plan = FaultPlan([MalformedFrames(probability=0.2, mangle_share=0.5)], seed=6)
    policy = plan(STREAM)
    frames = _frames(2000)
    out = policy.outgoing(list(frames))
    bad = [f for f in out if not _valid(f)]
    assert len(bad) == plan.injected["malformed"] > 200
    good = [f for f in out if _valid(f)]
    assert set(good) <= set(frames)  # valid output frames are original frames, in order
    assert good == sorted(good, key=frames.index)


def test_duplicates_and_reordering_keep_every_frame() -> None:
    """DuplicateFrames repeats frames (counted), ReorderFrames only permutes them; nothing is lost or invented."""
    frames = _frames(3000)
    plan = FaultPlan([DuplicateFrames(probability=0.05, max_delay=20)], seed=7)
    policy = plan(STREAM)
    out = [f for i in range(0, 3000, 100) for f in policy.outgoing(frames[i : i + 100])]
    assert set(out) == set(frames)
    extra = len(out) - len(frames)  # copies sent; a few delayed copies may still wait for later frames
    assert extra > 50 and 0 <= plan.injected["duplicate"] - extra <= 5

    plan = FaultPlan([ReorderFrames(probability=0.05, distance=5)], seed=8)
    policy = plan(STREAM)
    out = [f for i in range(0, 3000, 100) for f in policy.outgoing(frames[i : i + 100])]
    held = len(frames) - len(out)  # frames still held back at the very end
    assert held <= 5 and len(set(out)) == len(out) and set(out) <= set(frames)
    assert out != [f for f in frames if f in set(out)]  # the order really changed
    assert plan.injected["out_of_order"] > 50


def test_disabled_plan_changes_nothing() -> None:
    """With plan.enabled False every hook passes through."""
    plan = FaultPlan([MalformedFrames(probability=1.0), RestErrors(rate_limit=1.0, server_error=0.0)], seed=9)
    plan.enabled = False
    frames = _frames(100)
    assert plan(STREAM).outgoing(list(frames)) == frames
    assert plan("/api/v3/historicalTrades?symbol=SYNAUSDT").on_rest("/api/v3/historicalTrades?symbol=SYNAUSDT") is None
    assert plan.injected == {}


def test_burst_clock_runs_factor_times_faster_during_bursts() -> None:
    """BurstClock's virtual time runs at 20x inside a burst and 1x outside; sleep covers virtual time."""
    wall = [100.0]
    plan = FaultPlan()
    bc = BurstClock(20.0, mean_interval=None, duration=1.0, plan=plan, wall=lambda: wall[0])
    v0 = bc.clock()
    wall[0] = 101.0
    assert bc.clock() - v0 == pytest.approx(1.0)
    bc.burst()
    wall[0] = 101.5
    assert bc.clock() - v0 == pytest.approx(11.0) and bc.in_burst()
    wall[0] = 103.0
    assert bc.clock() - v0 == pytest.approx(22.0) and not bc.in_burst()  # 1 + 20 x 1 + 1
    assert plan.injected == {"burst": 1} and bc.bursts == 1


def test_burst_clock_schedules_bursts_within_max_interval() -> None:
    """Scheduled bursts start at least every max_interval seconds and are counted."""
    wall = [0.0]
    bc = BurstClock(10.0, mean_interval=1.0, max_interval=2.0, duration=0.5, wall=lambda: wall[0])
    wall[0] = 25.0
    v = bc.clock()
    assert bc.bursts >= 25.0 / (2.0 + 0.5) - 1
    assert v == pytest.approx(25.0 + bc.bursts * 0.5 * 9.0, rel=0.05)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: Disconnects(mean_interval=0), "mean_interval"),
        (lambda: Stalls(duration=-1), "duration"),
        (lambda: Disconnects(mean_interval=2.0, max_interval=1.0), "max_interval"),
        (lambda: MalformedFrames(probability=1.5), "probability"),
        (lambda: DuplicateFrames(max_delay=-1), "max_delay"),
        (lambda: ReorderFrames(distance=0), "distance"),
        (lambda: RefusedConnections(status=200), "status"),
        (lambda: RestErrors(rate_limit=0.7, server_error=0.7), "rate_limit"),
        (lambda: BurstClock(0), "factor"),
        (lambda: FaultPlan(["not a fault"]), "faults"),  # type: ignore[list-item]
    ],
)
def test_bad_arguments_raise_value_error_naming_them(make: Any, name: str) -> None:
    """Every fault validates its arguments and names the bad one."""
    with pytest.raises(ValueError, match=name):
        make()


def test_plan_from_spec_builds_the_named_faults() -> None:
    """A text spec (for a CLI flag) makes the faults it names, with values or defaults; unknown names fail."""
    plan = plan_from_spec("disconnect=2, malformed=0.05,rest429", seed=3)
    assert plan.faults == (Disconnects(mean_interval=2.0), MalformedFrames(probability=0.05),
                           RestErrors(rate_limit=0.2, server_error=0.0))
    with pytest.raises(ValueError, match="explode"):
        plan_from_spec("explode=1")
    with pytest.raises(ValueError, match="often"):
        plan_from_spec("stall=often")
