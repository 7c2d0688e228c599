"""Candle CSV reader (Bybit layout and Binance klines) and the file sniffer."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.datafiles import interval_to_timedelta, read_candles_csv, sniff, timedelta_to_interval
from quantkit.errors import DataFileError

BYBIT = "bybit_linear_klines_2025-04_2025-07_crypto_backtester"


@pytest.mark.parametrize(
    ("name", "rows", "interval"),
    [("1m/BTCUSDT_1m.csv.gz", 43_200, "1m"), ("1m/BNBUSDT_1m.csv.gz", 43_200, "1m"), ("5m/XRPUSDT_5m.csv.gz", 25_920, "5m")],
)
def test_bybit_files(shared_data: Path, name: str, rows: int, interval: str) -> None:
    """The Bybit candle files read completely with UTC open times spaced by the interval."""
    r = read_candles_csv(shared_data / BYBIT / name)
    assert (len(r.frame), r.interval, r.kind, r.rejected) == (rows, interval, "candles", [])
    assert list(r.frame.columns) == ["open", "high", "low", "close", "volume"]
    assert (r.frame.dtypes == "float64").all()
    assert str(r.frame.index.dtype) == "datetime64[ns, UTC]"
    steps = np.unique(np.diff(r.frame.index.asi8))
    assert steps.tolist() == [interval_to_timedelta(interval).value]


def test_bybit_first_row(shared_data: Path) -> None:
    """The first BTCUSDT 1m row equals its text."""
    r = read_candles_csv(shared_data / BYBIT / "1m/BTCUSDT_1m.csv.gz")
    assert r.symbol == "BTCUSDT"
    assert r.frame.index[0] == pd.Timestamp("2025-05-30 16:39:00", tz="UTC")
    assert r.frame.iloc[0].tolist() == [104217.5, 104402.7, 104200.0, 104337.8, 477.605]


def test_corrupted_bybit_copy(shared_data: Path, tmp_path: Path) -> None:
    """Bad candle rows are rejected with their line; good rows are kept."""
    lines = gzip.decompress((shared_data / BYBIT / "1m/ETHUSDT_1m.csv.gz").read_bytes()).decode().splitlines()[:101]
    rows = [ln.split(",") for ln in lines]
    rows[4][2], rows[4][3] = rows[4][3], str(float(rows[4][2]) + 100)  # line 5: high < low
    rows[9][4] = "n/a"  # line 10: close not a number
    rows[19][0] = "2025-13-45 99:00:00+00:00"  # line 20: bad timestamp
    rows[29][5] = "-3"  # line 30: negative volume
    rows[39][1] = str(float(rows[39][2]) + 1)  # line 40: open above high
    rows[50][0] = rows[49][0]  # line 51: duplicate open time of line 50
    rows[60] = rows[60][:3]  # line 61: too few fields
    path = tmp_path / "ETHUSDT_1m.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(",".join(r) for r in rows) + "\n").encode()))
    r = read_candles_csv(path)
    assert [(x.line, x.reason) for x in r.rejected] == [
        (5, "high_below_low"),
        (10, "bad_number"),
        (20, "bad_time"),
        (30, "negative_volume"),
        (40, "outside_range"),
        (51, "conflict"),
        (61, "field_count"),
    ]
    assert len(r.frame) == 100 - 7
    assert r.frame.index.is_monotonic_increasing and r.frame.index.is_unique
    assert r.interval == "1m"


def test_binance_klines_headerless_and_header(tmp_path: Path) -> None:
    """Binance klines (12 columns, ms or µs open time, with or without header) keep volume, count and taker volume."""
    rows = [
        "1704067200000,42283.58,42298.62,42261.02,42298.61,35.92724,1704067259999,1519074.53,1327,24.46,1034303.43,0",
        "1704067260000,42298.62,42320.00,42298.61,42310.00,21.64,1704067319999,915600.0,900,10.5,444000.0,0",
        "1704067320000000,42310.00,42315.00,42300.00,42301.00,10.0,1704067379999999,423050.0,400,4.0,169200.0,0",
    ]
    plain = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    plain.write_text("\n".join(rows) + "\n")
    r = read_candles_csv(plain)
    assert (r.symbol, r.interval, len(r.frame)) == ("BTCUSDT", "1m", 3)
    assert r.frame["trades"].tolist() == [1327, 900, 400] and r.frame["trades"].dtype == "int64"
    assert r.frame["taker_buy_volume"].tolist() == [24.46, 10.5, 4.0]
    assert r.frame.index[2] == pd.Timestamp("2024-01-01 00:02", tz="UTC")
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
    with_header = tmp_path / "klines.csv"
    with_header.write_text(header + "\n" + "\n".join(rows) + "\n")
    r2 = read_candles_csv(with_header, symbol="btcusdt")
    pd.testing.assert_frame_equal(r.frame, r2.frame)
    assert (r2.symbol, r2.interval) == ("BTCUSDT", "1m")  # interval inferred from spacing
    assert sniff(plain) == "candles_csv" and sniff(with_header) == "candles_csv"


def test_interval_helpers() -> None:
    """Interval strings round-trip through Timedelta; nonsense raises ValueError naming the value."""
    assert interval_to_timedelta("5m") == pd.Timedelta(minutes=5)
    assert interval_to_timedelta("15min") == pd.Timedelta(minutes=15)
    assert timedelta_to_interval(pd.Timedelta(hours=4)) == "4h"
    assert timedelta_to_interval(pd.Timedelta(seconds=90)) == "90s"
    with pytest.raises(ValueError, match="fortnight"):
        interval_to_timedelta("fortnight")


def test_sniff_real_files(shared_data: Path) -> None:
    """sniff() tells captures, trades CSVs and candle CSVs apart; unknown layouts raise DataFileError."""
    base = shared_data / "binance_ws_capture_2024-08-08_hftbacktest"
    assert sniff(base / "raw/usdm_ethusdt_20240808.gz") == "capture"
    assert sniff(base / "derived_trades_csv/spot_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz") == "trades_csv"
    assert sniff(base / "derived_trades_csv/um_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz") == "trades_csv"
    assert sniff(shared_data / BYBIT / "5m/SOLUSDT_5m.csv.gz") == "candles_csv"
    with pytest.raises(DataFileError):
        sniff(shared_data / BYBIT / "derived/close_1m_aligned.csv.gz")
    with pytest.raises(DataFileError):
        sniff(shared_data / "README.md")
