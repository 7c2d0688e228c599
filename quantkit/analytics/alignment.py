"""Turning two asynchronous price streams into one aligned pair.

Policy (the only one quantkit uses, so research and backtests agree):

* **Inputs.** Each leg is a price ``Series`` with a time index, a tick frame
  (column ``price``; several trades in one timestamp -> the *last* one), or a
  bar frame (column ``close``). Indexes are sorted; duplicate timestamps keep
  the last value.
* **Empty bars** are explicit "no observation" rows: a bar whose ``close`` is
  NaN, or (with ``empty="drop"``, the default) whose ``volume`` is 0, never
  produces a price. With ``how="inner"`` such a row drops out of the pair;
  with ``how="ffill"`` the previous price carries over it (subject to
  ``max_staleness``). ``empty="keep"`` keeps zero-volume bars that carry a
  close (exchanges often repeat the last price there).
* **Optional grid** (``freq``): each leg is first sampled to left-closed,
  left-labelled buckets of ``freq`` keeping the bucket's last price, like a
  bar's close (label = bucket open time, the value is known at its end).
* ``how="inner"``: keep only timestamps observed in both legs. No filling at all.
* ``how="ffill"``: the union of timestamps (or the full grid from the first to the
  last observation when ``freq`` is given); each leg takes its **last observation
  at or before** that time (never a later one: no look-ahead, no back-fill).
  Rows before a leg's first observation are dropped.
* ``max_staleness``: with ``how="ffill"``, a carried price older than this
  (timestamp minus the time of the observation it came from) is treated as
  missing and the row is dropped. ``None`` = no limit.

The result has columns ``y`` and ``x`` (log prices with ``log=True``), the
common index, and ``attrs`` with the legs' names and how many rows were
dropped as stale.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._validation import to_log

__all__ = ["align_pair", "price_series"]

logger = logging.getLogger("quantkit.analytics")


def price_series(data: Any, name: str = "price", *, empty: Literal["drop", "keep"] = "drop") -> pd.Series:
    """Extract a clean price Series from a Series, tick frame or bar frame.

    Args:
        data: ``Series`` of prices, a tick frame (``price`` column) or a bar frame
            (``close`` column; ``volume`` used for the empty-bar rule).
        name: used in error messages and as the Series name.
        empty: ``"drop"`` (default) treats zero-volume bars as empty; ``"keep"`` keeps
            their close. NaN closes are always empty.

    Returns:
        A float64 Series, sorted by index, unique timestamps (last value kept),
        NaN-free.

    Raises:
        AnalyticsError: unknown frame layout, non-numeric or non-finite prices, no data.
    """
    if empty not in ("drop", "keep"):
        raise AnalyticsError(f"empty={empty!r}: expected 'drop' or 'keep'")
    if isinstance(data, pd.DataFrame):
        if "close" in data.columns:
            s = data["close"]
            if empty == "drop" and "volume" in data.columns:
                vol = pd.to_numeric(data["volume"], errors="coerce")
                s = s.where(~(vol <= 0))
        elif "price" in data.columns:
            s = data["price"]
        elif data.shape[1] == 1:
            s = data.iloc[:, 0]
        else:
            raise AnalyticsError(
                f"{name}: a frame needs a 'close' (bars) or 'price' (ticks) column, got {list(data.columns)[:8]}"
            )
    elif isinstance(data, pd.Series):
        s = data
    else:
        raise AnalyticsError(f"{name}: expected a Series or a tick/bar DataFrame with a time index, got {type(data).__name__}")
    try:
        s = pd.to_numeric(s, errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"{name}: prices are not numeric ({exc})") from None
    if np.isinf(s.to_numpy()).any():
        raise AnalyticsError(f"{name}: contains infinite prices")
    s = s.dropna()
    if len(s) == 0:
        raise AnalyticsError(f"{name}: no prices (empty input or all bars empty)")
    if not s.index.is_monotonic_increasing:
        s = s.sort_index(kind="stable")
    if s.index.has_duplicates:
        s = s[~s.index.duplicated(keep="last")]
    s.name = name
    return s


def _age_limit(max_staleness: Any, index: pd.Index) -> Any:
    if max_staleness is None:
        return None
    if isinstance(index, pd.DatetimeIndex):
        try:
            limit = pd.Timedelta(max_staleness)
        except (TypeError, ValueError):
            raise AnalyticsError(f"max_staleness={max_staleness!r}: expected a duration like '5s' or a Timedelta") from None
        if limit < pd.Timedelta(0):
            raise AnalyticsError(f"max_staleness={max_staleness!r}: must be >= 0")
        return limit
    try:
        limit_f = float(max_staleness)
    except (TypeError, ValueError):
        raise AnalyticsError(f"max_staleness={max_staleness!r}: expected a number for a non-time index") from None
    if limit_f < 0:
        raise AnalyticsError(f"max_staleness={max_staleness!r}: must be >= 0")
    return limit_f


def _carry(s: pd.Series, idx: pd.Index, limit: Any) -> tuple[np.ndarray, np.ndarray]:
    """Last observation at or before each idx label; NaN if none or older than ``limit``."""
    pos = s.index.searchsorted(idx, side="right") - 1
    vals = np.where(pos >= 0, s.to_numpy()[np.maximum(pos, 0)], np.nan)
    too_old = np.zeros(len(idx), dtype=bool)
    if limit is not None:
        obs_t = s.index[np.maximum(pos, 0)]
        if isinstance(idx, pd.DatetimeIndex):
            age = idx - obs_t
            too_old = (age > limit) & (pos >= 0)
        else:
            age_f = np.asarray(idx, dtype=np.float64) - np.asarray(obs_t, dtype=np.float64)
            too_old = (age_f > limit) & (pos >= 0)
        too_old = np.asarray(too_old)
        vals = np.where(too_old, np.nan, vals)
    return vals, too_old


def align_pair(
    y: Any,
    x: Any,
    *,
    max_staleness: Any = None,
    log: bool = False,
    how: Literal["inner", "ffill"] = "inner",
    freq: str | pd.Timedelta | None = None,
    empty: Literal["drop", "keep"] = "drop",
) -> pd.DataFrame:
    """Align two price streams (ticks or bars) into one pair frame without look-ahead.

    See the module docstring for the full policy.

    Args:
        y: the dependent leg: price Series, tick frame (``price``) or bar frame (``close``).
        x: the hedge leg, same kinds.
        max_staleness: with ``how="ffill"``, the oldest a carried price may be
            (``"5s"``, a ``Timedelta``; a number for non-time indexes). ``None`` = no limit.
        log: return natural-log prices (prices must be > 0).
        how: ``"inner"`` (common timestamps only; default) or ``"ffill"``
            (union/grid, each leg as of its last observation).
        freq: optional bucket size (``"1min"``, ``"5s"``); each leg keeps the last
            price per left-closed, left-labelled bucket before aligning.
        empty: ``"drop"`` (zero-volume bars are empty) or ``"keep"``.

    Returns:
        DataFrame with float64 columns ``y``, ``x`` on the aligned index;
        ``attrs``: ``y_name``, ``x_name``, ``how``, ``stale_dropped`` (rows dropped
        because a carried price was older than ``max_staleness``).

    Raises:
        AnalyticsError: bad arguments, no overlap, incompatible indexes,
            non-positive prices with ``log=True``.
    """
    if how not in ("inner", "ffill"):
        raise AnalyticsError(f"how={how!r}: expected 'inner' or 'ffill'")
    y_name = str(getattr(y, "name", None) or "y")
    x_name = str(getattr(x, "name", None) or "x")
    ys = price_series(y, "y", empty=empty)
    xs = price_series(x, "x", empty=empty)
    if isinstance(ys.index, pd.DatetimeIndex) != isinstance(xs.index, pd.DatetimeIndex):
        raise AnalyticsError("y and x have incompatible indexes (one is a DatetimeIndex, the other is not)")
    if isinstance(ys.index, pd.DatetimeIndex) and (ys.index.tz is None) != (xs.index.tz is None):
        raise AnalyticsError("y and x have incompatible indexes (one is timezone-aware, the other naive)")
    if freq is not None:
        if not isinstance(ys.index, pd.DatetimeIndex):
            raise AnalyticsError(f"freq={freq!r} needs time-indexed inputs")
        try:
            ys = ys.resample(freq, label="left", closed="left").last().dropna()
            xs = xs.resample(freq, label="left", closed="left").last().dropna()
        except (TypeError, ValueError) as exc:
            raise AnalyticsError(f"freq={freq!r}: not a valid frequency ({exc})") from None
    stale = 0
    if how == "inner":
        if max_staleness is not None:
            _age_limit(max_staleness, ys.index)  # validate only; inner never carries prices
        idx = ys.index.intersection(xs.index)
        frame = pd.DataFrame({"y": ys.reindex(idx).to_numpy(), "x": xs.reindex(idx).to_numpy()}, index=idx)
    else:
        limit = _age_limit(max_staleness, ys.index)
        if freq is not None:
            lo = min(ys.index[0], xs.index[0])
            hi = max(ys.index[-1], xs.index[-1])
            idx = pd.date_range(lo, hi, freq=freq, name=ys.index.name or xs.index.name)
        else:
            idx = ys.index.union(xs.index)
        yv, ystale = _carry(ys, idx, limit)
        xv, xstale = _carry(xs, idx, limit)
        frame = pd.DataFrame({"y": yv, "x": xv}, index=idx)
        stale = int((ystale | xstale).sum())
        frame = frame.dropna()
    if len(frame) == 0:
        raise AnalyticsError(
            f"y and x do not overlap (y: {ys.index[0]!s} .. {ys.index[-1]!s}, x: {xs.index[0]!s} .. {xs.index[-1]!s}, how={how!r})"
        )
    if log:
        frame["y"] = to_log(frame["y"].to_numpy(), "y")
        frame["x"] = to_log(frame["x"].to_numpy(), "x")
    frame.index.name = frame.index.name or "time"
    frame.attrs.update({"y_name": y_name, "x_name": x_name, "how": how, "stale_dropped": stale})
    return frame
