"""The one pair loader (quantkit.analytics.load_pair) and the scanner on a real LMDB TickStore.

Range ends (start inclusive, end exclusive), zero-volume bars, and holes: a sample with a hole longer
than the documented limit is split (latest segment, said in a note) or refused with the hole named;
the scanner never reports a hedge ratio across such a hole.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _support.pair_ticks import pair_frames, write_pair

import quantkit.analytics as qa
from quantkit.analytics.alignment import GAP_MIN, default_max_gap
from quantkit.errors import AnalyticsError
from quantkit.store import TickStore


@pytest.fixture
def store(tmp_path) -> TickStore:
    """An empty LMDB TickStore in tmp_path."""
    st = TickStore(f"lmdb://{tmp_path / 'arctic'}")
    yield st
    st.close()


def test_range_is_start_inclusive_end_exclusive(store: TickStore) -> None:
    """Bars open at or after start and before end; a trade at end enters no bar; a bar cut by end is whole."""
    write_pair(store, "AAAUSDT", "BBBUSDT", "2024-03-01 00:00", 600, seed=3)
    t0 = pd.Timestamp("2024-03-01 00:01", tz="UTC")
    t1 = pd.Timestamp("2024-03-01 00:05", tz="UTC")
    got = qa.load_pair(store, "AAAUSDT", "BBBUSDT", "1m", t0, t1)
    assert list(got.pair.index) == list(pd.date_range(t0, periods=4, freq="1min"))
    last = got.y.iloc[-1]
    ticks = store.ticks("AAAUSDT", start=t1 - pd.Timedelta(minutes=1), end=t1)
    ticks = ticks[ticks.index < t1]
    assert last["volume"] == pytest.approx(ticks["qty"].sum()) and last["close"] == ticks["price"].iloc[-1]
    cut = qa.load_pair(store, "AAAUSDT", "BBBUSDT", "1m", t0, t1 + pd.Timedelta(seconds=30))
    assert cut.pair.index[-1] == t1 and cut.y.iloc[-1]["volume"] == pytest.approx(
        store.ticks("AAAUSDT", start=t1, end=t1 + pd.Timedelta(seconds=59.999))["qty"].sum())  # the whole 00:05 bar
    # 1s bars: the bar opening at `end` is not there, the one just before it is
    s = qa.load_pair(store, "AAAUSDT", "BBBUSDT", "1s", t0, t1)
    assert s.pair.index[0] == t0 and s.pair.index[-1] == t1 - pd.Timedelta(seconds=1)


def test_zero_volume_bars_carry_no_price(store: TickStore) -> None:
    """A stored candle with zero volume does not enter the aligned pair (the legs' bars keep it)."""
    idx = pd.date_range("2024-05-01", periods=50, freq="1min", tz="UTC", name="time")
    rng = np.random.default_rng(0)
    for sym in ("CCCUSDT", "DDDUSDT"):
        close = 100 + np.cumsum(rng.normal(0, 0.1, len(idx)))
        vol = np.ones(len(idx))
        if sym == "CCCUSDT":
            vol[[10, 20]] = 0.0
        store.write_candles(sym, "1m", pd.DataFrame({"open": close, "high": close, "low": close, "close": close,
                                                     "volume": vol}, index=idx))
    got = qa.load_pair(store, "CCCUSDT", "DDDUSDT", "1m")
    assert len(got.y) == 50 and len(got.pair) == 48
    assert idx[10] not in got.pair.index and idx[20] not in got.pair.index


def test_scan_without_window_does_not_bridge_years(store: TickStore) -> None:
    """Two periods three years apart: the scanner's hedge ratio is the latest period's, and the hole is named."""
    write_pair(store, "SYNAUSDT", "SYNBUSDT", "2021-01-01", 3000, seed=1, alpha=0.0, beta=1.0)
    _, _ = write_pair(store, "SYNAUSDT", "SYNBUSDT", "2024-01-01", 3000, seed=2, alpha=0.5, beta=0.8,
                      first_id=100_000)
    scan = qa.scan_pairs(store, ["SYNAUSDT", "SYNBUSDT"], freq="1s")
    row = scan.iloc[0]
    later = qa.load_pair(store, "SYNAUSDT", "SYNBUSDT", "1s", start="2023-12-31")
    direct = qa.scan_pairs(later.closes(), freq="1s")
    assert row["n"] == 3000 and row["first"] == pd.Timestamp("2024-01-01", tz="UTC")
    assert "2021-01-01" in row["gap"] and "2024-01-01" in row["gap"]
    assert row["beta"] == pytest.approx(direct.iloc[0]["beta"], rel=1e-12)
    assert row["beta"] == pytest.approx(0.8, abs=0.1)  # the later period's truth, not a mix of 1.0 and 0.8
    bridged = qa.scan_pairs(store, ["SYNAUSDT", "SYNBUSDT"], freq="1s", max_gap=None)
    assert bridged.iloc[0]["n"] == 6000 and bridged.iloc[0]["gap"] == ""


def test_loader_splits_or_refuses_a_long_hole(store: TickStore) -> None:
    """load_pair keeps the latest segment and says so; on_gap='raise' refuses and names the hole."""
    write_pair(store, "SYNAUSDT", "SYNBUSDT", "2021-01-01", 1200, seed=1)
    write_pair(store, "SYNAUSDT", "SYNBUSDT", "2024-01-01", 1200, seed=2, first_id=100_000)
    got = qa.load_pair(store, "SYNAUSDT", "SYNBUSDT", "1s")
    assert len(got.pair) == 1200 and got.dropped == 1200 and len(got.gaps) == 1
    assert got.pair.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert "2021-01-01 00:19:59" in got.note and "latest contiguous segment" in got.note
    with pytest.raises(AnalyticsError, match=r"no common 1s bars from 2021-01-01 00:19:59\+00:00 to 2024-01-01"):
        qa.load_pair(store, "SYNAUSDT", "SYNBUSDT", "1s", on_gap="raise")
    whole = qa.load_pair(store, "SYNAUSDT", "SYNBUSDT", "1s", max_gap=None)
    assert len(whole.pair) == 2400 and whole.note == ""
    assert default_max_gap("1s") == GAP_MIN and default_max_gap("1h") == pd.Timedelta(hours=100)


def test_loader_errors_name_the_leg(store: TickStore) -> None:
    """No bars of a leg in the range, or an unknown symbol: the message names the symbol."""
    write_pair(store, "SYNAUSDT", "SYNBUSDT", "2024-01-01", 120, seed=1)
    with pytest.raises(AnalyticsError, match="SYNAUSDT: no 1s bars"):
        qa.load_pair(store, "SYNAUSDT", "SYNBUSDT", "1s", "2025-01-01", "2025-01-02")
    with pytest.raises(KeyError, match="NOPEUSDT"):
        qa.load_pair(store, "NOPEUSDT", "SYNBUSDT", "1s")
    with pytest.raises(AnalyticsError, match="need at least 500"):
        qa.load_pair(store, "SYNAUSDT", "SYNBUSDT", "1s", min_bars=500)


def test_default_pair_prefers_the_configured_pair_then_the_scanner(store: TickStore) -> None:
    """The configured pair when stored; else the scanner's best pair; bar size gives enough aligned bars."""
    write_pair(store, "SYNAUSDT", "SYNBUSDT", "2024-01-01", 1500, seed=1)
    fy, _ = pair_frames("2024-01-01", 1500, seed=9, vol=5e-4)
    store.append_ticks("ZZZUSDT", fy)
    c = qa.default_pair(store, ("SYNBUSDT", "ZZZUSDT"), min_bars=300)
    assert (c.y, c.x) == ("SYNBUSDT", "ZZZUSDT") and "configured pair" in c.reason
    c = qa.default_pair(store, ("ETHUSDT", "BTCUSDT"), min_bars=300)
    assert {c.y, c.x} == {"SYNAUSDT", "SYNBUSDT"} and "scanner" in c.reason
    assert len(qa.load_pair(store, c.y, c.x, c.freq).pair) >= 300 and c.freq in ("1s", "5s")
    with pytest.raises(AnalyticsError, match="fill it first"):
        qa.default_pair(TickStore(f"lmdb://{store.uri.split('://', 1)[1]}_empty"))
