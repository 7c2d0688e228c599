"""ipywidgets + bqplot apps over the store: live dashboard, status panel, research and backtest pages.

Names are imported on first use (PEP 562), so ``quantkit serve`` and other commands that only
need this package's command wiring do not pay for ipywidgets/bqplot at start-up.

==================== ==============================================
name                 module
==================== ==============================================
LiveDashboard        :mod:`quantkit.dashboard.live`
LiveParams           :mod:`quantkit.dashboard.live`
StoreMonitor         :mod:`quantkit.dashboard.status`
ResearchPage         :mod:`quantkit.dashboard.research`
BacktestPage         :mod:`quantkit.dashboard.backtest_page`
==================== ==============================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantkit._lazy import lazy_getattr

if TYPE_CHECKING:
    from quantkit.dashboard.backtest_page import BacktestPage
    from quantkit.dashboard.live import LiveDashboard, LiveParams
    from quantkit.dashboard.research import ResearchPage
    from quantkit.dashboard.status import StoreMonitor

__all__ = ["BacktestPage", "LiveDashboard", "LiveParams", "ResearchPage", "StoreMonitor"]

_WHERE = {
    "LiveDashboard": "quantkit.dashboard.live",
    "LiveParams": "quantkit.dashboard.live",
    "StoreMonitor": "quantkit.dashboard.status",
    "ResearchPage": "quantkit.dashboard.research",
    "BacktestPage": "quantkit.dashboard.backtest_page",
}


__getattr__ = lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
