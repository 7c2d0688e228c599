"""Mean reversion of a spread: half-life, Ornstein-Uhlenbeck fit, Hurst exponent, variance ratio.

Half-life (:func:`half_life`) comes from the AR(1) regression of the spread's
change on its lagged level, ``ds_t = c + gamma * s_{t-1} + e_t``:

* **exact**: ``-ln 2 / ln(1 + gamma)`` bars -- the time for the expected
  deviation to halve under the discrete AR(1) ``s_t = c + (1+gamma) s_{t-1}``;
* **approx**: ``-ln 2 / gamma`` bars -- the common continuous-time
  approximation (``ln(1+gamma) ~ gamma``); it overstates the half-life, by
  about 0.35 bars for slow reversion and much more for fast reversion.

Both are biased **low** in small samples (the OLS estimate of an AR(1)
coefficient is biased towards stronger mean reversion, Kendall 1954), and
``gamma >= 0`` means no mean reversion (half-life = +inf).

:func:`ou_fit` maps the same AR(1) to the exact discretisation of
``dS = theta (mu - S) dt + sigma dW``. :func:`hurst` estimates the Hurst
exponent from how the spread of lagged differences grows with the lag
(0.5 random walk, < 0.5 mean reverting, > 0.5 trending).
:func:`variance_ratio` is Lo and MacKinlay's (1988) test with the
heteroskedasticity-robust z statistic.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from quantkit.errors import AnalyticsError

from ._validation import as_array, check_int, check_not_constant, check_positive_float, to_log
from .results import Result

__all__ = ["HalfLife", "HurstResult", "OUFit", "VarianceRatio", "half_life", "hurst", "ou_fit", "variance_ratio"]

_LN2 = math.log(2.0)


def _bar_seconds(index: pd.Index) -> float:
    if isinstance(index, pd.DatetimeIndex) and len(index) > 1:
        d = np.diff(index.asi8)
        return float(np.median(d)) / 1e9
    return math.nan


def _ar1(arr: np.ndarray) -> tuple[float, float, float, float, int]:
    """OLS of s_t on [1, s_{t-1}]: (a, b, se_b, resid_std, n)."""
    lag = arr[:-1]
    cur = arr[1:]
    n = len(cur)
    lm, cm = lag.mean(), cur.mean()
    lc = lag - lm
    sxx = float(np.dot(lc, lc))
    if sxx == 0.0:
        raise AnalyticsError("s: series is constant; nothing to estimate")
    b = float(np.dot(lc, (cur - cm))) / sxx
    a = float(cm - b * lm)
    resid = cur - a - b * lag
    s2 = float(np.dot(resid, resid)) / (n - 2)
    return a, b, math.sqrt(s2 / sxx), math.sqrt(s2), n


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class HalfLife(Result):
    """Result of :func:`half_life`.

    Attributes:
        gamma: AR(1) coefficient on the lagged level in ``ds_t = c + gamma s_{t-1} + e``.
        se_gamma: its standard error.
        intercept: ``c``.
        exact: half-life in bars, ``-ln2 / ln(1 + gamma)`` (inf if gamma >= 0, NaN if gamma <= -1).
        approx: half-life in bars, ``-ln2 / gamma`` (inf if gamma >= 0).
        n: observations in the regression.
        bar_seconds: median bar spacing in seconds (NaN without a time index).
        mean_reverting: ``-1 < gamma < 0``.
    """

    gamma: float
    se_gamma: float
    intercept: float
    exact: float
    approx: float
    n: int
    bar_seconds: float
    mean_reverting: bool

    @property
    def exact_seconds(self) -> float:
        """The exact half-life in seconds (NaN without a time index)."""
        return self.exact * self.bar_seconds


def half_life(s: Any) -> HalfLife:
    """Half-life of mean reversion of a spread from an AR(1) fit (see module docstring).

    Args:
        s: the spread (Series or array), NaN-free, >= 10 points.

    Returns:
        :class:`HalfLife` with both the exact and the approximate form, in bars.

    Raises:
        AnalyticsError: too few points, NaNs, constant series.
    """
    arr, index = as_array(s, "s", min_n=10)
    check_not_constant(arr, "s")
    a, b, se_b, _, n = _ar1(arr)
    gamma = b - 1.0
    if gamma >= 0:
        exact = approx = math.inf
    else:
        approx = -_LN2 / gamma
        exact = -_LN2 / math.log1p(gamma) if gamma > -1.0 else math.nan
    return HalfLife(
        gamma=gamma,
        se_gamma=se_b,
        intercept=a,
        exact=exact,
        approx=approx,
        n=n,
        bar_seconds=_bar_seconds(index),
        mean_reverting=bool(-1.0 < gamma < 0.0),
    )


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class OUFit(Result):
    """Result of :func:`ou_fit`: ``dS = theta (mu - S) dt + sigma dW``.

    Attributes:
        theta: mean-reversion speed per time unit (NaN if not mean reverting).
        mu: long-run mean.
        sigma: diffusion per sqrt(time unit).
        half_life: ``ln 2 / theta`` in time units.
        b: AR(1) coefficient ``exp(-theta dt)``.
        resid_std: standard deviation of the AR(1) residuals.
        dt: time step between observations (time units).
        n: observations in the regression.
        mean_reverting: ``0 < b < 1``.
    """

    theta: float
    mu: float
    sigma: float
    half_life: float
    b: float
    resid_std: float
    dt: float
    n: int
    mean_reverting: bool

    @property
    def stationary_std(self) -> float:
        """Standard deviation of the stationary distribution, ``sigma / sqrt(2 theta)``."""
        return self.sigma / math.sqrt(2.0 * self.theta) if self.theta > 0 else math.nan


def ou_fit(s: Any, *, dt: float = 1.0) -> OUFit:
    """Fit an Ornstein-Uhlenbeck process by its exact AR(1) discretisation.

    ``S_t = a + b S_{t-1} + e`` with ``b = exp(-theta dt)``,
    ``a = mu (1 - b)``, ``Var(e) = sigma^2 (1 - b^2) / (2 theta)``.

    Args:
        s: the spread, NaN-free, >= 10 points.
        dt: time between observations in your time unit (default 1.0 = one bar).

    Returns:
        :class:`OUFit`; theta/mu/sigma/half_life are NaN when ``b`` is not in (0, 1).
    """
    dt = check_positive_float(dt, "dt")
    arr, _ = as_array(s, "s", min_n=10)
    check_not_constant(arr, "s")
    a, b, _, rs, n = _ar1(arr)
    if 0.0 < b < 1.0:
        theta = -math.log(b) / dt
        mu = a / (1.0 - b)
        sigma = rs * math.sqrt(2.0 * theta / (1.0 - b * b))
        hl = _LN2 / theta
        ok = True
    else:
        theta = mu = sigma = hl = math.nan
        ok = False
    return OUFit(theta=theta, mu=mu, sigma=sigma, half_life=hl, b=b, resid_std=rs, dt=dt, n=n, mean_reverting=ok)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class HurstResult(Result):
    """Result of :func:`hurst`.

    Attributes:
        h: Hurst exponent (slope of log std of lagged differences on log lag).
        intercept: the regression intercept.
        lags: the lags used.
        stds: the std of ``s[t+lag] - s[t]`` per lag (Series indexed by lag).
        n: length of the series.
    """

    h: float
    intercept: float
    lags: tuple[int, ...]
    stds: pd.Series
    n: int


def hurst(s: Any, *, min_lag: int = 2, max_lag: int = 100, log: bool = False) -> HurstResult:
    """Hurst exponent from the scaling of lagged differences.

    ``std(s[t+k] - s[t]) ~ k^H`` for lags k in ``min_lag..max_lag`` (up to
    30 log-spaced integers); ``H`` is the OLS slope in log-log. A random walk
    gives 0.5, a mean-reverting series less, a trending one more. Note the
    estimate depends on the lag range relative to the half-life.

    Args:
        s: the series (levels: a price, log price or spread), NaN-free.
        min_lag: smallest lag (>= 1, default 2).
        max_lag: largest lag (default 100, must be < len(s) / 2).
        log: use the log of the series.
    """
    arr, _ = as_array(s, "s", min_n=20)
    if log:
        arr = to_log(arr, "s")
    check_not_constant(arr, "s")
    lo = check_int(min_lag, "min_lag", minimum=1)
    hi = check_int(max_lag, "max_lag", minimum=lo + 1)
    if hi >= len(arr) // 2:
        raise AnalyticsError(f"max_lag={hi}: must be < half the series length ({len(arr) // 2})")
    lags = np.unique(np.round(np.geomspace(lo, hi, num=min(30, hi - lo + 1))).astype(int))
    stds = np.array([np.std(arr[k:] - arr[:-k]) for k in lags])
    if np.any(stds <= 0):
        raise AnalyticsError("hurst: zero variation at some lag")
    slope, intercept = np.polyfit(np.log(lags), np.log(stds), 1)
    return HurstResult(h=float(slope), intercept=float(intercept), lags=tuple(int(k) for k in lags),
                       stds=pd.Series(stds, index=lags, name="std"), n=len(arr))


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class VarianceRatio(Result):
    """Result of :func:`variance_ratio`.

    Attributes:
        q: aggregation horizon in bars.
        vr: variance ratio ``Var(q-bar return) / (q Var(1-bar return))`` (1 for a random walk).
        z: heteroskedasticity-robust z statistic (Lo-MacKinlay z*).
        pvalue: two-sided p-value of ``z`` (standard normal).
        z_homoskedastic: the z statistic assuming i.i.d. increments.
        n: number of one-bar increments.
    """

    q: int
    vr: float
    z: float
    pvalue: float
    z_homoskedastic: float
    n: int


def variance_ratio(s: Any, q: int = 2, *, log: bool = False) -> VarianceRatio:
    """Lo-MacKinlay (1988) variance-ratio test of the random-walk hypothesis.

    Uses overlapping q-bar increments with both bias corrections. VR < 1
    indicates mean reversion at horizon q, VR > 1 momentum.

    Args:
        s: the levels (log price or spread), NaN-free; increments are ``diff(s)``.
        q: horizon in bars (>= 2).
        log: take the log of ``s`` first (for raw prices).
    """
    arr, _ = as_array(s, "s", min_n=10)
    if log:
        arr = to_log(arr, "s")
    check_not_constant(arr, "s")
    q = check_int(q, "q", minimum=2)
    r = np.diff(arr)
    nq = len(r)
    if q >= nq // 2:
        raise AnalyticsError(f"q={q}: must be < half the number of increments ({nq // 2})")
    mu = (arr[-1] - arr[0]) / nq
    dev = r - mu
    dev2 = dev * dev
    sum_dev2 = float(dev2.sum())
    var_a = sum_dev2 / (nq - 1)
    if var_a == 0.0:
        raise AnalyticsError("variance_ratio: increments have zero variance")
    rq = arr[q:] - arr[:-q] - q * mu
    m = q * (nq - q + 1) * (1.0 - q / nq)
    var_c = float(np.dot(rq, rq)) / m
    vr = var_c / var_a
    phi = 2.0 * (2 * q - 1) * (q - 1) / (3.0 * q * nq)
    theta = 0.0
    for j in range(1, q):
        delta = nq * float(np.dot(dev2[j:], dev2[:-j])) / (sum_dev2 * sum_dev2)
        theta += (2.0 * (q - j) / q) ** 2 * delta
    # Lo-MacKinlay (1988) eq. (19)-(20): z* = sqrt(nq) (VR - 1) / sqrt(theta)
    z = math.sqrt(nq) * (vr - 1.0) / math.sqrt(theta) if theta > 0 else math.nan
    return VarianceRatio(
        q=q,
        vr=vr,
        z=z,
        pvalue=float(2.0 * stats.norm.sf(abs(z))) if math.isfinite(z) else math.nan,
        z_homoskedastic=(vr - 1.0) / math.sqrt(phi),
        n=nq,
    )
