"""The aggTrades and fundingRate readers, sniffing, and the store's funding table (the interface the backtest uses)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.datafiles import read_aggtrades_csv, read_funding_csv, sniff
from quantkit.errors import SchemaError, SymbolNotFoundError
from quantkit.store import TickStore, import_files


def _write(path: Path, text: str) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


def test_spot_aggtrades_with_microseconds_and_bad_rows(tmp_path: Path) -> None:
    """Spot aggTrades (8 columns, no header, µs times): ids, exact prices, µs times; bad rows named by line."""
    p = _write(
        tmp_path / "BTCUSDT-aggTrades-2025-01-01.csv.gz",
        "100,93576.00000000,0.00011000,200,201,1735689600000123,False,True\n"
        "101,93576.01000000,0.5,202,202,1735689600000456,True,True\n"
        "102,-1,0.5,203,203,1735689600000999,True,True\n"
        "103,93577,0.5,204,204,1735689600001000\n",
    )
    assert sniff(p) == "aggtrades_csv"
    r = read_aggtrades_csv(p)
    assert (r.symbol, r.market, r.stream, r.kind) == ("BTCUSDT", "spot", "aggTrade", "trades")
    assert r.frame["trade_id"].tolist() == [100, 101]
    assert r.frame["price"].tolist() == [93576.0, 93576.01]
    assert r.frame.index.asi8.tolist() == [1735689600000123000, 1735689600000456000]
    assert r.frame["quote_qty"].tolist() == [93576.0 * 0.00011, 93576.01 * 0.5]
    assert r.frame["is_buyer_maker"].tolist() == [False, True]
    assert [(x.line, x.reason) for x in r.rejected] == [(3, "non_positive"), (4, "field_count")]


def test_futures_aggtrades_with_header_in_milliseconds(tmp_path: Path) -> None:
    """USD-M aggTrades have a header and millisecond times."""
    p = _write(
        tmp_path / "ETHUSDT-aggTrades-2024-06-01.csv.gz",
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
        "7,3760.5,1.25,10,12,1717200000123,true\n8,3760.6,0.1,13,13,1717200000124,false\n",
    )
    assert sniff(p) == "aggtrades_csv"
    r = read_aggtrades_csv(p)
    assert r.market == "futures" and r.frame["trade_id"].tolist() == [7, 8]
    assert r.frame.index.asi8.tolist() == [1717200000123000000, 1717200000124000000]
    headerless = _write(tmp_path / "ETHUSDT-aggTrades-old.csv.gz", "7,3760.5,1.25,10,12,1717200000123,true\n")
    assert sniff(headerless) == "aggtrades_csv" and read_aggtrades_csv(headerless).market == "futures"


def test_trades_files_are_still_sniffed_as_trades(shared_data: Path) -> None:
    """The new aggTrades rules do not capture spot or futures trades files."""
    d = shared_data / "binance_ws_capture_2024-08-08_hftbacktest" / "derived_trades_csv"
    for f in sorted(d.glob("*.csv.gz")):
        assert sniff(f) == "trades_csv", f.name


def test_funding_archive_and_rest_layouts(tmp_path: Path) -> None:
    """The archive's ``calc_time,funding_interval_hours,last_funding_rate`` and a REST export with mark prices."""
    p = _write(
        tmp_path / "BTCUSDT-fundingRate-2024-01.csv.gz",
        "calc_time,funding_interval_hours,last_funding_rate\n"
        "1704067200000,8,0.00037409\n1704096000000,8,-0.00010000\n1704096000000,8,0.0002\nx,8,0.1\n",
    )
    assert sniff(p) == "funding_csv"
    r = read_funding_csv(p)
    assert (r.symbol, r.kind, r.market) == ("BTCUSDT", "funding", "futures")
    assert r.frame.index.asi8.tolist() == [1704067200000000000, 1704096000000000000]
    assert r.frame["funding_rate"].tolist() == [0.00037409, -0.0001]
    assert r.frame["mark_price"].isna().all()
    assert sorted((x.line, x.reason) for x in r.rejected) == [(4, "duplicate_time"), (5, "bad_int")]
    rest = _write(tmp_path / "ETHUSDT_funding.csv.gz", "symbol,fundingTime,fundingRate,markPrice\nETHUSDT,1704067200000,0.0001,2281.5\n")
    r2 = read_funding_csv(rest, symbol="ETHUSDT")
    assert r2.frame["mark_price"].tolist() == [2281.5]


