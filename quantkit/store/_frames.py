"""Private: schema enforcement for stored frames, time arguments and bar frequencies."""

from __future__ import annotations

import datetime as dt
from typing import Union

import numpy as np
import pandas as pd

from quantkit.datafiles.candles import interval_to_timedelta, timedelta_to_interval
from quantkit.errors import SchemaError
from quantkit import symbols as _symbols
from quantkit.schema import TICK_COLUMNS, TICK_DTYPES

__all__ = [
    "CANDLE_PREFIX",
    "CANDLE_STORE_DTYPES",
    "RESERVED_PREFIX",
    "TimeLike",
    "arctic_rule",
    "check_symbol",
    "normalise_interval",
    "time_range",
    "to_utc",
    "validate_candles",
    "validate_ticks",
]

#: ArcticDB symbols starting with this are quantkit's own (candles, records); user symbols may not.
RESERVED_PREFIX = "_qk."
#: ArcticDB symbol prefix of stored candles: ``_qk.candles.<SYMBOL>.<interval>`` (candle symbols are user symbols too).
CANDLE_PREFIX = RESERVED_PREFIX + "candles."

#: Column dtypes of stored candles. Unknown values: ``quote_volume``/``taker_buy_volume`` NaN, ``trades`` -1.
CANDLE_STORE_DTYPES: dict[str, str] = {
    "open": "float64",
    "high": "float64",
    "low": "float64",
    "close": "float64",
    "volume": "float64",
    "quote_volume": "float64",
    "trades": "int64",
    "taker_buy_volume": "float64",
}

#: What ``start``/``end`` arguments accept (naive values are UTC).
TimeLike = Union[str, dt.datetime, dt.date, pd.Timestamp, np.datetime64, None]

def check_symbol(symbol: object) -> str:
    """Validate and normalise a user symbol by the one grammar (:func:`quantkit.symbols.check_symbol`).

    Raises:
        ValueError: not a valid name (the message names the value and the rule).
    """
    return _symbols.check_symbol(symbol)


