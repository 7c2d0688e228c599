"""`quantkit ingest --history` in a fresh process: the store starts with the last DURATION, not with nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from quantkit.store import TickStore


def test_ingest_history_backfills_the_past_before_going_live(tmp_path: Path, repo_root: Path,
                                                             timeout_unit: float) -> None:
    """`--history 3m` on an empty store: ~3 minutes before the start are stored, the bar reaches 'done', exit 0."""
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    env.pop("QUANTKIT_ARCTIC_URI", None)
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "quantkit", "ingest", "--history", "3m", "--duration", "15", "--symbols",
         "SYNAUSDT,SYNBUSDT", "--stats-every", "0"],
        env=env, cwd=repo_root, capture_output=True, text=True, timeout=180 * timeout_unit,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "quantkit ingest: warm start done" in out.stdout, out.stdout[-2000:]
    assert "warm start: last 3 min" in out.stderr  # the progress bar
    syms = TickStore(f"lmdb://{tmp_path / 'arctic'}").symbols().set_index("symbol")
    for sym in ("SYNAUSDT", "SYNBUSDT"):
        first = pd.Timestamp(syms.loc[sym, "first"]).timestamp()
        assert 170 <= started - first <= 200, (sym, started - first)


def test_history_is_refused_for_a_replay(tmp_path: Path, repo_root: Path) -> None:
    """A replay is its own history: --history with a replay is a one-line error, exit 1, nothing stored."""
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    env.pop("QUANTKIT_ARCTIC_URI", None)
    out = subprocess.run(
        [sys.executable, "-m", "quantkit", "ingest", "--history", "10m", "--source", f"replay:{tmp_path / 'x.csv'}"],
        env=env, cwd=repo_root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1 and "history" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "arctic").exists()
