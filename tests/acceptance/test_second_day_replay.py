"""A finite replay of a real USD-M capture is stored complete, trade by trade, at any speed and in either start order.

Each case runs `quantkit exchange --source replay:...` and `quantkit ingest --exchange-url ...` as fresh
processes on a real LMDB store: the ingest asks the exchange for its symbols and market (no --symbols,
no --market), ends by itself when the replay has been published, and exits 0 only when the store holds
every trade the exchange published. "ingest first": the ingest waits for the exchange, which holds the
replay until it subscribes. "exchange first": the exchange starts publishing at once (--no-hold) and the
ingest fetches what it missed over REST from the replay's first trade id.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _support.waiting import free_port

from quantkit.config import LOCAL_STATUS_PATH
from quantkit.store import TickStore
from quantkit.symbols import perpetual_name  # USD-M captures are stored under the perpetual's name

CSV_DIR = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
FILES = {
    "BTCUSDT": "um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz",
    "ETHUSDT": "um_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz",
}
#: seconds of the capture replayed per speed: a few wall seconds each
SLICE_S = {1.0: 5, 20.0: 60, 100.0: 120}


def _slice(shared_data: Path, folder: Path, seconds: int) -> dict[str, pd.DataFrame]:
    """The first ``seconds`` of both symbols' trades, written as trades CSVs under ``folder``."""
    frames = {s: pd.read_csv(shared_data / CSV_DIR / f) for s, f in FILES.items()}
    t0 = min(int(f["time"].min()) for f in frames.values())
    folder.mkdir()
    out = {}
    for sym, frame in frames.items():
        part = frame[frame["time"] < t0 + seconds * 1000]
        part.to_csv(folder / f"um_{sym}-trades-slice.csv", index=False)
        out[sym] = part
    return out


def _wait_status(port: int, timeout: float, published: int = 0) -> None:
    """Poll the local exchange's status endpoint until it answers with at least ``published`` trades out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{LOCAL_STATUS_PATH}", timeout=2) as resp:
                if json.loads(resp.read())["published"] >= published:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the exchange on port {port} did not publish {published} trades")


def _quantkit(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "quantkit", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"{proc.args} did not end within {timeout:.0f} s:\n{out}") from None
    return proc.returncode, out


@pytest.mark.parametrize("order", ["ingest_first", "exchange_first"])
@pytest.mark.parametrize("speed", [1.0, 20.0, 100.0])
def test_finite_replay_is_stored_complete(tmp_path: Path, shared_data: Path, timeout_unit: float, speed: float, order: str) -> None:
    """The store equals the replayed capture trade by trade; both processes end by themselves with exit code 0."""
    expected = _slice(shared_data, tmp_path / "slice", SLICE_S[speed])
    uri = f"lmdb://{tmp_path / 'db'}"
    port = free_port()
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    replay = "replay:" + ",".join(str(p) for p in sorted((tmp_path / "slice").iterdir()))
    exchange_cmd = ["exchange", "--source", replay, "--speed", str(speed), "--port", str(port)]
    ingest_cmd = ["ingest", "--exchange-url", f"http://127.0.0.1:{port}", "--store", uri, "--stats-every", "0"]
    procs = []
    try:
        if order == "ingest_first":
            procs.append(ingest := _quantkit(*ingest_cmd, env=env))
            time.sleep(1.0)
            procs.append(exchange := _quantkit(*exchange_cmd, env=env))
        else:
            procs.append(exchange := _quantkit(*exchange_cmd, "--no-hold", env=env))
            _wait_status(port, 60 * timeout_unit, published=1)  # trades are out before the ingest even starts
            procs.append(ingest := _quantkit(*ingest_cmd, env=env))
        code, out = _finish(ingest, 90 * timeout_unit)
        assert code == 0, out
        assert "trades the exchange published are in the store" in out, out
        if order == "exchange_first":  # what was published before the ingest subscribed came over REST
            backfilled = re.search(r"backfilled ([0-9,]+)", out)
            assert backfilled is not None and int(backfilled.group(1).replace(",", "")) > 0, out
        ex_code, ex_out = _finish(exchange, 30 * timeout_unit)
        assert ex_code == 0, ex_out
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    store = TickStore(uri)
    info = store.symbols()
    assert sorted(info["symbol"]) == sorted(perpetual_name(s) for s in expected)
    for sym, want in expected.items():
        got = store.ticks(perpetual_name(sym))
        np.testing.assert_array_equal(got["trade_id"].to_numpy(), want["id"].to_numpy())
        np.testing.assert_array_equal(got["price"].to_numpy(), want["price"].to_numpy())
        np.testing.assert_array_equal(got["qty"].to_numpy(), want["qty"].to_numpy())
        np.testing.assert_array_equal(got["is_buyer_maker"].to_numpy(), want["is_buyer_maker"].to_numpy())
        np.testing.assert_array_equal(got.index.asi8 // 1_000_000, want["time"].to_numpy())
    assert set(info["market"]) == {"futures"}  # the market came from the exchange, no --market given


def test_finite_replay_in_one_process_is_stored_complete(tmp_path: Path, shared_data: Path, timeout_unit: float) -> None:
    """`quantkit ingest --source replay:...` at speed 20 stores every trade and exits 0; run again it stores nothing new."""
    expected = _slice(shared_data, tmp_path / "slice", 60)
    uri = f"lmdb://{tmp_path / 'db'}"
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    replay = "replay:" + ",".join(str(p) for p in sorted((tmp_path / "slice").iterdir()))
    for run in range(2):
        code, out = _finish(_quantkit("ingest", "--source", replay, "--speed", "20", "--store", uri, "--stats-every", "0",
                                      env=env), 90 * timeout_unit)  # fmt: skip
        assert code == 0, out
        assert ("nothing new" if run else "trades the exchange published are in the store") in out, out
    store = TickStore(uri)
    for sym, want in expected.items():
        np.testing.assert_array_equal(store.ticks(perpetual_name(sym))["trade_id"].to_numpy(), want["id"].to_numpy())


def test_contradicting_the_exchange_market_is_a_one_line_error(tmp_path: Path, shared_data: Path, timeout_unit: float) -> None:
    """`ingest --market spot` against a USD-M exchange exits non-zero with one line naming both markets."""
    _slice(shared_data, tmp_path / "slice", 5)
    port = free_port()
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    replay = "replay:" + ",".join(str(p) for p in sorted((tmp_path / "slice").iterdir()))
    exchange = _quantkit("exchange", "--source", replay, "--port", str(port), env=env)
    try:
        _wait_status(port, 60 * timeout_unit)
        ingest = _quantkit("ingest", "--exchange-url", f"http://127.0.0.1:{port}", "--market", "spot",
                           "--store", f"lmdb://{tmp_path / 'db'}", env=env)  # fmt: skip
        code, out = _finish(ingest, 60 * timeout_unit)
    finally:
        os.killpg(exchange.pid, signal.SIGTERM)
        exchange.wait(30 * timeout_unit)
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 1, out
    assert len(lines) == 1 and "futures" in lines[0] and "--market" in lines[0], out
