"""Estimators on seeded synthetic data with known truth: assert what theory says, over many seeds.

Tolerances follow the estimators' known behaviour:

* Engle-Granger size: for two independent random walks the 5% test rejects in
  about 5% of samples (MacKinnon's N=2 distribution); over 200 seeds the count is
  Binomial(200, p) and is checked against a 99.9% binomial interval for p in
  [0.03, 0.08] (the AIC lag search costs a little size in finite samples).
* Plain ADF critical values on the *estimated* residuals over-reject (the classic
  mistake the EG distribution corrects).
* Power grows with ``n * (1 - phi)``: near nominal power with long samples relative
  to the half-life, low with short ones.
* The AR(1) half-life is biased low in small samples (Kendall 1954) and
  consistent in large ones.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quantkit.analytics import (
    adf,
    engle_granger,
    half_life,
    hurst,
    johansen,
    johansen_hedge,
    kalman_hedge,
    kpss,
    ols_hedge,
    ou_fit,
    variance_ratio,
)

N_SIZE = 200


def _binom_bounds(n: int, p_lo: float, p_hi: float, conf: float = 0.999) -> tuple[int, int]:
    a = (1.0 - conf) / 2.0
    return int(stats.binom.ppf(a, n, p_lo)), int(stats.binom.ppf(1.0 - a, n, p_hi))


@pytest.fixture(scope="module")
def independent_eg(random_walks):
    """EG results (y on x) for 200 independent random-walk pairs of 500 bars."""
    out = []
    for seed in range(N_SIZE):
        y, x = random_walks(10_000 + seed, 500)
        out.append(engle_granger(y, x, method="gram"))
    return out


def test_engle_granger_size_on_independent_walks(independent_eg):
    """EG at 5% rejects independent random walks about 5% of the time (binomial tolerance)."""
    rejections = sum(r.pvalue < 0.05 for r in independent_eg)
    lo, hi = _binom_bounds(N_SIZE, 0.03, 0.08)
    assert lo <= rejections <= hi, rejections
    # p-values under H0 are roughly uniform: about half are above 0.5
    above_half = sum(r.pvalue > 0.5 for r in independent_eg)
    lo2, hi2 = _binom_bounds(N_SIZE, 0.4, 0.6)
    assert lo2 <= above_half <= hi2


def test_plain_adf_on_residuals_over_rejects(independent_eg):
    """The mistake: Dickey-Fuller critical values on estimated residuals reject far above 5%."""
    wrong = sum(adf(r.resid, regression="c").pvalue < 0.05 for r in independent_eg)
    right = sum(r.pvalue < 0.05 for r in independent_eg)
    lo, _ = _binom_bounds(N_SIZE, 0.10, 0.10)
    assert wrong >= lo  # at least ~10%: double the nominal size
    assert wrong > 2 * right


def test_engle_granger_power_grows_with_sample_length(coint_pair):
    """With a 50-bar half-life, power is low at 300 bars and near 1 at 2,000 bars (n(1-phi) = 27)."""
    rates = {}
    for n in (300, 2000):
        hits = 0
        for seed in range(40):
            y, x, _ = coint_pair(20_000 + seed, n, half_life=50.0)
            hits += engle_granger(y, x, method="gram").pvalue < 0.05
        rates[n] = hits / 40
    assert rates[2000] >= 0.8
    assert rates[300] < rates[2000] - 0.4


def test_engle_granger_power_fast_reversion(coint_pair):
    """A 10-bar half-life over 1,000 bars is detected essentially always, in both directions."""
    for seed in range(20):
        y, x, _ = coint_pair(30_000 + seed, 1000, half_life=10.0)
        assert engle_granger(y, x, method="gram").pvalue < 0.05
        assert engle_granger(x, y, method="gram").pvalue < 0.05


def test_ols_beta_is_superconsistent(coint_pair):
    """The cointegrating beta error shrinks like 1/n: 8x the data gives several times smaller errors."""
    err = {}
    for n in (500, 4000):
        err[n] = np.median([abs(ols_hedge(*coint_pair(40_000 + s, n)[:2]).beta - 1.5) for s in range(30)])
    assert err[4000] < err[500] / 3.0


def test_half_life_biased_low_in_small_samples_consistent_in_large(coint_pair):
    """AR(1) half-life: median below the truth at 200 bars, within 10% at 20,000 bars."""
    small = [half_life(coint_pair(50_000 + s, 200, half_life=20.0)[2]).exact for s in range(100)]
    assert np.median(small) < 20.0
    large = [half_life(coint_pair(60_000 + s, 20_000, half_life=20.0)[2]).exact for s in range(6)]
    assert abs(np.median(large) - 20.0) < 2.0


def test_half_life_exact_vs_approx(coint_pair):
    """approx = -ln2/gamma exceeds exact = -ln2/ln(1+gamma); the gap tends to ln2/2 for slow reversion."""
    y, _, s = coint_pair(1, 50_000, half_life=200.0)
    hl = half_life(pd.Series(s, index=y.index))
    assert hl.approx > hl.exact
    assert hl.approx - hl.exact == pytest.approx(math.log(2) / 2, abs=0.01)
    assert hl.exact == pytest.approx(-math.log(2) / math.log(1 + hl.gamma))
    assert hl.bar_seconds == 60.0 and hl.exact_seconds == pytest.approx(60.0 * hl.exact)


def test_half_life_of_random_walk_is_infinite_or_long(random_walks):
    """A random walk has gamma ~ 0: the estimated half-life is long (or infinite) in most samples."""
    long = 0
    for seed in range(50):
        y, _ = random_walks(70_000 + seed, 1000)
        h = half_life(y)
        long += (not h.mean_reverting) or h.exact > 100
    assert long >= 40


def test_ou_fit_recovers_parameters():
    """OU fit on an exactly simulated OU path recovers theta, mu and sigma."""
    theta, mu, sigma, dt, n = 0.5, 3.0, 0.8, 0.1, 100_000
    rng = np.random.default_rng(5)
    b = math.exp(-theta * dt)
    sd = sigma * math.sqrt((1 - b * b) / (2 * theta))
    s = np.empty(n)
    s[0] = mu
    e = rng.normal(0, sd, n)
    for i in range(1, n):
        s[i] = mu + b * (s[i - 1] - mu) + e[i]
    fit = ou_fit(s, dt=dt)
    assert fit.theta == pytest.approx(theta, rel=0.1)
    assert fit.mu == pytest.approx(mu, abs=0.1)
    assert fit.sigma == pytest.approx(sigma, rel=0.02)
    assert fit.half_life == pytest.approx(math.log(2) / theta, rel=0.1)
    assert fit.stationary_std == pytest.approx(sigma / math.sqrt(2 * theta), rel=0.1)


def test_hurst_random_walk_vs_mean_reverting(coint_pair, random_walks):
    """Hurst ~0.5 for random walks, well below 0.5 for a fast mean-reverting spread."""
    rw = [hurst(random_walks(80_000 + s, 5000)[0]).h for s in range(5)]
    assert abs(np.mean(rw) - 0.5) < 0.05
    mr = [hurst(coint_pair(81_000 + s, 5000, half_life=5.0)[2]).h for s in range(5)]
    assert max(mr) < 0.3


def test_variance_ratio_size_and_mean_reversion(coint_pair, random_walks):
    """VR z* rejects random walks about 5% of the time; a mean-reverting spread has VR well below 1."""
    rej = sum(variance_ratio(random_walks(90_000 + s, 1000)[0], q=5).pvalue < 0.05 for s in range(N_SIZE))
    lo, hi = _binom_bounds(N_SIZE, 0.03, 0.09)
    assert lo <= rej <= hi
    for seed in range(5):
        vr = variance_ratio(coint_pair(91_000 + seed, 2000, half_life=10.0)[2], q=10)
        assert vr.vr < 0.9 and vr.z < -1.96


def test_kpss_second_opinion(coint_pair, random_walks):
    """KPSS rejects stationarity for random walks and mostly not for a stationary spread."""
    assert all(kpss(random_walks(95_000 + s, 1000)[0]).pvalue < 0.05 for s in range(20))
    rej = sum(kpss(coint_pair(96_000 + s, 1000, half_life=5.0)[2]).pvalue < 0.05 for s in range(50))
    assert rej <= 10


def _drifting(seed: int, n: int, drift: float, coint: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 100 + np.cumsum(rng.normal(drift, 1.0, n))
    if coint:
        phi = 2 ** (-1 / 10)
        e = rng.normal(0, 1, n)
        s = np.zeros(n)
        for i in range(1, n):
            s[i] = phi * s[i - 1] + e[i]
        return np.column_stack([10 + 1.5 * x + s, x])
    return np.column_stack([100 + np.cumsum(rng.normal(drift, 1.0, n)), x])


def test_johansen_size_and_rank_under_its_assumptions():
    """det_order=0 (unrestricted constant) assumes drifting prices: size ~5% for r=0, rank 1 for a pair."""
    rej = sum(johansen(_drifting(100_000 + s, 500, 0.3, False)).rank_trace > 0 for s in range(N_SIZE))
    lo, hi = _binom_bounds(N_SIZE, 0.02, 0.08)
    assert lo <= rej <= hi
    ranks = [johansen(_drifting(110_000 + s, 1000, 0.3, True)).rank_trace for s in range(40)]
    assert ranks.count(1) >= 32  # P(rank=1) ~ 0.95 minus finite-sample effects
    assert ranks.count(0) == 0  # power ~1 with a 10-bar half-life


def test_johansen_hedge_close_to_truth(coint_pair):
    """The Johansen cointegrating vector recovers beta on long samples."""
    y, x, _ = coint_pair(7, 10_000, half_life=10.0)
    assert johansen_hedge(y, x).beta == pytest.approx(1.5, abs=0.02)


def test_kalman_tracks_a_beta_change():
    """The Kalman beta follows a step change of the true beta (delta large enough)."""
    rng = np.random.default_rng(3)
    n = 4000
    x = 50 + np.cumsum(rng.normal(0, 0.5, n))
    beta = np.where(np.arange(n) < n // 2, 1.0, 2.0)
    y = 5 + beta * x + rng.normal(0, 0.2, n)
    res = kalman_hedge(y, x, delta=1e-4, ve=0.04)
    assert res.frame["beta"].iloc[n // 2 - 10] == pytest.approx(1.0, abs=0.1)
    assert res.frame["beta"].iloc[-1] == pytest.approx(2.0, abs=0.1)


def test_kalman_forecast_errors_standardised_when_model_is_true():
    """When beta and alpha really are random walks with variance delta/(1-delta), e/sqrt(q) ~ N(0, 1)."""
    rng = np.random.default_rng(4)
    n, delta, ve = 6000, 1e-5, 0.01
    vw = delta / (1 - delta)
    x = 20 + np.cumsum(rng.normal(0, 0.2, n))
    beta = 1.0 + np.cumsum(rng.normal(0, math.sqrt(vw), n))
    alpha = 2.0 + np.cumsum(rng.normal(0, math.sqrt(vw), n))
    y = alpha + beta * x + rng.normal(0, math.sqrt(ve), n)
    z = kalman_hedge(y, x, delta=delta, ve=ve).zscore.iloc[500:]
    assert z.std() == pytest.approx(1.0, abs=0.05)
    assert abs(z.mean()) < 0.1


def test_synthetic_market_ground_truth():
    """On the exchange's SyntheticMarket mids: beta, cointegration and half-life match its .truth."""
    from quantkit.exchange.synthetic import SyntheticMarket

    market = SyntheticMarket(3)
    truth = market.truth
    mid = market.generate_mid(24 * 3600, every_s=5.0)
    y, x = mid[truth.y_symbol], mid[truth.x_symbol]
    fit = ols_hedge(y, x)
    assert fit.beta == pytest.approx(truth.beta, rel=0.02)
    assert engle_granger(y, x).pvalue < 0.01
    # half-life of the true spread: AR(1) sd of gamma ~ 10% here, so +-35% is ~3.5 sd
    hl = half_life(mid["spread"])
    assert hl.exact_seconds == pytest.approx(truth.half_life_s, rel=0.35)
    assert engle_granger(y, mid[truth.control_symbol]).pvalue > 0.01
