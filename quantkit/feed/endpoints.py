"""Stream names and URLs for Binance combined streams (spot and USD-M futures, live or local)."""

from __future__ import annotations

from quantkit.config import FeedConfig
from quantkit.errors import ConfigError

__all__ = ["MAX_STREAMS", "stream_names", "stream_url"]

#: Most streams one connection may carry, per market (spot 1024, USD-M 200).
MAX_STREAMS: dict[str, int] = {"spot": 1024, "futures": 200}


def stream_names(config: FeedConfig) -> tuple[str, ...]:
    """Lower-case stream names, one per distinct symbol: ``("btcusdt@trade", ...)``, then each symbol's
    ``@bookTicker`` when ``config.quotes``."""
    symbols = tuple(s.lower() for s in dict.fromkeys(config.symbols))
    names = tuple(f"{s}@{config.stream}" for s in symbols)
    return names + tuple(f"{s}@bookTicker" for s in symbols) if config.quotes else names


def stream_url(config: FeedConfig) -> str:
    """The combined-stream URL: ``f"{ws_url}/stream?streams=" + "/".join(names)``.

    The same for live Binance and the local exchange; only ``config.ws_url`` differs.
    For USD-M routed endpoints put the route in ``ws_url``
    (``wss://fstream.binance.com/market``).

    Raises:
        ConfigError: more symbols than one connection may carry (:data:`MAX_STREAMS`).
    """
    names = stream_names(config)
    limit = MAX_STREAMS[config.market]
    if len(names) > limit:
        raise ConfigError("symbols", len(names), f"at most {limit} streams per {config.market} connection")
    return f"{config.ws_url.rstrip('/')}/stream?streams=" + "/".join(names)
