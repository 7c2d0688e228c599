"""Input checks shared by the analytics functions (private).

Every public analytics function funnels its inputs through these helpers so
that bad input (too few points, NaNs, infinities, constant series, mismatched
indexes, non-numeric data) raises :class:`quantkit.errors.AnalyticsError`
with a message naming the argument and the problem, never a numpy traceback.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

__all__ = [
    "as_array",
    "as_pair",
    "check_int",
    "check_not_constant",
    "check_positive_float",
    "check_window",
    "to_log",
]


def _describe_index(index: pd.Index) -> str:
    if len(index) == 0:
        return "empty"
    return f"{len(index)} rows, {index[0]!s} .. {index[-1]!s}"


def _to_float_array(values: Any, name: str) -> tuple[np.ndarray, pd.Index | None]:
    """Convert a Series / 1-D array-like / single-column frame to float64 (index kept if any)."""
    index: pd.Index | None = None
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise AnalyticsError(
                f"{name}: expected a Series or 1-D array, got a DataFrame with columns {list(values.columns)[:6]}"
            )
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        index = values.index
        raw = values.to_numpy()
    else:
        raw = np.asarray(values)
    if raw.ndim == 0:
        raise AnalyticsError(f"{name}: expected a series of values, got a scalar {raw!r}")
    if raw.ndim != 1:
        raise AnalyticsError(f"{name}: expected 1-D data, got shape {raw.shape}")
    if raw.dtype == bool:
        raise AnalyticsError(f"{name}: expected numeric data, got booleans")
    if raw.dtype.kind in "USM" or (raw.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in raw[:1000])):
        raise AnalyticsError(f"{name}: expected numeric data, got {raw.dtype} values")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"{name}: expected numeric data ({exc})") from None
    return arr, index


def as_array(
    values: Any,
    name: str,
    *,
    min_n: int = 2,
    allow_nan: bool = False,
    positive: bool = False,
) -> tuple[np.ndarray, pd.Index]:
    """Validate one series and return ``(float64 array, index)``.

    Args:
        values: a Series, 1-D array-like or single-column DataFrame.
        name: the argument name used in error messages.
        min_n: the minimum number of (non-NaN) points required.
        allow_nan: allow NaN values (infinities are never allowed).
        positive: require every non-NaN value to be > 0 (for logs of prices).

    Raises:
        AnalyticsError: naming the argument and the problem.
    """
    arr, index = _to_float_array(values, name)
    if index is None:
        index = pd.RangeIndex(len(arr))
    if arr.size >= min_n and np.isfinite(arr).all():  # the common case: one pass
        if positive and arr.size and not float(arr.min()) > 0:
            first = int(np.argmax(arr <= 0))
            raise AnalyticsError(f"{name}: log prices need values > 0, found {arr[first]!r} at position {first}")
        return arr, index
    nan = np.isnan(arr)
    n_nan = int(nan.sum())
    if n_nan and not allow_nan:
        first = int(np.argmax(nan))
        raise AnalyticsError(
            f"{name}: contains {n_nan} NaN value(s) (first at position {first}, index {index[first]!s}); "
            "drop or fill them first (see align_pair)"
        )
    if np.isinf(arr).any():
        first = int(np.argmax(np.isinf(arr)))
        raise AnalyticsError(f"{name}: contains infinite value(s) (first at position {first})")
    n_ok = len(arr) - n_nan
    if n_ok < min_n:
        raise AnalyticsError(f"{name}: too few points ({n_ok} usable, need at least {min_n})")
    if positive and (arr[~nan] <= 0).any():
        first = int(np.argmax(np.where(nan, 1.0, arr) <= 0))
        raise AnalyticsError(
            f"{name}: log prices need values > 0, found {arr[first]!r} at position {first}"
        )
    return arr, index


def to_log(arr: np.ndarray, name: str) -> np.ndarray:
    """Natural log of prices, refusing non-positive values."""
    ok = ~np.isnan(arr)
    if (arr[ok] <= 0).any():
        first = int(np.argmax(np.where(ok, arr, 1.0) <= 0))
        raise AnalyticsError(f"{name}: log prices need values > 0, found {arr[first]!r} at position {first}")
    with np.errstate(invalid="ignore"):
        return np.log(arr)


def as_pair(
    y: Any,
    x: Any,
    *,
    min_n: int = 3,
    log: bool = False,
    allow_nan: bool = False,
    names: tuple[str, str] = ("y", "x"),
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Validate two series that must share one index.

    Two Series must have *equal* indexes (same labels in the same order); a
    Series and an array must have equal lengths (the Series' index is used);
    two arrays get a RangeIndex.

    Raises:
        AnalyticsError: mismatched indexes or lengths, NaNs, too few points, ...
    """
    ya, yi = _to_float_array(y, names[0])
    xa, xi = _to_float_array(x, names[1])
    if len(ya) != len(xa):
        raise AnalyticsError(
            f"{names[0]} and {names[1]} have different lengths ({len(ya)} vs {len(xa)}); align them with align_pair()"
        )
    if yi is not None and xi is not None and not yi.equals(xi):
        raise AnalyticsError(
            f"{names[0]} and {names[1]} have mismatched indexes ({names[0]}: {_describe_index(yi)}; "
            f"{names[1]}: {_describe_index(xi)}); align them with align_pair()"
        )
    index = yi if yi is not None else xi if xi is not None else pd.RangeIndex(len(ya))
    ya, _ = as_array(pd.Series(ya, index=index, copy=False), names[0], min_n=min_n, allow_nan=allow_nan)
    xa, _ = as_array(pd.Series(xa, index=index, copy=False), names[1], min_n=min_n, allow_nan=allow_nan)
    if log:
        ya = to_log(ya, names[0])
        xa = to_log(xa, names[1])
    return ya, xa, index


def check_not_constant(arr: np.ndarray, name: str) -> None:
    """Raise if a series has (numerically) no variation."""
    lo = float(arr.min()) if arr.size else float("nan")
    if lo == lo:  # no NaN: no filtered copy
        hi = float(arr.max())
    else:
        finite = arr[~np.isnan(arr)]
        if finite.size == 0:
            raise AnalyticsError(f"{name}: no usable values")
        lo, hi = float(finite.min()), float(finite.max())
    if hi - lo <= 1e-14 * max(abs(lo), abs(hi), 1e-300):
        raise AnalyticsError(f"{name}: series is constant (all values = {lo!r}); nothing to estimate")


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Validate an integer argument (window, lag) and return it as int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise AnalyticsError(f"{name}={value!r}: expected an integer")
    if value < minimum:
        raise AnalyticsError(f"{name}={value!r}: must be >= {minimum}")
    return int(value)


def check_window(window: Any, n: int, *, name: str = "window", minimum: int = 2) -> int:
    """Validate a rolling window length against the data length."""
    w = check_int(window, name, minimum=minimum)
    if w > n:
        raise AnalyticsError(f"{name}={w}: longer than the data ({n} points)")
    return w


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Validate a positive finite float argument."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise AnalyticsError(f"{name}={value!r}: expected a number") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise AnalyticsError(f"{name}={value!r}: must be a finite number > 0")
    return v
