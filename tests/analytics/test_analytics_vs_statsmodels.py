"""quantkit.analytics against statsmodels on the same inputs, to tight tolerances."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.regression.rolling import RollingOLS
from statsmodels.tsa.stattools import adfuller, coint
from statsmodels.tsa.stattools import kpss as sm_kpss
from statsmodels.tsa.vector_ar.vecm import coint_johansen

from quantkit.analytics import (
    adf,
    engle_granger,
    expanding_ols,
    huber_hedge,
    johansen,
    johansen_hedge,
    kpss,
    ols_hedge,
    rolling_ols,
    tls_hedge,
)


def _scaled_close(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """|a - b| <= tol * (|b| + typical scale of b), NaN patterns equal."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    m = ~np.isnan(b)
    scale = np.nanstd(b[m]) + np.nanmean(np.abs(b[m]))
    return bool(np.all(np.abs(a[m] - b[m]) <= tol * (np.abs(b[m]) + scale)))


@pytest.mark.parametrize("seed", [0, 1])
def test_ols_hedge_matches_statsmodels_ols(coint_pair, seed):
    """OLS with intercept: alpha, beta, R^2 and standard errors equal statsmodels OLS."""
    y, x, _ = coint_pair(seed, 800)
    res = ols_hedge(y, x)
    ref = sm.OLS(y.to_numpy(), sm.add_constant(x.to_numpy())).fit()
    np.testing.assert_allclose([res.alpha, res.beta], ref.params, rtol=1e-10)
    np.testing.assert_allclose([res.se_alpha, res.se_beta], ref.bse, rtol=1e-9)
    assert res.r2 == pytest.approx(ref.rsquared, rel=1e-12)
    assert res.n == 800
    np.testing.assert_allclose(res.resid.to_numpy(), ref.resid, rtol=1e-9, atol=1e-9)
    assert res.resid.index.equals(y.index)


def test_ols_without_intercept_matches_statsmodels(coint_pair):
    """OLS through the origin: beta, its se and the uncentred R^2 equal statsmodels OLS without a constant."""
    y, x, _ = coint_pair(3, 500)
    res = ols_hedge(y, x, intercept=False)
    ref = sm.OLS(y.to_numpy(), x.to_numpy()).fit()
    assert res.beta == pytest.approx(ref.params[0], rel=1e-12)
    assert res.se_beta == pytest.approx(ref.bse[0], rel=1e-10)
    assert res.r2 == pytest.approx(ref.rsquared, rel=1e-12)
    assert res.alpha == 0.0 and np.isnan(res.se_alpha)


@pytest.mark.parametrize("window", [3, 30, 250])
def test_rolling_ols_matches_statsmodels_rolling_ols(coint_pair, window):
    """Rolling OLS alpha/beta equal statsmodels RollingOLS (same warm-up NaNs).

    The tolerance is statsmodels' own: its running X'X updates lose ~1e-8 on
    near-degenerate 3-bar windows, where ours equals an exact refit (next test).
    """
    y, x, _ = coint_pair(11, 1500)
    ours = rolling_ols(y, x, window)
    ref = RollingOLS(y.to_numpy(), sm.add_constant(x.to_numpy()), window=window).fit()
    assert _scaled_close(ours["beta"], ref.params[:, 1], 1e-7)
    assert _scaled_close(ours["alpha"], ref.params[:, 0], 1e-7)
    assert ours["beta"].isna().sum() == window - 1


def test_rolling_ols_at_btc_price_level_matches_exact_refit(price_pair):
    """At a 60,000 price level the rolling fit equals an exact per-window refit to 1e-9."""
    y, x = price_pair
    ours = rolling_ols(y, x, 120)
    for t in range(119, len(y), 173):
        ref = ols_hedge(y.iloc[t - 119 : t + 1], x.iloc[t - 119 : t + 1])
        assert ours["beta"].iloc[t] == pytest.approx(ref.beta, rel=1e-9)
        assert ours["alpha"].iloc[t] == pytest.approx(ref.alpha, rel=1e-9, abs=1e-9 * abs(y.iloc[t]))


def test_rolling_ols_without_intercept_matches_statsmodels(coint_pair):
    """Rolling OLS through the origin equals statsmodels RollingOLS without a constant."""
    y, x, _ = coint_pair(12, 600)
    ours = rolling_ols(y, x, 40, intercept=False)
    ref = RollingOLS(y.to_numpy(), x.to_numpy()[:, None], window=40).fit()
    assert _scaled_close(ours["beta"], ref.params[:, 0], 1e-9)
    assert (ours["alpha"].dropna() == 0.0).all()


