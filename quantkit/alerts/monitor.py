"""Headless pair monitoring: store -> bars -> streaming statistics -> rules -> persisted alerts.

:class:`AlertMonitor` needs no dashboard and no widgets: an ingest process or
a cron-style job can run it next to the store (``run_once()`` in its own loop,
or ``start()`` for a daemon thread). The live dashboard drives the same object
from its publisher thread and draws what it tracks.

Per :meth:`AlertMonitor.run_once`:

1. the :class:`~quantkit.alerts.source.PairSource` reads the legs' new ticks
   and returns the pair bars that became final (the first call seeds from the
   stored history);
2. each bar updates the :class:`~quantkit.alerts.track.PairTrack` (O(1), by
   :class:`quantkit.analytics.PairStream`)
   and is judged by the bar rules; the seed itself raises nothing (signals
   already open are *primed*, and cooldowns are restored from the stored history);
3. the wall-clock rules (stale feed) are judged once;
4. new alerts are logged (``quantkit.alerts``, WARNING) and appended to the
   store's history (unless ``persist=False``); a failed write is kept and retried.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import pandas as pd

from quantkit._threads import ServiceThread, every
from quantkit.alerts.alert import Alert
from quantkit.alerts.engine import AlertEngine
from quantkit.alerts.history import AlertHistory
from quantkit.alerts.rules import Observation, Rule, default_rules
from quantkit.alerts.source import PairSource
from quantkit.alerts.track import PairTrack
from quantkit.errors import ConfigError
from quantkit.symbols import parse_pair

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = ["AlertMonitor"]


def _pair(pair: str | Sequence[str]) -> tuple[str, str]:
    try:
        return parse_pair(pair if isinstance(pair, str) else list(pair))
    except ValueError as exc:
        raise ConfigError("pair", pair, f"expected two different symbols, e.g. 'SYNAUSDT/SYNBUSDT' ({exc})") from None


class AlertMonitor:
    """Evaluate alert rules on a pair as its ticks reach the store; persist and log the alerts.

    Args:
        store: the tick store (read; the alert history is written to it unless ``persist=False``).
        pair: ``"Y/X"`` or ``(y, x)``.
        rules: the rules (default :func:`~quantkit.alerts.rules.default_rules`).
        bar: bar size (default ``"1s"``).
        window: rolling window in bars (default 300).
        method: hedge ratio ``"ols"``, ``"huber"`` or ``"kalman"`` (default ``"ols"``).
        history_bars: bars of history to seed with and keep (default 20,000).
        min_volume: skip bars where a leg traded less than this, quote currency (default 0).
        persist: append alerts to the store's history (default True).
        label: recorded as each alert's ``source`` (default ``"monitor"``).
        interval: seconds between runs of the :meth:`start` thread (default 1.0).
        grace_s: see :class:`~quantkit.alerts.source.PairSource` (default 2.0).
        recent: alerts kept in :attr:`recent` (default 200).
        clock: wall clock, seconds since the epoch (tests may inject one).
        logger: defaults to ``logging.getLogger("quantkit.alerts")``.
        log_level: level of the one log line per alert (default WARNING: visible in a
            headless process; the dashboard uses INFO since it shows alerts itself).

    Attributes:
        source: the :class:`~quantkit.alerts.source.PairSource`.
        tracker: the :class:`~quantkit.alerts.track.PairTrack` (bars + statistics).
        engine: the :class:`~quantkit.alerts.engine.AlertEngine`.
        history: the :class:`~quantkit.alerts.history.AlertHistory`.
        recent: recent alerts of this pair, oldest first (reloaded history + new).
        runs: completed :meth:`run_once` calls.
        errors: failed runs (in the :meth:`start` thread) and failed history writes.
        last_error: the last error message, ``None`` if none.

    Example:
        >>> mon = AlertMonitor(TickStore(), "SYNAUSDT/SYNBUSDT", bar="1s", window=300)  # doctest: +SKIP
        >>> mon.start()                                                                 # doctest: +SKIP
    """

    def __init__(
        self,
        store: "TickStore",
        pair: str | Sequence[str],
        rules: Iterable[Rule] | None = None,
        *,
        bar: str = "1s",
        window: int = 300,
        method: str = "ols",
        history_bars: int = 20_000,
        min_volume: float = 0.0,
        persist: bool = True,
        label: str = "monitor",
        interval: float = 1.0,
        grace_s: float = 2.0,
        recent: int = 200,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
        log_level: int = logging.WARNING,
    ) -> None:
        y, x = _pair(pair)
        if not interval > 0:
            raise ConfigError("interval", interval, "must be > 0 seconds")
        self.store = store
        self.y, self.x = y, x
        self.pair = f"{y}/{x}"
        self.bar = bar
        self.persist = bool(persist)
        self.interval = float(interval)
        self._clock = clock
        self.log = logger or logging.getLogger("quantkit.alerts")
        self.log_level = int(log_level)
        self.source = PairSource(store, y, x, bar, history_bars=history_bars, grace_s=grace_s,
                                 min_quote_volume=min_volume, clock=clock)
        self.tracker = PairTrack(window, method, capacity=history_bars)
        self.engine = AlertEngine(default_rules() if rules is None else rules, source=label)
        self.history = AlertHistory(store)
        self.recent: collections.deque[Alert] = collections.deque(maxlen=int(recent))
        self.runs = 0
        self.errors = 0
        self.last_error: str | None = None
        self._unsaved: list[Alert] = []
        self._primed = False
        self._loop = ServiceThread(
            every(self.run_once, lambda: self.interval,
                  on_error=lambda exc: self._error(f"run failed: {type(exc).__name__}: {exc}")),
            name=f"quantkit-alerts-{self.pair}",
        )

    # ------------------------------------------------------------------------------------------ evaluation
    def observation(self) -> Observation | None:
        """The bar observation of the newest tracked bar (``None`` before any)."""
        last = self.tracker.latest()
        if not last:
            return None
        close_ms = last["open_ms"] + self.source.freq_ms
        return Observation(
            time=pd.Timestamp(int(close_ms), unit="ms", tz="UTC"),
            pair=self.pair,
            z=last["z"],
            corr=last["corr"],
            spread=last["spread"],
            spread_mean=last["mean"],
            spread_std=last["std"],
            beta=last["beta"],
        )

    def tick_age_s(self, now: float | None = None) -> float:
        """Seconds since the newest tick of either leg (NaN before any)."""
        last = self.source.last_tick_ms
        if last < 0:
            return float("nan")
        return (self._clock() if now is None else now) - last / 1000.0

    def run_once(self) -> list[Alert]:
        """Read new ticks, update the statistics, judge the rules; returns the new alerts.

        Raises:
            quantkit.errors.StoreError: reading the store failed (nothing is lost:
                the next run reads from where this one stopped).
        """
        rows = self.source.poll()
        new: list[Alert] = []
        if not self._primed:
            if self.source.seeded:
                self.tracker.extend(rows)
                self._primed = True
                obs = self.observation()
                if obs is not None:
                    self.engine.prime(obs)
                self._reload_history()
        else:
            ev = self.engine.evaluate
            for r in rows:
                self.tracker.update(r)
                obs = self.observation()
                if obs is not None:
                    new += ev(obs, clock="bar")
        if self.source.seeded:
            now = self._clock()
            wall = Observation(time=pd.Timestamp(now, unit="s", tz="UTC"), pair=self.pair, tick_age_s=self.tick_age_s(now))
            new += self.engine.evaluate(wall, clock="wall")
        for a in new:
            self.log.log(self.log_level, "alert %s %s %s: %s", a.pair, a.rule, a.direction or "-", a.message)
        self.recent.extend(new)
        if self.persist and (new or self._unsaved):
            self._save(new)
        self.runs += 1
        return new

    def _reload_history(self) -> None:
        try:
            past = self.history.load(self.pair, limit=self.recent.maxlen)
        except Exception as exc:  # noqa: BLE001 - a broken history must not stop the monitoring
            self._error(f"alert history not loaded: {type(exc).__name__}: {exc}")
            return
        self.engine.restore(past)
        self.recent.extend(past)

    def _save(self, new: list[Alert]) -> None:
        pending = self._unsaved + new
        try:
            self.history.append(pending)
            self._unsaved = []
        except Exception as exc:  # noqa: BLE001 - keep the alerts, retry at the next run
            self._unsaved = pending[-1000:]
            self._error(f"alert history write failed ({len(pending)} kept for retry): {type(exc).__name__}: {exc}")

    def _error(self, msg: str) -> None:
        self.errors += 1
        if msg != self.last_error:
            self.log.error("%s: %s", self.pair, msg)
        self.last_error = msg

    def configure_rules(self, rules: Iterable[Rule]) -> None:
        """Replace the rules, keeping the state and cooldowns of rules with the same names."""
        self.engine.configure(rules)

    # ------------------------------------------------------------------------------------------ thread
    def start(self) -> "AlertMonitor":
        """Run :meth:`run_once` every ``interval`` seconds in a daemon thread (idempotent)."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (idempotent)."""
        self._loop.stop(timeout)

    @property
    def running(self) -> bool:
        """True while the :meth:`start` thread runs."""
        return self._loop.running

    def __enter__(self) -> "AlertMonitor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
