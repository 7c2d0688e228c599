"""TickStore tick writes and reads on real LMDB: dedup, schema, restart, maintenance."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from quantkit.errors import SchemaError, SymbolNotFoundError
from quantkit.schema import TICK_COLUMNS, TICK_DTYPES
from quantkit.store import AppendResult, MaintenancePolicy, TickStore
from quantkit.store._uri import normalise_uri, redact_uri

Ticks = Callable[..., pd.DataFrame]


def test_roundtrip_schema_and_ranges(store: TickStore, ticks_factory: Ticks) -> None:
    """Appended ticks read back identical, UTC-aware, with inclusive start/end and column subsets."""
    frame = ticks_factory(range(1, 101))
    res = store.append_ticks("btcusdt", frame)
    assert (res.stored, res.duplicates, res.out_of_order) == (100, 0, 0)
    got = store.ticks("BTCUSDT")
    pd.testing.assert_frame_equal(got, frame)
    assert {c: str(got[c].dtype) for c in TICK_COLUMNS} == TICK_DTYPES
    assert str(got.index.dtype) == "datetime64[ns, UTC]"
    start, end = frame.index[10], frame.index[19]
    part = store.ticks("BTCUSDT", start, end, columns=["price"])
    assert list(part.columns) == ["price"] and len(part) == 10
    naive = store.ticks("BTCUSDT", start.tz_localize(None).isoformat(), end.tz_localize(None))
    assert naive["trade_id"].tolist() == list(range(11, 21))
    assert store.tail("BTCUSDT", 5)["trade_id"].tolist() == [96, 97, 98, 99, 100]
    assert len(store.tail("BTCUSDT", 0)) == 0
    assert store.last_trade_id("BTCUSDT") == 100


def test_dedup_within_and_across_batches(store: TickStore, ticks_factory: Ticks) -> None:
    """Repeated ids in a batch and ids already stored are skipped; shared milliseconds are fine."""
    same_ms = [1_723_075_200_000] * 6  # six trades in one millisecond
    first = ticks_factory([1, 2, 3, 3, 4, 5], same_ms)
    assert store.append_ticks("ETHUSDT", first) == AppendResult(5, 1, 0, 0)
    second = ticks_factory([4, 5, 6, 7], [1_723_075_200_000] * 2 + [1_723_075_200_001] * 2)
    res = store.append_ticks("ETHUSDT", second)
    assert (res.stored, res.duplicates) == (2, 2)
    unsorted = ticks_factory([9, 8, 7], [1_723_075_200_003, 1_723_075_200_002, 1_723_075_200_001])
    res = store.append_ticks("ETHUSDT", unsorted)
    assert (res.stored, res.duplicates) == (2, 1)
    ids = store.ticks("ETHUSDT")["trade_id"].tolist()
    assert ids == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert store.append_ticks("ETHUSDT", unsorted) == AppendResult(0, 3, 0, None)


def test_out_of_order_rows_dropped(store: TickStore, ticks_factory: Ticks) -> None:
    """A new id whose time is earlier than the stored tail is counted out_of_order, not stored."""
    store.append_ticks("SOLUSDT", ticks_factory([10, 11], [1_723_075_200_010, 1_723_075_200_011]))
    res = store.append_ticks("SOLUSDT", ticks_factory([12, 13], [1_723_075_200_005, 1_723_075_200_012]))
    assert (res.stored, res.duplicates, res.out_of_order) == (1, 0, 1)
    assert store.ticks("SOLUSDT")["trade_id"].tolist() == [10, 11, 13]


def test_dedup_survives_restart(store_uri: str, store: TickStore, ticks_factory: Ticks, tmp_path: Path) -> None:
    """A new process on the same store (a restart) skips ids stored before it started."""
    store.append_ticks("BTCUSDT", ticks_factory(range(1, 51)))
    pickle_path = tmp_path / "batch.pkl"
    ticks_factory(range(41, 61)).to_pickle(pickle_path)
    code = textwrap.dedent(
        f"""
        import pandas as pd
        from quantkit.store import TickStore
        s = TickStore({store_uri!r})
        r = s.append_ticks("BTCUSDT", pd.read_pickle({str(pickle_path)!r}))
        print(r.stored, r.duplicates)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["10", "10"]
    assert store.ticks("BTCUSDT")["trade_id"].tolist() == list(range(1, 61))