def test_expanding_ols_matches_refit(coint_pair):
    """Expanding OLS at bar t equals OLS on bars 0..t."""
    y, x, _ = coint_pair(13, 400)
    ours = expanding_ols(y, x, min_periods=5)
    assert ours["beta"].iloc[:4].isna().all()
    for t in (4, 10, 99, 399):
        ref = sm.OLS(y.to_numpy()[: t + 1], sm.add_constant(x.to_numpy()[: t + 1])).fit()
        assert ours["beta"].iloc[t] == pytest.approx(ref.params[1], rel=1e-9)
        assert ours["alpha"].iloc[t] == pytest.approx(ref.params[0], rel=1e-8)


def test_huber_matches_statsmodels_rlm(coint_pair):
    """Huber IRLS equals statsmodels RLM(HuberT) run to the same tight convergence, with outliers present."""
    y, x, _ = coint_pair(5, 700)
    y = y.copy()
    y.iloc[::50] += 25.0  # bad ticks
    ours = huber_hedge(y, x, tol=1e-13, maxiter=500)
    ref = sm.RLM(y.to_numpy(), sm.add_constant(x.to_numpy()), M=sm.robust.norms.HuberT()).fit(tol=1e-14, maxiter=500)
    assert ours.beta == pytest.approx(ref.params[1], rel=1e-8)
    assert ours.alpha == pytest.approx(ref.params[0], rel=1e-7)
    assert ours.scale == pytest.approx(ref.scale, rel=1e-6)
    # and the robust fit is closer to the truth (1.5) than OLS under those outliers
    assert abs(ours.beta - 1.5) < abs(ols_hedge(y, x).beta - 1.5)


def test_tls_matches_svd(coint_pair):
    """Total least squares equals the smallest right singular vector of the centred data."""
    y, x, _ = coint_pair(6, 500)
    ours = tls_hedge(y, x)
    data = np.column_stack([x.to_numpy() - x.mean(), y.to_numpy() - y.mean()])
    _, _, vt = np.linalg.svd(data, full_matrices=False)
    a, b = vt[-1]
    assert ours.beta == pytest.approx(-a / b, rel=1e-10)
    assert ours.alpha == pytest.approx(y.mean() - ours.beta * x.mean(), rel=1e-10)
    # symmetric: the x-on-y TLS slope is the reciprocal
    assert tls_hedge(x, y).beta == pytest.approx(1.0 / ours.beta, rel=1e-10)


@pytest.mark.parametrize("regression", ["c", "ct", "ctt", "n"])
@pytest.mark.parametrize("autolag", ["AIC", "BIC", None])
def test_adf_matches_adfuller(coint_pair, regression, autolag):
    """ADF statistic, p-value, chosen lags, nobs, critical values and IC equal statsmodels adfuller."""
    _, _, s = coint_pair(21, 600, half_life=40.0)
    ours = adf(s, autolag=autolag, regression=regression)
    ref = adfuller(s, autolag=autolag, regression=regression, result_object=True)
    assert ours.lags == ref.lags and ours.nobs == ref.nobs
    assert ours.stat == pytest.approx(ref.statistic, rel=1e-9)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-12)
    for k in ("1%", "5%", "10%"):
        assert ours.crit[k] == pytest.approx(ref.critical_values[k], rel=1e-12)
    if autolag:
        assert ours.icbest == pytest.approx(ref.icbest, rel=1e-10)
        assert ours.lag_choice == autolag
    else:
        assert ours.icbest is None and ours.lag_choice == "fixed"


def test_adf_fixed_lags_and_maxlag(coint_pair):
    """A fixed lag count equals adfuller(maxlag=p, autolag=None); an explicit maxlag bounds the AIC search."""
    y, _, _ = coint_pair(22, 400)
    for p in (0, 1, 5):
        ours = adf(y, lags=p)
        ref = adfuller(y, maxlag=p, autolag=None, result_object=True)
        assert ours.lags == p and ours.stat == pytest.approx(ref.statistic, rel=1e-10)
    ours = adf(y, maxlag=3)
    ref = adfuller(y, maxlag=3, result_object=True)
    assert ours.lags == ref.lags and ours.maxlag == 3 and ours.stat == pytest.approx(ref.statistic, rel=1e-10)


