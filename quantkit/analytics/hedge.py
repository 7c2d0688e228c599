"""Hedge ratios: how many units of x hedge one unit of y.

Static estimators (one number for the whole sample):

* :func:`ols_hedge` -- OLS of y on x **with intercept** (the default and the
  right choice: the intercept absorbs the price-level offset, so beta is not
  biased by it). ``intercept=False`` forces the line through the origin; that
  is the weaker choice (beta then also has to explain the mean level, and R^2
  becomes the uncentred R^2), kept for comparison with textbook examples.
* :func:`tls_hedge` -- total least squares (orthogonal regression): treats y
  and x symmetrically (beta_yx = 1 / beta_xy), but depends on the units of
  the legs (use log prices or comparable scales).
* :func:`huber_hedge` -- Huber robust regression (IRLS, t=1.345, MAD scale),
  equal to statsmodels ``RLM(..., HuberT())``; down-weights jumps and bad ticks.
* :func:`johansen_hedge` -- the first Johansen cointegrating vector,
  normalised on y.

Time-varying estimators (one value per bar, no look-ahead: the value at bar t
uses bars up to and including t):

* :func:`rolling_ols` -- OLS over the last ``window`` bars (current bar included).
* :func:`expanding_ols` -- OLS over all bars so far.
* :func:`quantkit.analytics.kalman.kalman_hedge` -- Kalman filter (Chan 2013, ch. 3).

Every function accepts ``log=True`` to work on natural-log prices.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._rolling import expanding_moments, rolling_moments
from ._validation import as_pair, check_int, check_not_constant, check_positive_float, check_window
from .results import Result

__all__ = [
    "HedgeRatio",
    "OLSHedge",
    "expanding_ols",
    "huber_hedge",
    "johansen_hedge",
    "ols_hedge",
    "rolling_ols",
    "tls_hedge",
]

logger = logging.getLogger("quantkit.analytics")

# relative size below which a (windowed) variance counts as zero
_ZERO_VAR = 1e-12


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class OLSHedge(Result):
    """OLS hedge ratio ``y = alpha + beta * x + resid``.

    Attributes:
        alpha: intercept (0.0 when fitted without intercept).
        beta: hedge ratio (units of x per unit of y).
        r2: R^2 (centred with intercept; uncentred without, as in statsmodels).
        n: number of observations.
        se_alpha: standard error of alpha (NaN without intercept).
        se_beta: standard error of beta (classical, homoskedastic).
        resid: residual Series ``y - alpha - beta * x`` (the spread).
        intercept: whether an intercept was fitted.
        log: whether log prices were used.
    """

    alpha: float
    beta: float
    r2: float
    n: int
    se_alpha: float
    se_beta: float
    resid: pd.Series
    intercept: bool = True
    log: bool = False

    @property
    def t_beta(self) -> float:
        """t statistic of beta."""
        return self.beta / self.se_beta if self.se_beta > 0 else math.inf

    @property
    def t_alpha(self) -> float:
        """t statistic of alpha (NaN without intercept)."""
        return self.alpha / self.se_alpha if self.se_alpha > 0 else math.nan

    @property
    def resid_std(self) -> float:
        """Residual standard error ``sqrt(SSR / (n - k))``."""
        k = 2 if self.intercept else 1
        return float(math.sqrt(float(np.dot(self.resid, self.resid)) / (self.n - k)))


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class HedgeRatio(Result):
    """A hedge ratio from a non-OLS estimator.

    Attributes:
        method: ``"tls"``, ``"huber"`` or ``"johansen"``.
        alpha: intercept (mean of ``y - beta * x`` for Johansen).
        beta: hedge ratio.
        n: number of observations.
        resid: ``y - alpha - beta * x``.
        iterations: IRLS iterations (Huber), else 0.
        scale: robust residual scale (Huber, MAD-based), else NaN.
        log: whether log prices were used.
    """

    method: str
    alpha: float
    beta: float
    n: int
    resid: pd.Series
    iterations: int = 0
    scale: float = math.nan
    log: bool = False


def ols_hedge(y: Any, x: Any, *, intercept: bool = True, log: bool = False) -> OLSHedge:
    """OLS hedge ratio of y on x.

    Args:
        y: dependent leg (prices), Series or 1-D array; same index as ``x``.
        x: hedge leg (prices).
        intercept: fit an intercept (default True). ``False`` is the weaker
            choice (see module docstring); alpha is then 0 and se_alpha NaN.
        log: regress log prices.

    Returns:
        :class:`OLSHedge` (equal to statsmodels ``OLS(y, add_constant(x))``).

    Raises:
        AnalyticsError: fewer than 3 points, NaNs, constant x or y, mismatched indexes.
    """
    ya, xa, index = as_pair(y, x, min_n=3, log=log)
    n = len(ya)
    if intercept:
        xm = float(xa.mean())
        ym = float(ya.mean())
        xc = xa - xm
        yc = ya - ym
        sxx = float(np.dot(xc, xc))
        sst = float(np.dot(yc, yc))
        # a (nearly) constant leg has a tiny centred sum of squares: only then run the exact check
        if not sxx > n * (1e-12 * xm) ** 2:
            check_not_constant(xa, "x")
        if not sst > n * (1e-12 * ym) ** 2:
            check_not_constant(ya, "y")
        beta = float(np.dot(xc, yc)) / sxx
        alpha = ym - beta * xm
        xc *= beta  # in place: two n-sized arrays in all (the residual reuses yc)
        yc -= xc
        resid = yc
        ssr = float(np.dot(resid, resid))
        s2 = ssr / (n - 2)
        se_beta = math.sqrt(s2 / sxx)
        se_alpha = math.sqrt(s2 * (1.0 / n + xm * xm / sxx))
    else:
        check_not_constant(xa, "x")
        check_not_constant(ya, "y")
        sxx = float(np.dot(xa, xa))
        beta = float(np.dot(xa, ya)) / sxx
        alpha = 0.0
        resid = ya - beta * xa
        ssr = float(np.dot(resid, resid))
        sst = float(np.dot(ya, ya))
        s2 = ssr / (n - 1)
        se_beta = math.sqrt(s2 / sxx)
        se_alpha = math.nan
    r2 = 1.0 - ssr / sst
    return OLSHedge(
        alpha=alpha,
        beta=beta,
        r2=r2,
        n=n,
        se_alpha=se_alpha,
        se_beta=se_beta,
        resid=pd.Series(resid, index=index, name="resid"),
        intercept=intercept,
        log=log,
    )


def tls_hedge(y: Any, x: Any, *, log: bool = False) -> HedgeRatio:
    """Total least squares (orthogonal) hedge ratio.

    Minimises the sum of squared *perpendicular* distances to the line
    ``y = alpha + beta * x`` (first principal axis of the centred data).
    Symmetric in y and x, but not invariant to rescaling one leg.

    Raises:
        AnalyticsError: as :func:`ols_hedge`.
    """
    ya, xa, index = as_pair(y, x, min_n=3, log=log)
    check_not_constant(xa, "x")
    check_not_constant(ya, "y")
    xm, ym = float(xa.mean()), float(ya.mean())
    xc, yc = xa - xm, ya - ym
    sxx, syy, sxy = float(np.dot(xc, xc)), float(np.dot(yc, yc)), float(np.dot(xc, yc))
    if sxy == 0.0:
        raise AnalyticsError("tls_hedge: y and x are uncorrelated; the orthogonal fit has no unique direction")
    d = syy - sxx
    beta = (d + math.sqrt(d * d + 4.0 * sxy * sxy)) / (2.0 * sxy)
    alpha = ym - beta * xm
    resid = ya - alpha - beta * xa
    return HedgeRatio(method="tls", alpha=alpha, beta=beta, n=len(ya),
                      resid=pd.Series(resid, index=index, name="resid"), log=log)


_MAD_C = 0.6744897501960817  # scipy.stats.norm.ppf(0.75)


def _wls2(ya: np.ndarray, xa: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    sw = float(w.sum())
    xm = float(np.dot(w, xa)) / sw
    ym = float(np.dot(w, ya)) / sw
    xc = xa - xm
    beta = float(np.dot((w * xc), (ya - ym))) / float(np.dot((w * xc), xc))
    return ym - beta * xm, beta


def huber_hedge(
    y: Any,
    x: Any,
    *,
    t: float = 1.345,
    maxiter: int = 100,
    tol: float = 1e-10,
    log: bool = False,
) -> HedgeRatio:
    """Huber robust hedge ratio by iteratively reweighted least squares.

    Same algorithm as statsmodels ``RLM(y, add_constant(x), M=HuberT(t)).fit()``:
    start from OLS, scale = MAD of the residuals (about 0, /0.6745), weights
    ``min(1, t / |r / scale|)``, refit, update the scale, until the parameters
    change by less than ``tol`` (relative) or ``maxiter`` iterations.

    Args:
        t: Huber tuning constant in units of the robust scale (default 1.345, 95% efficiency).
        maxiter: maximum IRLS iterations.
        tol: relative convergence tolerance on (alpha, beta).

    Raises:
        AnalyticsError: as :func:`ols_hedge`, or a zero robust scale (more than
            half the points exactly on a line).
    """
    t = check_positive_float(t, "t")
    maxiter = check_int(maxiter, "maxiter")
    ya, xa, index = as_pair(y, x, min_n=3, log=log)
    check_not_constant(xa, "x")
    check_not_constant(ya, "y")
    alpha, beta = _wls2(ya, xa, np.ones_like(ya))
    resid = ya - alpha - beta * xa
    scale = float(np.median(np.abs(resid))) / _MAD_C
    it = 0
    for it in range(1, maxiter + 1):
        if scale == 0.0:
            raise AnalyticsError("huber_hedge: robust scale is 0 (most points lie exactly on a line); use ols_hedge")
        z = np.abs(resid) / scale
        w = np.where(z <= t, 1.0, t / np.maximum(z, 1e-300))
        a_new, b_new = _wls2(ya, xa, w)
        resid = ya - a_new - b_new * xa
        scale = float(np.median(np.abs(resid))) / _MAD_C
        done = abs(b_new - beta) <= tol * max(abs(beta), 1e-12) and abs(a_new - alpha) <= tol * max(abs(alpha), 1.0)
        alpha, beta = a_new, b_new
        if done:
            break
    else:
        logger.warning("huber_hedge did not converge in %d iterations", maxiter)
    return HedgeRatio(method="huber", alpha=alpha, beta=beta, n=len(ya),
                      resid=pd.Series(resid, index=index, name="resid"), iterations=it, scale=scale, log=log)


def johansen_hedge(y: Any, x: Any, *, det_order: int = 0, k_ar_diff: int = 1, log: bool = False) -> HedgeRatio:
    """Hedge ratio from the first Johansen cointegrating eigenvector.

    The eigenvector ``v`` with the largest eigenvalue makes ``v0*y + v1*x``
    the most stationary combination; normalised on y, ``beta = -v1 / v0``.
    ``alpha`` is the sample mean of ``y - beta * x``.

    Args:
        det_order: deterministic term (-1 none, 0 constant, 1 trend) as in
            :func:`quantkit.analytics.cointegration.johansen`.
        k_ar_diff: number of lagged differences in the VECM.

    Raises:
        AnalyticsError: as :func:`ols_hedge`, or a zero y-weight in the eigenvector.
    """
    from .cointegration import johansen

    ya, xa, index = as_pair(y, x, min_n=3, log=log)
    check_not_constant(xa, "x")
    check_not_constant(ya, "y")
    res = johansen(np.column_stack([ya, xa]), det_order=det_order, k_ar_diff=k_ar_diff)
    v = res.eigenvectors[:, 0]
    if v[0] == 0.0:
        raise AnalyticsError("johansen_hedge: the cointegrating vector has no weight on y")
    beta = float(-v[1] / v[0])
    alpha = float(np.mean(ya - beta * xa))
    resid = ya - alpha - beta * xa
    return HedgeRatio(method="johansen", alpha=alpha, beta=beta, n=len(ya),
                      resid=pd.Series(resid, index=index, name="resid"), log=log)


def _betas_from_moments(m: Any, intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        if intercept:
            degenerate = ~(m.m2_x > _ZERO_VAR * m.raw_xx)
            beta = m.c_xy / m.m2_x
            alpha = m.mean_y - beta * m.mean_x
        else:
            degenerate = ~(m.sum_xx_raw > 0)
            beta = m.sum_xy_raw / m.sum_xx_raw
            alpha = np.zeros_like(beta)
            alpha[np.isnan(beta)] = np.nan
    beta = np.where(degenerate, np.nan, beta)
    alpha = np.where(degenerate, np.nan, alpha)
    return alpha, beta


def rolling_ols(y: Any, x: Any, window: int, *, intercept: bool = True, log: bool = False) -> pd.DataFrame:
    """Rolling OLS hedge ratio: the fit at bar t uses bars ``t-window+1 .. t``.

    The current bar is included; there is no look-ahead (changing a later
    value never changes an earlier row). Equal to statsmodels
    ``RollingOLS(y, add_constant(x), window)`` but O(n) and vectorised.

    Args:
        y: dependent leg, Series or 1-D array (same index as x).
        x: hedge leg.
        window: window length in bars (>= 3 with intercept, >= 2 without).
        intercept: fit an intercept per window (default True).
        log: use log prices.

    Returns:
        DataFrame indexed like the input with float columns ``alpha`` and
        ``beta``; NaN for the first ``window-1`` rows (warm-up) and for windows
        where x does not vary.

    Raises:
        AnalyticsError: NaNs, mismatched indexes, bad window.
    """
    ya, xa, index = as_pair(y, x, min_n=2, log=log)
    w = check_window(window, len(ya), minimum=3 if intercept else 2)
    m = rolling_moments(xa, w, ya, raw_products=not intercept)
    alpha, beta = _betas_from_moments(m, intercept)
    return pd.DataFrame({"alpha": alpha, "beta": beta}, index=index)


def expanding_ols(
    y: Any, x: Any, *, min_periods: int = 3, intercept: bool = True, log: bool = False
) -> pd.DataFrame:
    """Expanding-window OLS: the fit at bar t uses bars ``0 .. t``.

    Args:
        min_periods: rows before this many bars are NaN (default 3).
        intercept: fit an intercept (default True).
        log: use log prices.

    Returns:
        DataFrame with columns ``alpha`` and ``beta`` (NaN during warm-up or while x is constant).
    """
    ya, xa, index = as_pair(y, x, min_n=2, log=log)
    mp = check_int(min_periods, "min_periods", minimum=2)
    m = expanding_moments(xa, ya)
    alpha, beta = _betas_from_moments(m, intercept)
    alpha[: mp - 1] = np.nan
    beta[: mp - 1] = np.nan
    return pd.DataFrame({"alpha": alpha, "beta": beta}, index=index)
