"""The ingest heartbeat: an ingest process publishes its :class:`~quantkit.ingest.IngestStats` as a small JSON file.

This module owns the file's format, both sides of it. Dashboards read the store, so
they work with the ingest in another process; the feed state (connected /
reconnecting, rejected messages, gaps, lag, an ingest ``state`` of ``"error"`` with
its ``error`` text) lives in that process. ``quantkit ingest`` writes it every second
with :class:`StatusFileWriter` (or :func:`write_status`) to :func:`default_status_path`
(``<QUANTKIT_DATA_DIR>/ingest_status.json``); the live dashboard reads it with
:func:`read_status`. Writes are atomic (temporary file + ``os.replace``), so a reader
never sees half a file. The file holds counters and states only (an allowlist of
field names): no URI, no credentials.

Example (in ``quantkit ingest``)::

    from quantkit.ingest.heartbeat import StatusFileWriter
    heartbeat = StatusFileWriter(lambda: ingestor.stats).start()
    ...
    heartbeat.stop()
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from quantkit._files import atomic_write_text
from quantkit._threads import ServiceThread, every
from quantkit.config import default_data_dir
from quantkit.errors import ConfigError

__all__ = ["STATUS_FILE_NAME", "FeedStatus", "StatusFileWriter", "default_status_path", "read_status", "write_status"]

log = logging.getLogger("quantkit.ingest")

#: File name of the heartbeat in the data folder.
STATUS_FILE_NAME = "ingest_status.json"
_FIELDS = (
    "state", "feed_state", "received", "accepted", "stored", "duplicates", "feed_duplicates", "rejected",
    "rejected_total", "reconnects", "gaps", "gaps_unfilled", "missing_trades", "backfilled", "queue_depth",
    "write_errors", "feed_restarts", "lag_ms_last", "lag_ms_p50", "lag_ms_p99", "last_trade_time",
    "ticks_per_second", "last_error", "per_symbol", "restart_required", "error", "alarms", "warm_start", "quotes",
)  # fmt: skip  (an allowlist: counters and states only, never a URI or a credential)


def default_status_path(env: Mapping[str, str] | None = None) -> Path:
    """``<QUANTKIT_DATA_DIR>/ingest_status.json`` (the data folder of :func:`quantkit.config.default_data_dir`)."""
    return default_data_dir(env) / STATUS_FILE_NAME


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def write_status(stats: Any, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
    """Write one heartbeat atomically.

    Args:
        stats: an :class:`~quantkit.ingest.IngestStats` (or anything with ``to_dict()``, or a mapping).
        path: the heartbeat file.
        clock: wall clock, seconds since the epoch (stored as ``written_at``).
    """
    raw = stats.to_dict() if hasattr(stats, "to_dict") else dict(stats)
    doc = {k: _plain(raw.get(k)) for k in _FIELDS if k in raw}
    doc["written_at"] = clock()
    doc["pid"] = os.getpid()
    atomic_write_text(path, json.dumps(doc, sort_keys=True))


@dataclass(frozen=True)
class FeedStatus:
    """The ingest heartbeat as read back, plus its age.

    Attributes:
        age_s: seconds since the heartbeat was written (``inf`` if there is none).
        data: the heartbeat's fields (see :class:`~quantkit.ingest.IngestStats`); empty if none.
    """

    age_s: float
    data: Mapping[str, Any]

    @property
    def fresh(self) -> bool:
        """True when the heartbeat is at most 5 seconds old."""
        return self.age_s <= 5.0

    def get(self, key: str, default: Any = None) -> Any:
        """One field, or ``default``."""
        v = self.data.get(key, default)
        return default if v is None else v


def read_status(path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> FeedStatus:
    """Read the heartbeat; a missing or unreadable file gives ``FeedStatus(inf, {})`` (never raises)."""
    try:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        return FeedStatus(math.inf, {})
    written = data.get("written_at")
    age = clock() - float(written) if isinstance(written, (int, float)) else math.inf
    return FeedStatus(age, data)


class StatusFileWriter:
    """Write a heartbeat every ``interval`` seconds from a daemon thread.

    Args:
        get_stats: returns the current stats (e.g. ``lambda: ingestor.stats``).
        path: the heartbeat file (default :func:`default_status_path`).
        interval: seconds between writes (default 1.0).

    Attributes:
        writes: heartbeats written.
        last_error: the last write error (logged once per kind), ``None`` if none.
    """

    def __init__(self, get_stats: Callable[[], Any], path: str | os.PathLike[str] | None = None, *, interval: float = 1.0) -> None:
        if not interval > 0:
            raise ConfigError("interval", interval, "must be > 0 seconds")
        self.get_stats = get_stats
        self.path = Path(path) if path is not None else default_status_path()
        self.interval = float(interval)
        self.writes = 0
        self.last_error: str | None = None
        self._loop = ServiceThread(every(self.write_once, lambda: self.interval), name="quantkit-ingest-heartbeat")

    def write_once(self) -> None:
        """Write one heartbeat now (errors are recorded and logged, not raised)."""
        try:
            write_status(self.get_stats(), self.path)
            self.writes += 1
        except Exception as exc:  # noqa: BLE001 - a heartbeat must never take the ingest down
            msg = f"{type(exc).__name__}: {exc}"
            if msg != self.last_error:
                log.warning("ingest heartbeat %s not written: %s", self.path, msg)
            self.last_error = msg

    def start(self) -> "StatusFileWriter":
        """Start writing in the background (idempotent)."""
        self._loop.start()
        return self

    def stop(self) -> None:
        """Write a last heartbeat and stop (idempotent)."""
        if self._loop.stop(5.0):
            self.write_once()