def to_utc(value: object, name: str = "time") -> pd.Timestamp | None:
    """A UTC-aware Timestamp from str / datetime / date / Timestamp / numpy datetime64; naive = UTC.

    ``None`` stays ``None``.

    Raises:
        ValueError: the value cannot be read as a time (the message names it). Numbers are refused
            (ambiguous units).
    """
    if value is None:
        return None
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        raise ValueError(f"{name}={value!r}: pass a time (str, datetime, Timestamp), not a number")
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}={value!r} is not a time: {exc}") from None
    if ts is pd.NaT:
        raise ValueError(f"{name}={value!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def time_range(start: object, end: object) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """``(start, end)`` as UTC Timestamps (see :func:`to_utc`), ``None`` when both are ``None``.

    Raises:
        ValueError: a value is not a time, or ``start`` is after ``end``.
    """
    s, e = to_utc(start, "start"), to_utc(end, "end")
    if s is not None and e is not None and s > e:
        raise ValueError(f"start={start!r} is after end={end!r}")
    return None if s is None and e is None else (s, e)


def normalise_interval(freq: str) -> tuple[str, pd.Timedelta]:
    """``("5m", Timedelta(5 min))`` from ``"5m"``, ``"5min"``, ``"300s"``...

    Raises:
        ValueError: not understood (the message names it).
    """
    td = interval_to_timedelta(freq)
    if td < pd.Timedelta(1, "ms") or td.value % 1_000_000:
        raise ValueError(f"freq {freq!r}: bars must be a whole number of milliseconds >= 1 ms")
    return timedelta_to_interval(td), td


def arctic_rule(td: pd.Timedelta) -> str:
    """A resample rule ArcticDB and pandas both accept for ``td`` (``"1D"``, ``"4h"``, ``"5min"``, ``"250ms"``)."""
    ns = int(td.value)
    for unit, size in (("D", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _utc_index(frame: pd.DataFrame, what: str) -> pd.DatetimeIndex:
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise SchemaError(f"{what} frame needs a DatetimeIndex (UTC), got {type(idx).__name__}")
    if idx.tz is None:
        raise SchemaError(f"{what} frame index must be UTC-aware (got naive timestamps; use tz_localize('UTC'))")
    if str(idx.tz) != "UTC":
        idx = idx.tz_convert("UTC")
    if idx.dtype != "datetime64[ns, UTC]":
        idx = idx.as_unit("ns")
    if idx.hasnans:
        raise SchemaError(f"{what} frame index has NaT values")
    return idx.rename("time")


def _column(frame: pd.DataFrame, col: str, want: str, what: str) -> np.ndarray:
    if col not in frame.columns:
        raise SchemaError(f"{what} frame lacks column {col!r} (has {list(frame.columns)})")
    s = frame[col]
    kind = s.dtype.kind
    if want == "bool":
        if kind != "b":
            raise SchemaError(f"{what} column {col!r} must be bool, got {s.dtype}")
        return s.to_numpy(dtype=bool)
    if want == "int64":
        if kind not in "iu":
            raise SchemaError(f"{what} column {col!r} must be an integer dtype, got {s.dtype}")
        arr = s.to_numpy()
        if kind == "u" and len(arr) and arr.max() > np.iinfo(np.int64).max:
            raise SchemaError(f"{what} column {col!r} has values beyond int64")
        return arr.astype(np.int64, copy=False)
    if kind not in "fiu":
        raise SchemaError(f"{what} column {col!r} must be a float dtype, got {s.dtype}")
    return s.to_numpy().astype(np.float64, copy=False)


def validate_ticks(frame: pd.DataFrame) -> pd.DataFrame:
    """A tick frame in the stored schema (columns :data:`TICK_COLUMNS`, UTC ns index ``time``).

    Integer/float columns of other widths are cast; extra columns (e.g. ``event_time``) are dropped.

    Raises:
        SchemaError: not a DataFrame, missing column, wrong dtype kind (e.g. strings), naive or
            non-datetime index, NaN/inf or non-positive price or quantity, negative trade id.
    """
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"ticks must be a pandas DataFrame, got {type(frame).__name__}")
    idx = _utc_index(frame, "tick")
    cols = {c: _column(frame, c, TICK_DTYPES[c], "tick") for c in TICK_COLUMNS}
    with np.errstate(invalid="ignore"):
        for c in ("price", "qty"):
            a = cols[c]
            if not bool(np.all(np.isfinite(a) & (a > 0))):
                raise SchemaError(f"tick column {c!r} must be finite and > 0")
        if not bool(np.all(np.isfinite(cols["quote_qty"]))):
            raise SchemaError("tick column 'quote_qty' must be finite")
    if len(cols["trade_id"]) and cols["trade_id"].min() < 0:
        raise SchemaError("tick column 'trade_id' must be >= 0")
    return pd.DataFrame(cols, index=idx)


def validate_candles(frame: pd.DataFrame) -> pd.DataFrame:
    """A candle frame in the stored schema (:data:`CANDLE_STORE_DTYPES`), sorted, unique open times.

    Optional columns ``quote_volume``, ``taker_buy_volume`` (NaN = unknown) and ``trades``
    (-1 = unknown) are added when missing; other extra columns are dropped.

    Raises:
        SchemaError: missing OHLCV column, wrong dtype kind, naive index, duplicate open times,
            non-finite or non-positive prices, ``high < low``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"candles must be a pandas DataFrame, got {type(frame).__name__}")
    idx = _utc_index(frame, "candle")
    n = len(frame)
    cols: dict[str, np.ndarray] = {}
    for c, want in CANDLE_STORE_DTYPES.items():
        if c in frame.columns:
            cols[c] = _column(frame, c, want, "candle")
        elif c in ("open", "high", "low", "close", "volume"):
            raise SchemaError(f"candle frame lacks column {c!r} (has {list(frame.columns)})")
        elif c == "trades":
            cols[c] = np.full(n, -1, dtype=np.int64)
        else:
            cols[c] = np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        prices = np.vstack([cols[c] for c in ("open", "high", "low", "close")]) if n else np.zeros((4, 0))
        if not bool(np.all(np.isfinite(prices) & (prices > 0))):
            raise SchemaError("candle prices must be finite and > 0")
        if bool(np.any(cols["high"] < cols["low"])):
            raise SchemaError("candle high < low")
        if not bool(np.all(np.isfinite(cols["volume"]) & (cols["volume"] >= 0))):
            raise SchemaError("candle volume must be finite and >= 0")
    out = pd.DataFrame(cols, index=idx)
    if not out.index.is_monotonic_increasing:
        out = out.sort_index(kind="stable")
    if not out.index.is_unique:
        raise SchemaError("candle frame has duplicate open times")
    return out