def test_funding_table_interface(tmp_path: Path) -> None:
    """write_funding/funding: UTC index, float columns, _PERP alias, range, idempotent, replacements, errors."""
    store = TickStore(f"lmdb://{tmp_path / 'a'}")
    t = pd.date_range("2024-01-01", periods=6, freq="8h", tz="UTC")
    frame = pd.DataFrame({"funding_rate": [1e-4, 2e-4, -1e-4, 0.0, 3e-4, 1e-4], "mark_price": [42000.0, np.nan, 42100, 42200, np.nan, 42300]}, index=t)
    assert store.write_funding("BTCUSDT_PERP", frame).stored == 6
    got = store.funding("BTCUSDT")
    assert got.index.equals(t.rename("time")) and list(got.columns) == ["funding_rate", "mark_price"]
    assert got.dtypes.tolist() == [np.float64, np.float64]
    assert np.array_equal(got["mark_price"].to_numpy(), frame["mark_price"].to_numpy(), equal_nan=True)
    again = store.write_funding("btcusdt", frame)
    assert (again.stored, again.duplicates) == (0, 6)
    window = store.funding("BTCUSDT_PERP", start="2024-01-01 08:00", end="2024-01-02 00:00")
    assert window.index.tolist() == list(t[1:4])
    changed = frame.iloc[[2]].assign(funding_rate=-2e-4)
    assert store.write_funding("BTCUSDT_PERP", changed).stored == 1
    assert store.funding("BTCUSDT_PERP")["funding_rate"].tolist() == [1e-4, 2e-4, -2e-4, 0.0, 3e-4, 1e-4]
    rate_only = pd.DataFrame({"funding_rate": [5e-5]}, index=pd.DatetimeIndex([t[-1] + pd.Timedelta("8h")]))
    store.write_funding("BTCUSDT", rate_only)
    assert np.isnan(store.funding("BTCUSDT")["mark_price"].iloc[-1])
    with pytest.raises(SymbolNotFoundError, match="ETHUSDT"):
        store.funding("ETHUSDT_PERP")
    with pytest.raises(SchemaError):
        store.write_funding("BTCUSDT", frame.tz_localize(None))
    with pytest.raises(SchemaError):
        store.write_funding("BTCUSDT", frame.assign(funding_rate=np.inf))
    assert "BTCUSDT" not in set(store.symbols()["symbol"])  # the funding table is not a tick symbol


def test_import_files_stores_funding_and_aggtrades(tmp_path: Path) -> None:
    """``quantkit import``'s path takes funding and aggTrades files; a second import stores nothing."""
    store = TickStore(f"lmdb://{tmp_path / 'a'}")
    f = _write(tmp_path / "BTCUSDT-fundingRate-2024-01.csv.gz", "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.0001\n")
    a = _write(tmp_path / "ETHUSDT-aggTrades-2024-06-01.csv.gz", "7,3760.5,1.25,10,12,1717200000123,true\n")
    rep = import_files(store, [f, a], progress=False)
    assert rep.ok and rep.stored == 2
    # a futures-layout file goes to the perpetual's name, as `quantkit download` stores it
    assert {s for fr in rep.files for s in fr.symbols} == {"BTCUSDT (funding)", "ETHUSDT_PERP@aggTrade"}
    assert store.ticks("ETHUSDT_PERP@aggTrade")["trade_id"].tolist() == [7]
    assert import_files(store, [f, a], progress=False).stored == 0
