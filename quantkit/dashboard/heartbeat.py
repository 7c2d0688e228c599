"""A viewer lease: a browser-side heartbeat that keeps a kernel's publishers alive only while someone watches.

Why: Voila starts one kernel per page load and does not shut it down when the tab
closes (the ``beforeunload`` beacon is refused for a missing ``_xsrf`` argument,
voila-dashboards/voila#1458). The server's idle culler cannot help a *streaming*
page either: every widget update is IOPub traffic, so the kernel never looks idle.

How: :class:`ViewerLease` puts a hidden ``ipywidgets.Play`` in the page. It ticks
in the browser (every ``interval_ms``), and each tick reaches the kernel as a
``comm_msg``. A watchdog thread in the kernel notices when ticks stop for
``timeout_s`` (tab closed, browser gone, network down) and calls the ``on_expire``
callbacks: the page stops its publisher threads, the kernel sends nothing more,
becomes idle, and ``MappingKernelManager.cull_idle_timeout`` reclaims it. If ticks
come back (a background tab throttled by the browser, a short network outage), the
``on_renew`` callbacks restart the publishers.

Time to reclaim after the tab closes is at most
``timeout_s + cull_idle_timeout + cull_interval`` (+ one watchdog poll).

Starting the clock: ipywidgets' ``Play`` only starts ticking when ``playing`` *changes*
to true while its view exists (a Play created with ``playing=True`` never ticks). So the
watchdog "kicks" the clock (``playing`` false, then true, as two messages):

* as soon as the browser reports a new view of it (the clock tracks ``_view_count``, which
  the page updates when it renders the widget), however long the page took to render;
* and, as a fallback, every ``kick_every_s`` until the first tick arrives, for
  ``kick_window_s`` after the lease starts and after each page load (the browser's
  ``request_state`` for the clock).

Outside those moments the watchdog is silent: it sleeps on an event and sends no widget
message, so it never keeps an abandoned kernel busy.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any, Callable, Mapping

from quantkit._threads import ServiceThread

__all__ = ["ViewerLease"]

log = logging.getLogger("quantkit.dashboard")

Callback = Callable[[], None]


@functools.lru_cache(maxsize=1)
def _clock_class() -> type:
    """``LeaseClock``: a ``Play`` that reports page loads (its ``request_state`` messages) to ``on_page_load``."""
    import ipywidgets as widgets

    class LeaseClock(widgets.Play):  # type: ignore[misc]
        on_page_load: Callable[[], None] | None = None

        def _handle_msg(self, msg: Any) -> None:
            try:
                if msg["content"]["data"].get("method") == "request_state" and self.on_page_load is not None:
                    self.on_page_load()
            except (KeyError, TypeError, AttributeError):
                pass
            super()._handle_msg(msg)

    return LeaseClock


class ViewerLease:
    """Track whether a browser still shows this kernel's page.

    Args:
        timeout_s: seconds without a browser tick before the lease expires (default 15).
            Keep it several times ``interval_ms``: browsers slow timers in background tabs
            (to about one tick per second, and per minute after five hidden minutes in Chrome);
            an expired lease only pauses the page, it renews on the next tick.
        interval_ms: browser tick period, milliseconds (default 2000; must be below ``timeout_s``).
        poll_s: watchdog check period, seconds (default ``min(1, timeout_s / 4)``).
        kick_every_s: seconds between kicks of the browser clock until it ticks (default 1).
        kick_window_s: seconds to keep kicking after the start and after each page load (default 20).
        clock: monotonic clock in seconds (tests may inject one).

    Attributes:
        widget: the hidden ``ipywidgets.Play`` to put in the page.
        beats: browser ticks received.
        expiries: times the lease expired; renewals: times it came back.
        kicks: clock kicks sent; page_loads: page loads seen.

    Raises:
        ValueError: a non-positive timeout or interval, or an interval not below the timeout.

    Example:
        >>> lease = ViewerLease(timeout_s=15)                          # doctest: +SKIP
        >>> lease.on_expire(publisher.stop); lease.on_renew(publisher.start)  # doctest: +SKIP
        >>> display(VBox([page, lease.widget])); lease.start()         # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        timeout_s: float = 15.0,
        interval_ms: int = 2000,
        poll_s: float | None = None,
        kick_every_s: float = 1.0,
        kick_window_s: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import ipywidgets as widgets

        if not float(timeout_s) > 0:
            raise ValueError(f"timeout_s={timeout_s!r}: must be > 0 seconds")
        if not int(interval_ms) > 0 or int(interval_ms) / 1000.0 >= float(timeout_s):
            raise ValueError(f"interval_ms={interval_ms!r}: must be > 0 and below timeout_s ({timeout_s} s)")
        self.timeout_s = float(timeout_s)
        self.interval_ms = int(interval_ms)
        self.poll_s = float(poll_s) if poll_s is not None else min(1.0, self.timeout_s / 4.0)
        if not self.poll_s > 0:
            raise ValueError(f"poll_s={poll_s!r}: must be > 0 seconds")
        if not (float(kick_every_s) > 0 and float(kick_window_s) >= 0):
            raise ValueError(f"kick_every_s={kick_every_s!r}, kick_window_s={kick_window_s!r}: must be > 0 and >= 0 seconds")
        self.kick_every_s = float(kick_every_s)
        self.kick_window_s = float(kick_window_s)
        self._clock = clock
        self.widget = _clock_class()(
            value=0, min=0, max=2**31 - 1, step=1, interval=self.interval_ms, repeat=True, playing=False,
            show_repeat=False, layout=widgets.Layout(display="none"),
        )  # fmt: skip
        self.widget.on_page_load = self._on_page_load
        self.widget.add_class("qk-viewer-lease")
        self.widget.observe(self._on_tick, names="value")
        self._clocks: list[Any] = []
        self._kick_due = False
        self._track_views(self.widget)
        self.beats = 0
        self.expiries = 0
        self.renewals = 0
        self.kicks = 0
        self.page_loads = 0
        self._last = clock()
        self._expired = False
        self._ticking = False
        self._kick_until = -1.0
        self._next_kick = -1.0
        self._expire_cbs: list[Callback] = []
        self._renew_cbs: list[Callback] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._loop = ServiceThread(lambda _stop: self._run(), name="quantkit-viewer-lease", stop=self._stop)

    # ---------------------------------------------------------------------------------------------- API
    @property
    def alive(self) -> bool:
        """True while the lease holds (a tick arrived within ``timeout_s``)."""
        return not self._expired

    @property
    def age_s(self) -> float:
        """Seconds since the last browser tick (or since creation)."""
        return self._clock() - self._last

    def on_expire(self, callback: Callback) -> None:
        """Call ``callback()`` (in the watchdog thread) each time the lease expires."""
        self._expire_cbs.append(callback)

    def on_renew(self, callback: Callback) -> None:
        """Call ``callback()`` (in the watchdog thread) each time ticks return after an expiry."""
        self._renew_cbs.append(callback)

    def kick_also(self, play: Any) -> None:
        """Also start another ``ipywidgets.Play`` of the page: kicked with the lease's clock and when it is rendered."""
        self._track_views(play)

    def _track_views(self, play: Any) -> None:
        self._clocks.append(play)
        if play._view_count is None:
            play._view_count = 0  # the page now reports each view it renders
        play.observe(self._on_views, names="_view_count")

    def start(self) -> "ViewerLease":
        """Start the watchdog thread (idempotent); the lease counts from now."""
        if not self._loop.running:
            self._last = self._clock()
            self._kick_until = self._last + self.kick_window_s
            self._loop.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the watchdog (idempotent). Callbacks are not called."""
        self._stop.set()
        self._wake.set()
        self._loop.stop(timeout)

    def check(self) -> bool:
        """One watchdog step: kick the clock, expire or renew as due, run the callbacks; returns :attr:`alive`."""
        now = self._clock()
        if self._kick_due or (not self._ticking and now < self._kick_until and now >= self._next_kick):
            self._kick_due = False
            self._kick()
            self._next_kick = now + self.kick_every_s
        stale = now - self._last > self.timeout_s
        if stale and not self._expired:
            self._expired = True
            self.expiries += 1
            log.info("viewer lease expired: no browser tick for %.0f s; stopping the page's publishers", self.timeout_s)
            self._call(self._expire_cbs)
        elif not stale and self._expired:
            self._expired = False
            self.renewals += 1
            log.info("viewer lease renewed: the browser is back; restarting the page's publishers")
            self._call(self._renew_cbs)
        return not self._expired

    # ---------------------------------------------------------------------------------------------- internals
    def _on_tick(self, change: Mapping[str, Any]) -> None:
        # runs in the kernel's shell thread for each browser tick: record it, never raise
        self.beats += 1
        self._ticking = True
        self._last = self._clock()
        if self._expired:
            self._wake.set()  # renew now rather than at the next poll

    def _on_page_load(self) -> None:
        # a page (re)loads the clock's state: kick it until it ticks
        self.page_loads += 1
        self._ticking = False
        self._kick_until = self._clock() + self.kick_window_s
        self._next_kick = -1.0
        self._wake.set()

    def _on_views(self, change: Mapping[str, Any]) -> None:
        # the page rendered a clock (its view count went up): start it now
        if (change.get("new") or 0) > (change.get("old") or 0):
            self._kick_due = True
            self._wake.set()

    def _kick(self) -> None:
        """Start the browser clocks: ``playing`` false then true, as two separate messages."""
        self.kicks += 1
        for play in self._clocks:
            try:
                play.playing = False
                play.playing = True
            except Exception:  # noqa: BLE001 - a closed comm must not stop the watchdog
                log.debug("viewer lease: kick failed", exc_info=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            now = self._clock()
            kicking = not self._ticking and now < self._kick_until
            self._wake.wait(min(self.poll_s, self.kick_every_s) if kicking else self.poll_s)
            self._wake.clear()

    @staticmethod
    def _call(callbacks: list[Callback]) -> None:
        for cb in callbacks:
            try:
                cb()
            except Exception:  # noqa: BLE001 - one failing publisher must not stop the others
                log.exception("viewer lease callback %r failed", cb)
