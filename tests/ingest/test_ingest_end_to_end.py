"""End to end with real components: local exchange -> websockets feed -> Ingestor -> ArcticDB on LMDB."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantkit.config import FeedConfig, IngestConfig
from quantkit.datafiles import read_capture
from quantkit.exchange import LocalExchange, ReplaySource, SyntheticMarket
from quantkit.ingest import Ingestor
from quantkit.store import TickStore

CAPTURE_DIR = "binance_ws_capture_2024-08-08_hftbacktest/raw"
SPOT_FILES = ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz", "spot_ethusdt_20240808.gz", "spot_ethusdt_20240809.gz")
FAST = IngestConfig(flush_interval=0.05, batch_size=2000, queue_size=50_000)


def _expected(paths: list[Path]) -> dict[str, pd.DataFrame]:
    """The source's trades per symbol, read independently of the exchange."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for path in paths:
        for key, result in read_capture(path).items():
            if "@" not in key:
                parts.setdefault(key, []).append(result.frame)
    return {s: pd.concat(f).sort_values("trade_id") for s, f in parts.items()}


def _assert_same_trades(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(stored) == len(expected)
    assert stored["trade_id"].is_unique
    np.testing.assert_array_equal(stored["trade_id"].to_numpy(), expected["trade_id"].to_numpy())
    np.testing.assert_array_equal(stored["price"].to_numpy(), expected["price"].to_numpy())
    np.testing.assert_array_equal(stored["qty"].to_numpy(), expected["qty"].to_numpy())
    np.testing.assert_array_equal(stored["is_buyer_maker"].to_numpy(), expected["is_buyer_maker"].to_numpy())
    np.testing.assert_array_equal(stored.index.asi8, expected.index.asi8)


def _replay_into(uri: str, paths: list[Path], timeout: float) -> None:
    with LocalExchange(ReplaySource(paths, speed=float("inf"))) as ex:
        feed = FeedConfig.for_source("local", ["BTCUSDT", "ETHUSDT"], local_url=ex.url)
        ing = Ingestor(feed, uri, config=FAST).start()
        try:
            assert ex.done.wait(timeout), "replay did not finish"
            assert ing.flush(timeout=timeout)
        finally:
            stats = ing.stop()
    assert stats.rejected_total == 0 and stats.write_errors == 0, stats


def test_replay_of_real_captures_at_max_speed_equals_the_source(tmp_path: Path, shared_data: Path, timeout_unit: float) -> None:
    """Every trade id, price, qty, time and side of the real BTCUSDT/ETHUSDT captures arrives in the store exactly once."""
    paths = [shared_data / CAPTURE_DIR / f for f in SPOT_FILES]
    uri = f"lmdb://{tmp_path / 'db'}"
    _replay_into(uri, paths, 60 * timeout_unit)
    store = TickStore(uri)
    expected = _expected(paths)
    assert set(expected) == {"BTCUSDT", "ETHUSDT"}
    assert len(expected["BTCUSDT"]) == 9_757 + 10_147 and len(expected["ETHUSDT"]) == 6_106 + 8_409
    for symbol, exp in expected.items():
        _assert_same_trades(store.ticks(symbol), exp)


def test_replaying_again_after_a_restart_stores_no_duplicates(tmp_path: Path, shared_data: Path, timeout_unit: float) -> None:
    """A second ingest of the same replay (a restart from scratch) adds nothing: dedup by trade id survives restarts."""
    paths = [shared_data / CAPTURE_DIR / f for f in SPOT_FILES[:1] + SPOT_FILES[2:3]]
    uri = f"lmdb://{tmp_path / 'db'}"
    _replay_into(uri, paths, 60 * timeout_unit)
    before = {s: len(TickStore(uri).ticks(s)) for s in ("BTCUSDT", "ETHUSDT")}
    _replay_into(uri, paths, 60 * timeout_unit)
    store = TickStore(uri)
    expected = _expected(paths)
    for symbol, exp in expected.items():
        assert len(store.ticks(symbol)) == before[symbol]
        _assert_same_trades(store.ticks(symbol), exp)


def test_stop_and_start_in_the_middle_loses_and_duplicates_nothing(tmp_path: Path, timeout_unit: float) -> None:
    """Stop mid-stream, trade on, restart: the store holds every published id once, the outage backfilled over REST."""
    uri = f"lmdb://{tmp_path / 'db'}"
    symbols = ["SYNAUSDT", "SYNBUSDT"]
    with LocalExchange(SyntheticMarket(seed=3, speed=50.0)) as ex:
        feed = FeedConfig.for_source("local", symbols, local_url=ex.url)
        first = Ingestor(feed, uri, config=FAST).start()
        assert first.wait_stored(3_000, timeout=30 * timeout_unit)
        s1 = first.stop()
        stored_at_stop = {s: TickStore(uri).last_trade_id(s) for s in symbols}
        time.sleep(0.5 * timeout_unit)  # the exchange keeps trading while we are down
        second = Ingestor(feed, uri, config=FAST).start()
        assert second.wait_stored(3_000, timeout=30 * timeout_unit)
        s2 = second.stop()
        store = TickStore(uri)
        for symbol in symbols:
            ids = store.ticks(symbol)["trade_id"].to_numpy()
            assert (np.diff(ids) == 1).all(), f"{symbol}: ids must be contiguous (no hole, no duplicate)"
            # what is stored is exactly what the exchange published under those ids
            pub_ids, pub_price = (np.asarray(a) for a in ex.histories[symbol].trades_from_id(int(ids[0]), len(ids))[:2])
            np.testing.assert_array_equal(pub_ids, ids)
            np.testing.assert_array_equal(pub_price, store.ticks(symbol)["price"].to_numpy())
            assert stored_at_stop[symbol] is not None and ids[-1] > stored_at_stop[symbol]
            gaps = store.gaps(symbol)
            assert len(gaps) >= 1 and gaps["filled"].all(), "the outage is recorded as a gap, and it was filled"
    assert s1.duplicates == 0 and s2.duplicates == 0
    assert s2.backfilled > 0 and s2.gaps_unfilled == 0 and s2.missing_trades == 0
    assert s1.stored + s2.stored == sum(len(store.ticks(s)) for s in symbols)


def _reader(uri: str, symbol: str, seconds: float, out: "mp.Queue[object]") -> None:
    from quantkit.store import TickStore

    store = TickStore(uri)
    counts, errors = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if store.has_symbol(symbol):
                ticks = store.tail(symbol, 500)
                ids = ticks["trade_id"].to_numpy()
                if len(ids) > 1 and not (np.diff(ids) > 0).all():
                    errors.append("tail not strictly increasing")
                counts.append(int(store.symbols().set_index("symbol").loc[symbol, "count"]))
        except Exception as exc:  # noqa: BLE001 - report every reader error to the test
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.02)
    out.put((counts, errors))


