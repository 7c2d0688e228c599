"""One blocking call for the command line: monitor pairs and persist their alerts until stopped.

Meant for ``quantkit alerts --pairs SYNAUSDT/SYNBUSDT ...`` (the CLI only parses and calls
:func:`run_monitors`), or for the ingest process itself (``--alerts``): one
:class:`~quantkit.alerts.monitor.AlertMonitor` per pair, all driven from the calling
thread, one alert history writer per store.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, Sequence

from quantkit.alerts.monitor import AlertMonitor
from quantkit.alerts.rules import default_rules
from quantkit.config import StoreConfig
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = ["run_monitors"]

log = logging.getLogger("quantkit.alerts")


def run_monitors(
    pairs: Sequence[str],
    *,
    store: "TickStore | StoreConfig | str | None" = None,
    bar: str = "1s",
    window: int = 300,
    method: str = "ols",
    z_entry: float = 2.0,
    z_exit: float = 0.5,
    corr_floor: float = 0.3,
    stale_after_s: float = 10.0,
    spread_width: float | None = None,
    cooldown_s: float = 60.0,
    interval: float = 1.0,
    persist: bool = True,
    stop: threading.Event | None = None,
    duration_s: float | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Evaluate the default rules on each pair every ``interval`` seconds until ``stop`` is set.

    Args:
        pairs: ``"Y/X"`` strings.
        store: a TickStore, URI, StoreConfig, or ``None`` for ``StoreConfig.from_env()``.
        bar, window, method: as for :class:`~quantkit.alerts.monitor.AlertMonitor`.
        z_entry, z_exit, corr_floor, stale_after_s, spread_width, cooldown_s: the rule thresholds
            (see :func:`~quantkit.alerts.rules.default_rules`).
        interval: seconds between two evaluations (default 1.0).
        persist: append alerts to the store's history (default True).
        stop: set it to return (e.g. from a SIGTERM handler); ``None``: run until ``duration_s``.
        duration_s: return after this many seconds (``None``: until ``stop``).
        clock: wall clock, seconds since the epoch.

    Returns:
        The number of alerts raised.

    Raises:
        ConfigError: no pairs, a malformed pair, or bad thresholds.
    """
    from quantkit.store import TickStore

    if not pairs:
        raise ConfigError("pairs", pairs, "give at least one pair, e.g. SYNAUSDT/SYNBUSDT")
    if stop is None and duration_s is None:
        raise ConfigError("stop", stop, "give a stop event or a duration")
    if isinstance(store, TickStore):
        ts = store
    elif isinstance(store, StoreConfig):
        ts = TickStore(config=store)
    else:
        ts = TickStore(store)
    rules = lambda: default_rules(z_entry=z_entry, z_exit=z_exit, corr_floor=corr_floor,  # noqa: E731
                                  stale_after_s=stale_after_s, spread_width=spread_width, cooldown_s=cooldown_s)
    monitors = [AlertMonitor(ts, p, rules(), bar=bar, window=window, method=method, persist=persist, clock=clock)
                for p in pairs]
    log.info("alert monitors on %s (%s bars, window %d, %s)", ", ".join(m.pair for m in monitors), bar, window, method)
    ev = stop or threading.Event()
    deadline = None if duration_s is None else time.monotonic() + float(duration_s)
    raised = 0
    while not ev.is_set() and (deadline is None or time.monotonic() < deadline):
        for m in monitors:
            try:
                raised += len(m.run_once())
            except Exception as exc:  # noqa: BLE001 - one failing pair must not stop the others
                m.errors += 1
                if f"{exc}" != m.last_error:
                    log.error("%s: %s: %s", m.pair, type(exc).__name__, exc)
                m.last_error = f"{exc}"
        wait = interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
        ev.wait(wait)
    return raised
