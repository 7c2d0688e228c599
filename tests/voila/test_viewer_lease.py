"""The viewer lease with a fake clock: expiry stops, renewal restarts, the browser clock is kicked only when needed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from quantkit.dashboard.heartbeat import ViewerLease


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lease(clock: FakeClock, **kw: Any) -> tuple[ViewerLease, list[str], list[Any]]:
    lease = ViewerLease(timeout_s=10, interval_ms=2000, clock=clock, **kw)
    events: list[str] = []
    lease.on_expire(lambda: events.append("expire"))
    lease.on_renew(lambda: events.append("renew"))
    sent: list[Any] = []
    lease.widget._send = lambda msg, buffers=None: sent.append(msg["state"])  # the comm to the page
    return lease, events, sent


def _tick(lease: ViewerLease) -> None:
    """A browser tick as the kernel receives it."""
    lease.widget.value = lease.widget.value + 1


def test_missing_ticks_expire_the_lease_and_returning_ticks_renew_it() -> None:
    """No tick for timeout_s calls on_expire once; the next tick calls on_renew once."""
    clock = FakeClock()
    lease, events, _ = _lease(clock)
    lease._last = clock()
    clock.now += 9
    assert lease.check() and events == []
    _tick(lease)
    clock.now += 9.5
    assert lease.check() and events == []  # ticks keep it alive
    clock.now += 1
    assert not lease.check() and events == ["expire"]
    clock.now += 100
    assert not lease.check() and events == ["expire"]  # once
    _tick(lease)
    assert lease.check() and events == ["expire", "renew"] and lease.renewals == 1 and lease.expiries == 1


def test_the_browser_clock_is_kicked_until_it_ticks_then_never_again() -> None:
    """Kicks (playing false then true) go out every kick_every_s in the window, and stop at the first tick."""
    clock = FakeClock()
    lease, _, sent = _lease(clock, kick_every_s=1.0, kick_window_s=5.0)
    lease._kick_until = clock() + lease.kick_window_s
    for _ in range(3):
        lease.check()
        clock.now += 1.0
    assert lease.kicks == 3 and sent[:3] == [{"playing": True}, {"playing": False}, {"playing": True}]
    _tick(lease)
    before = len(sent)
    for _ in range(10):
        clock.now += 1.0
        lease.check()
    assert lease.kicks == 3 and len(sent) == before  # a ticking clock is left alone: the kernel stays quiet


def test_a_page_load_restarts_the_kicks_and_nothing_is_sent_outside_windows() -> None:
    """After the kick window the watchdog is silent; a page's request_state opens a new window."""
    clock = FakeClock()
    lease, _, sent = _lease(clock, kick_every_s=1.0, kick_window_s=3.0)
    lease._kick_until = clock() + 3.0
    for _ in range(8):
        lease.check()
        clock.now += 1.0
    kicks = lease.kicks
    assert kicks == 3
    n = len(sent)
    for _ in range(5):
        clock.now += 1.0
        lease.check()
    assert len(sent) == n  # silent: an abandoned kernel can go idle
    lease.widget.comm.handle_msg({"content": {"comm_id": lease.widget.comm.comm_id,
                                              "data": {"method": "request_state"}}, "buffers": []})  # fmt: skip
    assert lease.page_loads == 1
    lease.check()
    assert lease.kicks == kicks + 1


def test_a_rendered_clock_is_kicked_at_once_even_after_the_windows() -> None:
    """When the page reports a new view of the clock (however late), the next check kicks it."""
    clock = FakeClock()
    lease, _, sent = _lease(clock, kick_window_s=2.0)
    clock.now += 600  # long after every kick window: a page that took ages to render
    lease.check()
    kicks = lease.kicks
    lease.widget.comm.handle_msg({"content": {"comm_id": lease.widget.comm.comm_id, "data": {
        "method": "update", "state": {"_view_count": 1}, "buffer_paths": []}}, "buffers": []})  # fmt: skip
    lease.check()
    assert lease.kicks == kicks + 1 and sent[-1] == {"playing": True}
    lease.check()
    assert lease.kicks == kicks + 1  # once per new view


def test_other_clocks_are_kicked_too_and_a_failing_callback_does_not_stop_the_rest() -> None:
    """kick_also() adds Play widgets; an exception in one expire callback still runs the others."""
    import ipywidgets as widgets

    clock = FakeClock()
    lease, events, _ = _lease(clock)
    other = widgets.Play(playing=True)
    got: list[Any] = []
    other._send = lambda msg, buffers=None: got.append(msg["state"])
    lease.kick_also(other)
    lease._kick_until = clock() + 5
    lease.check()
    assert [g for g in got if "playing" in g] == [{"playing": False}, {"playing": True}]
    assert other._view_count == 0  # the page will report its views

    def boom() -> None:
        raise RuntimeError("publisher failed to stop")

    lease._expire_cbs.insert(0, boom)
    clock.now += 11
    lease.check()
    assert events == ["expire"]


def test_bad_arguments_are_value_errors() -> None:
    """Non-positive timeouts, or a tick period not below the timeout, are refused."""
    for kw in ({"timeout_s": 0}, {"timeout_s": 2, "interval_ms": 2000}, {"interval_ms": 0}, {"poll_s": 0},
               {"kick_every_s": 0}):  # fmt: skip
        with pytest.raises(ValueError):
            ViewerLease(**kw)


def test_the_watchdog_thread_starts_and_stops(timeout_unit: float) -> None:
    """start() runs the watchdog in a daemon thread; stop() ends it."""
    lease = ViewerLease(timeout_s=1, interval_ms=200, poll_s=0.05, kick_window_s=0)
    expired: list[int] = []
    lease.on_expire(lambda: expired.append(1))
    lease.start()
    try:
        assert lease._loop.running
        deadline = time.monotonic() + 10 * timeout_unit
        while not expired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert expired == [1]
    finally:
        lease.stop()
    assert not lease._loop.running
