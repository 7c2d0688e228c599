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

**The pair loader** (:func:`load_pair`, :func:`read_bars`) is the one place that reads a pair's
bars from a store; the scanner, the research page, the backtest page and the reports all use it:

* **Range ends**: a bar belongs to ``[start, end)`` by its open time: ``start`` inclusive,
  ``end`` exclusive (``None`` = open ended), and every bar is complete: it holds every trade of
  its interval, also when ``end`` falls inside it (the rule of ``quantkit bars``).
* **Zero-volume bars** carry no price (``empty="drop"``, as above); NaN closes never do.
* **Alignment**: inner join on the bars both legs have (no filling).
* **Funding**: a perpetual leg (a ``_PERP`` name, :mod:`quantkit.symbols`) comes with the funding
  rates the store holds for it in ``[start, end)`` (``TickStore.funding``), None when there are
  none; spot legs never get funding.
* **Gaps**: a hole between two consecutive aligned bars longer than ``max_gap`` (default
  :func:`default_max_gap`: one day or 100 bars, whichever is longer) is never bridged silently.
  ``on_gap="split"`` (default) keeps the latest contiguous segment and says so
  (:attr:`PairBars.note`, a log line); ``on_gap="raise"`` refuses with an
  :class:`~quantkit.errors.AnalyticsError` naming the gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from quantkit.symbols import parse_symbol

from ._validation import to_log

__all__ = [
    "GAP_BARS",
    "GAP_MIN",
    "Gap",
    "PairBars",
    "align_pair",
    "bar_timedelta",
    "contiguous_tail",
    "default_max_gap",
    "load_pair",
    "price_series",
    "read_bars",
]

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


# ------------------------------------------------------------------------------------------ the pair loader

#: A hole longer than ``GAP_BARS`` bars (and than :data:`GAP_MIN`) splits a pair's sample.
GAP_BARS: int = 100
#: The shortest hole that splits a sample, whatever the bar size.
GAP_MIN: pd.Timedelta = pd.Timedelta("1D")


def default_max_gap(freq: Any) -> pd.Timedelta:
    """The longest hole alignment bridges for bars of ``freq``: ``max(1 day, 100 bars)``."""
    return max(GAP_MIN, GAP_BARS * bar_timedelta(freq))


def bar_timedelta(freq: Any) -> pd.Timedelta:
    """The length of a bar size such as ``"1s"``, ``"5m"`` (minutes), ``"1h"``, ``"1d"``.

    Raises:
        AnalyticsError: not a bar size.
    """
    text = str(freq).strip()
    if text.endswith("m") and text[:-1].isdigit():
        text = text[:-1] + "min"
    try:
        td = pd.Timedelta(text)
    except (TypeError, ValueError):
        raise AnalyticsError(f"freq={freq!r}: expected a bar size such as 1s, 1m, 5m, 1h or 1d") from None
    if td <= pd.Timedelta(0):
        raise AnalyticsError(f"freq={freq!r}: must be positive")
    return td


@dataclass(frozen=True)
class Gap:
    """A hole in a pair's common bars that alignment did not bridge.

    Attributes:
        last_before: open time of the last common bar before the hole.
        first_after: open time of the first common bar after it.
    """

    last_before: pd.Timestamp
    first_after: pd.Timestamp

    @property
    def length(self) -> pd.Timedelta:
        """Time between the two bars."""
        return self.first_after - self.last_before

    def __str__(self) -> str:
        return f"{self.last_before} .. {self.first_after} ({self.length})"


def contiguous_tail(index: pd.Index, max_gap: pd.Timedelta | None) -> tuple[int, list[Gap]]:
    """Where the latest stretch of ``index`` without a hole longer than ``max_gap`` starts.

    Args:
        index: sorted time index of aligned bars.
        max_gap: the longest step allowed; ``None`` = no limit.

    Returns:
        ``(position, gaps)``: the first position of the latest contiguous segment and every hole
        longer than ``max_gap``, oldest first.
    """
    if max_gap is None or len(index) < 2 or not isinstance(index, pd.DatetimeIndex):
        return 0, []
    steps = np.diff(index.asi8)
    where = np.flatnonzero(steps > pd.Timedelta(max_gap).value)
    gaps = [Gap(index[i], index[i + 1]) for i in where]
    return (int(where[-1]) + 1 if len(where) else 0), gaps


