"""Backfiller holds, driven directly in one event loop against a tiny REST server of the test's own (real sockets).

These pin down orderings that depend on where the event loop switches tasks, which the
end-to-end tests against the exchange cannot force: the feed's hot loop is played by
callbacks scheduled with ``call_soon``, which run exactly where the backfill yields.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import orjson

from quantkit.config import FeedConfig
from quantkit.feed import BackfillOptions, Backfiller, Gap, GapDetector
from quantkit.schema import Trade

SYM = "BTCUSDT"
LAST_ID = 30_000  # the exchange has every id up to here


def _trade(tid: int) -> Trade:
    return Trade(SYM, tid, 100.0, 1.0, 100.0, 1_000 + tid, 1_000 + tid, False)


async def _rest_server() -> tuple[asyncio.Server, int, list[int]]:
    """historicalTrades for SYM: rows fromId .. min(fromId + limit - 1, LAST_ID); records each fromId."""
    asked: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        query = {k: v[-1] for k, v in parse_qs(urlsplit(head.split(" ")[1]).query).items()}
        start, limit = int(query["fromId"]), int(query["limit"])
        asked.append(start)
        rows = [{"id": i, "price": "100.0", "qty": "1.0", "quoteQty": "100.0", "time": 1_000 + i, "isBuyerMaker": False}
                for i in range(start, min(start + limit, LAST_ID + 1))]
        body = orjson.dumps(rows)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-MBX-USED-WEIGHT-1M: 25\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], asked


def _backfiller(port: int, sink: list[Trade], reports: list[Gap], detector: GapDetector,
                deliver_live: Callable[[Trade], None]) -> Backfiller:
    cfg = FeedConfig.for_source("local", [SYM], local_url=f"http://127.0.0.1:{port}")
    dropped: list[Any] = []
    return Backfiller(
        cfg,
        BackfillOptions(),
        detector=detector,
        sink=sink.append,
        deliver_live=deliver_live,
        drop_live=lambda reason, n: dropped.append((reason, n)),
        report=reports.append,
        sleep=asyncio.sleep,
        stopping=lambda: False,
        warn=lambda *args, **kwargs: None,
        logger=logging.getLogger("quantkit.feed"),
        rng=random.Random(0),
    )


def test_gap_found_during_release_stops_the_release_at_its_start() -> None:
    """A gap that arrives while thousands of held trades are being released is filled before the trades after it."""

    async def main() -> tuple[list[Trade], list[Gap], list[int]]:
        server, port, asked = await _rest_server()
        got: list[Trade] = []
        reports: list[Gap] = []
        detector = GapDetector({SYM: 10})
        loop = asyncio.get_running_loop()
        injected = False

        def release(trade: Trade) -> None:  # the client's delivery of a released live trade
            nonlocal injected
            got.append(trade)
            if trade.trade_id == 3_000 and not injected:  # mid-release, the "hot loop" gets a trade after a gap
                injected = True
                loop.call_soon(bf.hold_trade, _trade(9_000))  # ids 8023..8999 missed

        bf = _backfiller(port, got, reports, detector, release)
        async with server:
            first = detector.observe(SYM, 21, 1_021)  # ids 11..20 missed
            assert isinstance(first, Gap)
            bf.start_gap(first, _trade(21))
            for tid in range(22, 8_023):  # 8001 more live trades held meanwhile
                bf.hold_trade(_trade(tid))
            while bf.holds:
                await asyncio.sleep(0.01)
        return got, reports, asked

    got, reports, asked = asyncio.run(main())
    ids = [t.trade_id for t in got]
    assert ids == list(range(11, 9_001)), "the trades after the new gap were released before it was filled"
    assert asked == [11, 8_023]
    assert [(g.from_id, g.to_id, g.filled) for g in reports] == [(11, 20, True), (8_023, 8_999, True)]


def test_probe_recovers_a_quiet_symbol_and_advances_the_sequence() -> None:
    """On (re)connection a symbol with a known last id is paged up to the exchange's newest id, with no live trade."""

    async def main() -> tuple[list[Trade], list[Gap], list[int], GapDetector, Backfiller]:
        server, port, asked = await _rest_server()
        got: list[Trade] = []
        reports: list[Gap] = []
        detector = GapDetector({SYM: 10})
        bf = _backfiller(port, got, reports, detector, got.append)
        async with server:
            bf.on_connected()
            while bf.holds:
                await asyncio.sleep(0.01)
        return got, reports, asked, detector, bf

    got, reports, asked, detector, bf = asyncio.run(main())
    assert [t.trade_id for t in got] == list(range(11, LAST_ID + 1))
    assert asked == list(range(11, LAST_ID + 1, 1000))
    assert [(g.from_id, g.to_id, g.filled) for g in reports] == [(11, LAST_ID, True)]
    assert reports[0].first_missing_time == 1_011 and reports[0].next_trade_time == 1_000 + LAST_ID
    assert detector.last_id(SYM) == LAST_ID and detector.observe(SYM, LAST_ID, 0) == "duplicate"
    s = bf.stats()
    assert s.requests == 30 and s.trades == LAST_ID - 10 and s.weight_used == 25 and s.held == 0
