"""Ingest under bad input and misuse: malformed messages are counted, never fatal; nothing accepted is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantkit.config import FeedConfig, IngestConfig
from quantkit.errors import ConfigError
from quantkit.ingest import Ingestor
from quantkit.store import TickStore

from _support.scripted import ScriptedServer, spot_trade

T0 = 1_723_161_255_000


def _frames() -> list[str | bytes]:
    good = [spot_trade("BTCUSDT", 100 + i, f"{61800 + i}.50000000", "0.01000000", T0 + i // 3) for i in range(300)]
    bad: list[str | bytes] = [
        "{not json",
        b"\xff\xfe\x00",
        "[1,2,3]",
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"q":"1","T":1,"m":true}}',
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"abc","q":"1","T":1,"m":true}}',
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"-1","q":"1","T":1,"m":true}}',
        '{"stream":"xrpusdt@trade","data":{"e":"trade","E":1,"s":"XRPUSDT","t":5,"p":"1","q":"1","T":1,"m":true}}',
        '{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT"}}',
    ]
    frames: list[str | bytes] = []
    for i, g in enumerate(good):
        frames.append(g)
        if i % 37 == 0:
            frames.append(bad[(i // 37) % len(bad)])
    return frames


def test_malformed_messages_are_counted_and_good_ones_stored(tmp_path: Path, timeout_unit: float) -> None:
    """Every well-formed trade is stored exactly once; each malformed frame is counted by reason."""
    frames = _frames()
    n_bad = sum(1 for f in frames if not (isinstance(f, str) and f.startswith('{"stream":"btcusdt@trade","data":{"e":"trade","E":') and '"p":"6' in f))
    uri = f"lmdb://{tmp_path / 'db'}"
    with ScriptedServer(frames) as server:
        feed = FeedConfig.for_source("local", ["BTCUSDT"], local_url=server.url)
        ing = Ingestor(feed, uri, config=IngestConfig(flush_interval=0.05, batch_size=50, queue_size=1000)).start()
        try:
            assert ing.wait_stored(300, timeout=20 * timeout_unit), ing.stats
            assert ing.flush(timeout=5 * timeout_unit)
        finally:
            stats = ing.stop()
    assert stats.state == "stopped"
    assert stats.stored == 300 and stats.duplicates == 0
    assert stats.rejected_total == n_bad
    assert set(stats.rejected) <= {"malformed_json", "not_an_object", "missing_field", "bad_number", "non_positive", "unknown_symbol", "unexpected_event", "bad_type", "bad_stream"}
    ticks = TickStore(uri).ticks("BTCUSDT")
    assert ticks["trade_id"].tolist() == list(range(100, 400))
    assert ticks["price"].iloc[5] == 61805.5


def test_start_and_stop_are_idempotent(tmp_path: Path, timeout_unit: float) -> None:
    """start() twice and stop() twice are harmless; stop() returns the final stats."""
    frames = [spot_trade("BTCUSDT", 1 + i, "100.0", "1.0", T0 + i) for i in range(20)]
    with ScriptedServer(frames) as server:
        feed = FeedConfig.for_source("local", ["BTCUSDT"], local_url=server.url)
        ing = Ingestor(feed, f"lmdb://{tmp_path / 'db'}", config=IngestConfig(flush_interval=0.05, batch_size=10, queue_size=100))
        ing.start()
        ing.start()
        assert ing.wait_stored(20, timeout=20 * timeout_unit)
        first = ing.stop()
        second = ing.stop()
    assert first.stored == second.stored == 20
    assert not ing.running


def test_bad_ingest_config_is_rejected() -> None:
    """A queue smaller than a batch is a configuration error naming the field."""
    with pytest.raises(ConfigError, match="queue_size"):
        IngestConfig(batch_size=100, queue_size=10)
