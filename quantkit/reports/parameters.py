"""Report parameters: typed, validated before any kernel starts.

A report's parameters are a frozen dataclass. :func:`coerce` builds one from
strings (``--param window=240`` on the command line, a schedule file) or from
Python values, converting each value by its field's annotation and naming the
parameter in the error when it cannot. :meth:`PairReportParameters.check_store`
then checks the values against the store (symbols exist, the range holds bars),
still without a kernel.

The names are the notebook's ``parameters`` cell's names: papermill injects
:meth:`PairReportParameters.to_notebook` unchanged.

A pair report left open (no ``pair``, ``start``, ``end`` or ``freq``) starts on what the store
holds: :meth:`PairReportParameters.resolve` picks the configured pair when stored, else the
scanner's best pair, else the store's first two symbols
(:func:`quantkit.analytics.default_pair`), the pair's whole common stored span, and a bar size
that gives the windows enough bars; :attr:`PairReportParameters.chosen` says what it picked.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, TypeVar

import pandas as pd

from quantkit._redact import redact_uri
from quantkit.errors import AnalyticsError, ReportParameterError
from quantkit.symbols import parse_pair

__all__ = [
    "HEDGE_METHODS",
    "PairReportParameters",
    "ReportParameters",
    "coerce",
    "freq_timedelta",
    "parse_assignments",
    "redact_uri",
    "to_utc",
]

#: Hedge-ratio estimators a pair report can use.
HEDGE_METHODS: tuple[str, ...] = ("static", "rolling", "kalman")

_FREQ = re.compile(r"^(\d+)\s*(s|sec|m|min|t|h|hour|d|day)$", re.IGNORECASE)
_FREQ_UNITS = {"s": "s", "sec": "s", "m": "min", "min": "min", "t": "min", "h": "h", "hour": "h", "d": "D", "day": "D"}

P = TypeVar("P")


class ReportParameters(Protocol):
    """What the runner needs from a report's parameter class."""

    def to_notebook(self) -> dict[str, Any]:
        """The values papermill injects (JSON-friendly)."""
        ...

    def label(self) -> str:
        """A short human label, e.g. ``"ETHUSDT/BTCUSDT 2025-06-01 .. 2025-06-08"``."""
        ...

    def slug(self) -> str:
        """A file-name-safe label."""
        ...

    def check_store(self, store: Any) -> None:
        """Check the values against the store; raise :class:`ReportParameterError`."""
        ...


def to_utc(value: Any, name: str) -> pd.Timestamp:
    """A UTC-aware Timestamp from a str/datetime/Timestamp (naive = UTC).

    Raises:
        ReportParameterError: ``value`` is not a time.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ReportParameterError(name, value, "expected a UTC time such as 2025-06-01 or 2025-06-01T06:00") from None
    if ts is pd.NaT or pd.isna(ts):
        raise ReportParameterError(name, value, "expected a UTC time such as 2025-06-01 or 2025-06-01T06:00")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def freq_timedelta(freq: str) -> pd.Timedelta:
    """The bar length of a bar size such as ``"1m"``, ``"5min"``, ``"1h"`` (``m`` = minutes, not months).

    Raises:
        ReportParameterError: not a bar size.
    """
    m = _FREQ.match(str(freq).strip())
    if not m or int(m.group(1)) < 1:
        raise ReportParameterError("freq", freq, "expected a bar size such as 1m, 5m, 15m, 1h or 1d")
    return pd.Timedelta(int(m.group(1)), unit=_FREQ_UNITS[m.group(2).lower()])


def parse_assignments(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["window=240", "hedge=kalman"]`` -> ``{"window": "240", "hedge": "kalman"}``.

    Raises:
        ReportParameterError: an item without ``=`` or with an empty name.
    """
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ReportParameterError(item, item, "expected NAME=VALUE, e.g. window=240")
        out[name] = value.strip()
    return out


_NONE_WORDS = {"none", "null", ""}
_TRUE_WORDS = {"true", "yes", "1", "on"}
_FALSE_WORDS = {"false", "no", "0", "off"}


