"""The backtest page and notebook on real LMDB stores: Bybit 1m candles, and Binance ticks resampled.

* The page (quantkit.dashboard.backtest_page) is exercised without a browser (ipywidgets'
  DummyComm): figures get data, tables render, the sweep fills the heatmap, bad input shows
  a message on the page.
* The notebook runs headless with papermill on a real kernel; its JSON summary must equal
  quantkit.backtest run in this process on the same bars read back from the store.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill as pm
import pytest

from quantkit.backtest import Costs, Execution, Hedge, Split, ZScoreBand, backtest_pair, sweep_pair
from quantkit.analytics import load_pair as load_pair_bars
from quantkit.dashboard.backtest_page import MAX_POINTS, BacktestPage, PageParams
from quantkit.store import TickStore, import_files

BYBIT_1M = "bybit_linear_klines_2025-04_2025-07_crypto_backtester/1m"
TICKS = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
START, END = "2025-06-02", "2025-06-12"


@pytest.fixture(scope="module")
def candle_store(tmp_path_factory, shared_data):
    """A tmp LMDB store with the ETHUSDT and BTCUSDT Bybit 1m candles imported, and its URI."""
    root = tmp_path_factory.mktemp("backtest_candles")
    uri = f"lmdb://{root}"
    store = TickStore(uri)
    import_files(store, [str(shared_data / BYBIT_1M / f"{s}_1m.csv.gz") for s in ("ETHUSDT", "BTCUSDT")],
                 progress=False)
    yield store, uri
    store.close()


@pytest.fixture(scope="module")
def tick_store(tmp_path_factory, shared_data):
    """A tmp LMDB store with ~11 minutes of Binance spot BTCUSDT and ETHUSDT trades, and its URI."""
    root = tmp_path_factory.mktemp("backtest_ticks")
    uri = f"lmdb://{root}"
    store = TickStore(uri)
    paths = sorted(str(p) for p in (shared_data / TICKS).glob("spot_*-trades-*.csv.gz"))
    assert len(paths) == 2
    import_files(store, paths, progress=False)
    yield store, uri
    store.close()


def load_pair(store, y: str, x: str, bar_size: str, start=None, end=None, *, field: str = "close") -> pd.DataFrame:
    """One bar field of both legs on their aligned bars, read by the one pair loader (quantkit.analytics.load_pair)."""
    return load_pair_bars(store, y, x, bar_size, start, end).field(field)


def _candle_params(**kw) -> PageParams:
    base = dict(y_symbol="ETHUSDT", x_symbol="BTCUSDT", bar_size="5m", start=START, end=END, strategy="zscore_band",
                entry=2.0, exit=0.5, window=120, hedge="rolling", sweep_entries=(1.5, 2.0, 2.5),
                sweep_exits=(0.0, 0.5), sweep_windows=(60, 120))
    base.update(kw)
    return PageParams(**base)


def test_page_without_browser(candle_store):
    """The page fills every figure and table from the store, sweeps, and shows bad input in its status line."""
    store, _ = candle_store
    page = BacktestPage(store, _candle_params())
    res = page.run()
    bars = load_pair(store, "ETHUSDT", "BTCUSDT", "5m", START, END)
    assert res.index.equals(bars.index) and len(bars) > 2000
    assert 0 < len(page.equity_line.x) <= MAX_POINTS and len(page.equity_line.y) == len(page.equity_line.x)
    assert len(page.drawdown_line.y) == len(page.equity_line.x)
    assert np.asarray(page.position_lines.y).shape == (2, len(page.equity_line.x))
    longs = int((res.trades["side"] > 0).sum())
    assert len(page.entry_marks.x) == longs and len(page.short_marks.x) == len(res.trades) - longs
    assert "sharpe" in page.metrics_html.value and "max_drawdown" in page.metrics_html.value
    assert "entry_time" in page.trades_html.value
    sw = page.run_sweep()
    assert np.asarray(page.heatmap.color).shape == (3, 2) and np.asarray(page.heatmap_oos.color).shape == (3, 2)
    assert "Out-of-sample sharpe" in page.heatmap_oos_fig.title
    assert "Out-of-sample" in page.sweep_html.value and len(page.oos_table()) == 1
    assert sw.best() is not None
    page.controls["exit"].value = 3.0  # exit above entry
    page.run_button.click()
    assert "above entry" in page.status.value and page.last_error is not None
    page.controls["exit"].value = 0.0
    page.controls["strategy"].value = "bollinger"
    page.run_button.click()
    assert page.last_error is None and page.params.strategy == "bollinger"
    page.controls["fill"].value = "next_open"  # fills at the next bar's stored open
    page.run_button.click()
    opens = load_pair(store, "ETHUSDT", "BTCUSDT", "5m", START, END, field="open")
    assert page.last_error is None and page.result.sim.fill[1:].tolist() == opens.to_numpy()[1:].tolist()


def _execute(repo_root: Path, tmp_path: Path, params: dict, timeout_unit: float) -> dict:
    out = tmp_path / "backtest_pair.out.ipynb"
    pm.execute_notebook(str(repo_root / "notebooks" / "backtest_pair.ipynb"), str(out), parameters=params,
                        kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
                        execution_timeout=int(300 * timeout_unit))
    nb = nbformat.read(str(out), as_version=4)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    return json.loads(text)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _check_against_engine(summary: dict, y: pd.Series, x: pd.Series, p: PageParams) -> None:
    hedge = Hedge("rolling") if p.hedge == "rolling" else Hedge("static", train=int(p.train * len(y)))
    res = backtest_pair(y, x, ZScoreBand(p.entry, p.exit, p.window), hedge=hedge,
                        execution=Execution(notional=p.notional), costs=Costs(p.fee_bps, p.half_spread_bps))
    assert summary["bars"] == len(y) and summary["first"] == str(y.index[0])
    for k, v in res.metrics.to_dict().items():
        assert _same(summary["metrics"][k], v), (k, summary["metrics"][k], v)
    assert summary["trades"] == len(res.trades) and summary["final_equity"] == float(res.equity.iloc[-1])
    sw = sweep_pair(y, x, entries=p.sweep_entries, exits=p.sweep_exits, windows=p.sweep_windows,
                    hedges=p.sweep_hedges, split=Split(p.train), execution=Execution(notional=p.notional),
                    costs=Costs(p.fee_bps, p.half_spread_bps))
    best = sw.best()
    assert summary["sweep"]["runs"] == len(sw.frame) // 2
    assert summary["sweep"]["best"]["sharpe"] == float(best["sharpe"])
    assert (summary["sweep"]["best"]["entry"], summary["sweep"]["best"]["exit"]) == (best["entry"], best["exit"])
    wf = summary["sweep"]["walk_forward"][0]
    assert _same(wf["out_sharpe"], float(sw.walk_forward["out_sharpe"].iloc[0]))


def test_notebook_on_stored_candles_matches_engine(candle_store, repo_root, tmp_path, timeout_unit):
    """papermill runs the notebook on 5m bars of stored 1m candles; its numbers equal quantkit.backtest's."""
    store, uri = candle_store
    params = dict(store_uri=uri, y_symbol="ETHUSDT", x_symbol="BTCUSDT", bar_size="5m", start=START, end=END,
                  strategy="zscore_band", entry=2.0, exit=0.5, window=120, hedge="rolling", notional=10_000.0,
                  fee_bps=5.5, half_spread_bps=0.5, sweep_entries=[1.5, 2.0, 2.5], sweep_exits=[0.0, 0.5],
                  sweep_windows=[60, 120], train=0.7)
    summary = _execute(repo_root, tmp_path, params, timeout_unit)
    bars = load_pair(store, "ETHUSDT", "BTCUSDT", "5m", START, END)
    assert summary["metrics"]["n_trades"] > 0
    _check_against_engine(summary, bars["ETHUSDT"], bars["BTCUSDT"], PageParams.from_mapping(params))


def test_notebook_on_resampled_ticks_matches_engine(tick_store, repo_root, tmp_path, timeout_unit):
    """The same notebook on 5-second bars resampled from stored Binance ticks, with a static hedge."""
    store, uri = tick_store
    params = dict(store_uri=uri, y_symbol="ETHUSDT", x_symbol="BTCUSDT", bar_size="5s", start=None, end=None,
                  strategy="zscore_band", entry=1.5, exit=0.0, window=20, hedge="static", notional=1_000.0,
                  fee_bps=1.0, half_spread_bps=0.0, sweep_entries=[1.0, 1.5, 2.0], sweep_exits=[0.0, 0.5],
                  sweep_windows=[10, 20], train=0.6)
    summary = _execute(repo_root, tmp_path, params, timeout_unit)
    bars = load_pair(store, "ETHUSDT", "BTCUSDT", "5s")
    assert len(bars) > 100 and (bars.index[1] - bars.index[0]) >= pd.Timedelta(seconds=5)
    _check_against_engine(summary, bars["ETHUSDT"], bars["BTCUSDT"], PageParams.from_mapping(params))
