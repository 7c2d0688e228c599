"""Cointegration tests: Engle-Granger (two series) and Johansen (2..12 series).

**Engle-Granger** (:func:`engle_granger`): regress y on x (with a constant,
or constant and trend), then run an ADF regression *without* deterministic
terms on the residuals. Because the hedge ratio was *estimated*, the
residuals look more stationary than a raw series would, and the statistic
follows the Engle-Granger distribution, not the Dickey-Fuller one: the
p-value is MacKinnon's with ``N=2`` series and the critical values are
``mackinnoncrit(N=2, regression=trend, nobs=n-1)`` (the same choices as
``statsmodels.tsa.stattools.coint``). With plain ADF critical values
(-2.86 at 5% instead of -3.34) a test on two independent random walks
rejects far more often than its nominal size.

The test is not symmetric: regressing y on x and x on y give different
statistics. :func:`quantkit.analytics.scanner.scan_pairs` runs both.

**Johansen** (:func:`johansen`): VECM-based trace and maximum-eigenvalue tests
for the cointegration rank of 2..12 series, with the Osterwald-Lenum
critical values (90/95/99 %) that statsmodels ships. Equal to
``statsmodels.tsa.vector_ar.vecm.coint_johansen`` (eigenvectors up to sign:
here each vector is normalised to ``v' S_kk v = 1`` with a positive first element).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.linalg as sla
from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp
from statsmodels.tsa.coint_tables import c_sja, c_sjt

from quantkit.errors import AnalyticsError

from ._adf import adf_core
from ._validation import as_array, as_pair, check_int, check_not_constant, to_log
from .results import ADFRegression, Result

__all__ = ["EngleGrangerResult", "JohansenResult", "engle_granger", "johansen"]

logger = logging.getLogger("quantkit.analytics")

_SQRTEPS = math.sqrt(np.finfo(np.float64).eps)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class EngleGrangerResult(ADFRegression, Result):
    """Result of :func:`engle_granger` (one direction: y regressed on x).

    Attributes:
        stat: ADF statistic of the cointegrating-regression residuals.
        pvalue: MacKinnon p-value for N=2 (Engle-Granger).
        crit: Engle-Granger critical values ``{"1%", "5%", "10%"}`` (NaN for trend "n").
        lags: lagged differences in the residual ADF regression.
        lag_choice: "fixed", "AIC" or "BIC".
        nobs: observations in the residual ADF regression.
        alpha: intercept of the cointegrating regression (0 for trend "n").
        beta: hedge ratio of the cointegrating regression.
        trend: deterministic terms of the cointegrating regression ("c", "ct", "n").
        n: observations in the cointegrating regression.
        resid: the residual (spread) Series.
        se_alpha: classical OLS standard error of ``alpha`` (NaN for trend "n"). With
            non-stationary legs these are not valid for inference on beta (the estimate is
            super-consistent); they are what regression printouts show.
        se_beta: classical OLS standard error of ``beta``.
        coefs: coefficients of the residual ADF regression (no deterministic terms):
            ``diff_lag1..p`` and ``level_lag1`` (gamma in ``de_t = gamma e_{t-1} + ...``).
        std_errors: their standard errors (``stat = gamma / se(gamma)``).
    """

    stat: float
    pvalue: float
    crit: dict[str, float]
    lags: int
    lag_choice: str
    nobs: int
    alpha: float
    beta: float
    trend: str
    n: int
    resid: pd.Series
    se_alpha: float = math.nan
    se_beta: float = math.nan
    coefs: dict[str, float] = dataclasses.field(default_factory=dict)
    std_errors: dict[str, float] = dataclasses.field(default_factory=dict)

    def reject(self, level: float = 0.05) -> bool:
        """True when "no cointegration" is rejected at ``level``."""
        return bool(self.pvalue < level)


def _coint_regression(
    ya: np.ndarray, xa: np.ndarray, trend: str
) -> tuple[float, float, np.ndarray, float, float, float]:
    """OLS of y on x (+ deterministic terms): ``(alpha, beta, resid, r2, se_alpha, se_beta)``."""
    n = len(ya)
    if trend == "c":
        xm, ym = xa.mean(), ya.mean()
        xc, yc = xa - xm, ya - ym
        sxx = float(np.dot(xc, xc))
        beta = float(np.dot(xc, yc)) / sxx
        alpha = float(ym - beta * xm)
        resid = yc - beta * xc
        ssr = float(np.dot(resid, resid))
        r2 = 1.0 - ssr / float(np.dot(yc, yc))
        s2 = ssr / (n - 2)
        return alpha, beta, resid, r2, math.sqrt(s2 * (1.0 / n + xm * xm / sxx)), math.sqrt(s2 / sxx)
    if trend == "n":
        sxx = float(np.dot(xa, xa))
        beta = float(np.dot(xa, ya)) / sxx
        resid = ya - beta * xa
        ssr = float(np.dot(resid, resid))
        r2 = 1.0 - ssr / float(np.dot(ya, ya))
        return 0.0, beta, resid, r2, math.nan, math.sqrt(ssr / (n - 1) / sxx)
    t = np.arange(1, n + 1, dtype=np.float64)
    cols = [xa, np.ones(n), t] + ([t * t] if trend == "ctt" else [])
    design = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(design, ya, rcond=None)
    resid = ya - np.dot(design, coef)
    yc = ya - ya.mean()
    ssr = float(np.dot(resid, resid))
    r2 = 1.0 - ssr / float(np.dot(yc, yc))
    cov = ssr / (n - design.shape[1]) * np.linalg.pinv(np.dot(design.T, design))
    return float(coef[1]), float(coef[0]), resid, r2, math.sqrt(cov[1, 1]), math.sqrt(cov[0, 0])


def engle_granger(
    y: Any,
    x: Any,
    *,
    trend: Literal["c", "ct", "ctt", "n"] = "c",
    lags: int | None = None,
    autolag: str | None = "AIC",
    maxlag: int | None = None,
    log: bool = False,
    method: Literal["qr", "gram"] = "qr",
) -> EngleGrangerResult:
    """Engle-Granger two-step cointegration test of y on x.

    Args:
        y: dependent leg (prices), same index as x; NaN-free, >= 20 points.
        x: hedge leg.
        trend: deterministic terms in the cointegrating regression: "c" (default), "ct", "ctt", "n".
        lags: fixed lag count for the residual ADF regression (overrides autolag).
        autolag: "AIC" (default), "BIC" or None (use maxlag).
        maxlag: largest lag considered (None: ``ceil(12 * (n/100)^(1/4))``).
        log: use log prices.
        method: "qr" (default) or "gram" (faster factorisation; see ``_adf``).

    Returns:
        :class:`EngleGrangerResult`.

    Raises:
        AnalyticsError: bad input, constant legs, or legs that are (almost)
            exactly collinear (the test is meaningless then).
    """
    if trend not in ("c", "ct", "ctt", "n"):
        raise AnalyticsError(f"trend={trend!r}: expected 'c', 'ct', 'ctt' or 'n'")
    ya, xa, index = as_pair(y, x, min_n=20, log=log)
    check_not_constant(xa, "x")
    check_not_constant(ya, "y")
    alpha, beta, resid, r2, se_alpha, se_beta = _coint_regression(ya, xa, trend)
    if not r2 < 1.0 - 100.0 * _SQRTEPS:
        raise AnalyticsError("engle_granger: y and x are (almost) perfectly collinear; the test is not reliable")
    if lags is not None:
        p = check_int(lags, "lags", minimum=0)
        core = adf_core(resid, maxlag=p, regression="n", autolag=None, method=method, coefs=True)
        choice = "fixed"
    else:
        if autolag is not None and not (isinstance(autolag, str) and autolag.lower() in ("aic", "bic")):
            raise AnalyticsError(f"autolag={autolag!r}: expected 'AIC', 'BIC' or None")
        al = autolag.lower() if autolag else None
        if maxlag is not None:
            check_int(maxlag, "maxlag", minimum=0)
        core = adf_core(resid, maxlag=maxlag, regression="n", autolag=al, method=method,  # type: ignore[arg-type]
                        coefs=True)
        choice = al.upper() if al else "fixed"
    pvalue = float(mackinnonp(core.stat, regression=trend, N=2))
    if trend == "n":
        crit = {"1%": math.nan, "5%": math.nan, "10%": math.nan}
    else:
        cv = mackinnoncrit(N=2, regression=trend, nobs=len(ya) - 1)
        crit = {"1%": float(cv[0]), "5%": float(cv[1]), "10%": float(cv[2])}
    return EngleGrangerResult(
        stat=core.stat,
        pvalue=pvalue,
        crit=crit,
        lags=core.usedlag,
        lag_choice=choice,
        nobs=core.nobs,
        alpha=alpha,
        beta=beta,
        trend=trend,
        n=len(ya),
        resid=pd.Series(resid, index=index, name="resid"),
        se_alpha=se_alpha,
        se_beta=se_beta,
        coefs=core.params,
        std_errors=core.bse,
    )


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class JohansenResult(Result):
    """Result of :func:`johansen`.

    Row ``i`` of the statistics tests H0: rank <= i against the trace
    alternative (rank > i) or the max-eigenvalue alternative (rank = i+1).

    Attributes:
        names: the series' names.
        eigenvalues: descending eigenvalues (length N).
        eigenvectors: N x N, column j = cointegrating vector j (v' S_kk v = 1, first element > 0).
        trace_stat: trace statistics (length N).
        trace_crit: N x 3 critical values (90%, 95%, 99%).
        max_eig_stat: maximum-eigenvalue statistics (length N).
        max_eig_crit: N x 3 critical values (90%, 95%, 99%).
        rank_trace: cointegration rank chosen by sequential trace tests at 95%.
        rank_max_eig: same with the max-eigenvalue tests.
        det_order: -1 none, 0 constant, 1 linear trend.
        k_ar_diff: lagged differences in the VECM.
        nobs: observations in the reduced-rank regression.
    """

    names: tuple[str, ...]
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    trace_stat: np.ndarray
    trace_crit: np.ndarray
    max_eig_stat: np.ndarray
    max_eig_crit: np.ndarray
    rank_trace: int
    rank_max_eig: int
    det_order: int
    k_ar_diff: int
    nobs: int

    def to_frame(self) -> pd.DataFrame:
        """One row per null hypothesis ``rank <= r``: statistics and 90/95/99% critical values."""
        rows = []
        for i in range(len(self.eigenvalues)):
            rows.append({
                "h0": f"r<={i}",
                "eigenvalue": float(self.eigenvalues[i]),
                "trace": float(self.trace_stat[i]),
                "trace_90": float(self.trace_crit[i, 0]),
                "trace_95": float(self.trace_crit[i, 1]),
                "trace_99": float(self.trace_crit[i, 2]),
                "max_eig": float(self.max_eig_stat[i]),
                "max_eig_90": float(self.max_eig_crit[i, 0]),
                "max_eig_95": float(self.max_eig_crit[i, 1]),
                "max_eig_99": float(self.max_eig_crit[i, 2]),
            })
        return pd.DataFrame(rows).set_index("h0")

    def vector(self, j: int = 0, *, normalize_on: int = 0) -> pd.Series:
        """Cointegrating vector j scaled so that element ``normalize_on`` is 1."""
        v = self.eigenvectors[:, j]
        return pd.Series(v / v[normalize_on], index=list(self.names), name=f"v{j}")


def _detrend(a: np.ndarray, order: int) -> np.ndarray:
    if order == -1:
        return a
    v = np.vander(np.linspace(-1.0, 1.0, len(a)), order + 1)
    coef, *_ = np.linalg.lstsq(v, a, rcond=None)
    return a - np.dot(v, coef)


def _resid(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    if z.size == 0:
        return a
    coef, *_ = np.linalg.lstsq(z, a, rcond=None)
    return a - np.dot(z, coef)


def _as_matrix(data: Any, log: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    if isinstance(data, pd.DataFrame):
        names = tuple(str(c) for c in data.columns)
        cols = [as_array(data[c], str(c), min_n=10)[0] for c in data.columns]
    elif isinstance(data, (list, tuple)) and data and all(isinstance(s, (pd.Series, np.ndarray, list)) for s in data):
        names = tuple(str(getattr(s, "name", None) or f"s{i}") for i, s in enumerate(data))
        series = list(data)
        if all(isinstance(s, pd.Series) for s in series):
            for s in series[1:]:
                if not s.index.equals(series[0].index):
                    raise AnalyticsError("johansen: the series have mismatched indexes; align them first")
        cols = [as_array(s, names[i], min_n=10)[0] for i, s in enumerate(series)]
        if len({len(c) for c in cols}) != 1:
            raise AnalyticsError("johansen: the series have different lengths")
    else:
        try:
            arr = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise AnalyticsError("johansen: expected a DataFrame, a 2-D array or a list of Series") from None
        if arr.ndim != 2:
            raise AnalyticsError(f"johansen: expected 2-D data (observations x series), got shape {arr.shape}")
        names = tuple(f"s{i}" for i in range(arr.shape[1]))
        cols = [as_array(arr[:, i], names[i], min_n=10)[0] for i in range(arr.shape[1])]
    if len(cols) < 2:
        raise AnalyticsError(f"johansen: need at least 2 series, got {len(cols)}")
    if len(cols) > 12:
        raise AnalyticsError(f"johansen: critical values exist for at most 12 series, got {len(cols)}")
    for name, c in zip(names, cols):
        check_not_constant(c, name)
    mat = np.column_stack(cols)
    if log:
        mat = np.column_stack([to_log(mat[:, i], names[i]) for i in range(mat.shape[1])])
    return mat, names


def johansen(data: Any, *, det_order: int = 0, k_ar_diff: int = 1, log: bool = False) -> JohansenResult:
    """Johansen cointegration-rank test (trace and maximum eigenvalue).

    Args:
        data: DataFrame (one column per series), 2-D array (obs x series) or a
            list of aligned Series; 2..12 series, NaN-free.
        det_order: -1 no deterministic terms, 0 constant (default), 1 linear trend
            (statsmodels' ``det_order`` convention).
        k_ar_diff: lagged differences in the VECM (default 1).
        log: use log prices.

    Returns:
        :class:`JohansenResult`.

    Raises:
        AnalyticsError: bad input, det_order outside {-1, 0, 1}, singular moment matrices.
    """
    if det_order not in (-1, 0, 1):
        raise AnalyticsError(f"det_order={det_order!r}: critical values exist for -1, 0 or 1 only")
    k = check_int(k_ar_diff, "k_ar_diff", minimum=0)
    mat, names = _as_matrix(data, log)
    nobs_all, neqs = mat.shape
    if nobs_all - k - 1 <= neqs * (k + 1) + 2:
        raise AnalyticsError(f"johansen: too few observations ({nobs_all}) for {neqs} series and k_ar_diff={k}")
    f = 0 if det_order > -1 else det_order
    endog = _detrend(mat, det_order)
    dx = np.diff(endog, axis=0)
    if k > 0:
        z = np.column_stack([dx[k - j - 1 : len(dx) - j - 1] for j in range(k)])
    else:
        z = np.empty((len(dx), 0))
    z = _detrend(z, f) if z.size else z
    dxk = _detrend(dx[k:], f)
    r0t = _resid(dxk, z)
    lx = endog[: endog.shape[0] - k][1:]
    rkt = _resid(_detrend(lx, f), z)
    t = rkt.shape[0]
    skk = np.dot(rkt.T, rkt) / t
    sk0 = np.dot(rkt.T, r0t) / t
    s00 = np.dot(r0t.T, r0t) / t
    try:
        sig = np.dot(sk0, np.linalg.solve(s00, sk0.T))
        eigvals, eigvecs = sla.eigh(0.5 * (sig + sig.T), skk)
    except (np.linalg.LinAlgError, sla.LinAlgError) as exc:
        raise AnalyticsError(f"johansen: singular moment matrix ({exc}); are some series collinear?") from None
    order = np.argsort(eigvals)[::-1]
    a = np.clip(eigvals[order], 0.0, 1.0 - 1e-15)
    d = eigvecs[:, order]
    d = d * np.where(d[0, :] < 0, -1.0, 1.0)[None, :]
    lr1 = np.array([-t * np.sum(np.log(1.0 - a[i:])) for i in range(neqs)])
    lr2 = -t * np.log(1.0 - a)
    cvt = np.array([c_sjt(neqs - i, det_order) for i in range(neqs)], dtype=np.float64)
    cvm = np.array([c_sja(neqs - i, det_order) for i in range(neqs)], dtype=np.float64)

    def _rank(stat: np.ndarray, crit: np.ndarray) -> int:
        r = 0
        while r < neqs and stat[r] > crit[r, 1]:
            r += 1
        return r

    return JohansenResult(
        names=names,
        eigenvalues=a,
        eigenvectors=d,
        trace_stat=lr1,
        trace_crit=cvt,
        max_eig_stat=lr2,
        max_eig_crit=cvm,
        rank_trace=_rank(lr1, cvt),
        rank_max_eig=_rank(lr2, cvm),
        det_order=det_order,
        k_ar_diff=k,
        nobs=t,
    )
