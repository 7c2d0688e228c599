"""Trades CSV reader: real data.binance.vision-layout files and corrupted copies."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.datafiles import RejectedRow, read_capture, read_trades_csv
from quantkit.errors import DataFileError
from quantkit.schema import TICK_COLUMNS, TICK_DTYPES

CSV_DIR = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
SPOT_BTC = f"{CSV_DIR}/spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
UM_BTC = f"{CSV_DIR}/um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz"


def _lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def _python_parse(lines: list[str]) -> pd.DataFrame:
    """Independent row-by-row parse with Python's float()/int()."""
    rows = [ln.split(",") for ln in lines]
    return pd.DataFrame(
        {
            "trade_id": [int(r[0]) for r in rows],
            "price": [float(r[1]) for r in rows],
            "qty": [float(r[2]) for r in rows],
            "quote_qty": [float(r[3]) for r in rows],
            "time": [int(r[4]) for r in rows],
            "is_buyer_maker": [r[5].lower() == "true" for r in rows],
        }
    )


@pytest.mark.parametrize(
    ("name", "rows", "symbol", "market"),
    [
        (SPOT_BTC, 19_904, "BTCUSDT", "spot"),
        (f"{CSV_DIR}/spot_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz", 14_515, "ETHUSDT", "spot"),
        (UM_BTC, 21_313, "BTCUSDT", "futures"),
        (f"{CSV_DIR}/um_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz", 14_076, "ETHUSDT", "futures"),
    ],
)
def test_real_files_row_counts_and_schema(shared_data: Path, name: str, rows: int, symbol: str, market: str) -> None:
    """Each derived trades CSV reads completely, with the tick schema, sorted contiguous ids and no rejects."""
    r = read_trades_csv(shared_data / name)
    assert (len(r.frame), r.symbol, r.market, r.kind, r.stream) == (rows, symbol, market, "trades", "trade")
    assert r.rejected == []
    assert list(r.frame.columns) == [*TICK_COLUMNS, "event_time"]
    assert {c: str(r.frame[c].dtype) for c in TICK_COLUMNS} == TICK_DTYPES
    assert str(r.frame.index.dtype) == "datetime64[ns, UTC]" and r.frame.index.name == "time"
    ids = r.frame["trade_id"].to_numpy()
    assert (np.diff(ids) == 1).all()
    assert r.frame.index.is_monotonic_increasing
    ms = r.frame.index.asi8 // 1_000_000
    assert (r.frame["event_time"].to_numpy() == ms).all()


@pytest.mark.parametrize("name", [SPOT_BTC, UM_BTC])
def test_values_equal_python_float_exactly(shared_data: Path, name: str) -> None:
    """Prices, quantities, quote quantities, times and flags equal an independent float(str) parse."""
    path = shared_data / name
    lines = _lines(path)
    if lines[0].startswith("id,"):
        lines = lines[1:]
    expected = _python_parse(lines)
    got = read_trades_csv(path).frame
    for col in ("trade_id", "price", "qty", "quote_qty", "is_buyer_maker"):
        np.testing.assert_array_equal(got[col].to_numpy(), expected[col].to_numpy(), err_msg=col)
    np.testing.assert_array_equal(got.index.asi8, expected["time"].to_numpy() * 1_000_000)


def test_csv_matches_capture(shared_data: Path) -> None:
    """The spot BTCUSDT CSV holds exactly the @trade events of the two raw captures."""
    raw = shared_data / "binance_ws_capture_2024-08-08_hftbacktest/raw"
    parts = [read_capture(raw / f"spot_btcusdt_2024080{d}.gz")["BTCUSDT"].frame for d in (8, 9)]
    cap = pd.concat(parts)
    csv = read_trades_csv(shared_data / SPOT_BTC).frame
    for col in ("trade_id", "price", "qty", "is_buyer_maker"):
        np.testing.assert_array_equal(cap[col].to_numpy(), csv[col].to_numpy(), err_msg=col)
    np.testing.assert_array_equal(cap.index.asi8, csv.index.asi8)
    np.testing.assert_allclose(cap["quote_qty"].to_numpy(), csv["quote_qty"].to_numpy(), rtol=1e-12)


