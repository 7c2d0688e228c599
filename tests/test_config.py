"""Configuration objects and QUANTKIT_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantkit.config import SYNTHETIC_SYMBOLS, Config, FeedConfig, IngestConfig, StoreConfig
from quantkit.errors import ConfigError


def test_defaults_use_the_embedded_lmdb_store_under_the_data_dir(tmp_path: Path) -> None:
    """With only QUANTKIT_DATA_DIR set, the store is LMDB inside it and the source is the local exchange."""
    cfg = Config.from_env({"QUANTKIT_DATA_DIR": str(tmp_path)})
    assert cfg.store.uri == f"lmdb://{tmp_path / 'arctic'}"
    assert cfg.source == "local"
    assert cfg.symbols == SYNTHETIC_SYMBOLS


def test_environment_overrides() -> None:
    """QUANTKIT_ARCTIC_URI, QUANTKIT_SYMBOLS, QUANTKIT_SOURCE and batching variables are honoured."""
    env = {
        "QUANTKIT_ARCTIC_URI": "s3://127.0.0.1:ticks?access=a&secret=b&port=9000",
        "QUANTKIT_SYMBOLS": "btcusdt, ethusdt",
        "QUANTKIT_SOURCE": "binance",
        "QUANTKIT_FLUSH_INTERVAL": "0.5",
        "QUANTKIT_BATCH_SIZE": "100",
        "QUANTKIT_QUEUE_SIZE": "1000",
    }
    cfg = Config.from_env(env)
    assert cfg.store.uri.startswith("s3://")
    assert cfg.symbols == ("BTCUSDT", "ETHUSDT")
    assert cfg.ingest == IngestConfig(flush_interval=0.5, batch_size=100, queue_size=1000)
    feed = cfg.feed()
    assert feed.ws_url == "wss://stream.binance.com:9443" and feed.market == "spot"


def test_sources_differ_only_by_url() -> None:
    """local, binance and binance-futures feeds differ in URLs and market, nothing else."""
    local = FeedConfig.for_source("local", ["BTCUSDT"], local_url="http://127.0.0.1:5555")
    live = FeedConfig.for_source("binance", ["BTCUSDT"])
    fut = FeedConfig.for_source("binance-futures", ["BTCUSDT"])
    assert (local.ws_url, local.rest_url) == ("ws://127.0.0.1:5555", "http://127.0.0.1:5555")
    assert live.rest_prefix == "/api/v3" and fut.rest_prefix == "/fapi/v1"
    same = ("symbols", "stream", "backoff_initial", "backoff_max", "max_connection_age")
    assert all(getattr(local, f) == getattr(live, f) == getattr(fut, f) for f in same)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"QUANTKIT_BATCH_SIZE": "ten"}, "QUANTKIT_BATCH_SIZE"),
        ({"QUANTKIT_FLUSH_INTERVAL": "-1"}, "QUANTKIT_FLUSH_INTERVAL"),
        ({"QUANTKIT_SOURCE": "kraken"}, "source"),
        ({"QUANTKIT_ARCTIC_URI": "/no/scheme"}, "uri"),
    ],
)
def test_bad_environment_values_raise_config_error_naming_the_variable(env: dict[str, str], name: str) -> None:
    """A bad QUANTKIT_* value raises ConfigError naming the variable and the value."""
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert info.value.name == name
    assert name in str(info.value)


def test_bad_symbols_and_market_are_rejected() -> None:
    """Lower-case or empty symbols and unknown markets raise ConfigError."""
    with pytest.raises(ConfigError):
        FeedConfig(symbols=("btc-usdt",), ws_url="ws://x", rest_url="http://x")
    with pytest.raises(ConfigError):
        FeedConfig(symbols=(), ws_url="ws://x", rest_url="http://x")
    with pytest.raises(ConfigError):
        FeedConfig(symbols=("BTCUSDT",), ws_url="ws://x", rest_url="http://x", market="options")
    with pytest.raises(ConfigError):
        StoreConfig(uri="lmdb:///x", library="")
