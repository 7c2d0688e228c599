"""Private: building bars (OHLCV, VWAP, trade count, taker-buy volume) from ticks or stored candles.

All bars are left-closed and left-labelled, aligned to the Unix epoch (a ``1h`` bar starts on
the hour, a ``1d`` bar at 00:00 UTC). Intervals with no data produce **no** bar (ArcticDB's
resample drops empty buckets; the pandas paths drop them too, so every path agrees).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from arcticdb import QueryBuilder, where

from quantkit.schema import BAR_COLUMNS, BAR_DTYPES, empty_bars

__all__ = ["candle_bars", "combine_bars", "finish_bars", "tick_bars_arctic", "tick_bars_pandas", "tick_bars_query"]


def tick_bars_query(rule: str) -> QueryBuilder:
    """The ArcticDB query computing tick bars server-side (taker-buy qty projected with ``where``)."""
    q = QueryBuilder()
    q = q.apply("_taker_buy_qty", where(q["is_buyer_maker"], 0.0, q["qty"]))
    return q.resample(rule, closed="left", label="left").agg(
        {
            "open": ("price", "first"),
            "high": ("price", "max"),
            "low": ("price", "min"),
            "close": ("price", "last"),
            "volume": ("qty", "sum"),
            "quote_volume": ("quote_qty", "sum"),
            "trades": ("price", "count"),
            "taker_buy_volume": ("_taker_buy_qty", "sum"),
        }
    )


def finish_bars(raw: pd.DataFrame) -> pd.DataFrame:
    """Order and type bar columns (:data:`quantkit.schema.BAR_COLUMNS`), add ``vwap`` if missing."""
    if raw.empty:
        return empty_bars()
    out = pd.DataFrame(index=raw.index.rename("time"))
    for c in BAR_COLUMNS:
        if c == "vwap" and "vwap" not in raw.columns:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[c] = (raw["quote_volume"] / raw["volume"]).astype("float64")
        else:
            out[c] = raw[c].astype(BAR_DTYPES[c])
    return out


def tick_bars_arctic(lib: Any, symbol: str, rule: str, date_range: tuple[Any, Any] | None) -> pd.DataFrame:
    """Bars of a tick symbol computed by ArcticDB (``QueryBuilder.resample``)."""
    data = lib.read(symbol, date_range=date_range, query_builder=tick_bars_query(rule)).data
    return finish_bars(data)


def tick_bars_pandas(ticks: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The same bars computed by pandas from a tick frame (reference and benchmark baseline)."""
    if ticks.empty:
        return empty_bars()
    taker = ticks["qty"].where(~ticks["is_buyer_maker"], 0.0)
    g = ticks.assign(_taker=taker).resample(rule, closed="left", label="left", origin="epoch")
    raw = pd.DataFrame(
        {
            "open": g["price"].first(),
            "high": g["price"].max(),
            "low": g["price"].min(),
            "close": g["price"].last(),
            "volume": g["qty"].sum(),
            "quote_volume": g["quote_qty"].sum(),
            "trades": g["price"].count(),
            "taker_buy_volume": g["_taker"].sum(),
        }
    )
    return finish_bars(raw[raw["trades"] > 0])


def candle_bars(candles: pd.DataFrame, bar_ns: int) -> pd.DataFrame:
    """Bars of ``bar_ns`` nanoseconds from stored candles of an interval dividing it.

    * open/high/low/close/volume: first/max/min/last/sum;
    * ``quote_volume``, ``taker_buy_volume``: sums, NaN when any source candle lacks them;
    * ``trades``: sum, ``-1`` when any source candle lacks it (unknown);
    * ``vwap``: ``quote_volume / volume`` when known, else the volume-weighted mean of each source
      candle's typical price ``(high + low + close) / 3`` (the bar's own typical price when its
      volume is 0).
    """
    if candles.empty:
        return empty_bars()
    t = candles.index.asi8
    key = t - np.mod(t, bar_ns)  # epoch-aligned bar open time
    tp = (candles["high"].to_numpy() + candles["low"].to_numpy() + candles["close"].to_numpy()) / 3.0
    vol = candles["volume"].to_numpy()
    frame = pd.DataFrame(
        {
            "open": candles["open"].to_numpy(),
            "high": candles["high"].to_numpy(),
            "low": candles["low"].to_numpy(),
            "close": candles["close"].to_numpy(),
            "volume": vol,
            "quote_volume": candles["quote_volume"].to_numpy(),
            "qv_missing": candles["quote_volume"].isna().to_numpy(),
            "trades": candles["trades"].to_numpy(),
            "trades_missing": (candles["trades"] < 0).to_numpy(),
            "taker_buy_volume": candles["taker_buy_volume"].to_numpy(),
            "tb_missing": candles["taker_buy_volume"].isna().to_numpy(),
            "tpv": tp * vol,
        },
    )
    g = frame.groupby(key, sort=True)
    agg = g.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        quote_volume=("quote_volume", "sum"),
        qv_missing=("qv_missing", "any"),
        trades=("trades", "sum"),
        trades_missing=("trades_missing", "any"),
        taker_buy_volume=("taker_buy_volume", "sum"),
        tb_missing=("tb_missing", "any"),
        tpv=("tpv", "sum"),
    )
    qv = agg["quote_volume"].where(~agg["qv_missing"], np.nan)
    vol_b = agg["volume"]
    with np.errstate(invalid="ignore", divide="ignore"):
        approx = np.where(vol_b > 0, agg["tpv"] / vol_b, (agg["high"] + agg["low"] + agg["close"]) / 3.0)
        exact = qv / vol_b
    vwap = np.where(qv.notna() & (vol_b > 0), exact, approx)
    raw = pd.DataFrame(
        {
            "open": agg["open"],
            "high": agg["high"],
            "low": agg["low"],
            "close": agg["close"],
            "volume": vol_b,
            "quote_volume": qv,
            "vwap": vwap,
            "trades": agg["trades"].where(~agg["trades_missing"], -1),
            "taker_buy_volume": agg["taker_buy_volume"].where(~agg["tb_missing"], np.nan),
        }
    )
    raw.index = pd.DatetimeIndex(agg.index.to_numpy().astype("datetime64[ns]"), name="time").tz_localize("UTC")
    return finish_bars(raw)


def combine_bars(bars: pd.DataFrame, bar_ns: int) -> pd.DataFrame:
    """Longer bars (``bar_ns``, a multiple of the input's length) from shorter tick bars.

    open/close: first/last; high/low: max/min; volumes, quote volume, trades: sums; ``vwap`` recomputed
    as ``quote_volume / volume``. Exactly what resampling the ticks gives, up to float rounding of sums.
    """
    if bars.empty:
        return empty_bars()
    t = bars.index.asi8
    key = t - np.mod(t, bar_ns)
    g = bars.groupby(key, sort=True)
    raw = g.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        quote_volume=("quote_volume", "sum"),
        trades=("trades", "sum"),
        taker_buy_volume=("taker_buy_volume", "sum"),
    )
    raw.index = pd.DatetimeIndex(raw.index.to_numpy().astype("datetime64[ns]"), name="time").tz_localize("UTC")
    return finish_bars(raw)