def test_schema_enforced(store: TickStore, ticks_factory: Ticks) -> None:
    """Frames that do not fit the tick schema raise SchemaError and store nothing."""
    good = ticks_factory([1, 2, 3])
    naive = good.copy()
    naive.index = naive.index.tz_localize(None)
    strings = good.assign(price=good["price"].astype(str))
    nan_price = good.assign(price=[1.0, np.nan, 2.0])
    negative_qty = good.assign(qty=[1.0, -1.0, 1.0])
    for bad in (naive, strings, nan_price, negative_qty, good.drop(columns="quote_qty"), good.reset_index(drop=True)):
        with pytest.raises(SchemaError):
            store.append_ticks("BTCUSDT", bad)
    assert not store.has_symbol("BTCUSDT")
    other_tz = good.copy()
    other_tz.index = other_tz.index.tz_convert("Asia/Tokyo")
    narrow = other_tz.astype({"trade_id": "int32", "price": "float32"}).assign(event_time=1)
    assert store.append_ticks("BTCUSDT", narrow).stored == 3
    back = store.ticks("BTCUSDT")
    assert str(back.index.tz) == "UTC" and back["trade_id"].dtype == "int64" and "event_time" not in back


def test_a_missing_symbol_lists_the_others_only_when_asked() -> None:
    """The "available" hint is listed when the message or the attribute is read, once: a reader that
    polls for a symbol not written yet only catches the error, and ArcticDB's first listing in a
    process can take a second (measured: 1.0 s; the miss itself 0.2 ms)."""
    calls: list[int] = []

    def listing() -> list[str]:
        calls.append(1)
        return ["BTCUSDT", "ETHUSDT"]

    exc = SymbolNotFoundError("SOLUSDT", listing)
    assert calls == [] and exc.symbol == "SOLUSDT"
    assert str(exc) == "symbol 'SOLUSDT' is not in the store (available: BTCUSDT, ETHUSDT)"
    assert exc.available == ["BTCUSDT", "ETHUSDT"] and calls == [1]

    def broken() -> list[str]:
        raise OSError("store closed")

    assert str(SymbolNotFoundError("SOLUSDT", broken)).endswith("(available: none)")


def test_bad_arguments(store: TickStore, ticks_factory: Ticks) -> None:
    """Unknown symbols raise SymbolNotFoundError; malformed symbols, columns and times raise ValueError."""
    with pytest.raises(SymbolNotFoundError, match="NOPE"):
        store.ticks("NOPE")
    store.append_ticks("BTCUSDT", ticks_factory([1]))
    with pytest.raises(SymbolNotFoundError) as info:
        store.tail("ETHUSDT")
    assert info.value.available == ["BTCUSDT"]
    assert str(info.value) == "symbol 'ETHUSDT' is not in the store (available: BTCUSDT)"
    for bad in ("", "_qk.records.gaps", "BTC USDT", "BTC.USDT", 12):
        with pytest.raises(ValueError):
            store.ticks(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="volume"):
        store.ticks("BTCUSDT", columns=["volume"])
    with pytest.raises(ValueError, match="after"):
        store.ticks("BTCUSDT", "2024-01-02", "2024-01-01")
    with pytest.raises(ValueError):
        store.ticks("BTCUSDT", 1723075200000)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.tail("BTCUSDT", -1)


def test_insert_ticks_backfills_history(store: TickStore, ticks_factory: Ticks) -> None:
    """insert_ticks fills a hole below the watermark in time order; repeating it stores nothing."""
    everything = ticks_factory(range(1, 101))
    hole = everything["trade_id"].between(40, 60)
    store.append_ticks("BTCUSDT", everything[~hole])
    assert store.append_ticks("BTCUSDT", everything[hole]).duplicates == 21  # append_ticks cannot backfill
    res = store.insert_ticks("BTCUSDT", everything.iloc[30:70])
    assert (res.stored, res.duplicates) == (21, 19)
    pd.testing.assert_frame_equal(store.ticks("BTCUSDT"), everything)
    assert store.insert_ticks("BTCUSDT", everything).stored == 0
    older = ticks_factory([0], [1_723_075_199_000])  # before the first stored tick
    assert store.insert_ticks("BTCUSDT", older).stored == 1
    assert store.ticks("BTCUSDT")["trade_id"].iloc[0] == 0
    assert store.last_trade_id("BTCUSDT") == 100


