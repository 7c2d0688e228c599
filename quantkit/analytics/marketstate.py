"""Market state of one leg: volatility regime, trend, VWAP, taker trade imbalance.

Volatility regime (:func:`volatility_regime`), thresholds documented here and
nowhere else:

* ``rv``       = rolling std of log returns over ``window`` bars (short term);
* ``rv_long``  = the same over ``long_window`` bars (the "normal" level);
* ``ratio``    = ``rv / rv_long``;
* regime       = ``"low"`` if ratio < ``low`` (default **0.75**), ``"high"`` if
  ratio > ``high`` (default **1.5**), else ``"normal"``; ``None`` during warm-up.

Both windows end at the current bar (no look-ahead). Raw volatility is not
annualised unless asked (``periods_per_year``).

Trade imbalance (:func:`trade_imbalance`) uses the taker side of each trade:
in a tick frame ``is_buyer_maker=True`` means the buyer was the resting maker,
so the **taker sold**; ``False`` means the taker bought. Imbalance =
``(buy_qty - sell_qty) / (buy_qty + sell_qty)`` in [-1, 1] (+1: only taker buys).
Bar frames use ``taker_buy_volume`` and ``volume`` the same way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._rolling import rolling_moments
from ._validation import as_array, check_positive_float, check_window, to_log
from .alignment import price_series

__all__ = ["realized_volatility", "trade_imbalance", "trend_slope", "volatility_regime", "vwap"]


def _log_returns(close: Any) -> tuple[np.ndarray, pd.Index]:
    s = price_series(close, "close") if isinstance(close, pd.DataFrame) else close
    p, index = as_array(s, "close", min_n=3)
    lp = to_log(p, "close")
    r = np.empty_like(lp)
    r[0] = np.nan
    r[1:] = np.diff(lp)
    return r, index


def realized_volatility(
    close: Any, window: int, *, periods_per_year: float | None = None, ddof: int = 0
) -> pd.Series:
    """Rolling realised volatility: std of log returns over the last ``window`` bars.

    Args:
        close: prices (Series/array) or a bar frame (``close``).
        window: returns per window (>= 2).
        periods_per_year: annualise by ``sqrt(periods_per_year)`` (e.g. 525600 for
            1m bars); None (default) = per-bar volatility.
        ddof: std divisor ``window - ddof`` (default 0).

    Returns:
        Series named ``rv``; NaN for the first ``window`` bars.
    """
    r, index = _log_returns(close)
    w = check_window(window, len(r) - 1, minimum=2)
    if ddof not in (0, 1):
        raise AnalyticsError(f"ddof={ddof!r}: expected 0 or 1")
    m = rolling_moments(r, w)
    rv = np.sqrt(m.m2_x / (w - ddof))
    if periods_per_year is not None:
        rv = rv * math.sqrt(check_positive_float(periods_per_year, "periods_per_year"))
    return pd.Series(rv, index=index, name="rv")


def volatility_regime(
    close: Any,
    *,
    window: int = 60,
    long_window: int = 1440,
    low: float = 0.75,
    high: float = 1.5,
) -> pd.DataFrame:
    """Classify each bar's volatility as low / normal / high (thresholds in the module docstring).

    Args:
        close: prices or a bar frame.
        window: short realised-vol window in bars (default 60).
        long_window: reference window in bars (default 1440 = one day of 1m bars);
            must be > window.
        low: ratio below which the regime is "low" (default 0.75).
        high: ratio above which the regime is "high" (default 1.5).

    Returns:
        DataFrame with columns ``rv``, ``rv_long``, ``ratio``, ``regime`` (object:
        "low" / "normal" / "high" / None during warm-up).
    """
    low = check_positive_float(low, "low")
    high = check_positive_float(high, "high")
    if not low < 1.0 < high:
        raise AnalyticsError(f"low={low}, high={high}: need low < 1 < high")
    if long_window <= window:
        raise AnalyticsError(f"long_window={long_window}: must be > window ({window})")
    rv = realized_volatility(close, window)
    rv_long = realized_volatility(close, long_window)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = rv.to_numpy() / rv_long.to_numpy()
    regime = np.where(ratio < low, "low", np.where(ratio > high, "high", "normal")).astype(object)
    regime[np.isnan(ratio)] = None
    return pd.DataFrame({"rv": rv.to_numpy(), "rv_long": rv_long.to_numpy(), "ratio": ratio, "regime": regime},
                        index=rv.index)


def trend_slope(close: Any, window: int, *, log: bool = True) -> pd.DataFrame:
    """Rolling linear-trend slope of the (log) price per bar, with its t statistic.

    OLS of price on bar number over the last ``window`` bars (current included).

    Args:
        close: prices or a bar frame.
        window: bars per window (>= 3).
        log: regress log prices (default True: slope = log return per bar).

    Returns:
        DataFrame with columns ``slope`` (per bar) and ``t`` (slope / its standard error).
    """
    s = price_series(close, "close") if isinstance(close, pd.DataFrame) else close
    p, index = as_array(s, "close", min_n=3)
    if log:
        p = to_log(p, "close")
    w = check_window(window, len(p), minimum=3)
    t = np.arange(len(p), dtype=np.float64)
    m = rolling_moments(t, w, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = m.c_xy / m.m2_x
        ssr = np.maximum(m.m2_y - slope * m.c_xy, 0.0)
        se = np.sqrt(ssr / (w - 2) / m.m2_x)
        tstat = np.where(se > 0, slope / se, np.nan)
    return pd.DataFrame({"slope": slope, "t": tstat}, index=index)


def vwap(frame: pd.DataFrame, *, window: int | None = None, anchor: str | None = None) -> pd.Series:
    """Volume-weighted average price.

    Tick frames use ``price`` x ``qty``; bar frames use ``quote_volume / volume``
    when present, else the bar ``vwap`` column, else the typical price
    ``(high + low + close) / 3``, weighted by ``volume``.

    Args:
        frame: a tick frame (``price``, ``qty``) or a bar frame (``volume`` and prices).
        window: rolling over this many rows (ticks or bars); None = cumulative.
        anchor: reset the cumulative VWAP at each period start, e.g. ``"1D"``
            (needs a time index; ignored when ``window`` is given).

    Returns:
        Series named ``vwap``; NaN where no volume has traded yet.
    """
    if not isinstance(frame, pd.DataFrame):
        raise AnalyticsError("vwap: expected a tick frame (price, qty) or a bar frame (volume, close)")
    if "price" in frame.columns and "qty" in frame.columns:
        vol = frame["qty"].to_numpy(dtype=np.float64)
        pv = frame["price"].to_numpy(dtype=np.float64) * vol
    elif "volume" in frame.columns:
        vol = frame["volume"].to_numpy(dtype=np.float64)
        if "quote_volume" in frame.columns:
            pv = frame["quote_volume"].to_numpy(dtype=np.float64)
        elif "vwap" in frame.columns:
            pv = frame["vwap"].to_numpy(dtype=np.float64) * vol
        elif {"high", "low", "close"} <= set(frame.columns):
            pv = (frame["high"] + frame["low"] + frame["close"]).to_numpy(dtype=np.float64) / 3.0 * vol
        else:
            raise AnalyticsError("vwap: a bar frame needs quote_volume, vwap or high/low/close")
    else:
        raise AnalyticsError(f"vwap: need columns price+qty (ticks) or volume (bars), got {list(frame.columns)[:8]}")
    if len(vol) == 0:
        raise AnalyticsError("vwap: empty frame")
    pv = np.nan_to_num(pv, nan=0.0)
    vol = np.nan_to_num(vol, nan=0.0)
    if (vol < 0).any():
        raise AnalyticsError("vwap: negative volume")
    if window is not None:
        w = check_window(window, len(vol), minimum=1)
        cpv = np.concatenate([[0.0], np.cumsum(pv)])
        cv = np.concatenate([[0.0], np.cumsum(vol)])
        num = cpv[w:] - cpv[:-w]
        den = cv[w:] - cv[:-w]
        out = np.full(len(vol), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[w - 1 :] = np.where(den > 0, num / den, np.nan)
    elif anchor is not None:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise AnalyticsError("vwap: anchor needs a time index")
        try:
            keys = frame.index.floor(anchor)
        except (TypeError, ValueError):
            raise AnalyticsError(f"anchor={anchor!r}: not a valid frequency") from None
        g_pv = pd.Series(pv, index=frame.index).groupby(keys).cumsum().to_numpy()
        g_v = pd.Series(vol, index=frame.index).groupby(keys).cumsum().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(g_v > 0, g_pv / g_v, np.nan)
    else:
        cpv = np.cumsum(pv)
        cv = np.cumsum(vol)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(cv > 0, cpv / cv, np.nan)
    return pd.Series(out, index=frame.index, name="vwap")


def trade_imbalance(frame: pd.DataFrame, *, freq: str | None = None) -> float | pd.Series:
    """Taker buy/sell imbalance in [-1, 1] (see the module docstring for the sign convention).

    Args:
        frame: a tick frame (``qty``, ``is_buyer_maker``) or a bar frame
            (``volume``, ``taker_buy_volume``).
        freq: None: one number for the whole frame (tick frames) or one value per
            bar (bar frames); a frequency like ``"1min"``: per left-labelled
            bucket (NaN for buckets without volume).

    Returns:
        A float (ticks, ``freq=None``) or a Series named ``imbalance``.

    Raises:
        AnalyticsError: missing columns, empty frame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise AnalyticsError("trade_imbalance: expected a tick frame or a bar frame")
    if "is_buyer_maker" in frame.columns and "qty" in frame.columns:
        qty = frame["qty"].to_numpy(dtype=np.float64)
        taker_sold = frame["is_buyer_maker"].to_numpy(dtype=bool)
        buy = np.where(taker_sold, 0.0, qty)
        total = qty
        if freq is None:
            tot = float(total.sum())
            if tot <= 0:
                raise AnalyticsError("trade_imbalance: no traded quantity")
            return float((2.0 * buy.sum() - tot) / tot)
    elif "taker_buy_volume" in frame.columns and "volume" in frame.columns:
        buy = frame["taker_buy_volume"].to_numpy(dtype=np.float64)
        total = frame["volume"].to_numpy(dtype=np.float64)
    else:
        raise AnalyticsError(
            "trade_imbalance: need qty + is_buyer_maker (ticks) or volume + taker_buy_volume (bars), "
            f"got {list(frame.columns)[:8]}"
        )
    if freq is not None:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise AnalyticsError("trade_imbalance: freq needs a time index")
        try:
            b = pd.Series(buy, index=frame.index).resample(freq, label="left", closed="left").sum()
            t = pd.Series(total, index=frame.index).resample(freq, label="left", closed="left").sum()
        except (TypeError, ValueError):
            raise AnalyticsError(f"freq={freq!r}: not a valid frequency") from None
        buy, total, index = b.to_numpy(), t.to_numpy(), b.index
    else:
        index = frame.index
    with np.errstate(divide="ignore", invalid="ignore"):
        imb = np.where(total > 0, (2.0 * buy - total) / total, np.nan)
    return pd.Series(np.clip(imb, -1.0, 1.0), index=index, name="imbalance")

