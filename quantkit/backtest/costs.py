"""Transaction costs: commission plus half-spread and slippage, all in basis points per side.

Every fill of every leg pays ``|quantity| x fill price x rate`` where ``rate`` is
``(fee_bps + half_spread_bps + slippage_bps) / 10_000``. "Per side" means a round
trip (enter, then exit) pays the rate twice. Only ``fee_bps`` counts towards the
``fees`` metric; the other two are execution costs (``costs`` = fees + spread + slippage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from quantkit.errors import BacktestError

__all__ = ["Costs"]


@dataclass(frozen=True)
class Costs:
    """Cost model of one backtest.

    Attributes:
        fee_bps: exchange commission in basis points of traded notional, per side (default 0).
        half_spread_bps: half the bid/ask spread in basis points, paid on every fill (default 0).
        slippage_bps: extra market impact in basis points, paid on every fill (default 0).

    Raises:
        BacktestError: a value is negative or not finite.
    """

    fee_bps: float = 0.0
    half_spread_bps: float = 0.0
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        for name in ("fee_bps", "half_spread_bps", "slippage_bps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise BacktestError(f"Costs.{name}={value!r}: expected a finite number >= 0 (basis points)")

    @property
    def total_bps(self) -> float:
        """Fee + half-spread + slippage, basis points per side."""
        return float(self.fee_bps + self.half_spread_bps + self.slippage_bps)

    @property
    def rate(self) -> float:
        """Total cost as a fraction of traded notional (``total_bps / 10_000``)."""
        return self.total_bps / 10_000.0

    @property
    def fee_rate(self) -> float:
        """Commission as a fraction of traded notional (``fee_bps / 10_000``)."""
        return float(self.fee_bps) / 10_000.0

    def scaled(self, factor: float) -> "Costs":
        """The same model with every component multiplied by ``factor`` (>= 0)."""
        if not math.isfinite(factor) or factor < 0:
            raise BacktestError(f"factor={factor!r}: expected a finite number >= 0")
        return replace(
            self,
            fee_bps=self.fee_bps * factor,
            half_spread_bps=self.half_spread_bps * factor,
            slippage_bps=self.slippage_bps * factor,
        )
