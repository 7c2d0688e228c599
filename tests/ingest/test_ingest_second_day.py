"""The second day: an ingest alarms when it receives without storing, and backfills a finite source from its first id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from _support.waiting import wait_until

from quantkit.config import FeedConfig, IngestConfig
from quantkit.ingest.heartbeat import read_status, write_status
from quantkit.exchange import LocalExchange, ReplaySource, SyntheticMarket
from quantkit.feed import BackfillOptions
from quantkit.ingest import Ingestor, missing_trades, stored_positions
from quantkit.schema import trades_to_frame
from quantkit.store import TickStore

FAST = IngestConfig(flush_interval=0.05, batch_size=2000, queue_size=50_000)
KEYED = BackfillOptions(api_key="test-key")  # USD-M historicalTrades asks for an API key (any value locally)
CSV_DIR = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
UM_ETH = "um_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz"


def _wait(predicate, timeout: float, what: str) -> None:
    if not wait_until(predicate, timeout):
        raise AssertionError(f"timed out waiting for {what}")


def _slice(shared_data: Path, tmp_path: Path, rows: int) -> Path:
    """The first ``rows`` trades of the real USD-M ETHUSDT capture, as a trades CSV of its own."""
    frame = pd.read_csv(shared_data / CSV_DIR / UM_ETH, nrows=rows)
    path = tmp_path / "um_ETHUSDT-trades-slice.csv"
    frame.to_csv(path, index=False)
    return path


def test_receiving_only_duplicates_raises_an_error_state_until_trades_are_stored(tmp_path: Path, timeout_unit: float) -> None:
    """Seconds of trades that the store already holds turn the state to "error" with the reason; new trades clear it."""
    uri = f"lmdb://{tmp_path / 'db'}"
    market = SyntheticMarket(seed=3, speed=20.0)
    first = market.first_ids["SYNAUSDT"]
    held = trades_to_frame([t for t in market.generate_trades(5.0, start_ms=0) if t.symbol == "SYNAUSDT"][:1])
    held["trade_id"] = np.int64(first + 2999)  # the store holds ids up to first + 2999 (~7 s of this market)
    TickStore(uri).append_ticks("SYNAUSDT", held)
    with LocalExchange(market) as ex:
        feed = FeedConfig.for_source("local", ["SYNAUSDT"], local_url=ex.url)
        ing = Ingestor(feed, uri, config=FAST, no_store_alarm_s=1.0).start()
        try:
            _wait(lambda: ing.stats.state == "error", 30 * timeout_unit, "the alarm")
            stats = ing.stats
            assert stats.stored == 0 and stats.alarms == 1
            assert stats.error is not None and "duplicates" in stats.error and "receiving without storing" in stats.error
            assert "ERROR" in str(stats) and "alarms 1" in str(stats)
            write_status(stats, tmp_path / "hb.json")
            hb = read_status(tmp_path / "hb.json")
            assert hb.get("state") == "error" and "duplicates" in hb.get("error") and hb.get("alarms") == 1
            _wait(lambda: ing.stats.state == "running", 60 * timeout_unit, "the alarm to clear")
            assert ing.stats.error is None and ing.stats.stored > 0
        finally:
            final = ing.stop()
    assert final.alarms == 1 and final.stored > 0


def test_backfill_from_stores_a_finite_source_published_before_subscribing(
    tmp_path: Path, shared_data: Path, timeout_unit: float
) -> None:
    """A USD-M replay published in full before the ingest connected is fetched over REST from its first id, trade by
    trade, and stored under the perpetual's name (ETHUSDT_PERP)."""
    path = _slice(shared_data, tmp_path, 3000)
    source = ReplaySource(path, speed=float("inf"))
    expected = source.frames["ETHUSDT"]
    uri = f"lmdb://{tmp_path / 'db'}"
    with LocalExchange(source, hold_until_subscribed=False, pause_without_subscribers=False) as ex:
        assert ex.done.wait(30 * timeout_unit)
        status = ex.call_in_loop(ex.status)
        assert status["finite"] and status["done"] and status["counts"] == {"ETHUSDT": 3000}
        assert status["first_ids"]["ETHUSDT"] == int(expected["trade_id"].iloc[0])
        feed = FeedConfig.for_source("local", ["ETHUSDT"], local_url=ex.url, market="futures")
        ing = Ingestor(feed, uri, config=FAST, backfill_from=status["first_ids"], backfill_options=KEYED).start()
        try:
            assert ing.wait_through(status["last_ids"], idle_timeout=20 * timeout_unit)
        finally:
            stats = ing.stop()
    assert stats.stored == 3000 and stats.backfilled == 3000 and stats.missing_trades == 0, stats
    assert stats.per_symbol == {"ETHUSDT_PERP": 3000}
    store = TickStore(uri)
    assert store.symbols().set_index("symbol")["market"].to_dict() == {"ETHUSDT_PERP": "futures"}
    got = store.ticks("ETHUSDT_PERP")
    np.testing.assert_array_equal(got["trade_id"].to_numpy(), expected["trade_id"].to_numpy())
    np.testing.assert_array_equal(got["price"].to_numpy(), expected["price"].to_numpy())
    assert missing_trades(store, status["first_ids"], status["last_ids"], status["counts"], market="futures") == {}
    assert stored_positions(store, ["ETHUSDT"]) == {}  # the spot name holds nothing
    last_id, last_ms, last_price = stored_positions(store, ["ETHUSDT", "BTCUSDT"], market="futures")["ETHUSDT"]
    assert last_id == int(expected["trade_id"].iloc[-1]) and last_ms == int(expected.index[-1].value // 1_000_000)
    assert last_price == float(expected["price"].iloc[-1])


def test_trades_the_exchange_no_longer_serves_are_reported_lost(
    tmp_path: Path, shared_data: Path, timeout_unit: float
) -> None:
    """When REST keeps only the last 1000 trades, the first 2000 are an unfilled gap: counted lost, measured missing."""
    path = _slice(shared_data, tmp_path, 3000)
    source = ReplaySource(path, speed=float("inf"))
    uri = f"lmdb://{tmp_path / 'db'}"
    with LocalExchange(source, hold_until_subscribed=False, pause_without_subscribers=False, history_size=1000) as ex:
        assert ex.done.wait(30 * timeout_unit)
        status = ex.call_in_loop(ex.status)
        feed = FeedConfig.for_source("local", ["ETHUSDT"], local_url=ex.url, market="futures")
        ing = Ingestor(feed, uri, config=FAST, backfill_from=status["first_ids"], backfill_options=KEYED).start()
        try:
            ing.wait_through(status["last_ids"], idle_timeout=20 * timeout_unit)
        finally:
            stats = ing.stop()
    assert stats.stored == 1000 and stats.gaps_unfilled == 1 and stats.missing_trades == 2000, stats
    got = missing_trades(TickStore(uri), status["first_ids"], status["last_ids"], status["counts"], market="futures")
    assert got == {"ETHUSDT_PERP": 2000}
    gaps = TickStore(uri).gaps("ETHUSDT_PERP")
    lost = gaps[~gaps["filled"].astype(bool)]
    assert len(lost) == 1 and lost["reason"].iloc[0] == "not_served"


def test_backfill_since_a_time_stores_that_window_over_rest(tmp_path: Path, timeout_unit: float) -> None:
    """backfill_since_ms (a warm start) stores exactly the trades at or after that time that the exchange holds."""
    start = 1_700_000_000_000
    market = SyntheticMarket(seed=4, speed=float("inf"), start_ms=start, duration_s=20.0)
    trades = [t for t in market.generate_trades(20.0, start_ms=start) if t.symbol == "SYNAUSDT"]
    since = start + 12_000
    want = [t.trade_id for t in trades if t.trade_time >= since]
    uri = f"lmdb://{tmp_path / 'db'}"
    with LocalExchange(market, hold_until_subscribed=False, pause_without_subscribers=False) as ex:
        assert ex.done.wait(30 * timeout_unit)
        feed = FeedConfig.for_source("local", ["SYNAUSDT"], local_url=ex.url)
        ing = Ingestor(feed, uri, config=FAST, backfill_since_ms=since).start()
        try:
            assert ing.wait_through({"SYNAUSDT": trades[-1].trade_id}, idle_timeout=20 * timeout_unit)
        finally:
            stats = ing.stop()
    assert stats.backfilled == len(want) and stats.missing_trades == 0, stats
    assert TickStore(uri).ticks("SYNAUSDT")["trade_id"].tolist() == want