def _write_gz(path: Path, lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_corrupted_spot_copy_reports_lines(shared_data: Path, tmp_path: Path) -> None:
    """Bad rows of a headerless spot file are reported with their 1-based line; the rest are kept."""
    lines = _lines(shared_data / SPOT_BTC)[:60]
    bad = dict(
        [
            (3, "abc"),  # price not a number
            (7, "short"),
            (10, "extra"),
            (12, "negqty"),
            (15, "maybe"),
            (20, "dup"),
            (30, "time0"),
            (33, "nan"),
        ]
    )
    out = []
    for no, ln in enumerate(lines, start=1):
        f = ln.split(",")
        kind = bad.get(no)
        if kind == "abc":
            f[1] = "abc"
        elif kind == "short":
            f = f[:4]
        elif kind == "extra":
            f.append("1")
        elif kind == "negqty":
            f[2] = "-0.5"
        elif kind == "maybe":
            f[5] = "maybe"
        elif kind == "dup":
            f = out[-1].split(",")
        elif kind == "time0":
            f[4] = "0"
        elif kind == "nan":
            f[1] = "nan"
        out.append(",".join(f))
    out.insert(40, "")  # a blank line is skipped, and shifts later line numbers by one
    path = _write_gz(tmp_path / "spot_BTCUSDT-trades-2024-08-08.csv.gz", out)
    r = read_trades_csv(path)
    assert r.rejected == [
        RejectedRow(str(path), 3, "bad_number"),
        RejectedRow(str(path), 7, "field_count"),
        RejectedRow(str(path), 10, "field_count"),
        RejectedRow(str(path), 12, "non_positive"),
        RejectedRow(str(path), 15, "bad_bool"),
        RejectedRow(str(path), 30, "bad_time"),
        RejectedRow(str(path), 33, "bad_number"),
    ]
    assert len(r.frame) == 60 - 8  # 7 bad rows and an exact repeat of line 19 (line 20)
    assert r.skipped == 1 and r.duplicates == 1
    good_ids = [int(ln.split(",")[0]) for no, ln in enumerate(lines, start=1) if no not in bad]
    assert r.frame["trade_id"].tolist() == good_ids


def test_value_errors_only_keep_fast_path_lines(shared_data: Path, tmp_path: Path) -> None:
    """Rows that tokenise but fail value checks get correct line numbers in a futures file with a header."""
    lines = _lines(shared_data / UM_BTC)[:101]  # header + 100 rows
    rows = [ln.split(",") for ln in lines]
    rows[5][1] = "0"  # line 6: price 0
    rows[50][2] = "-1"  # line 51: negative qty
    rows[99][4] = "99999999999999999"  # line 100: absurd time (µs -> year > 2100)
    rows[70][0] = rows[69][0]  # line 71: duplicate id of line 70
    path = _write_gz(tmp_path / "um_BTCUSDT-trades-x.csv.gz", [",".join(r) for r in rows])
    r = read_trades_csv(path)
    assert [(x.line, x.reason) for x in r.rejected] == [
        (6, "non_positive"),
        (51, "non_positive"),
        (71, "conflict"),
        (100, "bad_time"),
    ]
    assert len(r.frame) == 96 and r.market == "futures"
    assert r.frame["trade_id"].is_monotonic_increasing and r.frame["trade_id"].is_unique


def test_unsorted_rows_are_sorted_by_id(tmp_path: Path) -> None:
    """Rows out of id order come back sorted by trade id; an id repeated with another price is a conflict."""
    lines = [
        "12,100.5,1.0,100.5,1723161255000,True,True",
        "10,100.0,2.0,200.0,1723161254000,False,True",
        "11,100.25,3.0,300.75,1723161254500,True,True",
        "10,999.0,2.0,200.0,1723161254000,False,True",
    ]
    path = tmp_path / "ETHBTC-trades-2024-01-01.csv"
    path.write_text("\n".join(lines))
    r = read_trades_csv(path)
    assert r.frame["trade_id"].tolist() == [10, 11, 12]
    assert r.frame["price"].tolist() == [100.0, 100.25, 100.5]
    assert [(x.line, x.reason) for x in r.rejected] == [(4, "conflict")]
    assert r.symbol == "ETHBTC" and r.market == "spot"


def test_microsecond_times_and_zip(tmp_path: Path) -> None:
    """Microsecond times (>= 1e14) keep sub-ms precision in the index and give ms event_time; zip is read."""
    csv = "1,10.0,1.0,10.0,1735689600123456,True,True\n2,10.5,1.0,10.5,1735689600123999,False,True\n"
    path = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("BTCUSDT-trades-2025-01-01.csv", csv)
    r = read_trades_csv(path)
    assert r.frame.index[0] == pd.Timestamp("2025-01-01 00:00:00.123456", tz="UTC")
    assert r.frame["event_time"].tolist() == [1735689600123, 1735689600123]
    assert r.symbol == "BTCUSDT"


def test_symbol_override_and_errors(tmp_path: Path) -> None:
    """The symbol argument wins over the file name; unknown layouts and missing files raise DataFileError."""
    good = tmp_path / "whatever.csv"
    good.write_text("1,10.0,1.0,10.0,1723161255000,True,True\n")
    assert read_trades_csv(good, symbol="solusdt").symbol == "SOLUSDT"
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b;c\n1;2;3\n")
    with pytest.raises(DataFileError):
        read_trades_csv(bad)
    with pytest.raises(DataFileError):
        read_trades_csv(tmp_path / "missing.csv")
    agg = tmp_path / "agg.csv"
    agg.write_text("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n")
    with pytest.raises(DataFileError, match="aggTrades"):
        read_trades_csv(agg)


def test_empty_file_gives_empty_frame(tmp_path: Path) -> None:
    """An empty file is an empty tick frame, not an error."""
    path = tmp_path / "BTCUSDT-trades-empty.csv"
    path.write_text("")
    r = read_trades_csv(path)
    assert len(r.frame) == 0 and "event_time" in r.frame.columns and r.rejected == []
