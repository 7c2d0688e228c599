"""Funding P&L of a perpetual leg on the backtest page and in the pair report, checked by hand to the cent.

A basis pair (ETHUSDT_PERP against ETHUSDT spot, generated with known truth) and an 8-hourly funding
table are written into a real LMDB store; the pair loader hands the table to the backtest for the
perpetual leg only. The expected funding is recomputed from the units the backtest held into each
funding time: ``-units x mark_price x rate`` (a fill at the funding time itself comes after it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _support.pair_ticks import write_pair

from quantkit.dashboard.backtest_page import BacktestPage, PageParams
from quantkit.reports import PairReportData, PairReportParameters
from quantkit.store import TickStore

START = pd.Timestamp("2024-03-01", tz="UTC")
RATE, MARK = 0.0002, 2500.0


@pytest.fixture(scope="module")
def funded_store(tmp_path_factory):
    """Three days of 1-minute trades of ETHUSDT_PERP (futures) and ETHUSDT (spot), and 8-hourly funding."""
    root = tmp_path_factory.mktemp("funding")
    store = TickStore(f"lmdb://{root}")
    write_pair(store, "ETHUSDT_PERP", "ETHUSDT", START, 3 * 1440, step="1min", x0=MARK, seed=11,
               markets=("futures", "spot"), phi=0.9, spread_vol=5e-4)
    times = pd.date_range(START, periods=9, freq="8h", name="time")
    signs = np.where(np.arange(9) % 3 == 2, -1.0, 1.0)  # some negative rates: shorts pay then
    store.write_funding("ETHUSDT_PERP", pd.DataFrame({"funding_rate": RATE * signs, "mark_price": MARK}, index=times))
    yield store
    store.close()


def _by_hand(index: pd.DatetimeIndex, units_y: np.ndarray, table: pd.DataFrame) -> float:
    """Funding of y for next-close fills: the units after the last fill strictly before T (bar T-2L's)."""
    bar = index[1] - index[0]
    total = 0.0
    for t, row in table.iterrows():
        k = index.get_indexer([t - 2 * bar])[0]
        if k < 0 or t > index[-1]:
            continue
        total += -units_y[k] * row["mark_price"] * row["funding_rate"]
    return total


def test_backtest_page_charges_stored_funding_on_the_perpetual_leg(funded_store) -> None:
    """The page's funding P&L equals the hand computation; the spot leg pays none; the page says where it came from."""
    page = BacktestPage(funded_store, PageParams(y_symbol="ETHUSDT_PERP", x_symbol="ETHUSDT", bar_size="1m",
                                                 window=60, entry=1.0, exit=0.0, hedge="static"))
    res = page.run()
    table = funded_store.funding("ETHUSDT_PERP")
    expected = _by_hand(res.index, res.sim.q[0], table)
    assert expected != 0.0
    assert res.metrics.funding == pytest.approx(expected, abs=0.005)  # to the cent
    assert float(res.funding.sum()) == pytest.approx(expected, abs=0.005)
    assert "funding from the stored table (9 funding times" in page.status.value
    assert page.summary()["note"].startswith("ETHUSDT_PERP: funding from the stored table")
    spot_only = BacktestPage(funded_store, PageParams(y_symbol="ETHUSDT", x_symbol="ETHUSDT_PERP", bar_size="1m",
                                                      window=60, entry=1.0, exit=0.0, hedge="static")).run()
    assert spot_only.metrics.funding == pytest.approx(_by_hand(spot_only.index, spot_only.sim.q[1], table), abs=0.005)


def test_report_shows_the_same_funding(funded_store) -> None:
    """The report's backtest table shows funding P&L equal to the hand computation on its own positions."""
    report = PairReportData.build(PairReportParameters(pair="ETHUSDT_PERP/ETHUSDT", freq="1m", window=60,
                                                       hedge="static", entry_z=1.0, exit_z=0.0), store=funded_store)
    bt = report.backtest
    expected = _by_hand(bt.index, bt.sim.q[0], funded_store.funding("ETHUSDT_PERP"))
    rows = report.backtest_table().frame["value"]
    assert rows["funding (quote, inside total P&L)"] == pytest.approx(expected, abs=0.005) and expected != 0.0
    assert "ETHUSDT_PERP: funding from the stored table" in rows["funding source"]
    swapped = PairReportData.build(PairReportParameters(pair="ETHUSDT/ETHUSDT_PERP", freq="1m", window=60,
                                                        hedge="static", entry_z=1.0, exit_z=0.0), store=funded_store)
    assert swapped.backtest.metrics.funding == pytest.approx(  # the perpetual is now x: its units are leg 1's
        _by_hand(swapped.backtest.index, swapped.backtest.sim.q[1], funded_store.funding("ETHUSDT_PERP")), abs=0.005)
