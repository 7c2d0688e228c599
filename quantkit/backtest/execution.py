"""Execution model: when signals trade, at which price, and how many units of each leg.

Timing (``fill``):

* ``"next_close"`` (default): the signal computed from bar ``t``'s close is filled at
  bar ``t+1``'s close. Nothing of bar ``t+1`` is known when the decision is made.
* ``"next_open"``: filled at bar ``t+1``'s open (needs open prices).
* ``"same_close"``: filled at bar ``t``'s own close, the convention of textbook
  examples (E. Chan, *Algorithmic Trading*, 2013). Optimistic: the price that made
  the signal is also the fill price.

Sizing (``sizing``): a signal ``s`` is a number of *spread units*.

* ``"hedge"`` (beta-neutral): one spread unit is ``+1`` unit of the first leg and
  ``-beta`` units of the second (for a portfolio: the weight vector in units).
* ``"dollar"`` (pairs only): one spread unit is ``+1/p_y`` units of y and ``-1/p_x``
  units of x, i.e. one unit of quote currency long y and one short x.

``notional`` rescales a spread unit so that its gross exposure
``sum_i |units_i| x close_i`` equals ``notional`` (quote currency) at decision time;
``None`` keeps raw units (``|s| = 1`` means one unit of y, as in the textbook).

``rebalance=False`` (default) freezes the units decided when the signal last
changed until it changes again; ``True`` recomputes the target units every bar
(the hedge ratio and prices move, so every bar trades a little).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantkit.errors import BacktestError

__all__ = ["FILLS", "SIZINGS", "Execution"]

#: Allowed values of :attr:`Execution.fill`.
FILLS: tuple[str, ...] = ("next_close", "next_open", "same_close")
#: Allowed values of :attr:`Execution.sizing`.
SIZINGS: tuple[str, ...] = ("hedge", "dollar")


@dataclass(frozen=True)
class Execution:
    """How signals become fills.

    Attributes:
        fill: ``"next_close"`` (default), ``"next_open"`` or ``"same_close"``; see the module docstring.
        sizing: ``"hedge"`` (beta-neutral units from the hedge ratio, default) or ``"dollar"`` (pairs only).
        notional: gross exposure in quote currency of one spread unit at decision time;
            ``None`` (default) keeps raw units.
        rebalance: re-size every bar (True) or only when the signal changes (False, default).
        min_qty: per-leg minimum quantity (and quantity step) in base units: a float for
            every leg or one per leg; target quantities are truncated towards zero to a
            multiple of it. ``None`` (default) trades fractional quantities.
        capital: quote currency used for the equity curve and turnover; ``None`` means
            ``notional`` if set, else the largest gross exposure held (1.0 when nothing is held).

    Raises:
        BacktestError: an unknown ``fill``/``sizing`` or a non-positive ``notional``/``min_qty``/``capital``.
    """

    fill: str = "next_close"
    sizing: str = "hedge"
    notional: float | None = None
    rebalance: bool = False
    min_qty: float | tuple[float, ...] | None = None
    capital: float | None = None

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise BacktestError(f"Execution.fill={self.fill!r}: expected one of {', '.join(FILLS)}")
        if self.sizing not in SIZINGS:
            raise BacktestError(f"Execution.sizing={self.sizing!r}: expected one of {', '.join(SIZINGS)}")
        for name in ("notional", "capital"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise BacktestError(f"Execution.{name}={value!r}: expected a finite number > 0 or None")
        if self.min_qty is not None:
            values = self.min_qty if isinstance(self.min_qty, tuple) else (self.min_qty,)
            for v in values:
                if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                    raise BacktestError(f"Execution.min_qty={self.min_qty!r}: expected numbers > 0 or None")

    @property
    def lag(self) -> int:
        """Bars between the signal and its fill: 0 for ``same_close``, else 1."""
        return 0 if self.fill == "same_close" else 1
