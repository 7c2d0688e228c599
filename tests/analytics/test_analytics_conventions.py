"""Published conventions on request (issue 15), each against a minimal numpy transcription of the formula.

The reference implementations below are written from the published formulas (Chan 2013's
MATLAB listing for the Kalman filter; the Dickey-Fuller regression; the sample standard
deviation), not from quantkit's code, and run on data the tests generate.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import quantkit.analytics as qa
from quantkit.errors import AnalyticsError


def _chan_kalman(y: np.ndarray, x: np.ndarray, delta: float, ve: float, *, skip_first_predict: bool):
    """Chan (2013) example 3.3, KF_beta_EWA_EWC.m, transcribed line by line (2x2 matrices)."""
    n = len(y)
    X = np.column_stack([x, np.ones(n)])
    vw = delta / (1 - delta) * np.eye(2)
    P = np.zeros((2, 2))
    R = np.zeros((2, 2))
    beta = np.zeros((2, n))
    e = np.empty(n)
    Q = np.empty(n)
    for t in range(n):
        if t > 0:
            beta[:, t] = beta[:, t - 1]
        if t > 0 or not skip_first_predict:
            R = P + vw
        yhat = X[t] @ beta[:, t]
        Q[t] = X[t] @ R @ X[t] + ve
        e[t] = y[t] - yhat
        K = R @ X[t] / Q[t]
        beta[:, t] = beta[:, t] + K * e[t]
        P = R - np.outer(K, X[t]) @ R
    return beta[0], beta[1], e, Q


def _pair(seed: int, n: int):
    rng = np.random.default_rng(seed)
    x = 20 + np.cumsum(rng.normal(0, 0.2, n))
    y = 3 + 1.2 * x + rng.normal(0, 0.3, n)
    return y, x


@pytest.mark.parametrize("init, skip", [("textbook", True), ("predict", False)])
def test_kalman_init_matches_chan_transcription(init, skip):
    """init='textbook' is Chan's listing (no prediction at bar 1); 'predict' runs the prediction every bar."""
    y, x = _pair(1, 1500)
    kf = qa.kalman_hedge(y, x, delta=1e-4, ve=1e-3, init=init)
    b, a, e, q = _chan_kalman(y, x, 1e-4, 1e-3, skip_first_predict=skip)
    np.testing.assert_allclose(kf.frame["beta"], b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kf.frame["alpha"], a, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kf.frame["e"], e, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kf.frame["q"], q, rtol=1e-9, atol=1e-15)
    assert kf.init == init


def test_kalman_textbook_first_bar_and_default():
    """Textbook: q_0 = Ve and the state stays 0 at bar 0; the default is 'predict' and the two differ."""
    y, x = _pair(2, 300)
    tb = qa.kalman_hedge(y, x, init="textbook")
    pr = qa.kalman_hedge(y, x)
    assert tb.frame["q"].iloc[0] == pytest.approx(1e-3)
    assert tb.frame["beta"].iloc[0] == 0.0 and tb.frame["alpha"].iloc[0] == 0.0
    assert pr.init == "predict" and pr.frame["beta"].iloc[0] != 0.0
    assert not np.allclose(tb.frame["beta"].to_numpy(), pr.frame["beta"].to_numpy(), rtol=0, atol=1e-12)
    with pytest.raises(AnalyticsError, match="init"):
        qa.kalman_hedge(y, x, init="book")


@pytest.mark.parametrize("ddof", [0, 1])
def test_zscore_and_bands_ddof_match_window_formula(ddof):
    """z = (s - mean_w) / std_w with divisor w - ddof, computed window by window."""
    rng = np.random.default_rng(3)
    s = 50 + np.cumsum(rng.normal(size=400)) * 0.1 + rng.normal(size=400)
    w = 25
    win = sliding_window_view(s, w)
    mean = win.mean(axis=1)
    std = win.std(axis=1, ddof=ddof)
    z_ref = np.full(len(s), np.nan)
    z_ref[w - 1:] = (s[w - 1:] - mean) / std
    np.testing.assert_allclose(qa.zscore(s, w, ddof=ddof).to_numpy(), z_ref, rtol=1e-10, equal_nan=True)
    bands = qa.bollinger_bands(s, w, k=2.0, ddof=ddof)
    np.testing.assert_allclose(bands["upper"].to_numpy()[w - 1:], mean + 2 * std, rtol=1e-12)
    if ddof == 1:  # the sample deviation is sqrt(w / (w - 1)) times the population one
        z0 = qa.zscore(s, w, ddof=0).to_numpy()[w - 1:]
        np.testing.assert_allclose(z0, z_ref[w - 1:] * np.sqrt(w / (w - 1)), rtol=1e-10)


def _adf_regression(x: np.ndarray, lags: int, regression: str):
    """dx_t = [const, trend] + gamma x_{t-1} + sum_j phi_j dx_{t-j} + e_t by least squares."""
    dx = np.diff(x)
    rows = range(lags, len(dx))
    cols = {}
    t = np.arange(1, len(rows) + 1, dtype=float)
    if regression in ("c", "ct"):
        cols["const"] = np.ones(len(rows))
    if regression == "ct":
        cols["trend"] = t
    for j in range(1, lags + 1):
        cols[f"diff_lag{j}"] = np.array([dx[i - j] for i in rows])
    cols["level_lag1"] = np.array([x[i] for i in rows])
    X = np.column_stack(list(cols.values()))
    target = np.array([dx[i] for i in rows])
    b, *_ = np.linalg.lstsq(X, target, rcond=None)
    resid = target - X @ b
    s2 = resid @ resid / (X.shape[0] - X.shape[1])
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    return dict(zip(cols, b)), dict(zip(cols, se))


@pytest.mark.parametrize("regression", ["c", "ct", "n"])
def test_adf_carries_regression_coefficients(regression):
    """ADF results expose every coefficient and standard error; stat = gamma / se(gamma)."""
    rng = np.random.default_rng(4)
    s = np.zeros(600)
    for i in range(1, 600):
        s[i] = 0.95 * s[i - 1] + rng.normal()
    s += 10.0
    res = qa.adf(s, lags=3, regression=regression)
    coefs, ses = _adf_regression(s, 3, regression)
    assert list(res.coefs) == list(coefs)
    for k in coefs:
        assert res.coefs[k] == pytest.approx(coefs[k], rel=1e-8, abs=1e-12)
        assert res.std_errors[k] == pytest.approx(ses[k], rel=1e-8)
    assert res.gamma == res.coefs["level_lag1"]
    assert res.stat == pytest.approx(res.gamma / res.se_gamma, rel=1e-9)
    assert "coefs[level_lag1]" in res.to_frame().columns


def test_engle_granger_carries_both_regressions():
    """Engle-Granger: the cointegrating regression's alpha/beta with standard errors, and the residual ADF's."""
    y, x = _pair(5, 800)
    res = qa.engle_granger(y, x, lags=1)
    X = np.column_stack([np.ones(len(x)), x])
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ b
    s2 = resid @ resid / (len(y) - 2)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    assert (res.alpha, res.beta) == pytest.approx(tuple(b), rel=1e-9)
    assert (res.se_alpha, res.se_beta) == pytest.approx(tuple(se), rel=1e-8)
    coefs, ses = _adf_regression(resid, 1, "n")
    assert res.coefs == pytest.approx(coefs, rel=1e-8)
    assert res.std_errors == pytest.approx(ses, rel=1e-8)
    assert res.stat == pytest.approx(res.gamma / res.se_gamma, rel=1e-9)
