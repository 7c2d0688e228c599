"""Fixtures for the read-only (Voila) dashboard tests.

* ``static_store``: an LMDB store in a temporary folder with ten minutes of synthetic ticks
  (four symbols, ending now) and no writer: for checks that nothing is ever written.
* ``live_store``: a real pipeline for the module: the local exchange serving a
  :class:`SyntheticMarket` at 20x, an :class:`Ingestor` writing into LMDB in a temporary folder.
* ``browser``: headless Debian chromium through Python playwright (never ``playwright install``).

Helpers (the Voila server, the raw kernel-websocket client) are in ``voila_helpers.py``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from voila_helpers import CHROMIUM, CHROMIUM_ARGS, SYMBOLS, wait_until  # noqa: E402

from quantkit.config import FeedConfig, IngestConfig  # noqa: E402
from quantkit.exchange import LocalExchange, SyntheticMarket  # noqa: E402
from quantkit.ingest import Ingestor  # noqa: E402
from quantkit.store import TickStore  # noqa: E402


@pytest.fixture(scope="module")
def static_store(tmp_path_factory: pytest.TempPathFactory) -> TickStore:
    """Ten minutes of synthetic ticks for four symbols, ending now, in a fresh LMDB store (no writer)."""
    folder = tmp_path_factory.mktemp("static")
    store = TickStore(f"lmdb://{folder / 'arctic'}")
    start = int(time.time() * 1000) - 600_000
    for sym, frame in SyntheticMarket(seed=11).generate(600.0, start_ms=start).items():
        store.append_ticks(sym, frame.drop(columns=["event_time"], errors="ignore"))
    return store


@dataclass
class LiveStore:
    """The running pipeline of ``live_store``."""

    uri: str
    data_dir: Path
    exchange: LocalExchange
    ingestor: Ingestor


@pytest.fixture(scope="module")
def live_store(tmp_path_factory: pytest.TempPathFactory, timeout_unit: float) -> Iterator[LiveStore]:
    """Local exchange (synthetic, 20x) -> Ingestor -> LMDB, running for the whole module."""
    data_dir = tmp_path_factory.mktemp("voila-live")
    uri = f"lmdb://{data_dir / 'arctic'}"
    exchange = LocalExchange(SyntheticMarket(seed=7, speed=20.0)).start()
    feed = FeedConfig.for_source("local", list(SYMBOLS), local_url=exchange.url)
    ingestor = Ingestor(feed, TickStore(uri), config=IngestConfig(flush_interval=0.2)).start()
    try:
        stored = lambda: min(int(ingestor.stats.per_symbol.get(s, 0)) for s in SYMBOLS)  # noqa: E731
        assert wait_until(lambda: stored() > 300, 60 * timeout_unit), ingestor.stats
        yield LiveStore(uri, data_dir, exchange, ingestor)
    finally:
        ingestor.stop()
        exchange.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium (module scope)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


