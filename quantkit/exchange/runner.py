"""Blocking entry point for ``quantkit exchange``: build a source from a spec string and serve it."""

from __future__ import annotations

import asyncio
import logging

from quantkit.errors import SourceError
from quantkit.exchange.replay import ReplaySource
from quantkit.exchange.server import LocalExchange
from quantkit.exchange.source import MarketSource
from quantkit.exchange.synthetic import SyntheticMarket

__all__ = ["run_exchange", "source_from_spec"]

log = logging.getLogger("quantkit.exchange")


def source_from_spec(source_spec: str, *, speed: float = 1.0, seed: int = 0, loop: bool = False) -> MarketSource:
    """Make a source from ``"synthetic"`` or ``"replay:PATH[,PATH...]"``.

    Args:
        source_spec: ``"synthetic"`` (the embedded :class:`SyntheticMarket`) or
            ``"replay:"`` followed by comma-separated files or folders.
        speed: exchange seconds per wall second; ``float("inf")`` for max speed.
        seed: seed of the synthetic market.
        loop: replay forever (ids and times shifted each pass).

    Raises:
        SourceError: an unknown spec or an unusable replay file.
    """
    spec = source_spec.strip()
    if spec == "synthetic":
        return SyntheticMarket(seed, speed=speed)
    if spec.startswith("replay:"):
        paths = [p.strip() for p in spec[len("replay:") :].split(",") if p.strip()]
        if not paths:
            raise SourceError(f"source_spec={source_spec!r}: expected replay:PATH[,PATH...]")
        return ReplaySource(paths, speed=speed, loop=loop)
    raise SourceError(f"source_spec={source_spec!r}: expected 'synthetic' or 'replay:PATH[,PATH...]'")


def run_exchange(
    source_spec: str,
    *,
    speed: float = 1.0,
    port: int = 9443,
    host: str = "127.0.0.1",
    seed: int = 0,
    loop: bool = False,
) -> None:
    """Serve ``source_spec`` on ``host:port`` until interrupted (Ctrl-C); logs the URL on start.

    Args:
        source_spec: see :func:`source_from_spec`.
        speed: exchange seconds per wall second; ``float("inf")`` for max speed.
        port: TCP port (WebSocket and REST).
        host: interface to bind.
        seed: seed of the synthetic market.
        loop: replay forever.

    Raises:
        SourceError: a bad source spec.
        ExchangeError: the port cannot be bound.
    """
    exchange = LocalExchange(source_from_spec(source_spec, speed=speed, seed=seed, loop=loop), host=host, port=port)
    try:
        asyncio.run(exchange.serve())
    except KeyboardInterrupt:
        log.info("local exchange interrupted")
