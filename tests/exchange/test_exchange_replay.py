"""ReplaySource: real captures and trades CSVs replayed exactly, at max speed through the server, paced, looped."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from websockets.asyncio.client import connect

from quantkit.datafiles import read_trades_csv
from quantkit.errors import SourceError
from quantkit.exchange import ReplaySource, source_from_spec

INF = float("inf")


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def _collect(url: str, n: int) -> list[bytes]:
    async with connect(url, compression=None, max_queue=None) as ws:
        return [await ws.recv(decode=False) for _ in range(n)]


@pytest.mark.parametrize(("name", "stream"), [("spot_btcusdt_20240808.gz", "btcusdt@trade"),
                                              ("usdm_ethusdt_20240808.gz", "ethusdt@trade")])
def test_capture_replays_byte_for_byte(raw_dir, capture_trade_lines, start_exchange, run, name, stream) -> None:
    """Every captured @trade frame comes out of the exchange identical, at max speed, then `done` is set."""
    lines = capture_trade_lines(raw_dir / name)
    ex = start_exchange(ReplaySource(raw_dir / name, speed=INF))
    got = run(_collect(f"{ex.ws_url}/stream?streams={stream}", len(lines)), units=60)
    assert got == lines
    assert ex.done.wait(10) and ex.published == len(lines)


def test_two_days_of_two_symbols_keep_every_trade(raw_dir, start_exchange, run, rest) -> None:
    """Two files per symbol join without gaps; both symbols arrive interleaved in time; REST serves the same ids."""
    files = [raw_dir / f for f in ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz",
                                   "spot_ethusdt_20240808.gz", "spot_ethusdt_20240809.gz")]
    source = ReplaySource(files, speed=INF)
    assert source.symbols == ("BTCUSDT", "ETHUSDT") and source.market == "spot"
    assert source.trade_count == 9757 + 10147 + 6106 + 8409
    ex = start_exchange(source)
    got = run(_collect(f"{ex.ws_url}/stream?streams=btcusdt@trade/ethusdt@trade", source.trade_count), units=60)
    data = [json.loads(m)["data"] for m in got]
    times = [d["T"] for d in data]
    assert all(a <= b for a, b in zip(times, times[1:]))
    for sym in source.symbols:
        frame = source.frames[sym]
        mine = [d for d in data if d["s"] == sym]
        assert [d["t"] for d in mine] == frame["trade_id"].tolist()
        assert [float(d["p"]) for d in mine] == frame["price"].tolist()
        assert [float(d["q"]) for d in mine] == frame["qty"].tolist()
        assert [d["T"] for d in mine] == (frame.index.asi8 // 1_000_000).tolist()
        assert [d["E"] for d in mine] == frame["event_time"].tolist()
        assert [d["m"] for d in mine] == frame["is_buyer_maker"].tolist()
        assert np.all(np.diff(frame["trade_id"].to_numpy()) == 1)
    assert ex.done.wait(10)
    first = int(source.frames["ETHUSDT"]["trade_id"].iloc[100])
    status, rows, _ = rest(f"{ex.url}/api/v3/historicalTrades?symbol=ETHUSDT&fromId={first}&limit=2")
    assert status == 200 and [r["id"] for r in rows] == [first, first + 1]


def test_futures_csv_replays_with_the_capture_decimals(csv_dir, raw_dir, capture_trade_lines, start_exchange, run) -> None:
    """A USD-M trades CSV replays with the decimals written in the file ("61800.30"), matching the capture's fields."""
    source = ReplaySource(csv_dir / "um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz", speed=INF)
    assert source.market == "futures" and source.specs["BTCUSDT"].price_decimals == 2
    lines = capture_trade_lines(raw_dir / "usdm_btcusdt_20240808.gz")
    ex = start_exchange(source)
    got = run(_collect(f"{ex.ws_url}/ws/btcusdt@trade", len(lines)), units=60)
    for mine, theirs in zip(got, lines):
        a, b = json.loads(mine), json.loads(theirs)["data"]
        a.pop("E"), b.pop("E")  # the CSV has no event time
        assert a == b
    assert len(got) == len(lines)


