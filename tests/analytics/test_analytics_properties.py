"""Property tests (hypothesis): no look-ahead, z-score affine invariance, streaming == batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.analytics import (
    PairStream,
    RollingCovariance,
    RollingMoments,
    align_pair,
    bollinger_bands,
    expanding_ols,
    kalman_hedge,
    rolling_correlation,
    rolling_mean_std,
    rolling_ols,
    spread,
    zscore,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def price_paths(draw, min_n: int = 12, max_n: int = 160):
    """A seeded pair of positive price-like paths (level, volatility and correlation drawn)."""
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    level = draw(st.sampled_from([1.0, 100.0, 60_000.0]))
    vol = draw(st.sampled_from([1e-4, 1e-3, 1e-2]))
    rho = draw(st.floats(-0.9, 0.95))
    rng = np.random.default_rng(seed)
    e1 = rng.normal(0, vol, n)
    e2 = rho * e1 + np.sqrt(1 - rho * rho) * rng.normal(0, vol, n)
    x = level * np.exp(np.cumsum(e1))
    y = 0.5 * level * np.exp(np.cumsum(e2) + rng.normal(0, vol / 3, n))
    return y, x


def _perturb_after(a: np.ndarray, k: int, rng_seed: int) -> np.ndarray:
    b = a.copy()
    rng = np.random.default_rng(rng_seed)
    b[k:] = b[k:] * np.exp(rng.normal(0, 0.05, len(b) - k))
    return b


def _same_prefix(a: pd.Series | pd.DataFrame, b: pd.Series | pd.DataFrame, k: int) -> bool:
    return bool(np.array_equal(np.asarray(a)[:k], np.asarray(b)[:k], equal_nan=True))


@SETTINGS
@given(data=price_paths(min_n=14), frac=st.floats(0.1, 0.95), window=st.integers(3, 12), pseed=st.integers(0, 1000))
def test_no_lookahead_rolling_expanding_kalman_zscore(data, frac, window, pseed):
    """Changing values from bar k on never changes any output before bar k (bit for bit)."""
    y, x = data
    n = len(y)
    k = max(1, int(frac * n))
    y2 = _perturb_after(y, k, pseed)
    x2 = _perturb_after(x, k, pseed + 1)
    assert _same_prefix(rolling_ols(y, x, window), rolling_ols(y2, x2, window), k)
    assert _same_prefix(rolling_ols(y, x, window, intercept=False), rolling_ols(y2, x2, window, intercept=False), k)
    assert _same_prefix(expanding_ols(y, x), expanding_ols(y2, x2), k)
    assert _same_prefix(kalman_hedge(y, x).frame, kalman_hedge(y2, x2).frame, k)
    s1 = spread(y, x, rolling_ols(y, x, window)["beta"], rolling_ols(y, x, window)["alpha"])
    s2 = spread(y2, x2, rolling_ols(y2, x2, window)["beta"], rolling_ols(y2, x2, window)["alpha"])
    assert _same_prefix(zscore(s1, window), zscore(s2, window), k)
    assert _same_prefix(bollinger_bands(s1, window), bollinger_bands(s2, window), k)
    assert _same_prefix(rolling_correlation(y, x, window), rolling_correlation(y2, x2, window), k)


@SETTINGS
@given(
    n_y=st.integers(5, 60),
    n_x=st.integers(5, 60),
    seed=st.integers(0, 10_000),
    frac=st.floats(0.1, 0.9),
    staleness=st.sampled_from([None, "3s", "20s"]),
)
def test_no_lookahead_alignment(n_y, n_x, seed, frac, staleness):
    """Asynchronous legs: changing or adding observations after time T never changes aligned rows before T."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    ty = t0 + pd.to_timedelta(np.sort(rng.integers(0, 120_000, n_y)), unit="ms")
    tx = t0 + pd.to_timedelta(np.sort(rng.integers(0, 120_000, n_x)), unit="ms")
    y = pd.Series(100 + rng.normal(size=n_y).cumsum(), index=ty)
    x = pd.Series(50 + rng.normal(size=n_x).cumsum(), index=tx)
    cut = t0 + pd.Timedelta(milliseconds=int(frac * 120_000))
    y2 = y.copy()
    y2[y2.index >= cut] += 7.0
    # stable: same-millisecond observations keep their arrival order (quicksort would swap them)
    x2 = pd.concat([x, pd.Series([1.0], index=[cut + pd.Timedelta("1ms")])]).sort_index(kind="stable")
    for how in ("inner", "ffill"):
        try:
            a = align_pair(y, x, how=how, max_staleness=staleness)
            b = align_pair(y2, x2, how=how, max_staleness=staleness)
        except Exception as exc:  # no overlap at all is a legitimate AnalyticsError for both
            assert "do not overlap" in str(exc)
            continue
        pa, pb = a[a.index < cut], b[b.index < cut]
        pd.testing.assert_frame_equal(pa, pb)
    # on a 1s grid, a bucket's value is known at its end: rows whose bucket ends by the cut are unchanged
    try:
        a = align_pair(y, x, how="ffill", freq="1s")
        b = align_pair(y2, x2, how="ffill", freq="1s")
    except Exception as exc:
        assert "do not overlap" in str(exc)
        return
    end_ok = a.index + pd.Timedelta("1s") <= cut
    pd.testing.assert_frame_equal(a[end_ok], b[b.index.isin(a.index[end_ok])])


