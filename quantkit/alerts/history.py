"""Alert history persisted in the tick store's records table, reloaded on restart.

Each alert is one record (:meth:`Alert.to_record`) under the record kind
``"alerts"``. Any process with the store can read the history: the dashboard
shows alerts raised by a headless :class:`~quantkit.alerts.monitor.AlertMonitor`
running next to the ingest, and vice versa.

Concurrency: the store supports one writer per symbol; keep **one** writing
alert process per store (the monitor *or* the dashboard: pass
``persist=False`` to the other).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from quantkit.alerts.alert import Alert, alerts_to_frame, frame_to_alerts

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = ["ALERT_RECORD_KIND", "AlertHistory"]

log = logging.getLogger("quantkit.alerts")

#: Record kind under which alerts are stored.
ALERT_RECORD_KIND = "alerts"


class AlertHistory:
    """Append alerts to, and read them back from, the store.

    Args:
        store: the tick store.
        kind: record kind (default ``"alerts"``).

    Example:
        >>> hist = AlertHistory(store)                    # doctest: +SKIP
        >>> hist.append(alerts)                           # doctest: +SKIP
        >>> hist.load(pair="SYNAUSDT/SYNBUSDT", limit=50) # doctest: +SKIP
    """

    def __init__(self, store: "TickStore", *, kind: str = ALERT_RECORD_KIND) -> None:
        self.store = store
        self.kind = kind

    def append(self, alerts: Sequence[Alert]) -> int:
        """Persist alerts; returns how many were written."""
        if not alerts:
            return 0
        frame = alerts_to_frame(list(alerts))
        self.store.write_records(self.kind, frame)
        return len(frame)

    def frame(self) -> pd.DataFrame:
        """Every stored alert as a frame (UTC ``time`` index, oldest first; empty if none)."""
        try:
            f = self.store.read_records(self.kind)
        except KeyError:  # nothing recorded yet
            return alerts_to_frame([])
        if f is None or len(f) == 0:
            return alerts_to_frame([])
        return f

    def load(self, pair: str | None = None, *, limit: int | None = None, since: Any = None) -> list[Alert]:
        """Stored alerts, oldest first.

        Args:
            pair: only this pair (``"Y/X"``); ``None``: all pairs.
            limit: only the newest ``limit``.
            since: only alerts at or after this time (str / datetime / Timestamp; naive = UTC).
        """
        alerts = frame_to_alerts(self.frame())
        if pair is not None:
            alerts = [a for a in alerts if a.pair == pair]
        if since is not None:
            t0 = pd.Timestamp(since)
            t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0
            alerts = [a for a in alerts if a.time >= t0]
        alerts.sort(key=lambda a: a.time)
        if limit is not None:
            alerts = alerts[-int(limit):] if limit > 0 else []
        return alerts
