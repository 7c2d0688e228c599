"""`quantkit ingest` writes a status heartbeat for dashboards elsewhere; `quantkit alerts` runs headless on the store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quantkit.cli import main


def test_ingest_writes_a_heartbeat_and_alerts_run_headless(tmp_path: Path, timeout_unit: float, capsys: pytest.CaptureFixture[str]) -> None:
    """A running `quantkit ingest --quotes` keeps ingest_status.json fresh (with each symbol's best bid/ask);
    `quantkit alerts` evaluates the stored pair and exits 0."""
    uri = f"lmdb://{tmp_path / 'arctic'}"
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantkit", "ingest", "--source", "synthetic", "--speed", "20", "--store", uri, "--stats-every", "0",
         "--quotes"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    status_file = tmp_path / "ingest_status.json"
    try:
        deadline = time.monotonic() + 30 * timeout_unit
        stored = 0
        while time.monotonic() < deadline and stored < 200:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            if status_file.exists():
                try:
                    stored = int(json.loads(status_file.read_text()).get("stored", 0))
                except (ValueError, OSError):
                    pass  # a write in progress
            time.sleep(0.2)
        assert stored >= 200, status_file.read_text() if status_file.exists() else "no heartbeat file"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30 * timeout_unit) == 0
    final = json.loads(status_file.read_text())
    assert final["state"] == "stopped" and final["stored"] >= stored
    quotes = final["quotes"]
    assert {"SYNAUSDT", "SYNBUSDT"} <= set(quotes), quotes
    assert all(0 < q["bid"] < q["ask"] and q["spread_bps"] > 0 for q in quotes.values())
    assert final["rejected_total"] == 0  # the book tickers are quotes, not rejected messages

    code = main(["alerts", "--pairs", "SYNAUSDT/SYNBUSDT", "--window", "20", "--duration", str(2 * timeout_unit), "--store", uri])
    assert code == 0
    assert "alert(s) raised" in capsys.readouterr().out
