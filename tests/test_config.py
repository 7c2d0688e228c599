"""Configuration objects and QUANTKIT_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantkit.config import (
    SYNTHETIC_SYMBOLS,
    Config,
    FeedConfig,
    IngestConfig,
    StoreConfig,
    source_from_env,
    symbols_from_env,
    viewer_timeout_from_env,
)
from quantkit.errors import ConfigError


def test_defaults_use_the_embedded_lmdb_store_under_the_data_dir(tmp_path: Path) -> None:
    """With only QUANTKIT_DATA_DIR set, the store is LMDB inside it and the source is the local synthetic market."""
    cfg = Config.from_env({"QUANTKIT_DATA_DIR": str(tmp_path)})
    assert cfg.store.uri == f"lmdb://{tmp_path / 'arctic'}"
    assert cfg.source == "synthetic"
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
        ({"QUANTKIT_SOURCE": "kraken"}, "QUANTKIT_SOURCE"),
        ({"QUANTKIT_SYMBOLS": "btc-usdt"}, "QUANTKIT_SYMBOLS"),
        ({"QUANTKIT_SOURCE": "replay:"}, "QUANTKIT_SOURCE"),
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


# ---------------------------------------------------------------------------------------------- one source vocabulary
@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("synthetic", "synthetic"), ("local", "synthetic"), ("binance", "binance"), ("Binance-Futures", "binance-futures"),
     ("replay:/a.gz, /b.gz", "replay:/a.gz,/b.gz")],
)
def test_source_and_environment_take_the_same_values_in_every_command(
    raw: str, canonical: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--source of ingest and up, QUANTKIT_SOURCE and Config all read a source the same way."""
    from quantkit.cli import _fill_from_env, build_parser

    monkeypatch.setenv("QUANTKIT_SOURCE", raw)
    assert source_from_env() == canonical and Config.from_env().source == canonical
    for command in ("ingest", "up"):
        by_flag = build_parser().parse_args([command, "--source", raw])
        by_env = build_parser().parse_args([command])
        _fill_from_env(by_env)
        assert by_flag.source == by_env.source == canonical
    if not canonical.startswith("binance"):  # the local exchange serves the local sources only
        assert build_parser().parse_args(["exchange", "--source", raw]).source == canonical


def test_live_sources_are_refused_by_the_local_exchange_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`quantkit exchange --source binance` is a one-line usage error, not a traceback."""
    from quantkit.cli import main

    assert main(["exchange", "--source", "binance"]) == 2
    err = capsys.readouterr().err
    assert "binance" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------- every documented variable
DOCUMENTED = (
    "QUANTKIT_DATA_DIR", "QUANTKIT_ARCTIC_URI", "QUANTKIT_LIBRARY", "QUANTKIT_SOURCE", "QUANTKIT_SYMBOLS",
    "QUANTKIT_WS_URL", "QUANTKIT_REST_URL", "QUANTKIT_FLUSH_INTERVAL", "QUANTKIT_BATCH_SIZE", "QUANTKIT_QUEUE_SIZE",
    "QUANTKIT_VIEWER_TIMEOUT",
)  # fmt: skip


def test_every_variable_of_the_config_docstring_and_readme_is_tested_here() -> None:
    """The variables documented in config.py and the README are exactly the ones tested below."""
    import quantkit.config

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    doc = quantkit.config.__doc__ or ""
    import re

    assert set(re.findall(r"QUANTKIT_[A-Z_]+[A-Z]", doc)) == set(DOCUMENTED)
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"QUANTKIT_[A-Z_]+[A-Z]", section)) == set(DOCUMENTED)


def test_data_dir_arctic_uri_and_library(tmp_path: Path) -> None:
    """QUANTKIT_DATA_DIR places the default store; QUANTKIT_ARCTIC_URI and QUANTKIT_LIBRARY override it."""
    assert StoreConfig.from_env({"QUANTKIT_DATA_DIR": str(tmp_path)}).uri == f"lmdb://{tmp_path / 'arctic'}"
    cfg = StoreConfig.from_env({"QUANTKIT_DATA_DIR": str(tmp_path), "QUANTKIT_ARCTIC_URI": "lmdb:///x", "QUANTKIT_LIBRARY": "lib2"})
    assert (cfg.uri, cfg.library) == ("lmdb:///x", "lib2")


def test_symbols_variable_is_the_default_of_symbols(monkeypatch: pytest.MonkeyPatch) -> None:
    """QUANTKIT_SYMBOLS fills --symbols of ingest and up (the flag wins); unset, the source's own symbols apply."""
    from quantkit.cli import _fill_from_env, build_parser

    assert symbols_from_env({}) is None
    monkeypatch.setenv("QUANTKIT_SYMBOLS", "btcusdt, ethusdt")
    for command in ("ingest", "up"):
        args = build_parser().parse_args([command])
        _fill_from_env(args)
        assert args.symbols == "BTCUSDT,ETHUSDT"
        args = build_parser().parse_args([command, "--symbols", "SOLUSDT"])
        _fill_from_env(args)
        assert args.symbols == "SOLUSDT"