def test_spot_csv_matches_the_reader(csv_dir) -> None:
    """A spot CSV's trades are exactly what quantkit.datafiles reads (id, price, qty, time, side)."""
    path = csv_dir / "spot_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
    source = ReplaySource(path, speed=INF)

    async def drain() -> list:
        return [t async for batch in source for t in batch]

    trades = asyncio.run(drain())
    frame = read_trades_csv(path).frame
    assert [t.trade_id for t in trades] == frame["trade_id"].tolist()
    assert [t.price for t in trades] == frame["price"].tolist() and [t.qty for t in trades] == frame["qty"].tolist()
    assert [t.trade_time for t in trades] == (frame.index.asi8 // 1_000_000).tolist()
    assert [t.is_buyer_maker for t in trades] == frame["is_buyer_maker"].tolist()


def test_loop_keeps_ids_and_times_increasing(raw_dir) -> None:
    """With loop=True each pass continues the ids without a gap and shifts times by the recording's length + gap."""
    source = ReplaySource(raw_dir / "spot_ethusdt_20240808.gz", speed=INF, loop=True, loop_gap_ms=500)
    n = source.trade_count

    async def take(k: int) -> list:
        out: list = []
        async for batch in source:
            out.extend(batch)
            if len(out) >= k:
                return out[:k]
        return out

    trades = asyncio.run(take(2 * n + n // 2))
    ids = np.array([t.trade_id for t in trades])
    times = np.array([t.trade_time for t in trades])
    assert np.all(np.diff(ids) == 1) and np.all(np.diff(times) >= 0)
    period = times[n] - times[0]
    assert period == (times[n - 1] - times[0]) + 500 and times[2 * n] - times[n] == period
    assert [t.price for t in trades[n : n + 50]] == [t.price for t in trades[:50]]


def test_paced_replay_with_a_fake_clock(raw_dir) -> None:
    """At speed 5, batch k is released at (T_k - T_0) / 5 seconds of the injected clock."""
    clock = FakeClock()
    source = ReplaySource(raw_dir / "spot_ethusdt_20240808.gz", speed=5.0, clock=clock, sleep=clock.sleep)

    async def drain() -> list[tuple[float, list]]:
        return [(clock.now, b) async for b in source]

    batches = asyncio.run(drain())
    t0 = batches[0][1][0].trade_time
    assert all(now == pytest.approx((b[0].trade_time - t0) / 5000, abs=1e-6) for now, b in batches)
    assert sum(len(b) for _, b in batches) == source.trade_count and len(batches) > 1000


def test_bad_inputs(raw_dir, csv_dir, shared_data, tmp_path) -> None:
    """Missing files, candle files, unknown symbols, mixed markets and bad specs raise SourceError."""
    with pytest.raises(SourceError, match="no such file"):
        ReplaySource(tmp_path / "missing.gz")
    candles = next((shared_data / "bybit_linear_klines_2025-04_2025-07_crypto_backtester" / "1m").glob("*.csv.gz"))
    with pytest.raises(SourceError, match="candles"):
        ReplaySource(candles)
    with pytest.raises(SourceError, match="DOGEUSDT"):
        ReplaySource(raw_dir / "spot_ethusdt_20240808.gz", symbols=["DOGEUSDT"])
    with pytest.raises(SourceError, match="spot and futures"):
        ReplaySource([raw_dir / "spot_ethusdt_20240808.gz", raw_dir / "usdm_ethusdt_20240808.gz"])
    with pytest.raises(SourceError, match="speed"):
        ReplaySource(raw_dir / "spot_ethusdt_20240808.gz", speed=0)
    with pytest.raises(SourceError, match="source_spec"):
        source_from_spec("kraken")
    src = source_from_spec(f"replay:{csv_dir / 'spot_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz'}", speed=INF)
    assert isinstance(src, ReplaySource) and src.symbols == ("ETHUSDT",)
    only = ReplaySource([raw_dir / "spot_ethusdt_20240808.gz", raw_dir / "spot_btcusdt_20240808.gz"], symbols=["ETHUSDT"])
    assert only.symbols == ("ETHUSDT",)
