"""The live pair dashboard: ipywidgets + bqplot over the tick store, with alerts.

Modules: ``dashboard`` (:class:`LiveDashboard`: the publisher thread and its
cycle), ``view`` (:class:`DashboardView`: widgets only), ``params``
(:class:`LiveParams`, validated), ``metrics`` (metrics strip, status and
alert panels). The feed-status panel reads the ingest heartbeat file with
:func:`quantkit.ingest.heartbeat.read_status`. Lines are decimated by :mod:`quantkit.analytics.decimation`.
The statistics and alerts come from :mod:`quantkit.alerts` (no widgets there).
"""

from __future__ import annotations

from quantkit.dashboard.live.dashboard import LiveDashboard
from quantkit.dashboard.live.params import BAR_CHOICES, PRICE_STYLES, VIEW_FIELDS, LiveParams, ParameterError
from quantkit.dashboard.live.view import DashboardView

__all__ = [
    "BAR_CHOICES",
    "PRICE_STYLES",
    "VIEW_FIELDS",
    "DashboardView",
    "LiveDashboard",
    "LiveParams",
    "ParameterError",
]
