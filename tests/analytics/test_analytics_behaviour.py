"""Worked examples for alignment, spreads, relationships, market state, streaming and the scanner."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import quantkit.analytics as qa
from quantkit.schema import trades_to_frame, Trade

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def _s(values, seconds, name=None):
    return pd.Series(values, index=T0 + pd.to_timedelta(seconds, unit="s"), name=name, dtype=float)


# ----------------------------------------------------------------------------------------------- alignment


def test_align_inner_keeps_common_timestamps_only():
    """how='inner' keeps only the timestamps both legs observed."""
    y = _s([1, 2, 3, 4], [0, 1, 2, 3])
    x = _s([10, 30, 40], [0, 2, 5])
    out = qa.align_pair(y, x)
    assert list(out.columns) == ["y", "x"]
    assert out.index.equals(T0 + pd.to_timedelta([0, 2], unit="s"))
    assert out["y"].tolist() == [1, 3] and out["x"].tolist() == [10, 30]


def test_align_ffill_carries_last_observation_with_staleness_limit():
    """how='ffill' uses each leg's last observation at or before t; older than max_staleness drops the row."""
    y = _s([1, 2, 3, 4, 5], [0, 1, 2, 3, 10])
    x = _s([10, 30], [0.5, 2])
    out = qa.align_pair(y, x, how="ffill")
    # rows before x's first observation are dropped; no back-fill
    assert out.index[0] == T0 + pd.Timedelta("0.5s")
    assert out.loc[T0 + pd.Timedelta("1s")].tolist() == [2, 10]
    assert out.loc[T0 + pd.Timedelta("10s")].tolist() == [5, 30]
    limited = qa.align_pair(y, x, how="ffill", max_staleness="2s")
    assert T0 + pd.Timedelta("10s") not in limited.index  # x is 8 s old there
    assert T0 + pd.Timedelta("3s") in limited.index  # 1 s old: fine
    assert limited.attrs["stale_dropped"] == 1


def test_align_ticks_take_last_trade_per_timestamp_and_grid():
    """Tick frames: several trades in one ms keep the last; freq buckets keep the bucket's last price."""
    trades_y = [Trade("A", i, p, 1.0, p, ms, ms, False) for i, (p, ms) in enumerate([(1, 0), (2, 0), (3, 1500), (4, 2500)])]
    trades_x = [Trade("B", i, p, 1.0, p, ms, ms, True) for i, (p, ms) in enumerate([(10, 0), (20, 900), (30, 2100)])]
    ty, tx = trades_to_frame(trades_y), trades_to_frame(trades_x)
    inner = qa.align_pair(ty, tx)
    assert inner["y"].tolist() == [2.0] and inner["x"].tolist() == [10.0]
    grid = qa.align_pair(ty, tx, freq="1s", how="ffill")
    assert grid.index.tolist() == [pd.Timestamp(0, tz="UTC") + pd.Timedelta(seconds=s) for s in (0, 1, 2)]
    assert grid["y"].tolist() == [2.0, 3.0, 4.0] and grid["x"].tolist() == [20.0, 20.0, 30.0]


def test_align_empty_bars_and_log():
    """Empty bars (NaN close or zero volume) are no observation; log=True returns log prices."""
    idx = T0 + pd.to_timedelta([0, 60, 120, 180], unit="s")
    bars_y = pd.DataFrame({"close": [100.0, np.nan, 102.0, 103.0], "volume": [1.0, 0.0, 2.0, 0.0]}, index=idx)
    bars_x = pd.DataFrame({"close": [10.0, 11.0, 12.0, 13.0], "volume": [1.0, 1.0, 1.0, 1.0]}, index=idx)
    inner = qa.align_pair(bars_y, bars_x)
    assert inner.index.equals(idx[[0, 2]])
    keep = qa.align_pair(bars_y, bars_x, empty="keep")
    assert keep.index.equals(idx[[0, 2, 3]])  # NaN close is always empty
    ff = qa.align_pair(bars_y, bars_x, how="ffill", log=True)
    assert ff["y"].tolist() == pytest.approx(np.log([100.0, 100.0, 102.0, 102.0]))


# ----------------------------------------------------------------------------------------------- spread


