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
  what the streaming estimators and Chan's examples use; pandas' own
  ``rolling().std()`` defaults to ddof=1. The difference is a constant factor
  ``sqrt((w-1)/w)`` on the z-score.
* A window whose standard deviation is zero (to ~1e-6 relative) gives a NaN
  z-score, not +-inf.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._rolling import rolling_moments
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


def _moments(s: Any, window: int, ddof: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    arr, index = as_array(s, "s", min_n=1, allow_nan=True)
    w = check_window(window, len(arr), minimum=1)
    d = check_int(ddof, "ddof", minimum=0)
    if d >= w:
        raise AnalyticsError(f"ddof={d}: must be < window ({w})")
    m = rolling_moments(arr, w)
    var = m.m2_x / (w - d)
    zero = ~(m.m2_x > _ZERO_VAR * m.raw_xx)
    std = np.sqrt(var)
    return arr, m.mean_x, np.where(zero & ~np.isnan(var), 0.0, std), index


def rolling_mean_std(s: Any, window: int, *, ddof: int = 0) -> pd.DataFrame:
    """Rolling mean and standard deviation over the last ``window`` bars (current included).

    Args:
        s: Series or array (NaNs allowed: windows containing one are NaN).
        window: window length in bars.
        ddof: the std divisor is ``window - ddof`` (default 0, see module docstring).

    Returns:
        DataFrame with columns ``mean`` and ``std``.
    """
    _, mean, std, index = _moments(s, window, ddof)
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
    arr, mean, std, index = _moments(s, window, ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (arr - mean) / std
    z[~(std > 0)] = np.nan
    return pd.Series(z, index=index, name="z")


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
    arr, mean, std, index = _moments(s, window, ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (arr - mean) / std
    z[~(std > 0)] = np.nan
    return pd.DataFrame({"mid": mean, "upper": mean + k * std, "lower": mean - k * std, "z": z}, index=index)
