"""A live store-status panel: stored tick counts per symbol, refreshed from a daemon thread.

This is the first panel of the live dashboard: it reads the store only, so it
works whether ingest runs in this kernel, another notebook or another process.
"""

from __future__ import annotations

import html
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from quantkit._threads import ServiceThread, every

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = ["StoreMonitor"]

log = logging.getLogger("quantkit.dashboard")


class StoreMonitor:
    """Show each stored symbol's tick count, last trade time and tick rate, updating live.

    One daemon thread (the only writer of the widget) re-reads
    :meth:`TickStore.symbols` every ``interval`` seconds. A failure while
    refreshing is shown in the panel, not lost.

    Args:
        store: the store to watch.
        interval: seconds between refreshes (default 1.0).
        clock: wall clock in seconds (tests may inject one).

    Attributes:
        widget: the ``ipywidgets.HTML`` shown in the notebook.
        refreshes: completed refreshes.
        last_frame: the last symbols table read, as a DataFrame.
        last_error: the last refresh error, ``None`` if none.
    """

    def __init__(self, store: "TickStore", *, interval: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        import ipywidgets as widgets

        if not interval > 0:
            raise ValueError(f"interval={interval!r}: must be > 0 seconds")
        self.store = store
        self.interval = interval
        self._clock = clock
        self.widget = widgets.HTML(value="<i>waiting for the store...</i>")
        self.refreshes = 0
        self.last_frame: pd.DataFrame | None = None
        self.last_error: str | None = None
        self._prev: dict[str, tuple[float, int]] = {}
        self._loop = ServiceThread(every(self.refresh, lambda: self.interval), name="quantkit-store-monitor")

    def refresh(self) -> pd.DataFrame:
        """Read the store once and update the widget; returns the table shown."""
        try:
            frame = self.store.symbols()
            now = self._clock()
            rates = []
            for sym, count in zip(frame["symbol"], frame["count"]):
                t0, n0 = self._prev.get(sym, (now, int(count)))
                rates.append((int(count) - n0) / (now - t0) if now > t0 else 0.0)
                self._prev[sym] = (now, int(count))
            frame = frame.assign(ticks_per_s=rates)
            self.last_frame = frame
            self.last_error = None
            self.widget.value = self._render(frame, now)
        except Exception as exc:  # noqa: BLE001 - shown in the panel, never lost
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.widget.value = f"<b style='color:#b00'>store refresh failed:</b> {html.escape(self.last_error)}"
            log.warning("store monitor refresh failed: %s", exc)
            frame = self.last_frame if self.last_frame is not None else pd.DataFrame()
        self.refreshes += 1
        return frame

    @staticmethod
    def _render(frame: pd.DataFrame, now: float) -> str:
        if frame.empty:
            return "<i>no symbols stored yet</i>"
        rows = []
        for r in frame.itertuples(index=False):
            last = getattr(r, "last", None)
            age = (now - pd.Timestamp(last).timestamp()) if last is not None and not pd.isna(last) else float("nan")
            rows.append(
                f"<tr><td><b>{html.escape(str(r.symbol))}</b></td><td>{html.escape(str(r.kind))}</td>"
                f"<td style='text-align:right' class='qk-count'>{int(r.count):,}</td>"
                f"<td class='qk-last'>{html.escape(str(last))}</td>"
                f"<td style='text-align:right'>{age:,.1f} s</td>"
                f"<td style='text-align:right'>{r.ticks_per_s:,.1f}</td></tr>"
            )
        head = "<tr><th>symbol</th><th>kind</th><th>rows</th><th>last trade (UTC)</th><th>age</th><th>rows/s</th></tr>"
        stamp = pd.Timestamp(now, unit="s", tz="UTC").strftime("%H:%M:%S")
        return f"<table class='qk-status'>{head}{''.join(rows)}</table><small>updated {stamp} UTC</small>"

    def start(self) -> "StoreMonitor":
        """Start refreshing in a daemon thread (idempotent)."""
        self._loop.start()
        return self

    def stop(self) -> None:
        """Stop refreshing (idempotent)."""
        self._loop.stop(5.0)

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        display(self.widget)
