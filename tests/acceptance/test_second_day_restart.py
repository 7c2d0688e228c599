"""Three runs of `quantkit ingest --source synthetic` on one store each store new ticks: the market continues."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from quantkit.config import SYNTHETIC_SYMBOLS
from quantkit.store import TickStore


def test_three_runs_on_one_store_each_store_new_ticks(tmp_path: Path, timeout_unit: float) -> None:
    """Each bounded run exits 0 with new ticks for every symbol; ids and times continue after the previous run."""
    uri = f"lmdb://{tmp_path / 'db'}"
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    counts = {s: 0 for s in SYNTHETIC_SYMBOLS}
    last_ids: dict[str, int] = {}
    last_times: dict[str, int] = {}
    for run in range(3):
        proc = subprocess.run(
            [sys.executable, "-m", "quantkit", "ingest", "--source", "synthetic", "--speed", "10", "--duration", "3",
             "--store", uri, "--stats-every", "1"],
            env=env, capture_output=True, text=True, timeout=120 * timeout_unit,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ERROR" not in proc.stdout and "alarms" not in proc.stdout, proc.stdout
        store = TickStore(uri)
        for sym in SYNTHETIC_SYMBOLS:
            ticks = store.ticks(sym, columns=["trade_id"])
            ids = ticks["trade_id"].to_numpy()
            assert len(ids) > counts[sym], f"run {run}: no new {sym} ticks\n{proc.stdout}"
            assert np.all(np.diff(ids) == 1), f"run {run}: {sym} ids do not continue one by one"
            new = ticks.iloc[counts[sym]:]
            if sym in last_ids:
                assert int(new["trade_id"].iloc[0]) == last_ids[sym] + 1
                assert int(new.index[0].value // 1_000_000) > last_times[sym]
            counts[sym] = len(ids)
            last_ids[sym] = int(ids[-1])
            last_times[sym] = int(ticks.index[-1].value // 1_000_000)


def test_a_looped_replay_restarted_on_its_store_continues(tmp_path: Path, shared_data: Path, timeout_unit: float) -> None:
    """`quantkit ingest --source replay:X --loop` run twice: the second run starts right after the first's last id."""
    import pandas as pd

    src = shared_data / "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
    frame = pd.read_csv(src / "um_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz", nrows=400)
    path = tmp_path / "um_ETHUSDT-trades-slice.csv"
    frame.to_csv(path, index=False)
    uri = f"lmdb://{tmp_path / 'db'}"
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    last = None
    for run in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "quantkit", "ingest", "--source", f"replay:{path}", "--loop", "--speed", "50",
             "--duration", "3", "--store", uri, "--stats-every", "0"],
            env=env, capture_output=True, text=True, timeout=120 * timeout_unit,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        ids = TickStore(uri).ticks("ETHUSDT_PERP", columns=["trade_id"])["trade_id"].to_numpy()  # a USD-M capture
        assert np.all(np.diff(ids) == 1), f"run {run}: ids are not continuous"
        if last is not None:
            assert len(ids) > last, f"run {run} stored nothing new\n{proc.stdout}"
        last = len(ids)
