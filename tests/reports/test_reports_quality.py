"""The pair report's data-quality and alerts sections on a real store holding gaps, stale bars, trade gaps and alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantkit.alerts import Alert, AlertHistory
from quantkit.config import StoreConfig
from quantkit.errors import ReportParameterError
from quantkit.reports import PairReportData, PairReportParameters
from quantkit.store import TickStore

T0 = pd.Timestamp("2025-03-03T00:00", tz="UTC")
N = 1500


def _candles(close: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": close * 1.001, "low": close * 0.999, "close": close,
                         "volume": np.full(len(close), 5.0)}, index=index)


@pytest.fixture(scope="module")
def quality_store(report_store: tuple[str, str]) -> TickStore:
    """A library with two 1m candle legs (A: a 10-bar hole, an 8-bar stale run), a trade gap, and monitor alerts."""
    uri, _ = report_store
    store = TickStore(config=StoreConfig(uri=uri, library="reports_quality"))
    rng = np.random.default_rng(7)
    idx = pd.date_range(T0, periods=N, freq="1min", name="time")
    x = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-3, N)))
    spread = np.zeros(N)
    for i in range(1, N):
        spread[i] = 0.9 * spread[i - 1] + rng.normal(0, 0.05)
    y = 2.0 * x + 5.0 + spread
    a = _candles(y, idx)
    a.iloc[500:508, a.columns.get_loc("volume")] = 0.0  # 8 stale bars: no trades, price carried
    for col in ("open", "high", "low", "close"):
        a.iloc[500:508, a.columns.get_loc(col)] = a["close"].iloc[499]
    a = a.drop(a.index[100:110])  # 10 missing bars
    store.write_candles("QUALAUSDT", "1m", a)
    store.write_candles("QUALBUSDT", "1m", _candles(x, idx))
    store.record_gap("QUALAUSDT", 1000, 1041, first_missing_time=T0 + pd.Timedelta(minutes=700),
                     detected_at=T0 + pd.Timedelta(minutes=701))
    store.record_gap("OTHERUSDT", 5, 6, detected_at=T0 + pd.Timedelta(minutes=30))
    AlertHistory(store).append([
        Alert(T0 + pd.Timedelta(minutes=300), "QUALAUSDT/QUALBUSDT", "zscore", "short_spread", {"z": 2.1},
              "z crossed +2.0", "monitor"),
        Alert(T0 + pd.Timedelta(days=3), "QUALAUSDT/QUALBUSDT", "zscore", "long_spread", {"z": -2.2},
              "z crossed -2.0", "monitor"),
        Alert(T0 + pd.Timedelta(minutes=400), "ETHUSDT/BTCUSDT", "zscore", "long_spread", {"z": -2.5},
              "other pair", "monitor"),
    ])
    return store


def test_quality_and_alerts_sections(quality_store: TickStore) -> None:
    """Missing bars, stale periods, trade-id gaps and the period's alerts for the pair are counted and listed."""
    p = PairReportParameters(pair="QUALAUSDT/QUALBUSDT", start=str(T0), end=str(T0 + pd.Timedelta(minutes=N)),
                             window=60, beta_window=120, stale_bars=5)
    data = PairReportData.build(p, store=quality_store)
    cov = data.coverage_table().frame
    a, b = cov.loc["QUALAUSDT"], cov.loc["QUALBUSDT"]
    assert (a["bars"], a["expected"], a["missing bars"], a["gaps"], a["longest gap (bars)"]) == (N - 10, N, 10, 1, 10)
    assert (a["zero-volume bars"], a["stale periods"], a["stale bars"]) == (8, 1, 8)
    assert (a["trade-id gaps"], a["missing trades"]) == (1, 42)
    assert (b["bars"], b["missing bars"], b["stale periods"], b["trade-id gaps"]) == (N, 0, 0, 0)
    assert a["rejected ticks"] is None  # the store keeps no rejected-ticks table
    gaps = data.gaps_table().frame
    assert list(gaps["from"]) == [T0 + pd.Timedelta(minutes=100)] and list(gaps["missing_bars"]) == [10]
    stale = data.stale_table().frame
    assert list(stale["from"]) == [T0 + pd.Timedelta(minutes=500)] and list(stale["bars"]) == [8]
    alerts = data.alerts_table()
    assert list(alerts.frame["message"]) == ["z crossed +2.0"]  # the other pair's and the later one are left out
    assert list(alerts.frame["direction"]) == ["short_spread"]
    assert list(alerts.frame["time"]) == [T0 + pd.Timedelta(minutes=300)]
    assert len(data.bars.pair) == N - 10 - 8  # align_pair drops zero-volume bars as empty
    assert data.cointegrated == "cointegrated"  # y = 2x + 5 + AR(1) noise


def test_freq_finer_than_the_stored_candles_is_a_parameter_error(quality_store: TickStore) -> None:
    """Asking 1s bars of 1m candles fails the parameter check, naming freq."""
    p = PairReportParameters(pair="QUALAUSDT/QUALBUSDT", start=str(T0), end=str(T0 + pd.Timedelta(minutes=N)),
                             freq="1s", window=60)
    with pytest.raises(ReportParameterError) as info:
        p.check_store(quality_store)
    assert info.value.name == "freq"
