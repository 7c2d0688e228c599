"""Spread, rolling mean/std, z-score and Bollinger-style bands.

Conventions:

* ``spread = y - alpha - beta * x``. Without an intercept (``alpha=0``, the
  default of :func:`spread`) the spread keeps the price-level offset, so its
  mean is not 0; the z-score removes the (rolling) mean anyway.
* ``beta`` / ``alpha`` may be scalars or per-bar Series (e.g. from
  :func:`~quantkit.analytics.hedge.rolling_ols`); NaN warm-up rows propagate.
* Rolling windows include the current bar and are NaN until full (and
  while they contain a NaN): no look-ahead.
* ``ddof`` = delta degrees of freedom of the rolling standard deviation:
  the divisor is ``window - ddof``. Default **0** (population std), which is
  what the streaming estimators (the live dashboard and alerts) use, so batch
  and live z-scores agree. ``ddof=1`` (sample std) is the textbook convention:
  pandas' ``rolling().std()``, MATLAB's ``std`` and so Chan's (2013) examples.
  The difference is the constant factor ``sqrt((w-1)/w)`` on the z-score (0.8 %
  for w = 60; a Bollinger entry of k with ddof=1 is k * sqrt(w/(w-1)) with ddof=0).
* A window whose standard deviation is zero (to ~1e-6 relative) gives a NaN
  z-score, not +-inf.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._rolling import rolling_moments, rolling_zscore
from ._validation import as_array, as_pair, check_int, check_positive_float, check_window

__all__ = ["bollinger_bands", "rolling_mean_std", "spread", "zscore"]

_ZERO_VAR = 1e-12


def _coef(value: Any, name: str, index: pd.Index, n: int) -> np.ndarray | float:
    if isinstance(value, (pd.Series, np.ndarray, list)):
        if isinstance(value, pd.Series) and not value.index.equals(index):
            raise AnalyticsError(f"{name}: Series index does not match the legs' index")
        arr, _ = as_array(value, name, min_n=0, allow_nan=True)
        if len(arr) != n:
            raise AnalyticsError(f"{name}: has {len(arr)} values, the legs have {n}")
        return arr
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise AnalyticsError(f"{name}={value!r}: expected a number or a Series") from None
    if not np.isfinite(v):
        raise AnalyticsError(f"{name}={value!r}: must be finite")
    return v


def spread(y: Any, x: Any, beta: Any, alpha: Any = 0.0, *, log: bool = False) -> pd.Series:
    """The spread ``y - alpha - beta * x``.

    Args:
        y: dependent leg, Series or array.
        x: hedge leg (same index).
        beta: hedge ratio: a number or a per-bar Series/array (NaN allowed, e.g. warm-up).
        alpha: intercept, a number or a per-bar Series (default 0.0: spread without intercept).
        log: use log prices (beta/alpha must then come from a log-price fit).

    Returns:
        Series named ``spread`` on the legs' index.

    Raises:
        AnalyticsError: NaNs in the legs, mismatched indexes/lengths, non-numeric coefficients.
    """
    ya, xa, index = as_pair(y, x, min_n=1, log=log)
    b = _coef(beta, "beta", index, len(ya))
    a = _coef(alpha, "alpha", index, len(ya))
    return pd.Series(ya - a - b * xa, index=index, name="spread")


def _moments(s: Any, window: int, ddof: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """``(values, mean, std, zero, index)``; ``zero`` lists the bars whose window std is zero (std set to 0).

    ``mean`` and ``std`` are fresh arrays the caller may overwrite.
    """
    arr, index = as_array(s, "s", min_n=1, allow_nan=True)
    w = check_window(window, len(arr), minimum=1)
    d = check_int(ddof, "ddof", minimum=0)
    if d >= w:
        raise AnalyticsError(f"ddof={d}: must be < window ({w})")
    m = rolling_moments(arr, w)
    scale = np.multiply(m.raw_xx, _ZERO_VAR, out=m.raw_xx)  # ours to overwrite
    zero = np.flatnonzero(np.less_equal(m.m2_x, scale, out=np.empty(len(arr), dtype=bool)))  # NaN: not zero
    std = m.m2_x
    std /= float(w - d)
    np.sqrt(std, out=std)
    std[zero] = 0.0
    return arr, m.mean_x, std, zero, index


def _z(arr: np.ndarray, mean: np.ndarray, std: np.ndarray, zero: np.ndarray, *, reuse: bool = False) -> np.ndarray:
    z = np.subtract(arr, mean, out=mean if reuse else None)
    with np.errstate(divide="ignore", invalid="ignore"):
        z /= std
    z[zero] = np.nan
    return z


def rolling_mean_std(s: Any, window: int, *, ddof: int = 0) -> pd.DataFrame:
    """Rolling mean and standard deviation over the last ``window`` bars (current included).

    Args:
        s: Series or array (NaNs allowed: windows containing one are NaN).
        window: window length in bars.
        ddof: the std divisor is ``window - ddof`` (default 0, see module docstring).

    Returns:
        DataFrame with columns ``mean`` and ``std``.
    """
    _, mean, std, _, index = _moments(s, window, ddof)
    return pd.DataFrame({"mean": mean, "std": std}, index=index)


def zscore(s: Any, window: int, *, ddof: int = 0) -> pd.Series:
    """Rolling z-score ``(s_t - mean_t) / std_t`` over the last ``window`` bars (current included).

    Args:
        s: the spread (Series or array; NaNs allowed, e.g. a rolling-beta warm-up).
        window: window length in bars (>= 2).
        ddof: the std divisor is ``window - ddof`` (default 0: population std).

    Returns:
        Series named ``z``; NaN during warm-up, for windows holding a NaN and
        where the window std is zero.
    """
    check_int(window, "window", minimum=2)
    arr, index = as_array(s, "s", min_n=1, allow_nan=True)
    w = check_window(window, len(arr), minimum=2)
    d = check_int(ddof, "ddof", minimum=0)
    if d >= w:
        raise AnalyticsError(f"ddof={d}: must be < window ({w})")
    if not np.isnan(arr).any():  # the common case: one chunked pass, only z allocated
        return pd.Series(rolling_zscore(arr, w, d, _ZERO_VAR), index=index, name="z", copy=False)
    arr, mean, std, zero, _ = _moments(arr, w, d)  # keep the caller's index (``arr`` has none)
    return pd.Series(_z(arr, mean, std, zero, reuse=True), index=index, name="z", copy=False)


def bollinger_bands(s: Any, window: int, *, k: float = 2.0, ddof: int = 0) -> pd.DataFrame:
    """Bollinger-style bands around the rolling mean.

    Args:
        s: the series (spread or price).
        window: window length in bars.
        k: band half-width in rolling standard deviations (default 2.0).
        ddof: std divisor ``window - ddof`` (default 0).

    Returns:
        DataFrame with columns ``mid``, ``upper``, ``lower``, ``z``.
    """
    k = check_positive_float(k, "k")
    check_int(window, "window", minimum=2)
    arr, mean, std, zero, index = _moments(s, window, ddof)
    z = _z(arr, mean, std, zero)
    return pd.DataFrame({"mid": mean, "upper": mean + k * std, "lower": mean - k * std, "z": z}, index=index)