def test_market_recorded_and_enforced(store: TickStore, ticks_factory: Ticks) -> None:
    """A symbol's market is recorded; ticks of the other market are refused."""
    store.append_ticks("BTCUSDT", ticks_factory([1, 2]), market="spot")
    with pytest.raises(SchemaError, match="spot"):
        store.append_ticks("BTCUSDT", ticks_factory([3]), market="futures")
    assert store.append_ticks("BTCUSDT", ticks_factory([3]), market="spot").stored == 1
    syms = store.symbols()
    assert syms.loc[syms["symbol"] == "BTCUSDT", "market"].tolist() == ["spot"]


def test_maintenance_compacts_and_prunes(store_uri: str, ticks_factory: Ticks, aggressive_policy: MaintenancePolicy) -> None:
    """Automatic maintenance keeps few versions and segments while data stays identical."""
    auto = TickStore(store_uri, maintenance=aggressive_policy)
    manual = TickStore(store_uri, maintenance=None)
    frames = [ticks_factory(range(i * 100 + 1, i * 100 + 101), seed=i) for i in range(10)]
    for f in frames:
        auto.append_ticks("AUTO", f)
        manual.append_ticks("MANUAL", f)
    lib = auto.raw_library
    assert len(lib.list_versions("MANUAL")) == 10
    assert len(lib.list_versions("AUTO")) <= 3
    before = manual._segments("MANUAL")
    report = manual.maintain("MANUAL")
    assert before == 10 and report.segments == 1 and report.compacted and report.pruned
    assert len(lib.list_versions("MANUAL")) == 2  # the compacted version and the one before it
    expected = pd.concat(frames)
    pd.testing.assert_frame_equal(auto.ticks("AUTO"), expected)
    pd.testing.assert_frame_equal(manual.ticks("MANUAL"), expected)
    with pytest.raises(SymbolNotFoundError):
        manual.maintain("NOPE")


def test_one_arctic_per_uri(lmdb_uri: str) -> None:
    """Every TickStore on one URI in a process shares one cached Arctic handle."""
    a = TickStore(lmdb_uri)
    b = TickStore(lmdb_uri + "/")
    c = TickStore.open(lmdb_uri, library="other")
    assert a._backend is b._backend is c._backend
    assert a._backend.arctic is c._backend.arctic
    assert normalise_uri("lmdb://~/x/") == normalise_uri(f"lmdb://{Path.home()}/x")
    assert redact_uri("s3://h:b?access=AK&secret=SK&port=1") == "s3://h:b?access=***&secret=***&port=1"
    a.close()
    with pytest.raises(Exception, match="closed"):
        a.tail("BTCUSDT")
    b.symbols()  # the shared handle still works


def test_full_store_refuses_writes_and_keeps_data(tmp_path: Path, ticks_factory: Ticks) -> None:
    """A full LMDB map raises StoreFullError, then refuses every later write of this process (reads work);
    a new process with a larger map_size writes again."""
    from quantkit.errors import StoreFullError

    path = tmp_path / "tiny"
    small = TickStore(f"lmdb://{path}?map_size=2MB", maintenance=None)
    small.append_ticks("BTCUSDT", ticks_factory(range(1, 10)))
    with pytest.raises(StoreFullError, match="full"):
        small.append_ticks("BTCUSDT", ticks_factory(range(10, 300_000)))
    assert small.ticks("BTCUSDT")["trade_id"].tolist() == list(range(1, 10))
    # ArcticDB 6.28 was measured to crash (SIGSEGV) on writes after MDB_MAP_FULL: they are refused instead
    with pytest.raises(StoreFullError, match="write refused.*map_size"):
        small.append_ticks("BTCUSDT", ticks_factory(range(10, 20)))
    with pytest.raises(StoreFullError, match="write refused"):
        small.record_gap("BTCUSDT", 20, 21)
    with pytest.raises(StoreFullError, match="write refused"):
        TickStore(f"lmdb://{path}?map_size=2MB").delete_symbol("BTCUSDT")
    assert small.last_trade_id("BTCUSDT") == 9 and len(small.tail("BTCUSDT", 5)) == 5
    batch = tmp_path / "batch.pkl"
    ticks_factory(range(10, 20)).to_pickle(batch)
    code = textwrap.dedent(
        f"""
        import pandas as pd
        from quantkit.store import TickStore
        s = TickStore({f"lmdb://{path}?map_size=64MB"!r}, maintenance=None)
        print(s.append_ticks("BTCUSDT", pd.read_pickle({str(batch)!r})).stored, s.last_trade_id("BTCUSDT"))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["10", "19"]