def test_a_reader_process_sees_new_ticks_while_the_ingest_writes(tmp_path: Path, timeout_unit: float) -> None:
    """Another process reading the store while ingest appends sees the count grow, never shrink, with zero errors."""
    uri = f"lmdb://{tmp_path / 'db'}"
    with LocalExchange(SyntheticMarket(seed=5, speed=20.0)) as ex:
        feed = FeedConfig.for_source("local", ["SYNAUSDT"], local_url=ex.url)
        ing = Ingestor(feed, uri, config=FAST).start()
        try:
            assert ing.wait_stored(100, timeout=30 * timeout_unit)
            ctx = mp.get_context("spawn")
            out: mp.Queue[object] = ctx.Queue()
            proc = ctx.Process(target=_reader, args=(uri, "SYNAUSDT", 4.0 * timeout_unit, out))
            proc.start()
            counts, errors = out.get(timeout=60 * timeout_unit)  # type: ignore[misc]
            proc.join(30)
        finally:
            ing.stop()
    assert errors == []
    assert len(counts) > 10
    assert all(b >= a for a, b in zip(counts, counts[1:])), "a reader saw the count go backwards"
    assert counts[-1] > counts[0], "the reader never saw new ticks"


@pytest.mark.parametrize("freq", ["1s", "1min"])
def test_bars_of_ingested_ticks_equal_an_independent_pandas_computation(tmp_path: Path, shared_data: Path, timeout_unit: float, freq: str) -> None:
    """OHLCV, VWAP, counts and taker-buy volume of bars built by the store equal pandas on the same ticks."""
    paths = [shared_data / CAPTURE_DIR / "spot_ethusdt_20240808.gz"]
    uri = f"lmdb://{tmp_path / 'db'}"
    with LocalExchange(ReplaySource(paths, speed=float("inf"))) as ex:
        ing = Ingestor(FeedConfig.for_source("local", ["ETHUSDT"], local_url=ex.url), uri, config=FAST).start()
        assert ex.done.wait(60 * timeout_unit)
        assert ing.flush(60 * timeout_unit)
        ing.stop()
    store = TickStore(uri)
    ticks = store.ticks("ETHUSDT")
    bars = store.bars("ETHUSDT", "1s" if freq == "1s" else "1m")
    g = ticks.resample(freq, label="left", closed="left")
    exp = pd.DataFrame(
        {
            "open": g["price"].first(),
            "high": g["price"].max(),
            "low": g["price"].min(),
            "close": g["price"].last(),
            "volume": g["qty"].sum(),
            "quote_volume": (ticks["price"] * ticks["qty"]).resample(freq, label="left", closed="left").sum(),
            "trades": g["price"].count(),
            "taker_buy_volume": ticks["qty"].where(~ticks["is_buyer_maker"], 0.0).resample(freq, label="left", closed="left").sum(),
        }
    )
    exp = exp[exp["trades"] > 0]
    exp["vwap"] = exp["quote_volume"] / exp["volume"]
    assert len(bars) == len(exp) > 0
    np.testing.assert_array_equal(bars.index.asi8, exp.index.asi8)
    for col in ("open", "high", "low", "close", "trades"):
        np.testing.assert_array_equal(bars[col].to_numpy(), exp[col].to_numpy(), err_msg=col)
    for col in ("volume", "quote_volume", "vwap", "taker_buy_volume"):
        np.testing.assert_allclose(bars[col].to_numpy(), exp[col].to_numpy(), rtol=1e-12, err_msg=col)