def test_spread_with_and_without_intercept(coint_pair):
    """spread() with scalar or per-bar coefficients; the no-intercept spread keeps the level offset."""
    y, x, _ = coint_pair(2, 500)
    fit = qa.ols_hedge(y, x)
    with_int = qa.spread(y, x, fit.beta, fit.alpha)
    np.testing.assert_allclose(with_int, fit.resid, atol=1e-9)
    assert abs(with_int.mean()) < 1e-9
    no_int = qa.spread(y, x, fit.beta)
    assert no_int.mean() == pytest.approx(fit.alpha, rel=1e-9)
    roll = qa.rolling_ols(y, x, 50)
    per_bar = qa.spread(y, x, roll["beta"], roll["alpha"])
    assert per_bar.isna().sum() == 49 and per_bar.name == "spread"


def test_zscore_matches_pandas_and_ddof():
    """zscore(ddof) equals pandas' rolling mean/std formula with the same ddof; bands are mid +- k std."""
    rng = np.random.default_rng(0)
    s = pd.Series(rng.normal(size=400).cumsum())
    for ddof in (0, 1):
        ref = (s - s.rolling(30).mean()) / s.rolling(30).std(ddof=ddof)
        np.testing.assert_allclose(qa.zscore(s, 30, ddof=ddof), ref, rtol=1e-9, atol=1e-12)
    bands = qa.bollinger_bands(s, 30, k=2.0)
    np.testing.assert_allclose(bands["upper"] - bands["mid"], 2.0 * s.rolling(30).std(ddof=0), rtol=1e-9)
    np.testing.assert_allclose(bands["z"], qa.zscore(s, 30), rtol=1e-12)


def test_zscore_nan_windows_and_flat_windows():
    """Windows holding a NaN are NaN; a constant window gives NaN, not inf."""
    s = pd.Series([1.0, 2.0, np.nan, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 6.0])
    z = qa.zscore(s, 3)
    assert z.iloc[:5].isna().all()
    assert z.iloc[5] == pytest.approx((5 - 4) / np.std([3, 4, 5]))
    assert math.isnan(z.iloc[8])  # window 5,5,5
    assert np.isfinite(z.iloc[9])


# ----------------------------------------------------------------------------------------------- relationship


def test_correlation_uses_returns_not_levels(random_walks):
    """Independent random walks: price levels can correlate strongly, returns do not."""
    y, x = random_walks(3, 2000)
    y, x = y + 1000, x + 1000
    level_corr = abs(np.corrcoef(y, x)[0, 1])
    ret_corr = qa.rolling_correlation(y, x, 1999).iloc[-1]
    assert abs(ret_corr) < 0.1
    assert level_corr > abs(ret_corr)
    ry, rx = np.diff(np.log(y.to_numpy())), np.diff(np.log(x.to_numpy()))
    assert ret_corr == pytest.approx(np.corrcoef(ry, rx)[0, 1], rel=1e-9)


def test_cross_correlation_finds_the_leader():
    """y copying x's return 3 bars later shows a peak at lag +3 (x leads)."""
    rng = np.random.default_rng(4)
    rx = rng.normal(0, 1e-3, 3000)
    ry = np.roll(rx, 3) + rng.normal(0, 3e-4, 3000)
    x = pd.Series(100 * np.exp(np.cumsum(rx)))
    y = pd.Series(50 * np.exp(np.cumsum(ry)))
    cc = qa.cross_correlation(y, x, max_lag=5)
    assert cc.best_lag == 3 and cc.leader == "x" and cc.best_corr > 0.9
    assert list(cc.corr.index) == list(range(-5, 6))
    assert qa.cross_correlation(x, y, max_lag=5).best_lag == -3


def test_beta_stability(coint_pair):
    """A stable pair has a small beta coefficient of variation centred on the full-sample beta."""
    y, x, _ = coint_pair(5, 3000, half_life=5.0)
    st = qa.beta_stability(y, x, 500)
    assert st.mean == pytest.approx(1.5, abs=0.05)
    assert st.cv < 0.05 and st.sign_flips == 0
    assert st.n_windows == 3000 - 499


# ----------------------------------------------------------------------------------------------- market state


