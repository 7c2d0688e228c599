"""Ask the exchange: market and symbols from the exchange itself, a start time as trade ids."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pandas as pd
import pytest

from quantkit.config import FeedConfig
from quantkit.errors import ConfigError, FeedConnectionError
from quantkit.exchange import LocalExchange, ReplaySource, SyntheticMarket
from quantkit.feed import describe_exchange, first_ids_since

CSV_DIR = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"


def _um_slice(shared_data: Path, tmp_path: Path, rows: int = 500) -> Path:
    frame = pd.read_csv(shared_data / CSV_DIR / "um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz", nrows=rows)
    path = tmp_path / "um_BTCUSDT-trades-slice.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_local_exchange_says_its_market_symbols_and_finite_source(shared_data: Path, tmp_path: Path) -> None:
    """A USD-M replay is described as futures with its symbols; asking for spot is a one-line ConfigError."""
    source = ReplaySource(_um_slice(shared_data, tmp_path), speed=float("inf"))
    with LocalExchange(source) as ex:
        status = describe_exchange(ex.url)
        assert status.market == "futures" and status.symbols == ("BTCUSDT",)
        assert status.local and status.finite and not status.done and status.published == 0
        # held until the first subscriber: nothing published yet, but the first id is known
        assert status.first_ids == {"BTCUSDT": int(source.frames["BTCUSDT"]["trade_id"].iloc[0])}
        assert describe_exchange(ex.url, market="futures").market == "futures"
        with pytest.raises(ConfigError) as err:
            describe_exchange(ex.url, market="spot")
        assert "futures" in str(err.value) and "\n" not in str(err.value)


def test_an_unreachable_exchange_is_a_connection_error() -> None:
    """Nothing listening: describe_exchange raises FeedConnectionError once the wait is over."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FeedConnectionError):
        describe_exchange(f"http://127.0.0.1:{port}", wait=0.3)


def test_first_ids_since_turns_a_time_into_trade_ids(timeout_unit: float) -> None:
    """aggTrades?startTime gives each symbol's first trade id at or after a time (the warm-start entry point)."""
    market = SyntheticMarket(seed=2, speed=float("inf"), start_ms=1_700_000_000_000, duration_s=30.0)
    trades = market.generate_trades(30.0, start_ms=1_700_000_000_000)
    with LocalExchange(market, hold_until_subscribed=False, pause_without_subscribers=False) as ex:
        assert ex.done.wait(30 * timeout_unit)
        since = 1_700_000_010_000
        cfg = FeedConfig.for_source("local", ["SYNAUSDT", "SYNBUSDT"], local_url=ex.url)
        got = asyncio.run(first_ids_since(cfg, since))
    want = {s: min(t.trade_id for t in trades if t.symbol == s and t.trade_time >= since) for s in cfg.symbols}
    assert got == want
