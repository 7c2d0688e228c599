"""The one bar rule (incremental builder, local fold, ArcticDB) and the one live engine against the batch functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantkit.alerts import PAIR_FIELDS, PairTrack
from quantkit.analytics import PairStream, huber_hedge, kalman_hedge, rolling_correlation, rolling_ols, spread, zscore
from quantkit.errors import AnalyticsError, ConfigError
from quantkit.exchange import SyntheticMarket
from quantkit.store import BarBuilder, TickStore, bar_ms, bars_to_rows
from quantkit.store._bars import tick_bars_local


def _pandas_bars(ticks: pd.DataFrame, freq: str) -> pd.DataFrame:
    buy = np.where(ticks["is_buyer_maker"], 0.0, ticks["qty"])
    g = ticks.assign(buy=buy).resample(freq, label="left", closed="left")
    b = pd.DataFrame({
        "open": g["price"].first(), "high": g["price"].max(), "low": g["price"].min(), "close": g["price"].last(),
        "volume": g["qty"].sum(), "quote_volume": g["quote_qty"].sum(), "trades": g["price"].count(),
        "taker_buy_volume": g["buy"].sum(),
    })  # fmt: skip
    return b[b["trades"] > 0]


@pytest.fixture(scope="module")
def ticks() -> pd.DataFrame:
    return SyntheticMarket(11).generate(600, start_ms=1_723_000_000_000)["SYNAUSDT"]


@pytest.mark.parametrize("bar", ["1s", "1m"])
def test_builder_in_random_batches_equals_resample(ticks: pd.DataFrame, bar: str) -> None:
    """Ticks folded in random batch sizes (with re-sent duplicates) give exactly the pandas bars."""
    rng = np.random.default_rng(0)
    b = BarBuilder(bar_ms(bar))
    t = ticks.index.as_unit("ns").asi8 // 1_000_000
    cols = (t, ticks["trade_id"].to_numpy(), ticks["price"].to_numpy(), ticks["qty"].to_numpy(),
            ticks["quote_qty"].to_numpy(), ticks["is_buyer_maker"].to_numpy())
    out, i = [], 0
    while i < len(t):
        j = min(len(t), i + int(rng.integers(1, 400)))
        k = max(0, i - int(rng.integers(0, 5)))  # overlap: already-seen ids are skipped
        out.append(b.add(*(c[k:j] for c in cols)))
        i = j
    out.append(b.close_until(int(t[-1]) + bar_ms(bar)))
    got = np.vstack(out)
    ref = _pandas_bars(ticks, pd.Timedelta(bar_ms(bar), "ms"))
    assert len(got) == len(ref)
    assert np.array_equal(got[:, 0].astype(np.int64), ref.index.as_unit("ns").asi8 // 1_000_000)
    for j, c in enumerate(("open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume"), 1):
        np.testing.assert_allclose(got[:, j], ref[c].to_numpy(dtype=float), rtol=1e-12, err_msg=c)
    assert b.ticks == len(t) and b.late == 0


def test_builder_counts_late_ticks_and_rejects_bad_bar_sizes() -> None:
    """A tick for an already-final bar is dropped and counted; unknown bar sizes name the value."""
    b = BarBuilder(1000)
    b.add(np.array([5_500]), np.array([1]), np.array([1.0]), np.array([1.0]), np.array([1.0]), np.array([False]))
    b.add(np.array([4_200]), np.array([2]), np.array([1.0]), np.array([1.0]), np.array([1.0]), np.array([False]))
    assert b.late == 1
    with pytest.raises(ConfigError, match="bar"):
        bar_ms("7x")
    with pytest.raises(ConfigError, match="7m"):
        bar_ms("7m")  # does not divide a day


def _pair_rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 61_800 + np.cumsum(rng.normal(0, 5, n))
    y = -80 + 0.045 * x + rng.normal(0, 3, n)
    rows = np.zeros((n, len(PAIR_FIELDS)))
    rows[:, 0] = np.arange(n) * 1000.0
    rows[:, PAIR_FIELDS.index("y_close")] = y
    rows[:, PAIR_FIELDS.index("x_close")] = x
    return rows


@pytest.mark.parametrize("method", ["ols", "kalman"])
def test_track_equals_batch_analytics(method: str) -> None:
    """Streaming beta, spread, z and correlation equal the batch functions on the same bars."""
    rows = _pair_rows(2500)
    w = 150
    tr = PairTrack(w, method, capacity=800)
    tr.extend(rows)
    f = tr.frame()
    y = pd.Series(rows[:, PAIR_FIELDS.index("y_close")])
    x = pd.Series(rows[:, PAIR_FIELDS.index("x_close")])
    if method == "ols":
        fit = rolling_ols(y, x, w)
        a, b = fit["alpha"], fit["beta"]
    else:
        k = kalman_hedge(y, x)
        a, b = k.alpha, k.beta
    s = spread(y, x, b, a)
    z = zscore(s, w)
    tail = slice(len(rows) - 800, None)
    assert tr.size == 800 and tr.n == 2500
    np.testing.assert_allclose(f["beta"].to_numpy(), b.to_numpy()[tail], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(f["spread"].to_numpy(), s.to_numpy()[tail], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(f["z"].to_numpy(), z.to_numpy()[tail], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(f["corr"].to_numpy(), rolling_correlation(y, x, w).to_numpy()[tail], rtol=1e-9, atol=1e-10)


def test_track_huber_refits_on_the_last_window() -> None:
    """The Huber hedge equals huber_hedge on the window ending at the last refit bar."""
    rows = _pair_rows(1000, seed=3)
    w = 200
    tr = PairTrack(w, "huber", capacity=1000, refit_every=10)
    tr.extend(rows)
    last_fit = ((len(rows) - w) // 10) * 10 + w - 1
    ref = huber_hedge(rows[last_fit - w + 1 : last_fit + 1, PAIR_FIELDS.index("y_close")],
                      rows[last_fit - w + 1 : last_fit + 1, PAIR_FIELDS.index("x_close")])
    assert tr.latest()["beta"] == pytest.approx(ref.beta, rel=1e-12)
    assert np.isnan(tr.frame()["beta"].iloc[w - 2]) and not np.isnan(tr.frame()["beta"].iloc[w - 1])


def test_track_rejects_bad_arguments() -> None:
    """Bad window / method / capacity name the value."""
    with pytest.raises(ConfigError, match="window"):
        PairTrack(2)
    with pytest.raises(ConfigError, match="method"):
        PairTrack(10, "tls")
    with pytest.raises(ConfigError, match="capacity"):
        PairTrack(100, capacity=50)


def test_one_bar_rule_builder_local_fold_and_arctic_agree(ticks: pd.DataFrame, tmp_path) -> None:
    """The live builder, the store's local fold and ArcticDB's resample give the same 1 s bars."""
    store = TickStore(f"lmdb://{tmp_path / 'a'}")
    store.append_ticks("SYNAUSDT", ticks)
    arctic = bars_to_rows(store.bars("SYNAUSDT", "1s"))
    local = bars_to_rows(tick_bars_local(ticks, "1s"))
    b = BarBuilder(bar_ms("1s"))
    t = ticks.index.as_unit("ns").asi8 // 1_000_000
    built = np.vstack([b.add(t, ticks["trade_id"].to_numpy(), ticks["price"].to_numpy(), ticks["qty"].to_numpy(),
                             ticks["quote_qty"].to_numpy(), ticks["is_buyer_maker"].to_numpy()),
                       b.close_until(int(t[-1]) + 1000)])
    assert arctic.shape == local.shape == built.shape and len(built) > 100
    for other in (local, built):
        np.testing.assert_array_equal(arctic[:, :5], other[:, :5])  # time, OHLC exact
        np.testing.assert_allclose(arctic[:, 5:], other[:, 5:], rtol=1e-9)


def test_pair_stream_huber_and_r2() -> None:
    """PairStream(method="huber") refits on its cadence; r2 is the squared level correlation."""
    rows = _pair_rows(600, seed=5)
    y, x = rows[:, PAIR_FIELDS.index("y_close")], rows[:, PAIR_FIELDS.index("x_close")]
    ps = PairStream(100, method="huber", refit_every=7)
    out = ps.run(y, x)
    last_fit = ((len(y) - 100) // 7) * 7 + 99
    ref = huber_hedge(y[last_fit - 99 : last_fit + 1], x[last_fit - 99 : last_fit + 1])
    assert ps.beta == pytest.approx(ref.beta, rel=1e-12)
    c = pd.Series(y[-100:]).corr(pd.Series(x[-100:]))
    assert out["r2"].iloc[-1] == pytest.approx(c * c, rel=1e-9)
    with pytest.raises(AnalyticsError, match="method"):
        PairStream(10, method="tls")


def test_track_skips_a_bad_bar_and_says_why() -> None:
    """A non-positive close is skipped (not stored) and named in last_error."""
    rows = _pair_rows(50)
    rows[10, PAIR_FIELDS.index("y_close")] = -1.0
    tr = PairTrack(10)
    tr.extend(rows)
    assert tr.n == 49 and "skipped" in (tr.last_error or "")
