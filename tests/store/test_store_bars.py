"""Bars from ticks (ArcticDB resample) and from stored candles, checked against independent pandas code."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from quantkit.datafiles import read_candles_csv, read_trades_csv
from quantkit.schema import BAR_COLUMNS, BAR_DTYPES
from quantkit.store import TickStore

SPOT_BTC = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv/spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
BYBIT = "bybit_linear_klines_2025-04_2025-07_crypto_backtester"


def expected_bars(ticks: pd.DataFrame, bar_ns: int) -> pd.DataFrame:
    """Independent bar computation: group by epoch-aligned bucket with plain pandas groupby."""
    key = ticks.index.asi8 - ticks.index.asi8 % bar_ns
    taker = np.where(ticks["is_buyer_maker"].to_numpy(), 0.0, ticks["qty"].to_numpy())
    g = ticks.assign(taker=taker).groupby(key)
    out = pd.DataFrame(
        {
            "open": g["price"].first(),
            "high": g["price"].max(),
            "low": g["price"].min(),
            "close": g["price"].last(),
            "volume": g["qty"].sum(),
            "quote_volume": g["quote_qty"].sum(),
            "trades": g["price"].size().astype("int64"),
            "taker_buy_volume": g["taker"].sum(),
        }
    )
    out["vwap"] = out["quote_volume"] / out["volume"]
    out.index = pd.DatetimeIndex(out.index.to_numpy().astype("datetime64[ns]"), name="time").tz_localize("UTC")
    return out[list(BAR_COLUMNS)]


def assert_bars_match(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """OHLC and counts exactly; sums to float rounding (summation order differs)."""
    assert list(got.columns) == list(BAR_COLUMNS)
    assert {c: str(got[c].dtype) for c in BAR_COLUMNS} == BAR_DTYPES
    pd.testing.assert_index_equal(got.index, want.index)
    for c in ("open", "high", "low", "close", "trades"):
        np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy(), err_msg=c)
    for c in ("volume", "quote_volume", "vwap", "taker_buy_volume"):
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-9, atol=1e-12, err_msg=c)


@pytest.fixture(scope="module")
def real_ticks(shared_data: Path) -> pd.DataFrame:
    """The 19,904 spot BTCUSDT trades."""
    return read_trades_csv(shared_data / SPOT_BTC).frame.drop(columns="event_time")


@pytest.mark.parametrize(("freq", "bar_ns"), [("1s", 10**9), ("1m", 60 * 10**9), ("5m", 300 * 10**9), ("1h", 3600 * 10**9)])
def test_tick_bars_equal_pandas(store: TickStore, real_ticks: pd.DataFrame, freq: str, bar_ns: int) -> None:
    """Bars of real ticks, written in ingest-sized batches, equal an independent pandas computation."""
    for start in range(0, len(real_ticks), 3000):
        store.append_ticks("BTCUSDT", real_ticks.iloc[start : start + 3000])
    assert_bars_match(store.bars("BTCUSDT", freq), expected_bars(real_ticks, bar_ns))


def test_tick_bars_range_and_empty_bars(store: TickStore, real_ticks: pd.DataFrame, ticks_factory: Callable[..., pd.DataFrame]) -> None:
    """start is rounded down to a bar boundary, end is inclusive, and minutes without trades have no bar."""
    store.append_ticks("BTCUSDT", real_ticks)
    got = store.bars("BTCUSDT", "1m", start="2024-08-08 23:56:30", end="2024-08-08 23:59:59.999")
    window = real_ticks.loc["2024-08-08 23:56:00":"2024-08-08 23:59:59.999"]  # type: ignore[misc]
    assert_bars_match(got, expected_bars(window, 60 * 10**9))
    assert got.index[0] == pd.Timestamp("2024-08-08 23:56", tz="UTC") and len(got) == 4
    base = 1_723_075_200_000
    sparse = ticks_factory([1, 2, 3], [base, base + 10, base + 3 * 60_000])  # minutes 1 and 2 are empty
    store.append_ticks("SPARSE", sparse)
    bars = store.bars("SPARSE", "1m")
    assert bars.index.tolist() == [pd.Timestamp(base, unit="ms", tz="UTC"), pd.Timestamp(base + 180_000, unit="ms", tz="UTC")]
    assert bars["trades"].tolist() == [2, 1]
    assert store.bars("SPARSE", "1m", start="2030-01-01").empty


def test_candle_bars_reproduce_bybit_5m(store: TickStore, shared_data: Path) -> None:
    """5m bars resampled from stored Bybit 1m candles match the Bybit 5m file's OHLC exactly."""
    one = read_candles_csv(shared_data / BYBIT / "1m/BTCUSDT_1m.csv.gz")
    five = read_candles_csv(shared_data / BYBIT / "5m/BTCUSDT_5m.csv.gz").frame
    assert store.write_candles("BTCUSDT", "1m", one.frame).stored == 43_200
    bars = store.bars("BTCUSDT", "5m")
    # complete 5m bars inside the 1m window, excluding each file's partial last candle
    lo, hi = pd.Timestamp("2025-05-30 16:40", tz="UTC"), pd.Timestamp("2025-06-29 16:30", tz="UTC")
    got = bars.loc[lo:hi]
    want = five.loc[lo:hi]
    assert len(got) == len(want) == 8_639
    for c in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy(), err_msg=c)
    np.testing.assert_allclose(got["volume"].to_numpy(), want["volume"].to_numpy(), rtol=1e-9)
    assert (got["trades"] == -1).all() and got["quote_volume"].isna().all() and got["taker_buy_volume"].isna().all()
    src = one.frame.loc[lo : lo + pd.Timedelta("4min")]
    tp = (src["high"] + src["low"] + src["close"]) / 3
    assert got["vwap"].iloc[0] == pytest.approx(float((tp * src["volume"]).sum() / src["volume"].sum()), rel=1e-12)
    same = store.bars("BTCUSDT", "1m", start="2025-06-01", end="2025-06-01 00:09")
    assert len(same) == 10 and same["close"].tolist() == one.frame.loc["2025-06-01 00:00":"2025-06-01 00:09", "close"].tolist()  # type: ignore[misc]
    with pytest.raises(ValueError, match="1m"):
        store.bars("BTCUSDT", "30s")
    with pytest.raises(ValueError):
        store.bars("BTCUSDT", "fortnight")


