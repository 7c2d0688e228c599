"""Every pair notebook runs as shipped (no parameter changed) on a store filled by `quantkit ingest`.

A short `quantkit ingest --source synthetic` (the main job's source, run faster than real time)
fills a fresh LMDB store; QUANTKIT_ARCTIC_URI / QUANTKIT_DATA_DIR point the notebooks at it. The
research, backtest and report notebooks then open on what the store holds (the configured pair,
SYNAUSDT/SYNBUSDT, at a bar size with enough bars) and say which pair they chose.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from quantkit.store import TickStore

#: Exchange time the ingest has to cover: the report's default windows need 500 one-second bars.
SPAN = pd.Timedelta(minutes=20)


@pytest.fixture(scope="module")
def ingested_store(tmp_path_factory, timeout_unit):
    """(data dir, URI) of a fresh store filled by `quantkit ingest --source synthetic --speed 60` for SPAN of exchange time."""
    root = tmp_path_factory.mktemp("fresh")
    uri = f"lmdb://{root / 'arctic'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTKIT_")}
    env.update(QUANTKIT_DATA_DIR=str(root))
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantkit", "ingest", "--source", "synthetic", "--speed", "60", "--store", uri,
         "--stats-every", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    span = pd.Timedelta(0)
    try:
        deadline = time.monotonic() + 120 * timeout_unit
        while time.monotonic() < deadline and span < SPAN:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            time.sleep(2.0)
            status = root / "ingest_status.json"
            if status.exists():
                try:
                    info = json.loads(status.read_text())
                except (ValueError, OSError):
                    continue  # a write in progress
                if int(info.get("stored", 0)) > 0:
                    with TickStore(uri) as st:
                        syms = st.symbols()
                    if len(syms) >= 2:
                        span = (syms["last"] - syms["first"]).min()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(60 * timeout_unit) == 0
    assert span >= SPAN, f"the ingest stored only {span} of exchange time"
    return root, uri


@pytest.mark.parametrize("notebook", ["research_pair.ipynb", "backtest_pair.ipynb", "reports/pair_report.ipynb"])
def test_notebook_runs_as_shipped_on_an_ingested_store(ingested_store, notebook, repo_root, tmp_path, timeout_unit,
                                                      monkeypatch):
    """papermill runs the notebook with no parameters on a real kernel; it opens on the configured stored pair."""
    root, uri = ingested_store
    for name in [k for k in os.environ if k.startswith("QUANTKIT_") and k != "QUANTKIT_TEST_TIMEOUT_SCALE"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("QUANTKIT_DATA_DIR", str(root))
    monkeypatch.setenv("QUANTKIT_ARCTIC_URI", uri)
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(repo_root / "notebooks" / notebook), str(out), kernel_name="python3", progress_bar=False,
                        cwd=str(tmp_path), execution_timeout=int(600 * timeout_unit))
    nb = nbformat.read(str(out), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = " ".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    text += " ".join(str(o.get("data", {}).get("text/html", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for o in outputs if o.get("output_type") in ("execute_result", "display_data"))
    assert "SYNAUSDT" in text and "SYNBUSDT" in text
    assert "configured pair" in text  # the page says which pair it chose


def test_pages_on_an_empty_store_say_what_is_missing(tmp_path, monkeypatch):
    """With nothing stored the pages still open, and say how to fill the store instead of raising."""
    from quantkit.dashboard.backtest_page import BacktestPage
    from quantkit.dashboard.research import ResearchPage

    monkeypatch.delenv("QUANTKIT_SYMBOLS", raising=False)
    with TickStore(f"lmdb://{tmp_path / 'empty'}") as store:
        research = ResearchPage(store)
        backtest = BacktestPage(store)
    assert research.data is None and "fill it first" in research.status.value
    assert backtest.result is None and "fill it first" in (backtest.last_error or "") and "fill it first" in backtest.status.value
