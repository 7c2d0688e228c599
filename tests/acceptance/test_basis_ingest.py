"""`quantkit ingest --source synthetic --symbols SYNAUSDT,SYNAUSDT_PERP`: a coin's spot and perpetual in one command.

Fresh processes: the first run stores both legs under their grammar names (markets recorded), the
second continues both (new ticks, ids one by one after the first run's, later times). A source that
serves one market refuses the other market's names in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from quantkit.store import TickStore

SPOT, PERP = "SYNAUSDT", "SYNAUSDT_PERP"


def _ingest(uri: str, env: dict[str, str], timeout_unit: float, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantkit", "ingest", "--store", uri, "--stats-every", "1", *extra],
        env=env, capture_output=True, text=True, timeout=120 * timeout_unit,
    )  # fmt: skip


def test_spot_and_perpetual_in_one_command_then_a_second_run_continues_both(tmp_path: Path, timeout_unit: float) -> None:
    """Run 1 stores SYNAUSDT (spot) and SYNAUSDT_PERP (futures); run 2 adds new ticks to both, ids continuing."""
    uri = f"lmdb://{tmp_path / 'db'}"
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    counts = {SPOT: 0, PERP: 0}
    last: dict[str, tuple[int, int]] = {}
    for run in range(2):
        proc = _ingest(uri, env, timeout_unit, "--source", "synthetic", "--symbols", f"{SPOT.lower()},{PERP.lower()}",
                       "--speed", "10", "--duration", "4")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ERROR" not in proc.stdout, proc.stdout
        store = TickStore(uri)
        info = store.symbols().set_index("symbol")
        assert info["market"].to_dict() == {SPOT: "spot", PERP: "futures"}, info
        heartbeat = json.loads((tmp_path / "ingest_status.json").read_text())
        assert set(heartbeat["per_symbol"]) == {SPOT, PERP} and all(heartbeat["per_symbol"].values()), heartbeat
        assert heartbeat["stored"] == sum(heartbeat["per_symbol"].values())
        for sym in (SPOT, PERP):
            ticks = store.ticks(sym, columns=["trade_id"])
            ids = ticks["trade_id"].to_numpy()
            assert len(ids) > counts[sym], f"run {run}: no new {sym} ticks\n{proc.stdout}"
            assert np.all(np.diff(ids) == 1), f"run {run}: {sym} ids do not continue one by one"
            new = ticks.iloc[counts[sym]:]
            if sym in last:
                assert int(new["trade_id"].iloc[0]) == last[sym][0] + 1
                assert int(new.index[0].value // 1_000_000) > last[sym][1]
            counts[sym] = len(ids)
            last[sym] = (int(ids[-1]), int(ticks.index[-1].value // 1_000_000))
        store.close()
    # the perpetual tracks its spot: its trades sit within a few basis points of the spot's
    store = TickStore(uri)
    y, x = store.bars(PERP, "1s")["close"], store.bars(SPOT, "1s")["close"]
    ratio = (y / x).dropna()
    assert len(ratio) > 5 and float((ratio - 1.0).abs().max()) < 0.002, ratio.describe()


def test_a_source_of_one_market_refuses_the_other_markets_names(tmp_path: Path, shared_data: Path,
                                                                 timeout_unit: float) -> None:
    """A spot replay asked for a _PERP name: exit 1, one line naming the symbol and the market; nothing stored."""
    capture = shared_data / "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
    spot_file = capture / "spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
    uri = f"lmdb://{tmp_path / 'db'}"
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    proc = _ingest(uri, env, timeout_unit, "--source", f"replay:{spot_file}", "--symbols", "BTCUSDT_PERP")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "BTCUSDT_PERP" in lines[0] and "futures" in lines[0], proc.stderr
    assert not (tmp_path / "db").exists() or TickStore(uri).symbols().empty


def test_a_binance_futures_ingest_stores_the_perpetual_name(tmp_path: Path, timeout_unit: float) -> None:
    """`--source binance-futures --symbols SYNAUSDT` (URLs pointed at a local USD-M exchange) stores SYNAUSDT_PERP."""
    from quantkit.exchange import LocalExchange, SyntheticMarket

    exchange = LocalExchange(SyntheticMarket(seed=5, market="futures"), port=0, hold_until_subscribed=False).start()
    try:
        env = dict(os.environ, QUANTKIT_WS_URL=exchange.ws_url, QUANTKIT_REST_URL=exchange.url,
                   QUANTKIT_DATA_DIR=str(tmp_path))
        uri = f"lmdb://{tmp_path / 'db'}"
        proc = _ingest(uri, env, timeout_unit, "--source", "binance-futures", "--symbols", SPOT, "--duration", "3")
    finally:
        exchange.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    store = TickStore(uri)
    assert store.symbols().set_index("symbol")["market"].to_dict() == {PERP: "futures"}
    assert len(store.ticks(PERP)) > 0
