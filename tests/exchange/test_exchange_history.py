"""Trade history: aggregation of taker-order fills, bounded storage, id/time queries."""

from __future__ import annotations

import numpy as np

from quantkit.exchange.history import ColumnLog, SymbolHistory
from quantkit.schema import Trade


def _t(i: int, price: float, ms: int, maker: bool, qty: float = 1.0) -> Trade:
    return Trade("BTCUSDT", i, price, qty, price * qty, ms, ms + 1, maker)


def test_fills_of_one_taker_order_aggregate() -> None:
    """Same ms, side, price and consecutive ids make one aggregate; any difference starts a new one."""
    h = SymbolHistory("BTCUSDT", first_agg_id=100)
    trades = [
        _t(1, 10.0, 1000, True, 1.0), _t(2, 10.0, 1000, True, 2.0),  # one aggregate of 2 fills
        _t(3, 9.99, 1000, True),  # walked one tick deeper: new aggregate
        _t(4, 9.99, 1000, False),  # other side
        _t(5, 9.99, 1001, False),  # next ms
        _t(7, 9.99, 1001, False),  # id gap
    ]
    aggs = h.add(trades)
    assert [(i, a.agg_id, a.first_id, a.last_id, a.qty) for i, a in aggs] == [
        (1, 100, 1, 2, 3.0), (2, 101, 3, 3, 1.0), (3, 102, 4, 4, 1.0), (4, 103, 5, 5, 1.0), (5, 104, 7, 7, 1.0),
    ]
    assert aggs[0][1].event_time == 1001 and aggs[0][1].is_buyer_maker
    a, price, qty, first, last, t, m = h.recent_aggs(10)
    assert a.tolist() == [100, 101, 102, 103, 104] and qty.tolist()[0] == 3.0 and t.tolist()[-1] == 1001


def test_batch_boundary_closes_an_aggregate() -> None:
    """A fill continuing the previous batch's last order starts a new aggregate (sources publish whole ms)."""
    h = SymbolHistory("BTCUSDT")
    h.add([_t(1, 10.0, 5, False)])
    assert [a.agg_id for _, a in h.add([_t(2, 10.0, 5, False)])] == [2]


def test_out_of_order_ids_are_not_stored() -> None:
    """A trade whose id does not increase is counted, not stored."""
    h = SymbolHistory("BTCUSDT")
    h.add([_t(5, 1.0, 1, False), _t(5, 1.0, 1, False), _t(4, 1.0, 1, False), _t(6, 1.0, 2, False)])
    assert h.out_of_order == 2 and h.recent_trades(10)[0].tolist() == [5, 6]


def test_queries_by_id_time_and_limit() -> None:
    """fromId and startTime give the first rows from there; endTime alone the last rows up to it; nothing the newest."""
    h = SymbolHistory("BTCUSDT")
    for k in range(30):  # 30 batches of 1000 trades, one trade per ms, alternating sides (one aggregate each)
        h.add([_t(i, 100.0, i, i % 2 == 0) for i in range(k * 1000, (k + 1) * 1000)])
    ids = h.trades_query(from_id=12_345, start_time=None, end_time=None, limit=3)[0]
    assert ids.tolist() == [12_345, 12_346, 12_347]
    assert h.trades_query(from_id=None, start_time=None, end_time=None, limit=2)[0].tolist() == [29_998, 29_999]
    assert h.trades_query(from_id=None, start_time=None, end_time=500, limit=2)[0].tolist() == [499, 500]
    window = h.trades_query(from_id=None, start_time=8190, end_time=8200, limit=1000)[0]
    assert window.tolist() == list(range(8190, 8201))  # inclusive on both ends, across a block boundary
    assert h.trades_query(from_id=None, start_time=100, end_time=50, limit=10)[0].tolist() == []
    assert h.trades_from_id(99_999, 5)[0].tolist() == []
    a = h.aggs_query(from_id=None, start_time=10, end_time=None, limit=2)[0]
    assert a.tolist() == [11, 12]  # aggregate ids start at 1: trade 10 is aggregate 11
    assert h.aggs_query(from_id=29_999, start_time=None, end_time=None, limit=5)[0].tolist() == [29_999, 30_000]


def test_capacity_drops_oldest_rows() -> None:
    """The log keeps only `capacity` rows; lookups before the kept range start at the oldest kept row."""
    log = ColumnLog((("id", "int64"), ("time", "int64")), 20_000, ("id", "time"))
    for k in range(10):
        log.append([(i, i) for i in range(k * 5000, (k + 1) * 5000)])
    ids, _ = log.rows(log.first_row, log.end_row)
    assert len(log) == 20_000 == len(ids) and ids[0] == 30_000 and ids[-1] == 49_999
    assert np.all(np.diff(ids) == 1)
    assert log.search("id", 5) == log.first_row and log.search("id", 10**9) == log.end_row
    assert log.rows(log.search("time", 40_000), log.search("time", 40_002, side="right"))[0].tolist() == [
        40_000, 40_001, 40_002
    ]


def test_usdm_aggregates_merge_fills_within_100_ms() -> None:
    """merge_ms=100 (USD-M): same price and taker side within 100 ms of the first fill is one aggregate."""
    from quantkit.exchange.history import SymbolHistory as _History
    from quantkit.schema import Trade as _Trade

    def fill(tid: int, t: int, price: float = 10.0, m: bool = False) -> _Trade:
        return _Trade("BTCUSDT", tid, price, 1.0, price, t, t, m)

    batch = [fill(1, 0), fill(2, 50), fill(3, 99), fill(4, 100), fill(5, 120, m=True), fill(6, 130, price=11.0)]
    spot, usdm = _History("BTCUSDT"), _History("BTCUSDT", merge_ms=100)
    assert [(a.first_id, a.last_id) for _, a in usdm.add(batch)] == [(1, 3), (4, 4), (5, 5), (6, 6)]
    assert len(spot.add(batch)) == 6