@pytest.mark.parametrize("regression", ["c", "ct"])
@pytest.mark.parametrize("nlags", ["auto", "legacy", 4])
def test_kpss_matches_statsmodels(coint_pair, regression, nlags):
    """KPSS statistic, p-value, lags and critical values equal statsmodels kpss."""
    _, x, s = coint_pair(23, 500)
    for series in (s, x.to_numpy()):
        ours = kpss(series, regression=regression, nlags=nlags)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sm_kpss(series, regression=regression, nlags=nlags, result_object=True)
        assert ours.lags == ref.lags
        assert ours.stat == pytest.approx(ref.statistic, rel=1e-10)
        assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
        assert ours.crit == ref.critical_values


@pytest.mark.parametrize("trend", ["c", "ct", "n"])
@pytest.mark.parametrize("method", ["qr", "gram"])
def test_engle_granger_matches_coint(coint_pair, random_walks, trend, method):
    """Engle-Granger statistic, p-value (N=2) and critical values equal statsmodels coint."""
    y, x, _ = coint_pair(31, 700, half_life=60.0)
    ry, rx = random_walks(32, 700)
    for a, b in ((y, x), (x, y), (ry, rx)):
        ours = engle_granger(a, b, trend=trend, method=method)
        ref = coint(a.to_numpy(), b.to_numpy(), trend=trend)
        assert ours.stat == pytest.approx(ref[0], rel=1e-9)
        assert ours.pvalue == pytest.approx(ref[1], rel=1e-7, abs=1e-12)
        if trend != "n":
            np.testing.assert_allclose(list(ours.crit.values()), ref[2], rtol=1e-12)


def test_engle_granger_uses_eg_not_adf_critical_values(coint_pair):
    """The EG 5% critical value (N=2) is more negative than the plain ADF one on the same residuals."""
    y, x, _ = coint_pair(33, 1000)
    eg = engle_granger(y, x)
    plain = adf(eg.resid, regression="n")
    assert eg.stat == pytest.approx(plain.stat, rel=1e-12)  # same statistic...
    assert eg.crit["5%"] < -3.3 < plain.crit["5%"]  # ...judged against a different distribution
    assert eg.pvalue > plain.pvalue


@pytest.mark.parametrize("det_order", [-1, 0, 1])
@pytest.mark.parametrize("k_ar_diff", [0, 1, 3])
def test_johansen_matches_coint_johansen(coint_pair, det_order, k_ar_diff):
    """Johansen eigenvalues, trace/max-eig statistics and critical values equal statsmodels (vectors up to sign)."""
    y, x, _ = coint_pair(41, 600)
    rng = np.random.default_rng(141)  # not 41: that would replay x's increments
    z = 50 + np.cumsum(rng.normal(size=600))
    data = np.column_stack([y.to_numpy(), x.to_numpy(), z])
    ours = johansen(data, det_order=det_order, k_ar_diff=k_ar_diff)
    ref = coint_johansen(data, det_order, k_ar_diff)
    np.testing.assert_allclose(ours.eigenvalues, ref.eig, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ours.trace_stat, ref.lr1, rtol=1e-9)
    np.testing.assert_allclose(ours.max_eig_stat, ref.lr2, rtol=1e-9)
    np.testing.assert_allclose(ours.trace_crit, ref.cvt)
    np.testing.assert_allclose(ours.max_eig_crit, ref.cvm)
    np.testing.assert_allclose(np.abs(ours.eigenvectors), np.abs(ref.evec), rtol=1e-7, atol=1e-10)


def test_johansen_hedge_is_first_eigenvector(coint_pair):
    """The Johansen hedge ratio is -v1/v0 of statsmodels' first eigenvector."""
    y, x, _ = coint_pair(42, 800)
    ours = johansen_hedge(y, x)
    ref = coint_johansen(np.column_stack([y, x]), 0, 1)
    assert ours.beta == pytest.approx(-ref.evec[1, 0] / ref.evec[0, 0], rel=1e-9)


def test_johansen_accepts_dataframe_names(coint_pair):
    """A DataFrame keeps its column names in the result and to_frame() has one row per hypothesis."""
    y, x, _ = coint_pair(43, 300)
    res = johansen(pd.DataFrame({"AAA": y, "BBB": x}))
    assert res.names == ("AAA", "BBB")
    table = res.to_frame()
    assert list(table.index) == ["r<=0", "r<=1"]
    assert {"trace", "trace_95", "max_eig", "max_eig_95"} <= set(table.columns)
    assert res.vector(0)["AAA"] == 1.0
