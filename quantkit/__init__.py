"""quantkit: a Jupyter research environment for crypto pairs trading on trade ticks.

The main entry points, one per layer, importable from here (loaded on first use)::

    from quantkit import LocalExchange, SyntheticMarket, FeedConfig, Ingestor, TickStore

Layers (data flows top to bottom; nothing upstream imports anything downstream):
``exchange`` -> ``feed`` -> ``ingest`` -> ``store`` -> ``analytics`` -> ``dashboard`` / ``backtest`` / ``reports``.
Errors: :mod:`quantkit.errors`; configuration: :mod:`quantkit.config`; data model: :mod:`quantkit.schema`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantkit._lazy import lazy_getattr

if TYPE_CHECKING:
    from quantkit.backtest import backtest_pair, sweep_pair
    from quantkit.config import Config, FeedConfig, IngestConfig, StoreConfig
    from quantkit.errors import QuantkitError
    from quantkit.exchange import LocalExchange, ReplaySource, SyntheticMarket
    from quantkit.feed import FeedClient
    from quantkit.ingest import Ingestor, IngestStats
    from quantkit.reports import run_report
    from quantkit.schema import Trade
    from quantkit.store import TickStore, import_files

__version__ = "0.1.0"

_WHERE = {
    "Config": "quantkit.config",
    "FeedConfig": "quantkit.config",
    "IngestConfig": "quantkit.config",
    "StoreConfig": "quantkit.config",
    "QuantkitError": "quantkit.errors",
    "Trade": "quantkit.schema",
    "LocalExchange": "quantkit.exchange",
    "ReplaySource": "quantkit.exchange",
    "SyntheticMarket": "quantkit.exchange",
    "FeedClient": "quantkit.feed",
    "Ingestor": "quantkit.ingest",
    "IngestStats": "quantkit.ingest",
    "TickStore": "quantkit.store",
    "import_files": "quantkit.store",
    "backtest_pair": "quantkit.backtest",
    "sweep_pair": "quantkit.backtest",
    "run_report": "quantkit.reports",
}

__all__ = ["__version__", *sorted(_WHERE)]


__getattr__ = lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
