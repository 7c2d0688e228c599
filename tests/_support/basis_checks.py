"""The basis-pair checks every basis test runs: research, backtest page, report, alerts and the live dashboard.

A store holding a coin's spot (``x``) and its perpetual (``y``, e.g. ``BTCUSDT_PERP``) is handed to
:func:`check_basis_pair`, whatever filled it (imported captures, a live ingest).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quantkit.alerts import AlertMonitor
from quantkit.dashboard import LiveDashboard
from quantkit.dashboard.backtest_page import BacktestPage, PageParams
from quantkit.dashboard.live.params import LiveParams
from quantkit.dashboard.research import ResearchParams, compute_research
from quantkit.reports import PairReportData, PairReportParameters, run_report

__all__ = ["BasisOutcome", "check_basis_pair"]


@dataclass(frozen=True)
class BasisOutcome:
    """What the checks computed: the research page's bars and hedge ratio, the live engine's last hedge ratio."""

    n: int
    beta: float
    live_beta: float


def check_basis_pair(store: Any, uri: str, y: str, x: str, out_dir: Path, *, min_bars: int = 250) -> BasisOutcome:
    """Research, backtest page, pair report (data and notebook), alert monitor and live dashboard on ``y/x`` (1 s bars).

    Asserts each accepts the pair under its stored names and computes on it; the perpetual tracks its
    spot (hedge ratio near 1 on the research page and in the live engine).
    """
    pair = f"{y}/{x}"
    d = compute_research(store, ResearchParams(y_symbol=y, x_symbol=x, bar_size="1s", window=30, max_lag=5, scan=False))
    assert d.n > min_bars and d.ols.beta == pytest.approx(1.0, abs=0.2)  # the perpetual tracks its spot
    assert d.verdict.startswith(f"{pair}: ")

    page = BacktestPage(store, PageParams(y_symbol=y, x_symbol=x, bar_size="1s", window=20, hedge="static",
                                          sweep_windows=(10, 20)))
    res = page.run()
    assert res.legs == (y, x) and len(res.index) == d.n
    assert page.last_error is None and y in page.status.value

    params = PairReportParameters(pair=pair.lower(), freq="1s", window=40, store=uri)
    report = PairReportData.build(params, store=store)
    assert report.params.pair == pair and len(report.bars.pair) == d.n
    assert report.verdict().text.startswith(f"{pair}: ")
    run = run_report({"pair": pair, "freq": "1s", "window": "40", "store": uri}, out_dir=out_dir / "reports")
    assert run.status == "ok", run.error

    mon = AlertMonitor(store, pair, bar="1s", window=30, persist=False)
    mon.run_once()
    assert mon.pair == pair and mon.observation() is not None

    live = LiveParams(y=y, x=x, window=30)
    assert (live.y, live.x) == (y, x)
    dash = LiveDashboard(store, live, status_path=out_dir / "ingest_status.json", export_dir=out_dir / "exports",
                         persist_alerts=False)
    dash.step()  # the live engine: seeded from the store's bars of the pair
    frame = dash.frame()
    assert dash.errors == 0, dash.last_error
    assert dash.monitor is not None and dash.monitor.pair == pair and len(frame) > 30
    live_beta = float(frame["beta"].dropna().iloc[-1])
    assert live_beta == pytest.approx(1.0, abs=0.2)
    return BasisOutcome(n=int(d.n), beta=float(d.ols.beta), live_beta=live_beta)
