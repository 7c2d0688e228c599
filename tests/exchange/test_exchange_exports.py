"""The exchange package's public surface: curated exports, every module declares __all__, the CLI entry point."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import quantkit.exchange as exchange
from quantkit.errors import ExchangeError, SourceError


def test_every_module_declares_all_and_exports_resolve() -> None:
    """Each submodule has __all__ naming real objects; the package re-exports only names its submodules export."""
    union: set[str] = set()
    for info in pkgutil.iter_modules(exchange.__path__):
        module = importlib.import_module(f"quantkit.exchange.{info.name}")
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"
        union |= set(module.__all__)
    assert set(exchange.__all__) <= union
    assert {"LocalExchange", "MarketSource", "SyntheticMarket", "ReplaySource", "run_exchange"} <= set(exchange.__all__)


def test_sources_satisfy_the_protocol(shared_data) -> None:
    """SyntheticMarket and ReplaySource are MarketSources."""
    raw = shared_data / "binance_ws_capture_2024-08-08_hftbacktest/raw/spot_ethusdt_20240808.gz"
    assert isinstance(exchange.SyntheticMarket(1), exchange.MarketSource)
    assert isinstance(exchange.ReplaySource(raw), exchange.MarketSource)


def test_run_exchange_fails_fast_on_bad_spec_or_busy_port(start_exchange) -> None:
    """run_exchange raises SourceError for an unknown source and ExchangeError when the port is taken."""
    with pytest.raises(SourceError, match="source_spec"):
        exchange.run_exchange("nonsense", port=0)
    busy = start_exchange(exchange.SyntheticMarket(1))
    with pytest.raises(ExchangeError, match="cannot listen"):
        exchange.run_exchange("synthetic", port=busy.port)
