"""One verdict: the research page and the pair report call the same pair on the same bars the same way."""

from __future__ import annotations

import pytest

import quantkit.analytics as qa
from quantkit.config import StoreConfig
from quantkit.dashboard.research import ResearchParams, compute_research
from quantkit.reports import PairReportData, PairReportParameters
from quantkit.store import TickStore


@pytest.mark.parametrize(("pair", "start", "end"), [
    ("ETHUSDT/BTCUSDT", "2025-06-02", "2025-06-09"),
    ("SOLUSDT/ADAUSDT", "2025-06-09", "2025-06-12"),
])
def test_research_verdict_equals_report_verdict(report_store: tuple[str, str], pair: str, start: str, end: str) -> None:
    """Same pair, range and bar size: same verdict text, label and test statistics on both pages."""
    uri, library = report_store
    store = TickStore(config=StoreConfig(uri=uri, library=library))
    y, x = pair.split("/")
    research = compute_research(store, ResearchParams(y_symbol=y, x_symbol=x, bar_size="5m", start=start, end=end,
                                                      log_prices=False, window=60, scan=False))
    report = PairReportData.build(PairReportParameters(pair=pair, start=start, end=end, freq="5m", window=60),
                                  store=store)
    assert research.verdict == report.verdict().text
    assert research.verdict_label == report.cointegrated
    assert report.cointegrated in qa.verdict.LABELS
    assert research.n == len(report.bars.pair)
    assert research.eg_yx.pvalue == report.eg_yx.pvalue and research.johansen.rank_trace == report.johansen.rank_trace
    assert research.verdict.startswith(f"{y}/{x}: {report.cointegrated} at the 0.05 level.")