def test_volatility_regime_thresholds():
    """A volatility burst is 'high', a calm spell 'low', the rest 'normal'; warm-up is None."""
    rng = np.random.default_rng(1)
    vol = np.r_[np.full(2000, 1e-3), np.full(200, 4e-3), np.full(1000, 1e-3), np.full(300, 2e-4)]
    p = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, vol))))
    reg = qa.volatility_regime(p, window=60, long_window=1000)
    assert reg["regime"].iloc[:1000].isna().all()
    assert reg["regime"].iloc[2150] == "high"
    assert reg["regime"].iloc[1900] == "normal"
    assert reg["regime"].iloc[-1] == "low"
    assert reg["ratio"].iloc[2150] > 1.5


def test_trend_slope_and_realized_vol():
    """A clean exponential trend has slope = growth rate per bar; realised vol equals std of log returns."""
    p = pd.Series(100 * np.exp(0.001 * np.arange(300)) * (1 + 1e-5 * np.sin(np.arange(300))))
    tr = qa.trend_slope(p, 50)
    assert tr["slope"].iloc[-1] == pytest.approx(0.001, rel=1e-3)
    assert tr["t"].iloc[-1] > 100
    rv = qa.realized_volatility(p, 20)
    r = np.diff(np.log(p.to_numpy()))
    assert rv.iloc[-1] == pytest.approx(np.std(r[-20:]), rel=1e-9)


def test_trade_imbalance_sign_convention():
    """is_buyer_maker=True means the taker sold: 3 bought vs 1 sold gives +0.5."""
    trades = [
        Trade("A", 1, 10.0, 3.0, 30.0, 0, 0, False),  # taker bought 3
        Trade("A", 2, 10.0, 1.0, 10.0, 500, 500, True),  # taker sold 1
        Trade("A", 3, 11.0, 2.0, 22.0, 1500, 1500, True),  # taker sold 2 (next second)
    ]
    ticks = trades_to_frame(trades)
    assert qa.trade_imbalance(ticks.iloc[:2]) == pytest.approx(0.5)
    per_s = qa.trade_imbalance(ticks, freq="1s")
    assert per_s.tolist() == pytest.approx([0.5, -1.0])
    bars = pd.DataFrame({"volume": [4.0, 2.0], "taker_buy_volume": [3.0, 0.0]})
    assert qa.trade_imbalance(bars).tolist() == pytest.approx([0.5, -1.0])
    assert qa.vwap(ticks).iloc[-1] == pytest.approx((30 + 10 + 22) / 6)
    assert qa.vwap(ticks, window=1).iloc[-1] == pytest.approx(11.0)


# ----------------------------------------------------------------------------------------------- streaming


def test_streaming_is_constant_work_per_bar():
    """Each update touches a fixed-size ring buffer (no growth with history)."""
    ps = qa.PairStream(50, z_window=20)
    rng = np.random.default_rng(0)
    for _ in range(5000):
        ps.update(100 + rng.normal(), 50 + rng.normal())
    assert len(ps._cov._bx) == 50 and len(ps._spr._buf) == 20
    snap = ps.snapshot()
    assert snap["n"] == 5000 and set(snap) >= {"beta", "z", "corr", "kalman_beta", "spread_std"}


def test_recompute_guard_bounds_drift():
    """Over a million slides at a 60,000 level, the window variance stays equal to an exact recompute."""
    rm = qa.RollingMoments(100, recompute_every=10**9)  # guard off
    guarded = qa.RollingMoments(100)
    rng = np.random.default_rng(9)
    vals = 60_000 + np.cumsum(rng.normal(0, 5, 200_000))
    for v in vals.tolist():
        rm.update(v)
        guarded.update(v)
    exact = np.var(vals[-100:])
    assert guarded.var == pytest.approx(exact, rel=1e-10)
    assert rm.var == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("level", [1e-3, 1.0, 100.0, 60_000.0])
