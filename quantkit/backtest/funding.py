"""Funding payments of perpetual-futures legs.

A USD-M perpetual exchanges funding between longs and shorts at each **funding time**
(every 8 hours on Binance: 00:00, 08:00 and 16:00 UTC). The holder of ``q`` units (signed,
long > 0) at funding time ``T`` receives

    ``funding_T = -q x price_T x rate_T``   (quote currency)

so with a positive rate longs pay and shorts receive; with a negative rate the reverse.
``price_T`` is the mark price at ``T`` when the funding table has one, else the last price:
the close of the bar in which ``T`` falls (Binance settles on the mark price; the close is
the fallback).

Which position pays. The bars' index labels bar **open** times (as ``TickStore.bars`` gives)
and every bar lasts the index's bar length ``L``. The position that pays at ``T`` is the one
held *into* ``T``: the units after the last fill strictly before ``T`` (fills at the close,
``t + L``, for ``next_close``/``same_close``; at the open ``t`` for ``next_open``). A fill at
exactly ``T`` comes after the settlement. The payment is booked on the bar whose close
follows it (for close fills: the bar that ends at or after ``T``; for ``next_open``: the bar
in which ``T`` falls), so it belongs to the trade that held the position.

Inputs (:meth:`Funding.coerce`): a constant rate per funding time (a number; the funding times
are the multiples of ``interval`` since 1970-01-01 UTC), a Series of rates indexed by funding
time, or a DataFrame indexed by funding time with a ``funding_rate`` column and an optional
``mark_price`` column (the shape of ``TickStore.funding(symbol)``). Funding times outside the
bars are ignored. Funding needs a ``DatetimeIndex`` on the bars (naive timestamps are UTC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import BacktestError

__all__ = ["Funding", "FundingEvents", "funding_events"]


@dataclass(frozen=True, eq=False)
class Funding:
    """Funding of one perpetual leg: a constant rate or a table of rates.

    Attributes:
        rate: constant funding rate per funding time (a fraction: 0.0001 = 0.01 %), or None.
        table: DataFrame indexed by UTC funding time with ``funding_rate`` and optionally
            ``mark_price`` (NaN mark prices fall back to the last price), or None.
        interval: spacing of the funding times for a constant ``rate`` (pandas frequency,
            default ``"8h"``: Binance USD-M).

    Raises:
        BacktestError: neither or both of ``rate``/``table``; a bad table or interval.
    """

    rate: float | None = None
    table: pd.DataFrame | None = None
    interval: str = "8h"

    def __post_init__(self) -> None:
        if (self.rate is None) == (self.table is None):
            raise BacktestError("Funding: give either a constant rate or a funding table")
        if self.rate is not None and (
            isinstance(self.rate, bool) or not isinstance(self.rate, (int, float, np.integer, np.floating))
            or not math.isfinite(self.rate)
        ):
            raise BacktestError(f"Funding.rate={self.rate!r}: expected a finite number (fraction per funding time)")
        if self.table is not None:
            t = self.table
            if not isinstance(t, pd.DataFrame) or "funding_rate" not in t.columns:
                raise BacktestError("Funding.table: expected a DataFrame with a 'funding_rate' column")
            if not isinstance(t.index, pd.DatetimeIndex):
                raise BacktestError("Funding.table: expected a DatetimeIndex of funding times (UTC)")
            rates = t["funding_rate"].to_numpy(dtype=np.float64)
            if not np.isfinite(rates).all():
                raise BacktestError("Funding.table: funding_rate has missing or non-finite values")
            if "mark_price" in t.columns:
                mark = t["mark_price"].to_numpy(dtype=np.float64)
                if (mark[np.isfinite(mark)] <= 0).any():
                    raise BacktestError("Funding.table: mark_price must be > 0 (NaN = use the last price)")
        try:
            step = pd.Timedelta(self.interval)
        except (TypeError, ValueError):
            raise BacktestError(f"Funding.interval={self.interval!r}: expected a duration such as '8h'") from None
        if step <= pd.Timedelta(0):
            raise BacktestError(f"Funding.interval={self.interval!r}: must be positive")

    @classmethod
    def coerce(cls, value: Any) -> "Funding | None":
        """A :class:`Funding` from None (spot leg: no funding), a number, a Series of rates,
        a funding table (DataFrame) or a Funding."""
        if value is None or isinstance(value, Funding):
            return value
        if isinstance(value, pd.DataFrame):
            return cls(table=value)
        if isinstance(value, pd.Series):
            return cls(table=value.rename("funding_rate").to_frame())
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return cls(rate=float(value))
        raise BacktestError(f"funding={value!r}: expected None, a rate, a Series of rates or a funding table")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description (for result parameters)."""
        if self.table is not None:
            return {"table": f"{len(self.table)} funding times", "interval": self.interval}
        return {"rate": self.rate, "interval": self.interval}