def test_bars_prefer_ticks_over_candles(store: TickStore, real_ticks: pd.DataFrame, shared_data: Path) -> None:
    """A symbol with both ticks and candles builds bars from ticks; candles stay readable."""
    store.append_ticks("BTCUSDT", real_ticks)
    store.write_candles("BTCUSDT", "1m", read_candles_csv(shared_data / BYBIT / "1m/BTCUSDT_1m.csv.gz").frame)
    assert store.bars("BTCUSDT", "1m")["trades"].min() > 0
    assert len(store.candles("BTCUSDT", "1m", start="2025-06-01", end="2025-06-01 00:59")) == 60


def test_cached_minute_bars_equal_pandas(store: TickStore, real_ticks: pd.DataFrame) -> None:
    """After maintenance builds the 1-minute bar cache, bars (cache + newer ticks) still equal pandas."""
    first, rest = real_ticks.iloc[:12_000], real_ticks.iloc[12_000:]
    store.append_ticks("BTCUSDT", first)
    report = store.maintain("BTCUSDT")
    assert report.cached_bars > 0  # complete minutes went into the cache
    for start in range(0, len(rest), 2500):  # newer ticks that are not cached yet
        store.append_ticks("BTCUSDT", rest.iloc[start : start + 2500])
    assert "_qk.bars1m.BTCUSDT" in store.raw_library.list_symbols()
    for freq, bar_ns in (("1m", 60 * 10**9), ("5m", 300 * 10**9), ("1h", 3600 * 10**9)):
        assert_bars_match(store.bars("BTCUSDT", freq), expected_bars(real_ticks, bar_ns))
    start, end = "2024-08-08 23:57:10", "2024-08-09 00:02:30.5"
    window = real_ticks.loc[pd.Timestamp("2024-08-08 23:57", tz="UTC") : pd.Timestamp(end, tz="UTC")]
    assert_bars_match(store.bars("BTCUSDT", "1m", start, end), expected_bars(window, 60 * 10**9))
    assert_bars_match(store.bars("BTCUSDT", "5m", start, end), expected_bars(real_ticks.loc[pd.Timestamp("2024-08-08 23:55", tz="UTC") : pd.Timestamp(end, tz="UTC")], 300 * 10**9))
    store.maintain("BTCUSDT")  # cache extended over the newer ticks
    assert_bars_match(store.bars("BTCUSDT", "1m"), expected_bars(real_ticks, 60 * 10**9))
    assert store.symbols()["symbol"].tolist() == ["BTCUSDT"]  # the cache is not listed


def test_backfill_invalidates_bar_cache(store: TickStore, real_ticks: pd.DataFrame) -> None:
    """Ticks inserted into already-cached minutes are reflected in the bars."""
    hole = (real_ticks.index >= pd.Timestamp("2024-08-08 23:58", tz="UTC")) & (real_ticks.index < pd.Timestamp("2024-08-08 23:59", tz="UTC"))
    store.append_ticks("BTCUSDT", real_ticks[~hole])
    store.maintain("BTCUSDT")
    assert store.insert_ticks("BTCUSDT", real_ticks[hole]).stored == int(hole.sum())
    assert_bars_match(store.bars("BTCUSDT", "1m"), expected_bars(real_ticks, 60 * 10**9))
    store.maintain("BTCUSDT")
    assert_bars_match(store.bars("BTCUSDT", "5m"), expected_bars(real_ticks, 300 * 10**9))
