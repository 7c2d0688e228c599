"""The live pair dashboard: ipywidgets + bqplot over the tick store, with alerts.

Modules: ``dashboard`` (:class:`LiveDashboard`: the publisher thread and its
cycle), ``view`` (:class:`DashboardView`: widgets only), ``params``
(:class:`LiveParams`, validated), ``metrics`` (metrics strip, status and
alert panels), ``status_file`` (the ingest heartbeat file: written by the
ingest process, read here), ``_decimate`` (bounded points per line).
The statistics and alerts come from :mod:`quantkit.alerts` (no widgets there).
"""

from __future__ import annotations

from quantkit.dashboard.live.dashboard import LiveDashboard
from quantkit.dashboard.live.params import BAR_CHOICES, PRICE_STYLES, VIEW_FIELDS, LiveParams, ParameterError
from quantkit.dashboard.live.status_file import (
    STATUS_FILE_NAME,
    FeedStatus,
    StatusFileWriter,
    default_status_path,
    read_status,
    write_status,
)
from quantkit.dashboard.live.view import DashboardView

__all__ = [
    "BAR_CHOICES",
    "PRICE_STYLES",
    "STATUS_FILE_NAME",
    "VIEW_FIELDS",
    "DashboardView",
    "FeedStatus",
    "LiveDashboard",
    "LiveParams",
    "ParameterError",
    "StatusFileWriter",
    "default_status_path",
    "read_status",
    "write_status",
]
