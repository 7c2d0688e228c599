"""Fixtures of the third-party client tests: local exchanges (synthetic and replay, spot and USD-M) on port 0."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Iterator, TypeVar

import pytest

from quantkit.exchange import LocalExchange, ReplaySource, SyntheticMarket

RAW = "binance_ws_capture_2024-08-08_hftbacktest/raw"
T = TypeVar("T")


@dataclass(frozen=True)
class Venue:
    """One running local exchange and what a client needs to know about it.

    Attributes:
        name: e.g. ``"synthetic-spot"``. exchange: the running exchange.
        market: ``"spot"`` or ``"futures"``. symbol: a served symbol (``"SYNAUSDT"``, ``"BTCUSDT"``).
    """

    name: str
    exchange: LocalExchange
    market: str
    symbol: str


def _source(kind: str, market: str, shared_data: Path) -> tuple[object, str]:
    if kind == "synthetic":
        return SyntheticMarket(seed=3, speed=5.0, market=market), "SYNAUSDT"
    name = "spot_btcusdt_20240808.gz" if market == "spot" else "usdm_btcusdt_20240808.gz"
    return ReplaySource(shared_data / RAW / name, speed=5.0, loop=True), "BTCUSDT"


@pytest.fixture(scope="module", params=["synthetic-spot", "synthetic-futures", "replay-spot", "replay-futures"])
def venue(request: pytest.FixtureRequest, shared_data: Path) -> Iterator[Venue]:
    """A local exchange serving trades continuously (a looping replay or an endless synthetic market)."""
    kind, market = request.param.split("-")
    market = "spot" if market == "spot" else "futures"
    source, symbol = _source(kind, market, shared_data)
    ex = LocalExchange(source, ping_interval=None, pause_without_subscribers=False, hold_until_subscribed=False)  # type: ignore[arg-type]
    ex.start()
    try:
        yield Venue(request.param, ex, market, symbol)
    finally:
        ex.stop()


@pytest.fixture
def run_async(timeout_unit: float) -> Any:
    """Run a coroutine to completion within ``units`` timeout units (default 30)."""

    def run(coro: Awaitable[T], units: float = 30) -> T:
        async def main() -> T:
            return await asyncio.wait_for(coro, units * timeout_unit)

        return asyncio.run(main())

    return run
