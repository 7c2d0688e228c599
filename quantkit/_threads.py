"""Private: the one start/stop loop of quantkit's background threads (heartbeat, monitors, dashboards).

:class:`ServiceThread` owns a restartable daemon thread running ``main(stop)`` until the
``stop`` event is set; :func:`every` makes the common ``main``: call ``tick()``, wait
``interval`` seconds (or until stopped), repeat.

Example::

    loop = ServiceThread(every(self.refresh, lambda: self.interval), name="quantkit-store-monitor")
    loop.start()      # idempotent; returns the ServiceThread
    loop.stop()       # idempotent; sets the event and joins
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

__all__ = ["ServiceThread", "every"]

log = logging.getLogger("quantkit")


def every(
    tick: Callable[[], object],
    interval: float | Callable[[], float],
    *,
    on_error: Callable[[Exception], None] | None = None,
) -> Callable[[threading.Event], None]:
    """A thread body calling ``tick()`` every ``interval`` seconds until its stop event is set.

    Args:
        tick: the work of one round.
        interval: seconds from the end of one round to the start of the next, or a function
            returning them (read every round, so a changed setting applies at once).
        on_error: receives an exception raised by ``tick`` and the loop goes on; ``None``: the
            exception ends the thread (and is logged by ``threading.excepthook``).
    """

    def main(stop: threading.Event) -> None:
        while not stop.is_set():
            if on_error is None:
                tick()
            else:
                try:
                    tick()
                except Exception as exc:  # noqa: BLE001 - handed to on_error, then the next round
                    on_error(exc)
            stop.wait(interval() if callable(interval) else interval)

    return main


class ServiceThread:
    """A restartable daemon thread running ``main(stop)`` until ``stop`` is set.

    Args:
        main: the thread body; it must return soon after ``stop`` is set.
        name: the thread's name (shows in logs and ``py-spy``).
        stop: the event to use (default: a new one); an owner that checks it elsewhere passes its own.
    """

    def __init__(self, main: Callable[[threading.Event], None], *, name: str, stop: threading.Event | None = None) -> None:
        self.main = main
        self.name = name
        self.stop_event = stop if stop is not None else threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "ServiceThread":
        """Start the thread unless it runs already (idempotent); returns ``self``."""
        if not self.running:
            self.stop_event.clear()
            self._thread = threading.Thread(target=self.main, args=(self.stop_event,), name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Set the stop event and wait up to ``timeout`` seconds for the thread (idempotent).

        Returns:
            True if a thread was running (whether or not it ended within ``timeout``), else False.
        """
        self.stop_event.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return False
        if thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("thread %s did not stop within %.1f s", self.name, timeout)
        return True
