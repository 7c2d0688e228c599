"""Hedge ratios for a pair backtest: static in-sample OLS, rolling OLS or a Kalman filter.

The estimators are :mod:`quantkit.analytics`'s (:func:`~quantkit.analytics.ols_hedge`,
:func:`~quantkit.analytics.rolling_ols`, :func:`~quantkit.analytics.kalman_hedge`);
this module only chooses the data they see:

* ``"static"``: one OLS fit (with intercept) on the *training* bars ``[0, train)``
  (``train=None``: every bar -- an in-sample, look-ahead fit, as in textbook
  examples); the same ``alpha``/``beta`` for every bar.
* ``"rolling"``: OLS over the last ``window`` bars including the current one
  (``window=None``: the strategy's z-score window). NaN during the warm-up.
* ``"kalman"``: the filtered state after each bar (Chan 2013 ch. 3, ``delta``, ``ve``,
  ``init`` = the first-bar convention of :func:`~quantkit.analytics.kalman_hedge`).

The spread is ``y - alpha_t - beta_t * x`` (``alpha_in_spread=True``, default) or
``y - beta_t * x`` (``alpha_in_spread=False``: estimate with an intercept, trade the spread
without it, as Chan's 2013 examples do: ``yport = y - hedgeRatio .* x``). A rolling z-score
removes a constant alpha anyway; with a rolling or Kalman alpha the two differ.
One spread unit is ``+1`` y and ``-beta_t`` x (price spreads).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
import numpy as np
import pandas as pd

from quantkit import analytics
from quantkit.errors import AnalyticsError, BacktestError

__all__ = ["HEDGE_METHODS", "Hedge", "HedgeSeries", "hedge_ratios", "resolve_train"]

logger = logging.getLogger("quantkit.backtest")

#: Allowed values of :attr:`Hedge.method`.
HEDGE_METHODS: tuple[str, ...] = ("static", "rolling", "kalman")


@dataclass(frozen=True)
class Hedge:
    """How the hedge ratio of a pair is estimated.

    Attributes:
        method: ``"static"`` (default), ``"rolling"`` or ``"kalman"``.
        window: rolling OLS window in bars (>= 3); ``None`` uses the strategy's window.
        train: static fit on the first ``train`` bars (int), or on bars up to and
            excluding a timestamp (str/Timestamp); ``None`` fits on every bar (in-sample).
            Also the training part of a static (``window=None``) z-score.
        intercept: fit an intercept (default True).
        delta: Kalman state noise (default 1e-4).
        ve: Kalman observation noise variance in squared price units (default 1e-3).
            The Kalman filter always carries an intercept state (Chan's model); ``intercept``
            applies to the OLS methods.
        init: Kalman first-bar convention, ``"predict"`` (default) or ``"textbook"`` (Chan's code:
            no prediction step at bar 0); see :mod:`quantkit.analytics.kalman`.
        alpha_in_spread: subtract the estimated intercept from the traded spread (default True);
            False trades ``y - beta_t x`` (the intercept is still estimated when ``intercept``).

    Raises:
        BacktestError: unknown method or bad numbers.
    """

    method: str = "static"
    window: int | None = None
    train: int | str | pd.Timestamp | None = None
    intercept: bool = True
    delta: float = 1e-4
    ve: float = 1e-3
    init: str = "predict"
    alpha_in_spread: bool = True

    def __post_init__(self) -> None:
        if self.init not in ("predict", "textbook"):
            raise BacktestError(f"Hedge.init={self.init!r}: expected 'predict' or 'textbook'")
        if not isinstance(self.alpha_in_spread, bool):
            raise BacktestError(f"Hedge.alpha_in_spread={self.alpha_in_spread!r}: expected True or False")
        if self.method not in HEDGE_METHODS:
            raise BacktestError(f"Hedge.method={self.method!r}: expected one of {', '.join(HEDGE_METHODS)}")
        if self.window is not None and (
            isinstance(self.window, bool) or not isinstance(self.window, (int, np.integer)) or self.window < 3
        ):
            raise BacktestError(f"Hedge.window={self.window!r}: expected an integer >= 3 or None")
        if isinstance(self.train, (int, np.integer)) and not isinstance(self.train, bool) and self.train < 3:
            raise BacktestError(f"Hedge.train={self.train!r}: need at least 3 training bars")
        if not (0 < self.delta < 1) or not math.isfinite(self.ve) or self.ve <= 0:
            raise BacktestError(f"Hedge(delta={self.delta!r}, ve={self.ve!r}): expected 0 < delta < 1 and ve > 0")

    @classmethod
    def coerce(cls, spec: "str | Hedge | None") -> "Hedge":
        """A :class:`Hedge` from a method name, a Hedge, or None (static)."""
        if spec is None:
            return cls()
        if isinstance(spec, Hedge):
            return spec
        if isinstance(spec, str):
            return cls(method=spec)
        raise BacktestError(f"hedge={spec!r}: expected 'static', 'rolling', 'kalman' or a Hedge")

    @property
    def label(self) -> str:
        """Short label for tables (``"static"``, ``"rolling(120)"``, ``"kalman"``)."""
        if self.method == "rolling" and self.window is not None:
            return f"rolling({self.window})"
        return self.method


@dataclass(frozen=True, eq=False)
class HedgeSeries:
    """Per-bar hedge coefficients (arrays of length n).

    Attributes:
        alpha: intercept per bar (NaN during warm-up).
        beta: hedge ratio per bar (NaN during warm-up).
        e: Kalman forecast error (``None`` for OLS methods).
        q: Kalman forecast error variance (``None`` for OLS methods).
        train_end: number of training bars (static fits; ``n`` when in-sample).
    """

    alpha: np.ndarray
    beta: np.ndarray
    e: np.ndarray | None
    q: np.ndarray | None
    train_end: int

    def spread(self, y: np.ndarray, x: np.ndarray, *, alpha_in_spread: bool = True) -> np.ndarray:
        """The traded spread ``y - alpha_t - beta_t x`` (or ``y - beta_t x`` without the intercept)."""
        if self.beta.strides == (0,):  # static: scalars are cheaper than broadcast views
            b = float(self.beta[0])
            a = float(self.alpha[0]) if alpha_in_spread else 0.0
            out = x * -b
            out += y
            if a:
                out -= a
            return out
        return y - self.alpha - self.beta * x if alpha_in_spread else y - self.beta * x


def resolve_train(train: int | str | pd.Timestamp | None, index: pd.Index, n: int) -> int:
    """Number of training bars for ``train`` (int bars, a timestamp bound, or None = n)."""
    if train is None:
        return n
    if isinstance(train, (int, np.integer)) and not isinstance(train, bool):
        k = int(train)
    else:
        if not isinstance(index, pd.DatetimeIndex):
            raise BacktestError(f"train={train!r}: a timestamp needs a DatetimeIndex; give a number of bars")
        ts = pd.Timestamp(train)
        if ts.tzinfo is None and index.tz is not None:
            ts = ts.tz_localize("UTC")
        k = int(index.searchsorted(ts, side="left"))
    if k < 3 or k > n:
        raise BacktestError(f"train={train!r}: gives {k} training bars out of {n}; need 3 <= train <= n")
    return k


def hedge_ratios(y: np.ndarray, x: np.ndarray, hedge: Hedge, *, window: int | None, index: pd.Index) -> HedgeSeries:
    """Per-bar alpha/beta for ``hedge`` on price arrays ``y``, ``x`` (validated, same length).

    Args:
        y: first leg's prices.
        x: second leg's prices.
        hedge: the estimator.
        window: the strategy's window, used when a rolling hedge has none.
        index: the bars' index (for a timestamp ``train``).

    Raises:
        BacktestError: too few bars for the estimator, or a degenerate fit.
    """
    n = len(y)
    try:
        if hedge.method == "static":
            k = resolve_train(hedge.train, index, n)
            fit = analytics.ols_hedge(y[:k], x[:k], intercept=hedge.intercept)
            # read-only broadcast views: one number for every bar, no memory
            return HedgeSeries(np.broadcast_to(float(fit.alpha), (n,)), np.broadcast_to(float(fit.beta), (n,)),
                               None, None, k)
        if hedge.method == "rolling":
            w = hedge.window if hedge.window is not None else window
            if w is None:
                raise BacktestError("a rolling hedge needs Hedge(window=...) when the strategy has no window")
            if w < 3:
                raise BacktestError(f"rolling hedge window={w}: expected >= 3 bars")
            if n < w + 1:
                raise BacktestError(f"too few bars ({n}) for a rolling hedge window of {w}")
            fr = analytics.rolling_ols(y, x, w, intercept=hedge.intercept)
            return HedgeSeries(fr["alpha"].to_numpy(), fr["beta"].to_numpy(), None, None,
                               resolve_train(hedge.train, index, n))
        kf = analytics.kalman_hedge(y, x, delta=hedge.delta, ve=hedge.ve, init=hedge.init)  # type: ignore[arg-type]
        fr = kf.frame
        return HedgeSeries(fr["alpha"].to_numpy(), fr["beta"].to_numpy(), fr["e"].to_numpy(), fr["q"].to_numpy(),
                           resolve_train(hedge.train, index, n))
    except AnalyticsError as exc:
        raise BacktestError(f"hedge {hedge.label}: {exc}") from exc
