"""Bad input raises AnalyticsError naming the problem; results print and convert cleanly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import quantkit.analytics as qa
from quantkit.errors import AnalyticsError


@pytest.fixture()
def legs(coint_pair):
    """A 300-bar cointegrated pair."""
    y, x, _ = coint_pair(1, 300)
    return y, x


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda y, x: qa.ols_hedge(y.iloc[:2], x.iloc[:2]), "too few points"),
        (lambda y, x: qa.ols_hedge(y.where(y.index != y.index[5]), x), "NaN"),
        (lambda y, x: qa.ols_hedge(y, pd.Series(3.0, index=x.index)), "constant"),
        (lambda y, x: qa.ols_hedge(y, x.iloc[1:]), "different lengths"),
        (lambda y, x: qa.ols_hedge(y, x.shift(1, freq="1min")), "mismatched indexes"),
        (lambda y, x: qa.ols_hedge(y, x.astype(str)), "numeric"),
        (lambda y, x: qa.ols_hedge(y, x.replace(x.iloc[3], np.inf)), "infinite"),
        (lambda y, x: qa.ols_hedge(y - 1e6, x, log=True), "log prices need values > 0"),
        (lambda y, x: qa.rolling_ols(y, x, 1), "window=1"),
        (lambda y, x: qa.rolling_ols(y, x, 10_000), "longer than the data"),
        (lambda y, x: qa.rolling_ols(y, x, 2.5), "integer"),
        (lambda y, x: qa.kalman_hedge(y, x, delta=1.5), "delta"),
        (lambda y, x: qa.kalman_hedge(y, x, ve=0), "ve"),
        (lambda y, x: qa.zscore(y, 1), "window"),
        (lambda y, x: qa.zscore(y, 5, ddof=5), "ddof"),
        (lambda y, x: qa.spread(y, x, beta="abc"), "beta"),
        (lambda y, x: qa.spread(y, x, beta=x.iloc[:10]), "index"),
        (lambda y, x: qa.adf(y.iloc[:5]), "too few points"),
        (lambda y, x: qa.adf(pd.Series(1.0, index=y.index)), "constant"),
        (lambda y, x: qa.adf(y, autolag="XYZ"), "autolag"),
        (lambda y, x: qa.adf(y, regression="q"), "regression"),
        (lambda y, x: qa.adf(y, maxlag=1000), "maxlag"),
        (lambda y, x: qa.kpss(y, nlags=10_000), "nlags"),
        (lambda y, x: qa.engle_granger(y, 2.0 * y + 1.0), "collinear"),
        (lambda y, x: qa.engle_granger(y, x, trend="zz"), "trend"),
        (lambda y, x: qa.johansen(np.ones((50, 1))), "at least 2"),
        (lambda y, x: qa.johansen(pd.DataFrame({"a": y, "b": x}), det_order=2), "det_order"),
        (lambda y, x: qa.johansen([y, x.shift(1, freq="1min")]), "mismatched"),
        (lambda y, x: qa.half_life(pd.Series(np.ones(50))), "constant"),
        (lambda y, x: qa.hurst(y, max_lag=200), "max_lag"),
        (lambda y, x: qa.variance_ratio(y, q=1), "q=1"),
        (lambda y, x: qa.align_pair(y, x, how="outer"), "how"),
        (lambda y, x: qa.align_pair(y, x.shift(10_000, freq="1min")), "do not overlap"),
        (lambda y, x: qa.align_pair(y, x, how="ffill", max_staleness="banana"), "max_staleness"),
        (lambda y, x: qa.align_pair(y, x.tz_convert(None)), "timezone"),
        (lambda y, x: qa.align_pair(y, pd.DataFrame({"foo": x, "bar": x})), "close"),
        (lambda y, x: qa.rolling_correlation(y, -x, 10), "prices > 0"),
        (lambda y, x: qa.cross_correlation(y, x, max_lag=1000), "max_lag"),
        (lambda y, x: qa.volatility_regime(y, window=60, long_window=30), "long_window"),
        (lambda y, x: qa.trade_imbalance(pd.DataFrame({"a": [1.0]})), "need"),
        (lambda y, x: qa.vwap(pd.DataFrame({"a": [1.0]})), "need"),
        (lambda y, x: qa.scan_pairs(pd.DataFrame({"a": y}), min_obs=20), "at least 2"),
        (lambda y, x: qa.scan_pairs(pd.DataFrame({"a": y, "b": x}).iloc[:50]), "common bars"),
        (lambda y, x: qa.scan_pairs(object()), "source"),
        (lambda y, x: qa.PairStream(2), "window"),
        (lambda y, x: qa.PairStream(10).update(float("nan"), 1.0), "non-finite"),
        (lambda y, x: qa.PairStream(10).update(-1.0, 1.0), "> 0"),
    ],
)
def test_bad_input_raises_analytics_error(legs, call, match):
    """Each bad input raises AnalyticsError (a ValueError) whose message names the problem."""
    y, x = legs
    with pytest.raises(AnalyticsError, match=match) as info:
        call(y, x)
    assert isinstance(info.value, ValueError)


def test_results_repr_to_dict_to_frame(legs):
    """Result objects have a one-line repr without the data, JSON-able to_dict() and a one-row to_frame()."""
    y, x = legs
    results = [
        qa.ols_hedge(y, x),
        qa.tls_hedge(y, x),
        qa.adf(y),
        qa.kpss(y),
        qa.engle_granger(y, x),
        qa.half_life(y - 1.5 * x),
        qa.ou_fit(y - 1.5 * x),
        qa.hurst(y, max_lag=50),
        qa.variance_ratio(y, q=4),
        qa.beta_stability(y, x, 50),
    ]
    for res in results:
        text = repr(res)
        assert text.startswith(type(res).__name__ + "(") and "\n" not in text
        d = res.to_dict()
        json.dumps(d)  # plain Python only
        frame = res.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame) == 1
    with pytest.raises(Exception):
        results[0].beta = 2.0  # frozen
    ols = results[0]
    assert "resid=<Series n=300>" in repr(ols)
    assert "resid" not in ols.to_dict() and isinstance(ols.to_dict(series=True)["resid"], pd.Series)
    assert set(results[2].to_frame().columns) >= {"stat", "pvalue", "lags", "crit[5%]", "lag_choice"}


def test_kalman_and_johansen_frames(legs):
    """KalmanHedge.to_frame() is the per-bar frame; JohansenResult.to_frame() the hypothesis table."""
    y, x = legs
    k = qa.kalman_hedge(y, x)
    assert list(k.to_frame().columns) == ["alpha", "beta", "e", "q"]
    assert k.frame.index.equals(y.index)
    assert list(qa.johansen(pd.DataFrame({"y": y, "x": x})).to_frame().index) == ["r<=0", "r<=1"]


def test_public_all_is_complete():
    """Every name in quantkit.analytics.__all__ exists, and each submodule declares __all__."""
    import importlib

    for name in qa.__all__:
        assert hasattr(qa, name), name
    for mod in ("alignment", "hedge", "kalman", "spreads", "stationarity", "cointegration", "meanreversion",
                "relationship", "marketstate", "streaming", "scanner", "results"):
        m = importlib.import_module(f"quantkit.analytics.{mod}")
        assert m.__all__, mod
        for name in m.__all__:
            assert hasattr(m, name)
    for name in ("align_pair", "ols_hedge", "rolling_ols", "kalman_hedge", "spread", "zscore"):
        assert name in qa.__all__


def test_no_public_name_shadows_a_submodule():
    """No exported name of quantkit.analytics or quantkit.backtest is also the name of one of its modules."""
    import importlib
    import pkgutil

    for pkg_name in ("quantkit.analytics", "quantkit.backtest"):
        pkg = importlib.import_module(pkg_name)
        modules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
        assert not modules & set(pkg.__all__), (pkg_name, modules & set(pkg.__all__))
    assert callable(qa.spread)
    assert importlib.import_module("quantkit.analytics.spreads").spread is qa.spread


def test_zscore_keeps_the_index_when_the_spread_has_nans() -> None:
    """A spread with a warm-up NaN gets its z-scores on its own time index, not on positions."""
    import numpy as np
    import pandas as pd

    from quantkit.analytics import zscore

    idx = pd.date_range("2024-01-01", periods=50, freq="s", tz="UTC")
    s = pd.Series(np.sin(np.arange(50.0)), index=idx)
    s.iloc[:5] = np.nan
    z = zscore(s, 10)
    assert z.index.equals(idx)
    assert z.iloc[:14].isna().all() and z.iloc[14:].notna().all()
