"""Store faults under a live ingest: LMDB map full, and an object store that refuses writes for a while."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from _support.campaign import compare_with_exchange, run_store_full_scenario
from _support.waiting import wait_until

from quantkit.config import FeedConfig, IngestConfig
from quantkit.errors import StoreFullError
from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.ingest import Ingestor
from quantkit.store import AppendResult, TickStore

SYMBOLS = ("SYNAUSDT", "SYNBUSDT")


def test_lmdb_map_full_pauses_loudly_keeps_data_and_resumes_with_a_larger_map(tmp_path: Path, timeout_unit: float) -> None:
    """MDB_MAP_FULL: state store_full + StoreFullError, nothing acknowledged is lost, a larger map resumes it all."""
    result = run_store_full_scenario(tmp_path, map_size="2MB", timeout=120 * timeout_unit)
    assert result.injected == {"store full": 1}
    assert result.survived, result.notes
    c = result.comparison
    assert c.stored == c.published > 1000
    assert (c.lost, c.recorded, c.duplicates, c.extra, c.mismatched) == (0, 0, 0, 0, 0)
    assert result.stats["backfilled"] > 0  # the outage while full came back over REST


class QuotaStore(TickStore):
    """A real S3-backed TickStore whose appends fail with StoreFullError while ``full`` is set (a bucket quota)."""

    full = threading.Event()
    refused = 0

    def append_ticks(self, symbol: str, frame: pd.DataFrame, *, market: str | None = None) -> AppendResult:
        if self.full.is_set():
            type(self).refused += 1
            raise StoreFullError(self.uri, f"{symbol}: quota exceeded (injected)")
        return super().append_ticks(symbol, frame, market=market)


def test_object_store_full_pauses_the_feed_and_resumes_when_space_is_freed(s3_uri: str, timeout_unit: float) -> None:
    """On S3 a full store pauses the feed (state store_full), retries, and resumes with the outage backfilled."""
    store = QuotaStore(s3_uri, maintenance=None)
    with LocalExchange(SyntheticMarket(seed=21, speed=20.0), ping_interval=None) as ex:
        feed = FeedConfig.for_source("local", list(SYMBOLS), local_url=ex.url, backoff_initial=0.05, backoff_max=1.0)
        ing = Ingestor(feed, store, config=IngestConfig(flush_interval=0.1, batch_size=2000), store_full_retry=0.3).start()
        try:
            assert ing.wait_stored(200, timeout=60 * timeout_unit)
            QuotaStore.full.set()
            assert wait_until(lambda: ing.stats.state == "store_full", 30 * timeout_unit), ing.stats
            st = ing.stats
            assert "StoreFullError" in (st.last_error or "") and not st.restart_required
            assert wait_until(lambda: ing.stats.feed_state == "stopped", 30 * timeout_unit), ing.stats
            accepted = ing.stats.accepted
            time.sleep(1.0 * timeout_unit)
            assert ing.stats.accepted == accepted and ing.stats.state == "store_full"  # nothing more accepted
            assert wait_until(lambda: QuotaStore.refused >= 2, 30 * timeout_unit), QuotaStore.refused  # it keeps retrying
            assert ing.stats.accepted == accepted  # ... and still accepts nothing
            QuotaStore.full.clear()  # space freed
            assert wait_until(lambda: ing.stats.state == "running" and ing.stats.feed_state == "connected", 60 * timeout_unit)
            time.sleep(1.0 * timeout_unit)
            target = {s: ex.call_in_loop(lambda s=s: ex.histories[s].last_id) for s in SYMBOLS}
            assert wait_until(lambda: all(ing.stats.last_ids.get(s, -1) >= target[s] for s in SYMBOLS), 60 * timeout_unit)
        finally:
            QuotaStore.full.clear()
            stats = ing.stop()
        cmp = compare_with_exchange(store, ex, SYMBOLS, through="stored")
    assert stats.state == "stopped" and stats.backfilled > 0 and stats.gaps_unfilled == 0
    for sym, c in cmp.items():
        assert c.ok and c.recorded == 0 and c.stored == c.published, (sym, c)