@SETTINGS
@given(
    data=price_paths(min_n=30),
    window=st.integers(5, 25),
    scale=st.sampled_from([1e-3, 0.5, 3.0, 1e4]),
    shift_factor=st.floats(-100.0, 100.0),
    ddof=st.sampled_from([0, 1]),
)
def test_zscore_invariant_to_affine_rescaling(data, window, scale, shift_factor, ddof):
    """z(a*s + b) == z(s) for a > 0 (and == -z(s) for a < 0), up to round-off.

    The shift is drawn relative to the spread's own scale (a shift 1e10 times the
    spread's spread would erase the signal in float64 before any analytics run).
    """
    y, x = data
    s = pd.Series(y - 0.5 * x)
    shift = shift_factor * scale * float(s.std() + abs(s.mean()))
    z = zscore(s, window, ddof=ddof)
    z_pos = zscore(scale * s + shift, window, ddof=ddof)
    z_neg = zscore(-scale * s + shift, window, ddof=ddof)
    valid = z.notna() & z_pos.notna()
    assert valid.sum() >= 1 or z.isna().all()
    np.testing.assert_allclose(z_pos[valid], z[valid], rtol=1e-6, atol=1e-6)
    valid_n = z.notna() & z_neg.notna()
    np.testing.assert_allclose(z_neg[valid_n], -z[valid_n], rtol=1e-6, atol=1e-6)


def _close_to_batch(stream: np.ndarray, batch: np.ndarray, tol: float = 1e-9, cond: np.ndarray | float = 1.0) -> None:
    """Equal NaN patterns and |a-b| <= (tol + 64 eps cond) * (|b| + scale of b).

    ``cond`` is the condition number of each bar's window for the estimate compared: no algorithm
    computes a variance or a slope more exactly than ~eps times it (mean^2 / variance for a std,
    (mean_x^2 + var_x) / var_x for an OLS slope), and a near-flat window of prices at 60,000 reaches
    1e8. Streaming and batch round differently, so the bound grows with it.
    """
    stream = np.asarray(stream, dtype=float)
    batch = np.asarray(batch, dtype=float)
    assert np.array_equal(np.isnan(stream), np.isnan(batch))
    m = ~np.isnan(batch)
    if not m.any():
        return
    scale = np.std(batch[m]) + np.mean(np.abs(batch[m]))
    k = np.broadcast_to(np.asarray(cond, dtype=float), batch.shape)[m]
    allowed = (tol + 64 * np.finfo(float).eps * k) * (np.abs(batch[m]) + scale)
    np.testing.assert_array_less(np.abs(stream[m] - batch[m]), allowed + 1e-300)


def _condition(s: np.ndarray, window: int) -> np.ndarray:
    """Per bar: (mean^2 + var) / var of the window ending there (inf for a constant window)."""
    ms = rolling_mean_std(s, window)
    var = ms["std"].to_numpy() ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num((ms["mean"].to_numpy() ** 2 + var) / var, nan=1.0, posinf=np.inf)


@SETTINGS
@given(
    data=price_paths(min_n=40, max_n=300),
    window=st.integers(3, 30),
    z_window=st.integers(5, 30),
    corr_window=st.integers(3, 30),
    log=st.booleans(),
    recompute=st.sampled_from([None, 7, 50]),
)
def test_pair_stream_equals_batch(data, window, z_window, corr_window, log, recompute):
    """PairStream bar by bar equals the batch functions on the same bars (1e-9 of scale)."""
    y, x = data
    ps = PairStream(window, z_window=z_window, corr_window=corr_window, log=log, recompute_every=recompute)
    out = ps.run(y, x)
    roll = rolling_ols(y, x, window, log=log)
    s = spread(y, x, roll["beta"], roll["alpha"], log=log)
    ms = rolling_mean_std(s, z_window)
    _close_to_batch(out["beta"], roll["beta"])
    _close_to_batch(out["alpha"], roll["alpha"])
    _close_to_batch(out["spread"], s)
    _close_to_batch(out["spread_mean"], ms["mean"])
    _close_to_batch(out["spread_std"], ms["std"])
    _close_to_batch(out["z"], zscore(s, z_window))
    _close_to_batch(out["corr"], rolling_correlation(y, x, corr_window))
    k = kalman_hedge(y, x, log=log).frame
    _close_to_batch(out["kalman_beta"], k["beta"], 1e-12)
    _close_to_batch(out["kalman_e"], k["e"], 1e-12)
    _close_to_batch(out["kalman_q"], k["q"], 1e-12)
    assert ps.snapshot()["beta"] == pytest.approx(roll["beta"].iloc[-1], rel=1e-9, nan_ok=True)


@SETTINGS
@given(data=price_paths(min_n=20, max_n=300), window=st.integers(2, 40), ddof=st.sampled_from([0, 1]),
       recompute=st.sampled_from([None, 3, 64]))
def test_rolling_estimators_equal_batch(data, window, ddof, recompute):
    """RollingMoments / RollingCovariance equal rolling_mean_std / rolling_ols bar by bar."""
    y, x = data
    w = min(window, len(y))
    rm = RollingMoments(max(w, 2), ddof=ddof if ddof < max(w, 2) else 0, recompute_every=recompute)
    rc = RollingCovariance(max(w, 3), recompute_every=recompute)
    means, stds, betas, alphas = [], [], [], []
    for yy, xx in zip(y.tolist(), x.tolist()):
        rm.update(yy)
        rc.update(xx, yy)
        means.append(rm.mean if rm.ready else np.nan)
        stds.append(rm.std)
        betas.append(rc.beta)
        alphas.append(rc.alpha)
    ms = rolling_mean_std(y, rm.window, ddof=rm.ddof)
    _close_to_batch(np.array(means), ms["mean"])
    _close_to_batch(np.array(stds), ms["std"], cond=_condition(y, rm.window))
    roll = rolling_ols(y, x, rc.window)
    kx = _condition(x, rc.window)
    _close_to_batch(np.array(betas), roll["beta"], cond=kx)
    _close_to_batch(np.array(alphas), roll["alpha"], cond=kx)
