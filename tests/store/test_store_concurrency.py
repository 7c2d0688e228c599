"""A reader process reading while the writer appends and maintains; catalogue and record tables."""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from quantkit.store import GapRecord, MaintenancePolicy, TickStore

HERE = str(Path(__file__).resolve().parent)


def test_reader_process_sees_monotonic_growth(
    store_uri: str, ticks_factory: Callable[..., pd.DataFrame], timeout_unit: float
) -> None:
    """A spawned reader polling while the writer appends (and prunes/compacts every 3 appends) never errs."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)  # spawn passes sys.path on, so the child can import the helper
    from _store_reader_proc import read_while_writing

    writer = TickStore(store_uri, maintenance=MaintenancePolicy(interval=None, every_appends=3))
    batches, size = 120, 250
    ctx = mp.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    args = (store_uri, "SYNAUSDT", batches * size, 60 * timeout_unit, ready, out)
    reader = ctx.Process(target=read_while_writing, args=args)
    reader.start()
    try:
        assert ready.get(timeout=60 * timeout_unit)  # the reader has imported quantkit and opened the store
        for b in range(batches):
            writer.append_ticks("SYNAUSDT", ticks_factory(range(b * size + 1, (b + 1) * size + 1), seed=b))
            time.sleep(0.01)  # pacing like an ingest flush, so the reader interleaves
        counts, problems = out.get(timeout=60 * timeout_unit)
    finally:
        reader.join(timeout=30 * timeout_unit)
        if reader.is_alive():
            reader.terminate()
    assert problems == []
    assert counts[-1] == batches * size
    assert all(a <= b for a, b in zip(counts, counts[1:]))
    assert len(set(counts)) >= 5  # it really read while the writer was writing


def test_symbols_catalogue(store: TickStore, ticks_factory: Callable[..., pd.DataFrame]) -> None:
    """symbols() lists tick and candle symbols with first/last/count and hides record tables."""
    store.append_ticks("BTCUSDT", ticks_factory(range(1, 11)), market="spot")
    candles = pd.DataFrame(
        {"open": [1.0, 2.0], "high": [2.0, 3.0], "low": [0.5, 1.5], "close": [1.5, 2.5], "volume": [10.0, 0.0]},
        index=pd.DatetimeIndex(["2025-01-01 00:00", "2025-01-01 00:01"], name="time").tz_localize("UTC"),
    )
    store.write_candles("ETHUSDT", "1m", candles)
    store.record_gap("BTCUSDT", 11, 12)
    syms = store.symbols()
    assert list(syms.columns) == ["symbol", "kind", "interval", "market", "first", "last", "count"]
    assert syms[["symbol", "kind", "interval", "count"]].values.tolist() == [
        ["BTCUSDT", "ticks", None, 10],
        ["ETHUSDT", "candles", "1m", 2],
    ]
    assert syms["first"].iloc[1] == pd.Timestamp("2025-01-01", tz="UTC")
    assert str(syms["first"].dtype) == "datetime64[ns, UTC]"
    assert store.has_symbol("ETHUSDT") and store.has_symbol("BTCUSDT") and not store.has_symbol("SOLUSDT")
    bars = store.bars("ETHUSDT", "2m")
    assert bars.iloc[0][["open", "high", "low", "close", "volume", "trades"]].tolist() == [1.0, 3.0, 0.5, 2.5, 10.0, -1]
    assert bars["vwap"].iloc[0] == pytest.approx((2.0 + 0.5 + 1.5) / 3)


def test_gaps_and_records(store: TickStore) -> None:
    """Gaps are recorded and filtered by symbol; generic record tables append, rewrite and read back."""

    gap = GapRecord("ETHUSDT", 100, 104, first_missing_time=1_723_075_200_000, next_trade_time=1_723_075_200_500,
                    detected_at=1_723_075_201_000, filled=True)
    store.record_gap("BTCUSDT", 5, 9, detected_at="2024-08-08 00:00:00")
    store.record_gap(gap)
    gaps = store.gaps()
    assert gaps[["symbol", "from_id", "to_id", "missing"]].values.tolist() == [["BTCUSDT", 5, 9, 5], ["ETHUSDT", 100, 104, 5]]
    assert pd.isna(gaps["first_missing_time"].iloc[0])
    assert gaps["first_missing_time"].iloc[1] == pd.Timestamp(1_723_075_200_000, unit="ms", tz="UTC")
    assert gaps["next_trade_time"].iloc[1] == pd.Timestamp(1_723_075_200_500, unit="ms", tz="UTC")
    assert gaps["filled"].tolist() == [False, True] and gaps["reason"].tolist() == ["", ""]
    assert gaps.index[1] == pd.Timestamp(1_723_075_201_000, unit="ms", tz="UTC")
    assert store.gaps("ethusdt")["from_id"].tolist() == [100]
    with pytest.raises(ValueError):
        store.record_gap("BTCUSDT", 9, 5)
    with pytest.raises(TypeError, match="GapRecord"):
        store.record_gap(object())  # type: ignore[arg-type]  (duck-typed gap objects are refused)
    t = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 00:01"], name="time").tz_localize("UTC")
    store.write_records("alerts", pd.DataFrame({"level": ["warn", "info"], "value": [1.5, 2.0]}, index=t))
    store.write_records("alerts", pd.DataFrame({"level": ["crit"], "value": [3.0]}, index=t[:1] - pd.Timedelta("1h")))
    store.write_records("alerts", pd.DataFrame({"level": ["x"], "value": [4.0], "extra": [1]}, index=t[1:]))
    alerts = store.read_records("alerts")
    assert alerts["level"].tolist() == ["crit", "warn", "info", "x"] and alerts["value"].tolist() == [3.0, 1.5, 2.0, 4.0]
    assert store.read_records("nothing_here").empty
    assert "alerts" not in " ".join(store.symbols()["symbol"])
    with pytest.raises(ValueError):
        store.write_records("Bad-Name", pd.DataFrame(index=t))