def _bound(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise AnalyticsError(f"{name}={value!r}: expected a UTC time such as 2025-06-01") from None
    if ts is pd.NaT or pd.isna(ts):
        raise AnalyticsError(f"{name}={value!r}: expected a UTC time such as 2025-06-01")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def read_bars(store: Any, symbol: str, freq: str, start: Any = None, end: Any = None) -> pd.DataFrame:
    """One symbol's bars from a store, by the loader's range rule: ``start <= open time < end``.

    Args:
        store: an object with ``bars(symbol, freq, start, end)`` (:class:`quantkit.store.TickStore`;
            its ``end`` is an inclusive tick time).
        symbol: the symbol.
        freq: bar size (``"1s"``, ``"1m"``, ``"5m"``, ``"1h"``...).
        start: first bar's open time, inclusive (naive = UTC); ``None`` = from the first bar.
        end: exclusive end of the bars' open times; ``None`` = to the last bar. Bars are complete:
            one opening before ``end`` holds every trade of its interval.

    Returns:
        The bar frame (possibly empty).

    Raises:
        AnalyticsError: bad bounds (``start >= end``).
        SymbolNotFoundError: from the store, for an unknown symbol.
    """
    s, e = _bound(start, "start"), _bound(end, "end")
    if s is not None and e is not None and not s < e:
        raise AnalyticsError(f"empty range: start={start!r} is not before end={end!r}")
    last = None
    if e is not None:  # the store's end is an inclusive tick time: ask for the whole last bar
        bar = bar_timedelta(freq).value
        last = pd.Timestamp(-(-e.value // bar) * bar - 1, tz="UTC")
    bars = store.bars(symbol, freq, s, last)
    if bars is None:
        return pd.DataFrame()
    if len(bars) and isinstance(bars.index, pd.DatetimeIndex):
        keep = np.ones(len(bars), dtype=bool)
        if s is not None:
            keep &= bars.index >= s
        if e is not None:
            keep &= bars.index < e
        if not keep.all():
            bars = bars[keep]
    return bars


@dataclass(frozen=True, eq=False)
class PairBars:
    """A pair's bars as :func:`load_pair` read and aligned them.

    Attributes:
        y_symbol: the dependent leg.
        x_symbol: the hedge leg.
        freq: bar size.
        start: requested start (inclusive) or None.
        end: requested end (exclusive) or None.
        y: the y leg's bars in ``[start, end)`` (all of them, also before a split).
        x: the x leg's bars in ``[start, end)``.
        pair: aligned closes (columns ``y``, ``x``) on the bars both legs have, from the latest
            contiguous segment when the sample was split.
        gaps: holes longer than ``max_gap`` in the common bars (oldest first).
        dropped: common bars left out because they lie before the last such hole.
        max_gap: the limit used.
        funding_y: funding table of y when it is a perpetual with stored funding in the range
            (``funding_rate``, ``mark_price``, by funding time), else None.
        funding_x: the same for x.
    """

    y_symbol: str
    x_symbol: str
    freq: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    y: pd.DataFrame
    x: pd.DataFrame
    pair: pd.DataFrame
    gaps: tuple[Gap, ...] = field(default_factory=tuple)
    dropped: int = 0
    max_gap: pd.Timedelta | None = None
    funding_y: pd.DataFrame | None = None
    funding_x: pd.DataFrame | None = None

    def funding(self, rate: float | None = None) -> tuple[Any, Any]:
        """Funding of each leg for a backtest (:mod:`quantkit.backtest.funding`): the stored table of a
        perpetual leg, else the constant ``rate`` per funding time for a perpetual leg, else None (spot)."""
        out: list[Any] = []
        for sym, table in ((self.y_symbol, self.funding_y), (self.x_symbol, self.funding_x)):
            if table is not None and len(table):
                out.append(table)
            elif rate is not None and parse_symbol(sym).perpetual:
                out.append(float(rate))
            else:
                out.append(None)
        return out[0], out[1]

    def funding_note(self, rate: float | None = None) -> str:
        """One sentence per perpetual leg saying where its funding comes from ("" with no perpetual leg)."""
        parts = []
        for sym, table in ((self.y_symbol, self.funding_y), (self.x_symbol, self.funding_x)):
            if not parse_symbol(sym).perpetual:
                continue
            if table is not None and len(table):
                parts.append(f"{sym}: funding from the stored table ({len(table)} funding times in the range).")
            elif rate is not None:
                parts.append(f"{sym}: funding at a constant {rate:g} per funding time (no stored table in the range).")
            else:
                parts.append(f"{sym}: no funding rates stored for the range; funding is not charged "
                             "(store them, e.g. quantkit download --kind fundingRate, or give a constant rate).")
        return " ".join(parts)

    @property
    def note(self) -> str:
        """One sentence about a split sample, or ``""`` when nothing was left out."""
        if not self.gaps:
            return ""
        g = self.gaps[-1]
        more = f" ({len(self.gaps)} such holes)" if len(self.gaps) > 1 else ""
        return (f"{self.y_symbol}/{self.x_symbol}: no common {self.freq} bars from {g.last_before} to {g.first_after} "
                f"({g.length}, longer than the {self.max_gap} limit){more}; using the latest contiguous segment, "
                f"{len(self.pair)} bars from {self.pair.index[0]}, and leaving out {self.dropped} earlier bars")

    def field(self, name: str) -> pd.DataFrame:
        """Bar column ``name`` (e.g. ``"open"``) of both legs on the aligned bars; columns are the symbols."""
        idx = self.pair.index
        out = pd.DataFrame({self.y_symbol: self.y[name].astype("float64").reindex(idx).to_numpy(),
                            self.x_symbol: self.x[name].astype("float64").reindex(idx).to_numpy()}, index=idx)
        return out

    def closes(self) -> pd.DataFrame:
        """The aligned closes with the symbols as column names."""
        return self.pair.set_axis([self.y_symbol, self.x_symbol], axis=1)


def _leg_funding(store: Any, symbol: str, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame | None:
    """The stored funding of a perpetual leg in ``[start, end)``; None for spot legs or when none is stored."""
    if not parse_symbol(symbol).perpetual or not hasattr(store, "funding"):
        return None
    try:
        table = store.funding(symbol, start, None if end is None else end - pd.Timedelta(1, "ns"))
    except KeyError:  # SymbolNotFoundError: no funding stored for the contract
        return None
    return table if table is not None and len(table) else None


def load_pair(
    store: Any,
    y_symbol: str,
    x_symbol: str,
    freq: str,
    start: Any = None,
    end: Any = None,
    *,
    empty: Literal["drop", "keep"] = "drop",
    max_gap: Any = "default",
    on_gap: Literal["split", "raise"] = "split",
    min_bars: int = 1,
) -> PairBars:
    """Read two symbols' bars from a store and align them (the module docstring has the rules).

    Args:
        store: an object with ``bars(symbol, freq, start, end)`` (:class:`quantkit.store.TickStore`).
        y_symbol: the dependent leg.
        x_symbol: the hedge leg.
        freq: bar size (``"1s"``, ``"1m"``, ``"5m"``, ``"1h"``...).
        start: first bar's open time, inclusive (naive = UTC); None = from the first bar.
        end: exclusive end; None = to the last bar.
        empty: ``"drop"`` (default: zero-volume bars carry no price) or ``"keep"``.
        max_gap: longest hole bridged (a duration); ``"default"`` = :func:`default_max_gap`,
            ``None`` = no limit (every hole is bridged: only for callers that report holes themselves).
        on_gap: ``"split"`` (default: keep the latest contiguous segment, see :attr:`PairBars.note`)
            or ``"raise"``.
        min_bars: fewest aligned bars accepted (default 1).

    Returns:
        :class:`PairBars`.

    Raises:
        AnalyticsError: a leg without bars in the range, no common bars, fewer than ``min_bars``,
            a hole longer than ``max_gap`` with ``on_gap="raise"``, bad arguments.
        SymbolNotFoundError: from the store, for an unknown symbol.
    """
    if on_gap not in ("split", "raise"):
        raise AnalyticsError(f"on_gap={on_gap!r}: expected 'split' or 'raise'")
    limit = default_max_gap(freq) if isinstance(max_gap, str) and max_gap == "default" else (
        None if max_gap is None else pd.Timedelta(max_gap))
    s, e = _bound(start, "start"), _bound(end, "end")
    legs = {}
    for sym in (y_symbol, x_symbol):
        b = read_bars(store, sym, freq, s, e)
        if len(b) == 0:
            raise AnalyticsError(f"{sym}: no {freq} bars in {s or 'the beginning'} .. {e or 'the end'}")
        legs[sym] = b
    y, x = legs[y_symbol], legs[x_symbol]
    try:
        pair = align_pair(y, x, how="inner", empty=empty)
    except AnalyticsError as exc:
        raise AnalyticsError(f"{y_symbol}/{x_symbol}: no {freq} bars in common in the range ({exc})") from None
    pos, gaps = contiguous_tail(pair.index, limit)
    if gaps and on_gap == "raise":
        g = gaps[-1]
        raise AnalyticsError(
            f"{y_symbol}/{x_symbol}: no common {freq} bars from {g.last_before} to {g.first_after} ({g.length}, "
            f"longer than the {limit} limit); choose start/end on one side of it"
        )
    if pos:
        pair = pair.iloc[pos:]
    pair.attrs.update({"y_name": y_symbol, "x_name": x_symbol})
    if len(pair) < min_bars:
        raise AnalyticsError(
            f"{y_symbol}/{x_symbol}: only {len(pair)} common {freq} bars"
            + (" after the last hole in the data" if gaps else "") + f", need at least {min_bars}"
        )
    fund = [_leg_funding(store, sym, s, e) for sym in (y_symbol, x_symbol)]
    out = PairBars(y_symbol, x_symbol, str(freq), s, e, y, x, pair, tuple(gaps), pos, limit, fund[0], fund[1])
    if gaps:
        logger.info("%s", out.note)
    return out
