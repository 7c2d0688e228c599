"""Blocking entry point for ``quantkit exchange``: build a source from a spec string and serve it."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from typing import Any, Mapping

from quantkit.config import SYNTHETIC_SYMBOLS
from quantkit.errors import SourceError
from quantkit.exchange.replay import ReplaySource
from quantkit.exchange.server import LocalExchange
from quantkit.exchange.source import MarketSource
from quantkit.exchange.synthetic import SyntheticMarket

__all__ = ["run_exchange", "source_from_spec"]

log = logging.getLogger("quantkit.exchange")


def source_from_spec(
    source_spec: str,
    *,
    speed: float = 1.0,
    seed: int = 0,
    loop: bool = False,
    rate: float | None = None,
    after_ids: Mapping[str, int] | None = None,
    after_time_ms: int | None = None,
    history_s: float = 0.0,
) -> MarketSource:
    """Make a source from ``"synthetic"`` or ``"replay:PATH[,PATH...]"``.

    Args:
        source_spec: ``"synthetic"`` (the embedded :class:`SyntheticMarket`) or
            ``"replay:"`` followed by comma-separated files or folders.
        speed: exchange seconds per wall second; ``float("inf")`` for max speed.
        seed: seed of the synthetic market.
        loop: replay forever (ids and times shifted each pass).
        rate: synthetic only: total trades per second at speed 1 across the symbols
            (the default rates scaled); ``None``: the defaults (~79/s).
        after_ids: symbol -> last trade id a client (a store) already holds: the source
            continues after it (see :class:`SyntheticMarket` and :class:`ReplaySource`).
        after_time_ms: synthetic only: start the exchange clock after this time (epoch ms)
            when it is later than the wall clock.
        history_s: synthetic only: seconds of past published at once (a warm start's history,
            served over REST); default 0.

    Raises:
        SourceError: an unknown spec, an unusable replay file or a bad value.
    """
    spec = source_spec.strip()
    if spec == "synthetic":
        kwargs: dict[str, Any] = {}
        if rate is not None:
            default_rates = inspect.signature(SyntheticMarket).parameters["trade_rates"].default
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
                raise SourceError(f"rate={rate!r}: expected a finite number > 0")
            kwargs["trade_rates"] = tuple(r * rate / sum(default_rates) for r in default_rates)
        syms = SYNTHETIC_SYMBOLS
        return SyntheticMarket(
            seed, speed=speed, after_ids={s: i for s, i in (after_ids or {}).items() if s in syms},
            after_time_ms=after_time_ms, history_s=history_s, **kwargs,
        )
    if rate is not None:
        raise SourceError(f"rate={rate!r}: only applies to the synthetic source")
    if history_s:
        raise SourceError(f"history_s={history_s!r}: only the synthetic source has a past (a replay is its own history)")
    if spec.startswith("replay:"):
        paths = [p.strip() for p in spec[len("replay:") :].split(",") if p.strip()]
        if not paths:
            raise SourceError(f"source_spec={source_spec!r}: expected replay:PATH[,PATH...]")
        return ReplaySource(paths, speed=speed, loop=loop, after_ids=after_ids)
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
