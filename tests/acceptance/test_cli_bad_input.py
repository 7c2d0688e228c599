"""Bad input through the `quantkit` command in fresh processes: one stderr line, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.store import TickStore


def quantkit(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """The `quantkit` console script of this environment, in a fresh process."""
    exe = Path(sys.executable).with_name("quantkit")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "quantkit"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ))


@pytest.fixture(scope="module")
def candle_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding 1-minute candles of BTCUSDT only."""
    uri = f"lmdb://{tmp_path_factory.mktemp('cli_bad') / 'db'}"
    idx = pd.date_range("2025-06-01", periods=60, freq="1min", tz="UTC", name="time")
    frame = pd.DataFrame({"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 2.0}, index=idx)
    TickStore(uri).write_candles("BTCUSDT", "1m", frame)
    return uri


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["bars", "BTCUSDT", "--freq", "1s"], 1),  # candle-only symbol
        (["bars", "BTCUSDT", "--freq", "90s"], 1),
        (["bars", "BTCUSDT", "--start", "2026-02-30"], 2),
        (["bars", "BTCUSDT", "--start", "yesterday"], 2),
        (["bars", "BTCUSDT", "--freq", "90x", "-v"], 2),  # -v after the sub-command is fine; the bad --freq is not
        (["-v", "bars", "btc-usdt"], 2),
        (["ingest", "--port", "99999"], 2),
        (["alerts", "--pairs", "ETHUSDT", "--duration", "1"], 2),
        (["report", "ETHUSDT/BTCUSDT", "--start", "2025-06-01", "--end", "June"], 2),
        (["serve", "--viewer-timeout", "-5"], 2),
        (["schedule", "reports.toml", "--poll", "0"], 2),
    ],
)
def test_bad_values_in_a_fresh_process(argv: list[str], code: int, candle_store: str) -> None:
    """Each bad value: the documented exit code and exactly one stderr line, no traceback."""
    store = ["--store", candle_store] if argv[0] in ("bars",) or argv[:2] == ["-v", "bars"] else []
    proc = quantkit(*argv, *store)
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_a_mistyped_store_is_named_and_not_created(tmp_path: Path) -> None:
    """`quantkit symbols --store <typo>` says there is no store there (exit 1) and creates nothing."""
    typo = tmp_path / "arctc"
    proc = quantkit("symbols", "--store", f"lmdb://{typo}")
    assert proc.returncode == 1 and str(typo) in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not typo.exists()


def test_environment_source_symbols_and_urls_drive_ingest(tmp_path: Path, timeout_unit: float) -> None:
    """QUANTKIT_SOURCE=binance with QUANTKIT_WS_URL / QUANTKIT_REST_URL / QUANTKIT_SYMBOLS / QUANTKIT_DATA_DIR:
    the ingest streams from that WebSocket, backfills over that REST URL, stores only those symbols in the data dir."""
    exchange = LocalExchange(SyntheticMarket(seed=5, history_s=60.0), port=0).start()
    try:
        env = dict(
            os.environ, QUANTKIT_SOURCE="binance", QUANTKIT_WS_URL=exchange.ws_url, QUANTKIT_REST_URL=exchange.url,
            QUANTKIT_SYMBOLS="SYNAUSDT", QUANTKIT_DATA_DIR=str(tmp_path), QUANTKIT_ARCTIC_URI="",
        )  # fmt: skip
        proc = quantkit("ingest", "--duration", "3", "--history", "20s", "--stats-every", "0", env=env, timeout=120 * timeout_unit)
    finally:
        exchange.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "backfilled 0," not in proc.stdout, proc.stdout  # the REST URL served the warm start
    store = TickStore(f"lmdb://{tmp_path / 'arctic'}", create=False)  # QUANTKIT_DATA_DIR's default store
    assert store.symbols()["symbol"].tolist() == ["SYNAUSDT"]
    assert len(store.ticks("SYNAUSDT")) > 0
