"""The live dashboard notebook runs headless under papermill against a store being written by another process."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
import pytest

Y, X = "SYNAUSDT", "SYNBUSDT"


def _widget_states(nb: Any) -> list[dict[str, Any]]:
    saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return [w["state"] for w in saved.get("state", {}).values()]


def test_notebook_is_thin_and_runs_headless(live_feed: Any, repo_root: Path, tmp_path: Path, artifacts_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """papermill runs every cell; the saved widget state holds drawn charts and a live status; run_seconds stops it."""
    src = repo_root / "notebooks" / "live_dashboard.ipynb"
    nb = nbformat.read(src, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all("def " not in c.source and "class " not in c.source for c in code)
    assert all(len(c.source.splitlines()) == 1 for c in code[1:])

    monkeypatch.setenv("QUANTKIT_DATA_DIR", str(tmp_path))  # exports / heartbeat paths of the kernel
    out = artifacts_dir / "live_dashboard.out.ipynb"
    pm.execute_notebook(
        str(src), str(out),
        parameters={"store_uri": live_feed.uri, "y": Y, "x": X, "window": 30, "run_seconds": 4.0},
        kernel_name="python3", cwd=str(tmp_path), progress_bar=False, execution_timeout=180,
    )  # fmt: skip
    ran = nbformat.read(out, as_version=4)
    errors = [o for c in ran.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []

    states = _widget_states(ran)
    htmls = [s.get("value", "") for s in states if s.get("_model_name") == "HTMLModel"]
    status = next(h for h in htmls if "qk-last-tick" in h)
    assert "stopped" in status  # run_seconds stopped the publisher
    assert re.search(r"data-ms='\d{13}'", status)
    publishes = int(re.search(r"publishes</th><td[^>]*>([\d,]+)", status).group(1).replace(",", ""))
    assert publishes >= 2
    metrics = next(h for h in htmls if "qk-strip" in h)
    assert Y in metrics and "n/a" not in metrics.split("<td>")[1]  # a last price is shown
    lines = [s for s in states if s.get("_model_name") == "LinesModel"]
    assert lines and any(s.get("y", {}).get("shape", [0])[-1] > 10 for s in lines), json.dumps(lines[0])[:500]
