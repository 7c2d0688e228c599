"""The basis pair end to end: BTCUSDT spot and its USD-M perpetual (BTCUSDT_PERP) in one real store.

Real Binance trades of both markets (``../shared/data`` captures) are imported in one call; the USD-M
file lands under the perpetual's documented name (quantkit.symbols); the research page, the backtest page, a pair report, the alert monitor and
the live dashboard's engine all accept the pair and compute on it (``_support.basis_checks``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _support.basis_checks import check_basis_pair

from quantkit.store import TickStore, import_files
from quantkit.symbols import parse_pair, perpetual_name

CSV = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
SPOT = "spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
PERP = "um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz"


@pytest.fixture(scope="module")
def basis_store(tmp_path_factory, shared_data: Path):
    """A tmp LMDB store with Binance BTCUSDT spot trades and the USD-M perpetual's trades, and its URI."""
    root = tmp_path_factory.mktemp("basis")
    uri = f"lmdb://{root}"
    store = TickStore(uri)
    both = import_files(store, [shared_data / CSV / SPOT, shared_data / CSV / PERP], progress=False)  # one command
    assert both.ok and both.stored == 19_904 + 21_313
    assert sorted(s for f in both.files for s in f.symbols) == ["BTCUSDT", perpetual_name("BTCUSDT")]
    yield store, uri
    store.close()


def test_names_and_markets_are_recorded(basis_store) -> None:
    """Spot and perpetual live side by side; the store records each one's market; the pair parses."""
    store, _ = basis_store
    markets = store.symbols().set_index("symbol")["market"].to_dict()
    assert markets == {"BTCUSDT": "spot", "BTCUSDT_PERP": "futures"}
    assert parse_pair("btcusdt_perp/btcusdt") == ("BTCUSDT_PERP", "BTCUSDT")


def test_research_backtest_report_alerts_and_live_accept_the_basis_pair(basis_store, tmp_path) -> None:
    """Research analysis, a backtest, a report, alerts and the live dashboard all run on BTCUSDT_PERP/BTCUSDT."""
    store, uri = basis_store
    outcome = check_basis_pair(store, uri, "BTCUSDT_PERP", "BTCUSDT", tmp_path)  # shared with the live-ingest test
    assert outcome.n > 250
