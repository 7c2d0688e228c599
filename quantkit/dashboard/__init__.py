"""ipywidgets + bqplot apps over the store: live status, research and backtest pages."""

from __future__ import annotations

from quantkit.dashboard.live import LiveDashboard, LiveParams
from quantkit.dashboard.status import StoreMonitor

__all__ = ["LiveDashboard", "LiveParams", "StoreMonitor"]