@dataclass(frozen=True, eq=False)
class FundingEvents:
    """Funding settlements mapped onto bars (arrays of equal length, one entry per settlement).

    Attributes:
        held: bar whose post-fill units pay (-1: nothing held yet; such events are dropped).
        book: bar whose P&L receives the payment.
        cash_per_unit: ``price x rate`` per unit held (quote currency per unit; payment = ``-q x this``).
        on_open: True when booked with the fill-to-close part (``next_open`` fills).
    """

    held: np.ndarray
    book: np.ndarray
    cash_per_unit: np.ndarray
    on_open: bool


def funding_events(spec: Funding, index: pd.Index, close: np.ndarray, *, fill: str) -> FundingEvents:
    """Map a leg's funding onto the bars (rules in the module docstring).

    Args:
        spec: the leg's funding.
        index: the bars' DatetimeIndex (bar open times).
        close: the leg's close prices (the fallback price).
        fill: the execution's fill (``"next_close"``, ``"same_close"`` or ``"next_open"``).

    Raises:
        BacktestError: the bars have no DatetimeIndex or no positive bar length.
    """
    from quantkit.backtest.metrics import bar_seconds

    if not isinstance(index, pd.DatetimeIndex):
        raise BacktestError("funding needs bars with a DatetimeIndex (funding times are timestamps)")
    sec = bar_seconds(index)
    if sec is None:
        raise BacktestError("funding needs at least 2 bars with a positive spacing")
    length = int(round(sec * 1e9))
    t_open = index.asi8  # UTC nanoseconds (naive timestamps are taken as UTC)
    n = t_open.shape[0]
    lo, hi = int(t_open[0]), int(t_open[-1]) + length
    if spec.table is not None:
        tab = spec.table.sort_index()
        times = tab.index.asi8
        rates = tab["funding_rate"].to_numpy(dtype=np.float64)
        marks = tab["mark_price"].to_numpy(dtype=np.float64) if "mark_price" in tab.columns else np.full(len(tab), np.nan)
        keep = (times > lo) & (times <= hi)
        times, rates, marks = times[keep], rates[keep], marks[keep]
    else:
        step = int(pd.Timedelta(spec.interval).value)
        first = (lo // step + 1) * step
        times = np.arange(first, hi + 1, step, dtype=np.int64)
        rates = np.full(times.shape[0], float(spec.rate))  # type: ignore[arg-type]
        marks = np.full(times.shape[0], np.nan)
    on_open = fill == "next_open"
    fill_times = t_open if on_open else t_open + length
    held = np.searchsorted(fill_times, times, side="left") - 1  # last fill strictly before T
    book = held if on_open else held + 1
    ok = (held >= 0) & (book < n)
    held, book, rates, marks = held[ok], book[ok], rates[ok], marks[ok]
    price = np.where(np.isfinite(marks), marks, close[book])
    return FundingEvents(held=held.astype(np.int64), book=book.astype(np.int64), cash_per_unit=price * rates,
                         on_open=on_open)
