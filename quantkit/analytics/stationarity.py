"""Unit-root and stationarity tests on one series: ADF and KPSS.

* :func:`adf` -- augmented Dickey-Fuller. H0: unit root (non-stationary).
  Lags fixed (``lags=p``) or chosen by AIC/BIC over ``0..maxlag``; the
  chosen count, the criterion and its value are in the result. p-values and
  critical values: MacKinnon (1994, 2010 tables) for **one** series (N=1).
  Equal to ``statsmodels.tsa.stattools.adfuller``.

  Do **not** use :func:`adf` on residuals of an *estimated* hedge regression
  to judge cointegration: OLS makes the residuals look more stationary than
  they are, so plain ADF critical values reject too often. Use
  :func:`quantkit.analytics.cointegration.engle_granger`, which uses the
  Engle-Granger (N=2) distribution.

* :func:`kpss` -- Kwiatkowski-Phillips-Schmidt-Shin. H0: (level or trend)
  stationary -- the reverse of ADF, hence a useful second opinion. p-values
  are interpolated in the KPSS (1992) table and clipped to [0.01, 0.10]
  (``pvalue_bound`` tells when). Equal to ``statsmodels...kpss``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp

from quantkit.errors import AnalyticsError

from ._adf import adf_core
from ._validation import as_array, check_int, check_not_constant, to_log
from .results import ADFRegression, Result

__all__ = ["ADFResult", "KPSSResult", "adf", "kpss"]


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class ADFResult(ADFRegression, Result):
    """Result of :func:`adf`.

    Attributes:
        stat: ADF t statistic on the lagged level.
        pvalue: MacKinnon approximate p-value (N=1).
        lags: number of lagged differences used.
        nobs: observations in the final regression.
        crit: critical values ``{"1%", "5%", "10%"}``.
        regression: deterministic terms ("c", "ct", "ctt", "n").
        lag_choice: how ``lags`` was chosen: ``"fixed"``, ``"AIC"`` or ``"BIC"``.
        maxlag: the largest lag considered.
        icbest: the information criterion at the chosen lag (None when fixed).
        coefs: the final regression's coefficients by name: ``const``/``trend``/``trend_sq``
            (the deterministic terms present), ``diff_lag1..p`` and ``level_lag1`` -- gamma in
            ``dx_t = c + gamma x_{t-1} + sum_j phi_j dx_{t-j} + e_t`` (the AR(1) term textbooks print;
            ``1 + gamma`` is the AR(1) coefficient of the levels).
        std_errors: classical OLS standard errors of ``coefs`` (``stat = gamma / se(gamma)``).
    """

    stat: float
    pvalue: float
    lags: int
    nobs: int
    crit: dict[str, float]
    regression: str
    lag_choice: str
    maxlag: int
    icbest: float | None
    coefs: dict[str, float] = dataclasses.field(default_factory=dict)
    std_errors: dict[str, float] = dataclasses.field(default_factory=dict)

    def reject(self, level: float = 0.05) -> bool:
        """True when the unit-root null is rejected at ``level`` (by the p-value)."""
        return bool(self.pvalue < level)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class KPSSResult(Result):
    """Result of :func:`kpss`.

    Attributes:
        stat: KPSS statistic.
        pvalue: interpolated p-value, clipped to [0.01, 0.10].
        lags: Newey-West (Bartlett) lags used for the long-run variance.
        nobs: observations.
        crit: critical values ``{"10%", "5%", "2.5%", "1%"}``.
        regression: "c" (level stationarity) or "ct" (trend stationarity).
        pvalue_bound: "" when the p-value is inside the table; "smaller" when the
            true p-value is below 0.01, "greater" when above 0.10.
    """

    stat: float
    pvalue: float
    lags: int
    nobs: int
    crit: dict[str, float]
    regression: str
    pvalue_bound: str

    def reject(self, level: float = 0.05) -> bool:
        """True when the stationarity null is rejected at ``level``."""
        return bool(self.pvalue < level)


def _prep(s: Any, log: bool, min_n: int) -> np.ndarray:
    arr, _ = as_array(s, "s", min_n=min_n)
    if log:
        arr = to_log(arr, "s")
    check_not_constant(arr, "s")
    return arr


def _autolag_arg(autolag: Any) -> Literal["aic", "bic"] | None:
    if autolag is None:
        return None
    if isinstance(autolag, str) and autolag.lower() in ("aic", "bic"):
        return autolag.lower()  # type: ignore[return-value]
    raise AnalyticsError(f"autolag={autolag!r}: expected 'AIC', 'BIC' or None")


def adf(
    s: Any,
    *,
    lags: int | None = None,
    autolag: str | None = "AIC",
    maxlag: int | None = None,
    regression: Literal["c", "ct", "ctt", "n"] = "c",
    log: bool = False,
) -> ADFResult:
    """Augmented Dickey-Fuller unit-root test.

    Args:
        s: the series (Series or array), NaN-free, at least 10 points.
        lags: a fixed number of lagged differences; overrides ``autolag``.
        autolag: ``"AIC"`` (default) or ``"BIC"``: choose the lag count in
            ``0..maxlag`` by the criterion (on a common sample, as statsmodels);
            ``None``: use ``maxlag`` lags.
        maxlag: largest lag considered; None = ``ceil(12 * (n/100)^(1/4))``.
        regression: "c" constant (default), "ct" constant+trend, "ctt", "n" none.
        log: test the log of the series.

    Returns:
        :class:`ADFResult`.

    Raises:
        AnalyticsError: too few points, NaNs, constant series, bad arguments.
    """
    if regression not in ("c", "ct", "ctt", "n"):
        raise AnalyticsError(f"regression={regression!r}: expected 'c', 'ct', 'ctt' or 'n'")
    x = _prep(s, log, 10)
    if lags is not None:
        p = check_int(lags, "lags", minimum=0)
        core = adf_core(x, maxlag=p, regression=regression, autolag=None, coefs=True)
        choice = "fixed"
    else:
        al = _autolag_arg(autolag)
        if maxlag is not None:
            check_int(maxlag, "maxlag", minimum=0)
        core = adf_core(x, maxlag=maxlag, regression=regression, autolag=al, coefs=True)
        choice = al.upper() if al else "fixed"
    pvalue = float(mackinnonp(core.stat, regression=regression, N=1))
    cv = mackinnoncrit(N=1, regression=regression, nobs=core.nobs)
    return ADFResult(
        stat=core.stat,
        pvalue=pvalue,
        lags=core.usedlag,
        nobs=core.nobs,
        crit={"1%": float(cv[0]), "5%": float(cv[1]), "10%": float(cv[2])},
        regression=regression,
        lag_choice=choice,
        maxlag=core.maxlag,
        icbest=core.icbest,
        coefs=core.params,
        std_errors=core.bse,
    )


_KPSS_CRIT = {"c": (0.347, 0.463, 0.574, 0.739), "ct": (0.119, 0.146, 0.176, 0.216)}
_KPSS_P = (0.10, 0.05, 0.025, 0.01)


def kpss(
    s: Any,
    *,
    regression: Literal["c", "ct"] = "c",
    nlags: str | int = "auto",
    log: bool = False,
) -> KPSSResult:
    """KPSS stationarity test (H0: stationary around a level, or a trend with "ct").

    Args:
        s: the series, NaN-free, at least 10 points.
        regression: "c" (level, default) or "ct" (trend).
        nlags: "auto" (Hobijn et al. 1998 data-dependent choice, default),
            "legacy" (``ceil(12 * (n/100)^(1/4))``) or a fixed integer < n.
        log: test the log of the series.

    Returns:
        :class:`KPSSResult`.

    Raises:
        AnalyticsError: too few points, NaNs, constant series, bad arguments.
    """
    if regression not in ("c", "ct"):
        raise AnalyticsError(f"regression={regression!r}: expected 'c' or 'ct'")
    x = _prep(s, log, 10)
    n = len(x)
    if regression == "ct":
        t = np.arange(1, n + 1, dtype=np.float64)
        tc = t - t.mean()
        xc = x - x.mean()
        resids = xc - (np.dot(tc, xc)) / (np.dot(tc, tc)) * tc
    else:
        resids = x - x.mean()
    if isinstance(nlags, str):
        if nlags == "legacy":
            lags = min(int(math.ceil(12.0 * math.pow(n / 100.0, 0.25))), n - 1)
        elif nlags == "auto":
            covlags = int(math.pow(n, 2.0 / 9.0))
            s0 = float(np.dot(resids, resids)) / n
            s1 = 0.0
            for i in range(1, covlags + 1):
                prod = float(np.dot(resids[i:], resids[: n - i])) / (n / 2.0)
                s0 += prod
                s1 += i * prod
            s_hat = s1 / s0
            gamma_hat = 1.1447 * math.pow(s_hat * s_hat, 1.0 / 3.0)
            lags = min(int(gamma_hat * math.pow(n, 1.0 / 3.0)), n - 1)
        else:
            raise AnalyticsError(f"nlags={nlags!r}: expected 'auto', 'legacy' or an integer")
    else:
        lags = check_int(nlags, "nlags", minimum=0)
        if lags >= n:
            raise AnalyticsError(f"nlags={lags}: must be < number of observations ({n})")
    eta = float(np.sum(np.cumsum(resids) ** 2)) / (n * n)
    s_hat = float(np.dot(resids, resids))
    for i in range(1, lags + 1):
        s_hat += 2.0 * float(np.dot(resids[i:], resids[: n - i])) * (1.0 - i / (lags + 1.0))
    s_hat /= n
    stat = eta / s_hat
    crit = _KPSS_CRIT[regression]
    pvalue = float(np.interp(stat, crit, _KPSS_P))
    bound = "smaller" if pvalue == _KPSS_P[-1] else "greater" if pvalue == _KPSS_P[0] else ""
    return KPSSResult(
        stat=float(stat),
        pvalue=pvalue,
        lags=int(lags),
        nobs=n,
        crit={"10%": crit[0], "5%": crit[1], "2.5%": crit[2], "1%": crit[3]},
        regression=regression,
        pvalue_bound=bound,
    )
