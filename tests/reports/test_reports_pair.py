"""The pair report end to end on the real stored candles: numbers, offline HTML in chromium, index, read-only store."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest

from quantkit import analytics
from quantkit.backtest import Costs, Execution, Hedge, ZScoreBand, backtest_pair
from quantkit.config import StoreConfig
from quantkit.reports import PairReportParameters, ReportRun, run_report
from quantkit.store import TickStore

PAIR = "ETHUSDT/BTCUSDT"
START, END = "2025-06-10T00:00", "2025-06-20T00:00"
PARAMS = {"window": "180", "beta_window": "360", "hedge": "rolling", "entry_z": "2.0", "exit_z": "0.5", "fee_bps": "4"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, report_store: tuple[str, str]) -> tuple[ReportRun, Path, dict[str, Any]]:
    """One pair report run through run_report (papermill + HTML) into a tmp output folder."""
    uri, library = report_store
    store = TickStore(config=StoreConfig(uri=uri, library=library))
    before = _library_state(store)
    out = tmp_path_factory.mktemp("reports-out")
    run = run_report({"pair": PAIR, "start": START, "end": END, "store": uri, "library": library, **PARAMS}, out_dir=out)
    return run, out, {"before": before, "after": _library_state(store), "store": store}


def _library_state(store: TickStore) -> dict[str, int]:
    """Every ArcticDB symbol of the store's library (ticks, candles, records, caches) -> latest version."""
    lib = store.raw_library
    return {sym: int(lib.read_metadata(sym).version) for sym in lib.list_symbols()}


def _num(text: str) -> float:
    return float(text.replace("−", "-"))


def test_report_numbers_equal_quantkit_analytics(
    executed: tuple[ReportRun, Path, dict[str, Any]], read_tables: Callable[[str], dict], report_store: tuple[str, str]
) -> None:
    """Values read back from the HTML equal quantkit's analytics and backtest on the same stored bars."""
    run, out, ctx = executed
    assert run.status == "ok", run.error_line()
    tables = read_tables((out / str(run.html)).read_text(encoding="utf-8"))
    p = PairReportParameters.from_mapping({"pair": PAIR, "start": START, "end": END, **PARAMS})
    store = ctx["store"]
    eth = store.bars("ETHUSDT", "1m", p.start_ts, p.end_ts)
    btc = store.bars("BTCUSDT", "1m", p.start_ts, p.end_ts)
    eth = eth[eth.index < p.end_ts]
    btc = btc[btc.index < p.end_ts]
    pair = analytics.align_pair(eth, btc)
    y, x = pair["y"], pair["x"]
    roll = analytics.rolling_ols(y, x, 360)
    spread = analytics.spread(y, x, roll["beta"], roll["alpha"])
    eg = analytics.engle_granger(y, x, method="gram")
    jo = analytics.johansen(pair)
    hl = analytics.half_life(spread.dropna())
    adf_spread = analytics.adf(spread.dropna())
    ols = analytics.ols_hedge(y, x)
    bt = backtest_pair(y, x, ZScoreBand(entry=2.0, exit=0.5, window=180), hedge=Hedge("rolling", window=360),
                       execution=Execution(notional=10_000.0), costs=Costs(fee_bps=4.0))

    coverage = tables["qk-coverage"]
    assert int(coverage["ETHUSDT"]["bars"]) == len(eth) == 14400
    assert int(coverage["BTCUSDT"]["bars"]) == len(btc)
    params = tables["qk-parameters"]
    assert int(params["aligned bars"]["value"]) == len(pair)
    coint = tables["qk-cointegration"]
    expected = {
        ("Engle-Granger ETHUSDT~BTCUSDT", "statistic"): eg.stat,
        ("Engle-Granger ETHUSDT~BTCUSDT", "p-value"): eg.pvalue,
        ("Johansen trace r<=0", "statistic"): float(jo.trace_stat[0]),
        ("Johansen trace r<=0", "5% critical"): float(jo.trace_crit[0, 1]),
        ("ADF spread (rolling), descriptive", "statistic"): adf_spread.stat,
    }
    for (row, col), value in expected.items():
        assert _num(coint[row][col]) == pytest.approx(value, rel=1e-5), (row, col)
    hedge = tables["qk-hedge"]
    assert _num(hedge["OLS beta"]["value"]) == pytest.approx(ols.beta, rel=1e-5)
    assert _num(hedge["rolling beta: last"]["value"]) == pytest.approx(float(roll["beta"].iloc[-1]), rel=1e-5)
    half = tables["qk-half-life"]
    assert _num(half["half-life (bars)"]["value"]) == pytest.approx(hl.exact, rel=1e-5)
    back = tables["qk-backtest"]
    assert _num(back["total P&L (quote)"]["value"]) == pytest.approx(bt.metrics.total_pnl, rel=1e-5)
    assert _num(back["sharpe"]["value"]) == pytest.approx(bt.metrics.sharpe, rel=1e-5)
    assert int(back["trades"]["value"]) == bt.metrics.n_trades
    assert math.isfinite(_num(back["max drawdown"]["value"]))


def test_report_outputs_and_index(executed: tuple[ReportRun, Path, dict[str, Any]]) -> None:
    """The run leaves an executed notebook, an HTML without code or remote resources, and an index entry."""
    run, out, _ = executed
    nb = nbformat.read(str(out / str(run.notebook)), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and len(injected) == 1
    assert "window = 180" in injected[0].source
    html = (out / str(run.html)).read_text(encoding="utf-8")
    assert "PairReportData.build" not in html and 'class="jp-CodeMirrorEditor' not in html  # no code cells
    for remote in ("<script src=", "unpkg.com", "cdnjs", "jsdelivr", "<link "):
        assert remote not in html
    assert run.id.split("/")[0] == run.started[:10]  # dated folder
    index = json.loads((out / "index.json").read_text())
    entry = next(r for r in index["runs"] if r["id"] == run.id)
    assert entry["status"] == "ok" and entry["parameters"]["window"] == 180 and entry["parameters"]["pair"] == PAIR
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{run.html}"' in page and "window=180" in page


def test_report_never_writes_to_the_store(executed: tuple[ReportRun, Path, dict[str, Any]]) -> None:
    """Every symbol of the store's library has the same latest version after the report (reports only read)."""
    run, _, ctx = executed
    assert run.ok
    assert ctx["before"] and ctx["after"] == ctx["before"]


def test_report_renders_offline_in_chromium(executed: tuple[ReportRun, Path, dict[str, Any]], artifacts_dir: Path,
                                            timeout_unit: float) -> None:
    """With every non-file request aborted, chromium shows every chart of the report (and the tables)."""
    from playwright.sync_api import sync_playwright

    run, out, _ = executed
    nb = nbformat.read(str(out / str(run.notebook)), as_version=4)
    charts = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert charts >= 5
    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(r: Any) -> None:
                if r.request.url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto((out / str(run.html)).resolve().as_uri(), wait_until="load", timeout=30_000 * timeout_unit)
            page.wait_for_function(
                "n => [...document.images].filter(i => i.complete && i.naturalWidth > 0).length >= n", arg=charts,
                timeout=30_000 * timeout_unit,
            )
            shown = page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
            svgs = page.evaluate("document.querySelectorAll('svg').length")
            tables = page.evaluate("document.querySelectorAll('table.qk-table').length")
            page.screenshot(path=str(artifacts_dir / "pair_report.png"), full_page=True)
        finally:
            browser.close()
    assert shown + svgs >= charts and shown == charts
    assert tables >= 8
    assert blocked == []
