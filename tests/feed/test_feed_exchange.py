"""FeedClient against the real LocalExchange serving a SyntheticMarket (integration)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from quantkit.config import SYNTHETIC_SYMBOLS, FeedConfig
from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.feed import FeedClient
from quantkit.schema import Trade


def _ids(trades: list[Trade], symbol: str) -> list[int]:
    return [t.trade_id for t in trades if t.symbol == symbol]


@pytest.mark.parametrize(("market", "stream"), [("spot", "trade"), ("futures", "aggTrade")])
def test_all_synthetic_symbols_no_rejections(feed_runner, wait_until, market, stream) -> None:
    """Every synthetic symbol streams valid, contiguous trades with zero rejections and no gaps."""
    got: list[Trade] = []
    with LocalExchange(SyntheticMarket(seed=11, speed=50.0, market=market), ping_interval=None) as ex:
        cfg = FeedConfig.for_source("local", SYNTHETIC_SYMBOLS, local_url=ex.url, market=market, stream=stream)
        client = FeedClient(cfg, got.append)
        runner = feed_runner(client)
        wait_until(lambda: all(len(_ids(got, s)) >= 30 for s in SYNTHETIC_SYMBOLS), units=30, what="30 trades per symbol")
        runner.stop(10)
    s = client.stats
    assert s.rejected_total == 0 and s.gaps == 0 and s.connections == 1
    assert s.accepted == len(got) == s.received
    for sym in SYNTHETIC_SYMBOLS:
        ids = _ids(got, sym)
        assert ids == list(range(ids[0], ids[0] + len(ids))), sym
    assert all(t.price > 0 and t.qty > 0 and t.quote_qty == t.price * t.qty for t in got)


def test_exchange_server_shutdown_reconnects_and_backfills_every_id(feed_runner, wait_until) -> None:
    """After the exchange's serverShutdown the client reconnects and backfills: every id is delivered exactly once."""
    got: list[Trade] = []
    with LocalExchange(SyntheticMarket(seed=5, speed=50.0), ping_interval=None) as ex:
        cfg = replace(FeedConfig.for_source("local", SYNTHETIC_SYMBOLS, local_url=ex.url), backoff_initial=0.05)
        client = FeedClient(cfg, got.append)
        runner = feed_runner(client)
        wait_until(lambda: len(got) >= 200, units=30, what="200 trades")
        assert ex.broadcast_server_shutdown() == 1
        wait_until(lambda: client.stats.connections == 2, units=30, what="the second connection")
        mark = len(got)
        wait_until(lambda: len(got) >= mark + 200, units=30, what="200 trades after the reconnection")
        # stop only once the backfill has settled: trades still held behind it at stop are not delivered
        wait_until(
            lambda: client.stats.held == 0 and client.stats.backfill is not None and not client.stats.backfill.active,
            units=30,
            what="the backfill to settle",
        )
        runner.stop(10)
    s = client.stats
    assert s.server_shutdowns == 1 and s.rejected_total == s.rejected["duplicate"]
    assert s.missing_trades == 0 and all(g.filled for g in s.recent_gaps)
    # the rotation is make-before-break: a gap (and so a backfill) appears only if the old connection closed first
    assert s.backfill is not None and s.held == 0
    assert s.backfill.requests >= 1 or s.gaps == 0
    for sym in SYNTHETIC_SYMBOLS:
        ids = _ids(got, sym)
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"{sym}: delivered ids not contiguous"