def test_a_constant_window_after_a_volatile_one_is_constant_in_stream_and_batch(level):
    """Prices that stop moving: the streaming and batch estimators both see a zero variance.

    At a 60,000 level the sliding update used to leave a rounding residue in the window's m2 (a std
    of 8e-4 after 40 identical bars) that passed for variance: a z-score of 1e-8 instead of NaN.
    """
    rng = np.random.default_rng(1)
    moving = level * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    y = np.concatenate([moving, np.full(40, level * 1.2345678901)])
    x = np.concatenate([moving[::-1] * 0.5, np.full(40, level * 0.5)])
    w = 10
    rm, rc = qa.RollingMoments(w), qa.RollingCovariance(w)
    std, z, beta, corr = [], [], [], []
    for xx, yy in zip(x.tolist(), y.tolist()):
        rm.update(yy)
        rc.update(xx, yy)
        std.append(rm.std)
        z.append(rm.zscore(yy))
        beta.append(rc.beta)
        corr.append(rc.corr)
    tail = slice(len(y) - (40 - w) - 1, None)  # the bars whose whole window is constant
    assert np.all(np.array(std[tail]) == 0.0)
    assert qa.rolling_mean_std(y, w)["std"].to_numpy()[tail].tolist() == std[tail]
    assert np.isnan(np.array(z[tail])).all() and np.isnan(qa.zscore(y, w).to_numpy()[tail]).all()
    batch_beta = qa.rolling_ols(y, x, w)["beta"].to_numpy()[tail]
    assert np.isnan(batch_beta).all() and np.isnan(np.array(beta[tail])).all()  # x constant: no fit
    assert np.isnan(np.array(corr[tail])).all()
    # and the window that starts moving again is no longer constant
    rm.update(level * 1.3)
    assert rm.std > 0.0


# ----------------------------------------------------------------------------------------------- scanner


def test_scanner_ranks_and_matches_engle_granger(coint_pair, random_walks):
    """The scanner's p-values equal engle_granger in the chosen direction; the cointegrated pair ranks first."""
    y, x, _ = coint_pair(8, 3000, half_life=15.0)
    c, d = random_walks(9, 3000)
    prices = pd.DataFrame({"AAA": y, "BBB": x, "CCC": c + 50, "DDD": d + 50})
    table = qa.scan_pairs(prices, maxlag=8)
    assert list(table.columns) == list(qa.SCAN_COLUMNS)
    assert len(table) == 6 and table["rank"].tolist() == list(range(1, 7))
    assert set(table.iloc[0][["y", "x"]]) == {"AAA", "BBB"}
    assert table["pvalue"].is_monotonic_increasing
    for _, row in table.iterrows():
        eg = qa.engle_granger(np.log(prices[row["y"]]), np.log(prices[row["x"]]), maxlag=8, method="qr")
        assert row["pvalue"] == pytest.approx(eg.pvalue, rel=1e-6, abs=1e-12)
        assert row["beta"] == pytest.approx(eg.beta, rel=1e-10)
        rev = qa.engle_granger(np.log(prices[row["x"]]), np.log(prices[row["y"]]), maxlag=8)
        assert row["pvalue_rev"] == pytest.approx(rev.pvalue, rel=1e-6, abs=1e-12)
        assert row["pvalue"] <= row["pvalue_rev"]
    top = table.iloc[0]
    hl = qa.half_life(qa.engle_granger(np.log(prices[top["y"]]), np.log(prices[top["x"]])).resid)
    assert top["half_life"] == pytest.approx(hl.exact, rel=1e-9)
    assert top["corr"] == pytest.approx(
        np.corrcoef(np.diff(np.log(prices[top["y"]])), np.diff(np.log(prices[top["x"]])))[0, 1], rel=1e-9)


def test_scanner_aligns_each_pair_on_its_own_bars(coint_pair, random_walks):
    """A third symbol's missing bars never shorten a pair; a pair with too few common bars is left out."""
    y, x, _ = coint_pair(10, 1000, half_life=10.0)
    c, _ = random_walks(11, 1000)
    prices = pd.DataFrame({"AAA": y, "BBB": x, "CCC": (c + 50).where(np.arange(1000) < 60)})
    table = qa.scan_pairs(prices, maxlag=5)
    assert len(table) == 1  # CCC has only 60 bars (< min_obs=100) with anyone
    row = table.iloc[0]
    assert row["n"] == 1000
    eg = qa.engle_granger(np.log(prices[row["y"]]), np.log(prices[row["x"]]), maxlag=5)
    assert row["pvalue"] == pytest.approx(eg.pvalue, rel=1e-6)
