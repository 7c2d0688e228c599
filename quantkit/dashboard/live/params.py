"""The live dashboard's parameters: one frozen, validated value object.

Every control of the dashboard maps to one field. Observers never trust a
widget value: they call :meth:`LiveParams.replace`, which validates the new
value and raises :class:`ParameterError` (a ``ValueError`` naming the field and
value) before anything reaches the publisher. That keeps a future read-only
(Voila) page safe: a viewer can send any ``comm_msg``, but only validated
values of the *view* fields (:data:`VIEW_FIELDS`) are ever applied there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from quantkit.analytics import HEDGE_METHODS
from quantkit.errors import DashboardError
from quantkit.store import bar_ms
from quantkit.symbols import check_symbol, is_symbol

__all__ = ["BAR_CHOICES", "PRICE_STYLES", "VIEW_FIELDS", "LiveParams", "ParameterError"]

#: Bar sizes offered by the bar-size control.
BAR_CHOICES: tuple[str, ...] = ("1s", "1m", "5m")
#: How the legs' prices are drawn.
PRICE_STYLES: tuple[str, ...] = ("line", "candles")
#: Fields a read-only viewer may change (they only change what is shown).
VIEW_FIELDS: frozenset[str] = frozenset({"y", "x", "bar", "window", "price_style"})



class ParameterError(DashboardError, ValueError):
    """A dashboard parameter is invalid.

    Attributes:
        name: the field.
        value: the rejected value.
        problem: what is wrong with it.
    """

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.name = name
        self.value = value
        self.problem = problem
        super().__init__(f"{name}={value!r}: {problem}")


def _num(name: str, value: Any, *, lo: float, hi: float, integer: bool = False) -> Any:
    if isinstance(value, bool):
        raise ParameterError(name, value, "expected a number")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "expected a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ParameterError(name, value, f"must be between {lo:g} and {hi:g}")
    if integer:
        if v != int(v):
            raise ParameterError(name, value, "expected a whole number")
        return int(v)
    return v


@dataclass(frozen=True)
class LiveParams:
    """What the live dashboard shows and how it computes it.

    Attributes:
        y: dependent leg symbol (``None``: the first stored symbol, once there is one).
        x: hedge leg symbol (``None``: the second stored symbol).
        bar: bar size, one of :data:`BAR_CHOICES` (default ``"1s"``).
        window: bars per rolling window: hedge ratio, z-score, correlation (default 120).
        method: hedge ratio: ``"ols"``, ``"huber"`` or ``"kalman"`` (default ``"ols"``).
        z_entry: ``|z|`` that signals an entry, drawn and used by the alert rule (default 2.0).
        z_exit: ``|z|`` that signals an exit / re-arms the rule (default 0.5).
        corr_floor: minimum return correlation for an entry signal (default 0.3).
        min_volume: skip bars where a leg traded less than this, quote currency (default 0).
        k: width of the spread bands in standard deviations (default 2.0).
        price_style: ``"line"`` or ``"candles"`` (default ``"line"``).
        history_bars: bars loaded from the store and kept (default 20,000).
        max_points: points drawn per line; older bars are decimated (default 2,000).
    """

    y: str | None = None
    x: str | None = None
    bar: str = "1s"
    window: int = 120
    method: str = "ols"
    z_entry: float = 2.0
    z_exit: float = 0.5
    corr_floor: float = 0.3
    min_volume: float = 0.0
    k: float = 2.0
    price_style: str = "line"
    history_bars: int = 20_000
    max_points: int = 2_000

    def __post_init__(self) -> None:
        for leg in ("y", "x"):
            v = getattr(self, leg)
            if v is not None:
                if not isinstance(v, str) or not is_symbol(v) or check_symbol(v) != v:
                    raise ParameterError(leg, v, "expected an upper-case symbol such as BTCUSDT")
        if self.y is not None and self.y == self.x:
            raise ParameterError("x", self.x, "must differ from y")
        if self.bar not in BAR_CHOICES:
            raise ParameterError("bar", self.bar, f"expected one of {', '.join(BAR_CHOICES)}")
        bar_ms(self.bar)
        object.__setattr__(self, "window", _num("window", self.window, lo=10, hi=100_000, integer=True))
        method = str(self.method).lower()
        if method not in HEDGE_METHODS:
            raise ParameterError("method", self.method, f"expected one of {', '.join(HEDGE_METHODS)}")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "z_entry", _num("z_entry", self.z_entry, lo=0.1, hi=20))
        object.__setattr__(self, "z_exit", _num("z_exit", self.z_exit, lo=0.0, hi=20))
        if not self.z_exit < self.z_entry:
            raise ParameterError("z_exit", self.z_exit, f"must be < z_entry ({self.z_entry:g})")
        object.__setattr__(self, "corr_floor", _num("corr_floor", self.corr_floor, lo=-1.0, hi=1.0))
        object.__setattr__(self, "min_volume", _num("min_volume", self.min_volume, lo=0.0, hi=1e15))
        object.__setattr__(self, "k", _num("k", self.k, lo=0.1, hi=10))
        if self.price_style not in PRICE_STYLES:
            raise ParameterError("price_style", self.price_style, f"expected one of {', '.join(PRICE_STYLES)}")
        hb = _num("history_bars", self.history_bars, lo=100, hi=1_000_000, integer=True)
        object.__setattr__(self, "history_bars", hb)
        if self.window > hb:
            raise ParameterError("window", self.window, f"must be <= history_bars ({hb})")
        object.__setattr__(self, "max_points", _num("max_points", self.max_points, lo=100, hi=100_000, integer=True))

    @property
    def pair(self) -> str:
        """``"Y/X"`` (``"?"`` for a leg not chosen yet)."""
        return f"{self.y or '?'}/{self.x or '?'}"

    def replace(self, **changes: Any) -> "LiveParams":
        """A copy with ``changes`` applied and validated.

        Raises:
            ParameterError: an unknown field or an invalid value.
        """
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise ParameterError(name, changes[name], "unknown parameter")
        return replace(self, **changes)

    def needs_reseed(self, other: "LiveParams") -> bool:
        """True when going from ``self`` to ``other`` changes the bars or the estimators."""
        keys = ("y", "x", "bar", "window", "method", "min_volume", "history_bars")
        return any(getattr(self, k) != getattr(other, k) for k in keys)