def _convert(name: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` to the annotation ``hint`` (str values are parsed)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        optional = type(None) in args
        inner = [a for a in args if a is not type(None)]
        if value is None or (optional and isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
            if optional:
                return None
            raise ReportParameterError(name, value, "a value is required")
        return _convert(name, value, inner[0])
    if value is None:
        raise ReportParameterError(name, value, "a value is required")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        raise ReportParameterError(name, value, "expected true or false")
    if hint is int:
        if isinstance(value, bool):
            raise ReportParameterError(name, value, "expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
        raise ReportParameterError(name, value, "expected an integer")
    if hint is float:
        if isinstance(value, bool):
            raise ReportParameterError(name, value, "expected a number")
        try:
            f = float(value.strip().replace("_", "") if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ReportParameterError(name, value, "expected a number") from None
        if not math.isfinite(f):
            raise ReportParameterError(name, value, "expected a finite number")
        return f
    if hint is str:
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, (pd.Timestamp,)) or hasattr(value, "isoformat"):
            return to_utc(value, name).isoformat()
        raise ReportParameterError(name, value, "expected text")
    return value


def coerce(cls: type[P], raw: Mapping[str, Any]) -> P:
    """Build the parameter dataclass ``cls`` from ``raw`` (strings or Python values).

    Args:
        cls: a parameter dataclass such as :class:`PairReportParameters`.
        raw: name -> value; strings are parsed by each field's annotation
            (``"240"`` -> 240, ``"none"`` -> None for optional fields).

    Returns:
        A validated instance.

    Raises:
        ReportParameterError: an unknown name, a missing required value, or a malformed one.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for name in raw:
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise ReportParameterError(name, raw[name], f"unknown parameter (known: {known})")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _convert(name, raw[name], hints[name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ReportParameterError(name, None, "a value is required")
    return cls(**values)


@dataclass(frozen=True)
class PairReportParameters:
    """Parameters of the pair report (``notebooks/reports/pair_report.ipynb``).

    Attributes:
        pair: ``"Y/X"``, e.g. ``"ETHUSDT/BTCUSDT"`` or ``"BTCUSDT_PERP/BTCUSDT"`` (:mod:`quantkit.symbols`):
            Y is the dependent leg (long when long the spread). ``None``: chosen from the store
            (:meth:`resolve`).
        start: first bar (open time, UTC, inclusive), ISO text; naive = UTC. ``None``: the pair's first
            common stored bar.
        end: end of the range (UTC, exclusive). ``None``: just after the pair's last common stored bar.
        freq: bar size, e.g. ``"1m"`` (default), ``"5m"``, ``"1h"``; ``None``: the coarsest size whose
            stored span gives the windows ten times the bars they need.
        window: z-score window in bars (>= 2, default 240).
        beta_window: rolling-OLS window in bars for the rolling-beta chart and the
            ``rolling`` hedge (>= 3); ``None`` (default) = ``window``.
        hedge: hedge ratio of the spread and the backtest: ``"static"`` (one in-sample OLS
            fit), ``"rolling"`` (default) or ``"kalman"``.
        entry_z: enter when ``|z| > entry_z`` (> 0, default 2.0).
        exit_z: exit when z comes back to ``exit_z`` (``-entry_z < exit_z <= entry_z``, default 0.5).
        stop_z: stop-loss in z units (> entry_z) or ``None`` (default).
        fee_bps: commission per side in basis points of traded notional (default 5.5).
        notional: gross exposure of one spread unit in quote currency (default 10 000).
        kalman_delta: Kalman state noise, 0 < delta < 1 (default 1e-4).
        kalman_ve: Kalman observation noise variance in squared price units (default 1e-3).
        stale_bars: a run of at least this many consecutive bars with zero volume or an unchanged
            flat price counts as a stale period (default 5).
        significance: test level of the cointegration verdict (default 0.05).
        funding_rate: constant funding rate per funding time (8-hourly) for a perpetual leg (a ``_PERP``
            name) with no funding stored for the range; ``None`` (default): such a leg is not charged
            funding. Stored funding rates are always used when present.
        store: ArcticDB URI of the store; ``None`` (default) = ``QUANTKIT_ARCTIC_URI``.
        library: ArcticDB library; ``None`` (default) = ``QUANTKIT_LIBRARY``.
        chosen: what :meth:`resolve` chose, as a sentence (``""`` when everything was given).

    Raises:
        ReportParameterError: a value out of range (named).
    """

    pair: str | None = None
    start: str | None = None
    end: str | None = None
    freq: str | None = "1m"
    window: int = 240
    beta_window: int | None = None
    hedge: str = "rolling"
    entry_z: float = 2.0
    exit_z: float = 0.5
    stop_z: float | None = None
    fee_bps: float = 5.5
    notional: float = 10_000.0
    kalman_delta: float = 1e-4
    kalman_ve: float = 1e-3
    stale_bars: int = 5
    significance: float = 0.05
    funding_rate: float | None = None
    store: str | None = None
    library: str | None = None
    chosen: str = ""

    def __post_init__(self) -> None:
        if self.pair is not None:
            if not isinstance(self.pair, str) or "/" not in self.pair:
                raise ReportParameterError("pair", self.pair, "expected Y/X, e.g. ETHUSDT/BTCUSDT or BTCUSDT_PERP/BTCUSDT")
            try:
                y, x = parse_pair(self.pair)
            except ValueError as exc:
                raise ReportParameterError("pair", self.pair, str(exc)) from None
            object.__setattr__(self, "pair", f"{y}/{x}")
        start = to_utc(self.start, "start") if self.start is not None else None
        end = to_utc(self.end, "end") if self.end is not None else None
        if start is not None and end is not None and not start < end:
            raise ReportParameterError("end", self.end, f"empty range: end must be after start ({start.isoformat()})")
        if start is not None:
            object.__setattr__(self, "start", start.isoformat())
        if end is not None:
            object.__setattr__(self, "end", end.isoformat())
        if self.freq is not None:
            bar = freq_timedelta(self.freq)
            if start is not None and end is not None and end - start < 3 * bar:
                raise ReportParameterError("end", self.end, f"the range {start} .. {end} holds fewer than 3 bars of {self.freq}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 2:
            raise ReportParameterError("window", self.window, "expected an integer >= 2 (bars)")
        if self.beta_window is not None and (
            isinstance(self.beta_window, bool) or not isinstance(self.beta_window, int) or self.beta_window < 3
        ):
            raise ReportParameterError("beta_window", self.beta_window, "expected an integer >= 3 (bars) or none")
        if self.hedge not in HEDGE_METHODS:
            raise ReportParameterError("hedge", self.hedge, f"expected one of {', '.join(HEDGE_METHODS)}")
        for name in ("entry_z", "exit_z", "fee_bps", "notional", "kalman_delta", "kalman_ve", "significance"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ReportParameterError(name, v, "expected a finite number")
        if not self.entry_z > 0:
            raise ReportParameterError("entry_z", self.entry_z, "must be > 0")
        if not -self.entry_z < self.exit_z <= self.entry_z:
            raise ReportParameterError("exit_z", self.exit_z, f"expected -entry_z < exit_z <= entry_z ({self.entry_z})")
        if self.stop_z is not None and not (isinstance(self.stop_z, (int, float)) and self.stop_z > self.entry_z):
            raise ReportParameterError("stop_z", self.stop_z, f"must be > entry_z ({self.entry_z}) or none")
        if self.fee_bps < 0:
            raise ReportParameterError("fee_bps", self.fee_bps, "must be >= 0")
        if not self.notional > 0:
            raise ReportParameterError("notional", self.notional, "must be > 0")
        if not 0 < self.kalman_delta < 1:
            raise ReportParameterError("kalman_delta", self.kalman_delta, "expected 0 < kalman_delta < 1")
        if not self.kalman_ve > 0:
            raise ReportParameterError("kalman_ve", self.kalman_ve, "must be > 0")
        if isinstance(self.stale_bars, bool) or not isinstance(self.stale_bars, int) or self.stale_bars < 2:
            raise ReportParameterError("stale_bars", self.stale_bars, "expected an integer >= 2 (bars)")
        if self.funding_rate is not None and (
            isinstance(self.funding_rate, bool) or not isinstance(self.funding_rate, (int, float))
            or not math.isfinite(self.funding_rate) or abs(self.funding_rate) >= 0.05
        ):
            raise ReportParameterError("funding_rate", self.funding_rate,
                                       "expected a rate per funding time such as 0.0001 (|rate| < 0.05) or none")
        if not 0 < self.significance < 0.5:
            raise ReportParameterError("significance", self.significance, "expected a level such as 0.05 (0 < level < 0.5)")
        if self.store is not None and "://" not in self.store:
            raise ReportParameterError("store", redact_uri(self.store), "expected an ArcticDB URI such as lmdb:///path")

    # ---- derived values ----------------------------------------------------------------
    @property
    def resolved(self) -> bool:
        """True when pair, start, end and freq are all set (see :meth:`resolve`)."""
        return None not in (self.pair, self.start, self.end, self.freq)

    def _need(self, name: str) -> str:
        v = getattr(self, name)
        if v is None:
            raise ReportParameterError(name, None, "not chosen yet: give it, or call resolve(store) first")
        return str(v)

    @property
    def y(self) -> str:
        """The dependent leg's symbol."""
        return self._need("pair").split("/")[0]

    @property
    def x(self) -> str:
        """The hedge leg's symbol."""
        return self._need("pair").split("/")[1]

    @property
    def start_ts(self) -> pd.Timestamp:
        """``start`` as a UTC Timestamp."""
        return pd.Timestamp(self._need("start"))

    @property
    def end_ts(self) -> pd.Timestamp:
        """``end`` as a UTC Timestamp."""
        return pd.Timestamp(self._need("end"))

    @property
    def bar(self) -> pd.Timedelta:
        """The bar length."""
        return freq_timedelta(self._need("freq"))

    @property
    def min_bars(self) -> int:
        """Aligned bars the windows need: ``window + 20`` (plus ``hedge_window`` for the rolling hedge)."""
        return self.window + 20 + (self.hedge_window if self.hedge == "rolling" else 0)

    def resolve(self, store: Any) -> "PairReportParameters":
        """These parameters with an open pair, bar size, start or end chosen from ``store`` (see the module docstring).

        Raises:
            ReportParameterError: the store holds fewer than two symbols, or the pair has no common span.
        """
        if self.resolved:
            return self
        from quantkit.analytics import default_bar_size, default_pair
        from quantkit.analytics.scanner import BAR_LADDER, common_span, configured_pair

        said: list[str] = []
        pair, freq = self.pair, self.freq
        try:
            if pair is None:
                c = default_pair(store, configured_pair(), freq=freq, min_bars=self.min_bars, ladder=BAR_LADDER)
                pair, freq = f"{c.y}/{c.x}", c.freq
                said.append(c.reason)
            elif freq is None:
                y, x = pair.split("/")
                freq = default_bar_size(store, y, x, self.min_bars)
                said.append(f"{freq} bars (enough for the windows)")
        except AnalyticsError as exc:
            raise ReportParameterError("pair", self.pair, str(exc)) from None
        start, end = self.start, self.end
        if start is None or end is None:
            y, x = pair.split("/")
            lo, hi = common_span(store, y, x)
            bar = freq_timedelta(freq)
            if start is None:
                start = (lo.floor(bar) if lo is not None else None)
            if end is None:
                end = (hi.floor(bar) + bar if hi is not None else None)
            if start is None or end is None:
                raise ReportParameterError("pair", pair, "the store does not say when the legs were traded; give start and end")
            said.append(f"the legs' common stored span {start} .. {end}")
        chosen = "; ".join(said)
        return dataclasses.replace(self, pair=pair, freq=freq, start=str(start), end=str(end),
                                   chosen=(self.chosen + "; " if self.chosen else "") + chosen)

    @property
    def hedge_window(self) -> int:
        """The rolling-OLS window in bars (``beta_window`` or ``window``)."""
        return self.beta_window if self.beta_window is not None else max(self.window, 3)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "PairReportParameters":
        """:func:`coerce` for this class."""
        return coerce(cls, raw)

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> "PairReportParameters":
        """The parameters found in a namespace (e.g. a notebook's ``globals()``); other names are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return coerce(cls, {k: v for k, v in namespace.items() if k in names})

    def to_notebook(self) -> dict[str, Any]:
        """Every field as a JSON-friendly value, for papermill."""
        return dataclasses.asdict(self)

    def to_display(self) -> dict[str, Any]:
        """Every field, with the store URI's credentials masked (for the index and the report)."""
        d = self.to_notebook()
        d["store"] = redact_uri(d["store"])
        return d

    def label(self) -> str:
        """E.g. ``"ETHUSDT/BTCUSDT 1m 2025-06-01 00:00 .. 2025-06-08 00:00"``."""
        fmt = "%Y-%m-%d %H:%M"
        if not self.resolved:
            return f"{self.pair or 'default pair'} {self.freq or 'auto'} {self.start or 'first'} .. {self.end or 'last'}"
        return f"{self.pair} {self.freq} {self.start_ts.strftime(fmt)} .. {self.end_ts.strftime(fmt)}"

    def slug(self) -> str:
        """E.g. ``"ETHUSDT-BTCUSDT_1m_20250601T0000-20250608T0000"``."""
        fmt = "%Y%m%dT%H%M"
        if not self.resolved:
            return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.label()).strip("-")
        return f"{self.y}-{self.x}_{self.freq}_{self.start_ts.strftime(fmt)}-{self.end_ts.strftime(fmt)}"

    def check_store(self, store: Any) -> None:
        """Check the pair against the store: both symbols exist and the range holds enough bars.

        Args:
            store: a :class:`quantkit.store.TickStore` (read only).

        Raises:
            ReportParameterError: an unknown symbol, or a range with no (or too few) bars.
        """
        from quantkit.reports.data import load_pair_bars

        load_pair_bars(self.resolve(store), store)
