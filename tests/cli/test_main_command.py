"""The README's main command: `quantkit up` runs the exchange, the ingest and JupyterLab together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _support.waiting import free_port

from quantkit.store import TickStore


def test_up_serves_the_live_dashboard_while_ticks_flow_into_the_store(tmp_path: Path, repo_root: Path, timeout_unit: float) -> None:
    """`quantkit up` serves JupyterLab on the dashboard notebook and the store grows while it runs."""
    port = free_port()
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    env.pop("QUANTKIT_ARCTIC_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantkit", "up", "--no-browser", "--port", str(port), "--token", "qktest", "--speed", "5"],
        env=env,
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/lab/tree/notebooks/live_dashboard.ipynb?token=qktest"
        deadline = time.monotonic() + 60 * timeout_unit
        status = None
        while time.monotonic() < deadline and status != 200:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    status = resp.status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/notebooks/live_dashboard.ipynb?token=qktest") as resp:
            assert b"StoreMonitor" in resp.read()

        store = TickStore(f"lmdb://{tmp_path / 'arctic'}")
        counts = []
        deadline = time.monotonic() + 30 * timeout_unit
        while time.monotonic() < deadline and (len(counts) < 2 or counts[-1] <= counts[0]):
            frame = store.symbols()
            counts.append(int(frame["count"].sum()) if len(frame) else 0)
            time.sleep(1.0)
        assert counts[-1] > counts[0] >= 0, counts
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(30 * timeout_unit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert code == 0
