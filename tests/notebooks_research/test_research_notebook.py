"""The pair research page and notebook on a real LMDB tick store filled with the Bybit 1m candles.

* The page (quantkit.dashboard.research) is exercised without a browser (ipywidgets'
  DummyComm): figures get data, the tables and verdict render, picking a scanner row opens it.
* The notebook runs headless with papermill on a real kernel; its JSON summary must equal
  quantkit.analytics run in this process on the same bars read back from the store.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import quantkit.analytics as qa
from quantkit.dashboard.research import MAX_POINTS, ResearchPage, ResearchParams, compute_research
from quantkit.store import TickStore, import_files

SYMBOLS = ("ETHUSDT", "BTCUSDT", "SOLUSDT", "ADAUSDT")
BYBIT = "bybit_linear_klines_2025-04_2025-07_crypto_backtester/1m"
START, END = "2025-06-02", "2025-06-16"


@pytest.fixture(scope="module")
def research_store(tmp_path_factory, shared_data):
    """A tmp LMDB TickStore holding four Bybit 1m candle files, and its URI."""
    root = tmp_path_factory.mktemp("research_lmdb")
    uri = f"lmdb://{root}"
    store = TickStore(uri)
    paths = [shared_data / BYBIT / f"{sym}_1m.csv.gz" for sym in SYMBOLS]
    import_files(store, [str(p) for p in paths], progress=False)
    yield store, uri
    store.close()


def _params(**kw) -> ResearchParams:
    base = dict(y_symbol="ETHUSDT", x_symbol="BTCUSDT", bar_size="5m", start=START, end=END,
                window=120, scan_symbols=SYMBOLS)
    base.update(kw)
    return ResearchParams(**base)


def test_page_builds_figures_tables_and_opens_scanner_rows(research_store):
    """The page draws every figure, renders tables and verdict, and a scanner row click opens that pair."""
    store, _ = research_store
    page = ResearchPage(store, _params())
    d = page.data
    assert d is not None and d.n > 1000
    assert 0 < len(page.price_lines.x) <= MAX_POINTS
    assert np.asarray(page.spread_lines.y).shape[0] == 4  # spread, mean, upper, lower
    assert np.asarray(page.beta_lines.y).shape[0] == 3  # rolling, Kalman, static
    assert len(page.lag_bars.y) == 2 * 10 + 1
    assert "Engle-Granger" in page.tests_html.value and "Verdict" in page.verdict_html.value
    assert len(page.scan_select.options) == 6  # 4 symbols -> 6 pairs
    target = d.scan.iloc[2]
    page.scan_select.value = 2
    assert (page.params.y_symbol, page.params.x_symbol) == (target["y"], target["x"])
    assert (page.y_dd.value, page.x_dd.value) == (target["y"], target["x"])
    assert page.data.scan is d.scan  # ranking kept, only the pair changed
    assert page.data.ols.beta == pytest.approx(
        qa.ols_hedge(*np.log(qa.load_pair(store, target["y"], target["x"], "5m", START, END).pair).T.to_numpy()).beta,
        rel=1e-12)


def test_page_reports_bad_choices_in_its_status_line(research_store):
    """Choosing the same symbol twice shows a message on the page instead of raising."""
    store, _ = research_store
    page = ResearchPage(store, _params(scan=False))
    page.x_dd.value = page.y_dd.value
    page.run_btn.click()
    assert "different symbols" in page.status.value


def test_research_notebook_headless_matches_analytics(research_store, tmp_path, repo_root, timeout_unit):
    """papermill runs the notebook on a real kernel; its summary equals quantkit.analytics on the same stored bars."""
    import papermill as pm

    store, uri = research_store
    summary_path = tmp_path / "summary.json"
    out_nb = tmp_path / "research_pair.out.ipynb"
    pm.execute_notebook(
        str(repo_root / "notebooks" / "research_pair.ipynb"),
        str(out_nb),
        parameters={
            "store_uri": uri, "y_symbol": "ETHUSDT", "x_symbol": "BTCUSDT", "bar_size": "5m",
            "start": START, "end": END, "window": 120, "scan_symbols": list(SYMBOLS),
            "summary_path": str(summary_path),
        },
        kernel_name="python3",
        cwd=str(repo_root),
        progress_bar=False,
        execution_timeout=int(300 * timeout_unit),
    )
    summary = json.loads(summary_path.read_text())

    # the same analysis, done here directly with quantkit.analytics on bars read back from the store
    pair = np.log(qa.load_pair(store, "ETHUSDT", "BTCUSDT", "5m", START, END).pair)  # start inclusive, end exclusive
    y, x = pair["y"], pair["x"]
    ols = qa.ols_hedge(y, x)
    eg_yx, eg_xy = qa.engle_granger(y, x, method="gram"), qa.engle_granger(x, y, method="gram")
    jo = qa.johansen(pd.DataFrame({"y": y, "x": x}))
    hl = qa.half_life(ols.resid)
    kp = qa.kpss(ols.resid)
    roll = qa.rolling_ols(y, x, 120)
    scan = qa.scan_pairs(store, list(SYMBOLS), freq="5m", start=START, end=END)

    assert summary["n"] == len(pair)
    assert summary["first"] == str(pair.index[0]) and summary["last"] == str(pair.index[-1])
    assert summary["ols"]["beta"] == pytest.approx(ols.beta, rel=1e-12)
    assert summary["ols"]["alpha"] == pytest.approx(ols.alpha, rel=1e-12)
    assert summary["eg_yx"]["pvalue"] == pytest.approx(eg_yx.pvalue, rel=1e-10)
    assert summary["eg_xy"]["stat"] == pytest.approx(eg_xy.stat, rel=1e-10)
    assert summary["eg_yx"]["crit_5"] == pytest.approx(eg_yx.crit["5%"], rel=1e-12)
    assert summary["johansen"]["trace"] == pytest.approx(list(jo.trace_stat), rel=1e-10)
    assert summary["johansen"]["rank_trace"] == jo.rank_trace
    assert summary["kpss"]["stat"] == pytest.approx(kp.stat, rel=1e-10)
    assert summary["half_life"]["exact"] == pytest.approx(hl.exact, rel=1e-10)
    assert summary["rolling_beta_last"] == pytest.approx(roll["beta"].iloc[-1], rel=1e-10)
    assert summary["cointegrated"] == (min(eg_yx.pvalue, eg_xy.pvalue) < 0.05)
    assert [(r["y"], r["x"]) for r in summary["scan"]] == list(zip(scan["y"], scan["x"]))
    assert [r["pvalue"] for r in summary["scan"]] == pytest.approx(scan["pvalue"].tolist(), rel=1e-10)
    assert summary["verdict"]

    # the executed notebook: no errors, the tables are displayed, widget state was saved
    nb = nbformat.read(out_nb, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html_out = " ".join(o.get("data", {}).get("text/html", "") for o in outputs if o.get("output_type") == "execute_result")
    assert "Engle-Granger" in html_out and "half-life, exact" in html_out and "pvalue" in html_out
    streams = " ".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert summary["verdict"] in streams
    assert nb.metadata.get("widgets"), "widget state should be saved by nbclient"
    assert math.isfinite(summary["ols"]["r2"])


def test_compute_research_needs_enough_bars(research_store):
    """A window longer than a third of the data is refused with a readable message."""
    store, _ = research_store
    with pytest.raises(Exception, match="aligned"):
        compute_research(store, _params(bar_size="1d", window=120, scan=False))


def test_notebook_is_thin(repo_root):
    """The notebook has one cell tagged parameters and no def/class; cells are a few lines."""
    nb = nbformat.read(repo_root / "notebooks" / "research_pair.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    for c in code:
        assert "def " not in c.source and "class " not in c.source
        if "parameters" not in c.metadata.get("tags", []):
            assert len(c.source.splitlines()) <= 4