def test_ws_and_rest_url_replace_the_live_endpoints_only() -> None:
    """QUANTKIT_WS_URL / QUANTKIT_REST_URL point binance and binance-futures elsewhere; a local exchange keeps its URL."""
    env = {"QUANTKIT_WS_URL": "wss://testnet.example:9443", "QUANTKIT_REST_URL": "https://testnet.example"}
    for source, market in (("binance", "spot"), ("binance-futures", "futures")):
        feed = Config.from_env({**env, "QUANTKIT_SOURCE": source}).feed(symbols=("BTCUSDT",))
        assert (feed.ws_url, feed.rest_url, feed.market) == ("wss://testnet.example:9443", "https://testnet.example", market)
    local = Config.from_env(env).feed(local_url="http://127.0.0.1:5555")
    assert (local.ws_url, local.rest_url) == ("ws://127.0.0.1:5555", "http://127.0.0.1:5555")


def test_ingest_batching_variables() -> None:
    """QUANTKIT_FLUSH_INTERVAL, QUANTKIT_BATCH_SIZE and QUANTKIT_QUEUE_SIZE set the ingest's batching."""
    cfg = IngestConfig.from_env({"QUANTKIT_FLUSH_INTERVAL": "1.5", "QUANTKIT_BATCH_SIZE": "7", "QUANTKIT_QUEUE_SIZE": "70"})
    assert (cfg.flush_interval, cfg.batch_size, cfg.queue_size) == (1.5, 7, 70)


def test_viewer_timeout_variable() -> None:
    """QUANTKIT_VIEWER_TIMEOUT sets the read-only page's heartbeat timeout; a bad value names the variable."""
    from quantkit.dashboard.readonly import viewer_timeout_from_env as used_by_the_page

    assert used_by_the_page is viewer_timeout_from_env
    assert viewer_timeout_from_env({}) == 15.0 and viewer_timeout_from_env({"QUANTKIT_VIEWER_TIMEOUT": "4"}) == 4.0
    with pytest.raises(ConfigError, match="QUANTKIT_VIEWER_TIMEOUT"):
        viewer_timeout_from_env({"QUANTKIT_VIEWER_TIMEOUT": "-1"})


def test_a_bad_variable_makes_the_command_fail_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed QUANTKIT_SOURCE / QUANTKIT_SYMBOLS stops `quantkit ingest` before it starts: one line naming it, exit 1."""
    from quantkit.cli import main

    for name, value in (("QUANTKIT_SOURCE", "kraken"), ("QUANTKIT_SYMBOLS", "btc-usdt")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            assert main(["ingest", "--store", "lmdb:///nonexistent/never-created"]) == 1
        err = capsys.readouterr().err
        assert name in err and len(err.strip().splitlines()) == 1
    assert not Path("/nonexistent").exists()


def test_only_config_reads_quantkit_variables() -> None:
    """No module but quantkit/config.py reads a QUANTKIT_* variable from the environment."""
    import ast

    import quantkit

    root = Path(quantkit.__file__).resolve().parent
    readers = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "config.py" and path.parent == root:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                args = [ast.unparse(a) for a in node.args]
                if (func.endswith(("environ.get", "getenv")) and args and "QUANTKIT_" in args[0]):
                    readers.append(f"{path.relative_to(root)}:{node.lineno}")
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                if ast.unparse(node.value).endswith("environ") and "QUANTKIT_" in ast.unparse(node.slice):
                    readers.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not readers, readers
