"""Kalman-filter hedge ratio: a time-varying beta and alpha.

The parameterisation of Chan (2013), *Algorithmic Trading*, ch. 3
(example 3.3, the EWA/EWC pair):

* observation:  ``y_t = beta_t * x_t + alpha_t + eps_t``,  ``eps_t ~ N(0, Ve)``
* state:        ``[beta_t, alpha_t] = [beta_{t-1}, alpha_{t-1}] + w_t``,
  ``w_t ~ N(0, Vw)``, ``Vw = delta / (1 - delta) * I``
* start:        state ``[0, 0]``, covariance ``P = 0``.

Per bar t (in this order):

1. predict: ``R = P + Vw`` -- at the first bar this depends on ``init``:

   * ``init="predict"`` (default): the prediction runs at every bar, so the
     first prediction covariance is ``R = Vw`` and bar 0 already moves the
     state a little. This is the standard filter recursion (predict, then
     update, from the prior ``N(0, P=0)``; e.g. Durbin & Koopman, *Time Series
     Analysis by State Space Methods*, 2012, sec. 4.3).
   * ``init="textbook"``: Chan's published code (``KF_beta_EWA_EWC.m``,
     Chan 2013, example 3.3) skips the prediction at the first bar (``if t > 1``),
     so ``R = 0`` there: ``q_0 = Ve``, the gain is 0 and the state stays
     ``[0, 0]`` after bar 0. Later bars are identical in form; the hedge ratios
     differ by ~1e-4 over a 1,500-bar sample. Use it to reproduce the book.
2. forecast: ``yhat = x_t * beta + alpha``; forecast variance
   ``q_t = [x_t, 1] R [x_t, 1]' + Ve``; forecast error ``e_t = y_t - yhat``
3. update: ``K = R [x_t, 1]' / q_t``; state += ``K e_t``; ``P = R - K [x_t, 1] R``

``e_t`` and ``q_t`` use only bars before t (the state from t-1): they are the
one-step-ahead forecast error and its variance, and ``e / sqrt(q)`` is Chan's
trading signal. The ``alpha``/``beta`` columns are the *filtered* state after
bar t (they include y_t, never anything later). ``delta`` sets how fast beta
may move (delta -> 0: a static regression; delta -> 1: beta chases every bar);
``Ve`` is the observation noise variance in squared price units (so it must
be chosen for the price scale; Chan's 1e-3 suits ETF prices ~10-30 or log prices).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._validation import as_pair, check_positive_float
from .results import Result

__all__ = ["KalmanHedge", "kalman_filter_arrays", "kalman_hedge"]

#: Allowed values of ``init`` (see the module docstring).
KALMAN_INITS: tuple[str, ...] = ("predict", "textbook")


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class KalmanHedge(Result):
    """Result of :func:`kalman_hedge`.

    Attributes:
        frame: DataFrame with columns ``alpha``, ``beta`` (filtered state after
            bar t), ``e`` (one-step forecast error) and ``q`` (its variance).
        prior: DataFrame with columns ``alpha``, ``beta``: the state *before*
            seeing bar t (what a trader knows when bar t arrives).
        delta: state noise parameter.
        ve: observation noise variance.
        n: number of bars.
        log: whether log prices were used.
        init: first-bar convention, ``"predict"`` or ``"textbook"`` (module docstring).
    """

    frame: pd.DataFrame
    prior: pd.DataFrame
    delta: float
    ve: float
    n: int
    log: bool = False
    init: str = "predict"

    @property
    def beta(self) -> pd.Series:
        """Filtered beta per bar."""
        return self.frame["beta"]

    @property
    def alpha(self) -> pd.Series:
        """Filtered alpha per bar."""
        return self.frame["alpha"]

    @property
    def zscore(self) -> pd.Series:
        """Standardised forecast error ``e / sqrt(q)`` (Chan's entry signal)."""
        return (self.frame["e"] / np.sqrt(self.frame["q"])).rename("z")

    @property
    def last_beta(self) -> float:
        """The most recent filtered beta."""
        return float(self.frame["beta"].iloc[-1])

    def spread(self, y: Any, x: Any) -> pd.Series:
        """``y - alpha_t - beta_t * x`` with the filtered state (includes bar t itself).

        Args:
            y, x: the same legs (and price space) the filter was run on.
        """
        ya, xa, index = as_pair(y, x, min_n=1, log=self.log)
        if len(ya) != self.n:
            raise AnalyticsError(f"spread: got {len(ya)} bars, the filter ran on {self.n}")
        return pd.Series(ya - self.frame["alpha"].to_numpy() - self.frame["beta"].to_numpy() * xa,
                         index=index, name="spread")

    def to_frame(self) -> pd.DataFrame:
        """The per-bar frame (alpha, beta, e, q)."""
        return self.frame.copy()


def kalman_filter_arrays(
    y: np.ndarray, x: np.ndarray, delta: float, ve: float, init: str = "predict"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the filter on float arrays (no validation; ``init`` as in the module docstring).

    Returns:
        ``(alpha, beta, e, q, alpha_prior, beta_prior)`` arrays.
    """
    n = len(y)
    vw = delta / (1.0 - delta)
    a_out = np.empty(n)
    b_out = np.empty(n)
    e_out = np.empty(n)
    q_out = np.empty(n)
    ap_out = np.empty(n)
    bp_out = np.empty(n)
    b = 0.0  # beta (state[0], multiplies x)
    a = 0.0  # alpha (state[1], multiplies 1)
    p00 = p01 = p11 = 0.0
    ylist = y.tolist()
    xlist = x.tolist()
    skip = 0 if init == "predict" else 1  # "textbook": no prediction step at bar 0 (R = P = 0)
    for i in range(n):
        xi = xlist[i]
        if i >= skip:
            r00 = p00 + vw
            r01 = p01
            r11 = p11 + vw
        else:
            r00, r01, r11 = p00, p01, p11
        # R h' with h = [x, 1]
        rh0 = r00 * xi + r01
        rh1 = r01 * xi + r11
        q = xi * rh0 + rh1 + ve
        e = ylist[i] - (xi * b + a)
        ap_out[i] = a
        bp_out[i] = b
        k0 = rh0 / q
        k1 = rh1 / q
        b += k0 * e
        a += k1 * e
        # P = R - K h R = R - (R h')(R h')' / q
        p00 = r00 - k0 * rh0
        p01 = r01 - k0 * rh1
        p11 = r11 - k1 * rh1
        a_out[i] = a
        b_out[i] = b
        e_out[i] = e
        q_out[i] = q
    return a_out, b_out, e_out, q_out, ap_out, bp_out


def kalman_hedge(
    y: Any,
    x: Any,
    *,
    delta: float = 1e-4,
    ve: float = 1e-3,
    log: bool = False,
    init: Literal["predict", "textbook"] = "predict",
) -> KalmanHedge:
    """Time-varying hedge ratio by Kalman filter (Chan 2013, ch. 3; see module docstring).

    Args:
        y: dependent leg (prices), Series or array; same index as x.
        x: hedge leg.
        delta: state noise parameter in (0, 1); ``Vw = delta/(1-delta) * I``. Default 1e-4.
        ve: observation noise variance (> 0), in squared units of y. Default 1e-3.
        log: filter log prices.
        init: first-bar convention: ``"predict"`` (default, the standard recursion:
            ``R = P + Vw`` at every bar) or ``"textbook"`` (Chan 2013's code: no
            prediction at bar 0, so ``R = 0`` and the state stays 0 there).

    Returns:
        :class:`KalmanHedge` with ``.frame[alpha, beta, e, q]``.

    Raises:
        AnalyticsError: NaNs, mismatched indexes, delta outside (0, 1), ve <= 0, unknown init.
    """
    if init not in KALMAN_INITS:
        raise AnalyticsError(f"init={init!r}: expected 'predict' or 'textbook'")
    delta = check_positive_float(delta, "delta")
    if not delta < 1.0:
        raise AnalyticsError(f"delta={delta!r}: must be in (0, 1)")
    ve = check_positive_float(ve, "ve")
    ya, xa, index = as_pair(y, x, min_n=1, log=log)
    a, b, e, q, ap, bp = kalman_filter_arrays(ya, xa, delta, ve, init)
    if not math.isfinite(float(b[-1])):
        raise AnalyticsError("kalman_hedge: the filter diverged (non-finite state); check the price scale, ve and delta")
    frame = pd.DataFrame({"alpha": a, "beta": b, "e": e, "q": q}, index=index)
    prior = pd.DataFrame({"alpha": ap, "beta": bp}, index=index)
    return KalmanHedge(frame=frame, prior=prior, delta=delta, ve=ve, n=len(ya), log=log, init=init)
