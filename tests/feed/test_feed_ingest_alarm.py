"""An ingest fed only messages it must reject raises its receiving-without-storing alarm, naming the reason."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from typing import Any

from quantkit.config import FeedConfig, IngestConfig
from quantkit.ingest import Ingestor


def test_all_rejected_messages_raise_the_alarm(feed_server, make_trade, tmp_path: Path, timeout_unit: float) -> None:
    """Seconds of nothing but rejected trades: state "error", the error names the rejection reason, alarms 1."""

    async def bad_prices(ws: Any, rec: Any) -> None:  # every 20 ms a trade with a negative price
        tid = 1
        while True:
            await ws.send(make_trade("BTCUSDT", tid, price="-1").decode())
            tid += 1
            await asyncio.sleep(0.02)

    server = feed_server([bad_prices])
    feed = FeedConfig.for_source("local", ["BTCUSDT"], local_url=f"http://127.0.0.1:{server.port}")
    ing = Ingestor(feed, f"lmdb://{tmp_path / 'db'}", config=IngestConfig(flush_interval=0.05), no_store_alarm_s=1.0)
    ing.start()
    try:
        deadline = time.monotonic() + 30 * timeout_unit
        while ing.stats.state != "error" and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = ing.stats
    finally:
        ing.stop()
    assert stats.state == "error" and stats.alarms == 1 and stats.stored == 0, stats
    assert stats.error is not None and "rejected" in stats.error and "non_positive" in stats.error, stats.error
