"""Ingest benchmarks: throughput vs baselines, tick-to-queryable latency, and a 5M-tick store built by the ingest path.

Every figure is measured in this run; speeds are quoted as ratios against baselines measured in the same run.

1. Throughput. The local exchange runs in its own process (synthetic market, max speed). Each consumer, in this
   process, connects to a fresh exchange and runs for ``--seconds`` after a warm-up:
     * bare:    a websockets client that only does json.loads per message (the ceiling);
     * quantkit: the Ingestor (feed client -> buffer -> batched ArcticDB appends); counted as *stored* ticks;
     * sqlite:  websockets + json.loads + one INSERT and commit per tick (what typical dashboards do);
     * duckdb:  the same against DuckDB.
2. Latency. Exchange paced at ``--rate`` ticks/s (default 2,000); ingest in its own process (`quantkit ingest
   --exchange-url`); this process polls the store and measures, for every tick it sees, wall time minus the trade's
   exchange time.
3. Scale. ``--ticks`` (default 5,000,000) ticks written into one symbol by the Ingestor itself (not one bulk write);
   then tail(1000), one day of 1-minute bars, disk bytes per tick, next to SQLite holding the same rows.

Usage: python benchmarks/ingest.py [--quick] [--seconds S] [--rate R] [--ticks N] [--only throughput,latency,scale]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's helpers (tests/_support)
from _support.waiting import free_port  # noqa: E402


class ExchangeProcess:
    """`quantkit exchange` in a child process."""

    def __init__(self, *extra: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantkit", "exchange", "--port", str(self.port), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("exchange did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stream_url(self, symbols: list[str]) -> str:
        return f"ws://127.0.0.1:{self.port}/stream?streams=" + "/".join(f"{s.lower()}@trade" for s in symbols)

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def synthetic_symbols() -> list[str]:
    from quantkit.config import SYNTHETIC_SYMBOLS

    return list(SYNTHETIC_SYMBOLS)


# ------------------------------------------------------------------------------------------------ throughput
async def _consume(url: str, warmup: float, seconds: float, on_message) -> int:  # type: ignore[no-untyped-def]
    from websockets.asyncio.client import connect

    count = 0
    async with connect(url, max_size=None, ping_interval=None) as ws:
        t_start = time.perf_counter()
        t_end = t_start + warmup + seconds
        counting = False
        async for msg in ws:
            on_message(msg)
            if counting:
                count += 1
            now = time.perf_counter()
            if not counting and now - t_start >= warmup:
                counting = True
            if now >= t_end:
                break
    return count


def bare_consumer(url: str, warmup: float, seconds: float) -> float:
    n = asyncio.run(_consume(url, warmup, seconds, json.loads))
    return n / seconds


def sqlite_consumer(url: str, warmup: float, seconds: float, path: Path) -> float:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE IF NOT EXISTS trades (symbol TEXT, trade_id INTEGER, price REAL, qty REAL, time INTEGER, maker INTEGER, PRIMARY KEY(symbol, trade_id))")

    def insert(msg: str) -> None:
        d = json.loads(msg)["data"]
        con.execute("INSERT OR IGNORE INTO trades VALUES (?,?,?,?,?,?)", (d["s"], d["t"], float(d["p"]), float(d["q"]), d["T"], int(d["m"])))
        con.commit()

    rate = asyncio.run(_consume(url, warmup, seconds, insert)) / seconds
    con.close()
    return rate


def duckdb_consumer(url: str, warmup: float, seconds: float, path: Path) -> float:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE IF NOT EXISTS trades (symbol VARCHAR, trade_id BIGINT, price DOUBLE, qty DOUBLE, time BIGINT, maker BOOLEAN)")

    def insert(msg: str) -> None:
        d = json.loads(msg)["data"]
        con.execute("INSERT INTO trades VALUES (?,?,?,?,?,?)", (d["s"], d["t"], float(d["p"]), float(d["q"]), d["T"], d["m"]))

    rate = asyncio.run(_consume(url, warmup, seconds, insert)) / seconds
    con.close()
    return rate


def quantkit_consumer(exchange: ExchangeProcess, warmup: float, seconds: float, path: Path) -> float:
    from quantkit.config import FeedConfig, IngestConfig
    from quantkit.ingest import Ingestor

    feed = FeedConfig.for_source("local", synthetic_symbols(), local_url=exchange.url)
    ing = Ingestor(feed, f"lmdb://{path}", config=IngestConfig()).start()
    try:
        time.sleep(warmup)
        s0 = ing.stats.stored
        time.sleep(seconds)
        s1 = ing.stats.stored
    finally:
        ing.stop()
    return (s1 - s0) / seconds


def bench_throughput(seconds: float, warmup: float) -> dict[str, float]:
    results: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    for name in ("bare", "quantkit", "sqlite", "duckdb", "bare"):
        ex = ExchangeProcess("--source", "synthetic", "--speed", "inf")
        try:
            url = ex.stream_url(synthetic_symbols())
            if name == "bare":
                rate = bare_consumer(url, warmup, seconds)
                results["bare"] = max(results.get("bare", 0.0), rate)  # best of two runs: the stricter baseline
                results.setdefault("bare_runs", 0)
                results["bare_runs"] += 1
                continue
            if name == "quantkit":
                rate = quantkit_consumer(ex, warmup, seconds, tmp / "qk")
            elif name == "sqlite":
                rate = sqlite_consumer(url, warmup, seconds, tmp / "ticks.sqlite")
            else:
                rate = duckdb_consumer(url, warmup, seconds, tmp / "ticks.duckdb")
            results[name] = rate
        finally:
            ex.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return results


# ------------------------------------------------------------------------------------------------ latency
def bench_latency(rate: float, seconds: float) -> dict[str, float]:
    from quantkit.store import TickStore

    tmp = Path(tempfile.mkdtemp(dir=WORK))
    uri = f"lmdb://{tmp / 'lat'}"
    ex = ExchangeProcess("--source", "synthetic", "--rate", str(rate))
    env = dict(os.environ, QUANTKIT_FLUSH_INTERVAL="0.05")
    ing = subprocess.Popen(
        [sys.executable, "-m", "quantkit", "ingest", "--exchange-url", ex.url, "--store", uri, "--stats-every", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    lat: list[float] = []
    try:
        time.sleep(3.0)  # connect + first flush
        store = TickStore(uri)
        syms = synthetic_symbols()
        last_id = {s: -1 for s in syms}
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            for s in syms:
                if not store.has_symbol(s):
                    continue
                tail = store.tail(s, 2000)
                now_ns = time.time_ns()
                new = tail[tail["trade_id"].to_numpy() > last_id[s]]
                if last_id[s] >= 0 and len(new):
                    t = new.index.asi8 if hasattr(new.index, "asi8") else new.index.view("int64")
                    lat.extend(((now_ns - t) / 1e6).tolist())
                if len(tail):
                    last_id[s] = int(tail["trade_id"].iloc[-1])
            time.sleep(0.005)
    finally:
        os.killpg(ing.pid, signal.SIGTERM)
        ing.wait(30)
        ex.close()
        shutil.rmtree(tmp, ignore_errors=True)
    arr = np.asarray(lat)
    return {"samples": float(len(arr)), "p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99)), "max_ms": float(arr.max())}


# ------------------------------------------------------------------------------------------------ scale
def bench_scale(n_ticks: int) -> dict[str, float]:
    import pandas as pd

    from quantkit.config import FeedConfig, IngestConfig
    from quantkit.ingest import Ingestor
    from quantkit.store import TickStore

    tmp = Path(tempfile.mkdtemp(dir=WORK))
    uri = f"lmdb://{tmp / 'scale'}"
    ex = ExchangeProcess("--source", "synthetic", "--speed", "inf")
    sym = "SYNBUSDT"
    feed = FeedConfig.for_source("local", [sym], local_url=ex.url)
    t0 = time.perf_counter()
    ing = Ingestor(feed, uri, config=IngestConfig()).start()
    try:
        while ing.stats.stored < n_ticks:
            time.sleep(0.5)
    finally:
        final = ing.stop()
        ex.close()
    ingest_s = time.perf_counter() - t0
    store = TickStore(uri)
    store.maintain(sym)
    ticks = store.ticks(sym)
    n = len(ticks)
    tail_ms = _best_ms(lambda: store.tail(sym, 1000), 30)
    day_end = ticks.index[-1]
    day_start = day_end - pd.Timedelta("1D")
    bars_ms = _best_ms(lambda: store.bars(sym, "1m", day_start, day_end), 10)
    span_h = (ticks.index[-1] - ticks.index[0]).total_seconds() / 3600
    disk = _du(tmp / "scale")
    sq = tmp / "baseline.sqlite"
    con = sqlite3.connect(sq)
    con.execute("CREATE TABLE trades (trade_id INTEGER PRIMARY KEY, time INTEGER, price REAL, qty REAL, quote_qty REAL, maker INTEGER)")
    con.executemany(
        "INSERT INTO trades VALUES (?,?,?,?,?,?)",
        zip(ticks["trade_id"].tolist(), ticks.index.asi8.tolist(), ticks["price"].tolist(), ticks["qty"].tolist(), ticks["quote_qty"].tolist(), ticks["is_buyer_maker"].astype(int).tolist()),
    )
    con.commit()
    con.close()
    sq_disk = sq.stat().st_size
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "ticks": float(n), "ingest_s": ingest_s, "ingest_ticks_per_s": final.stored / ingest_s, "span_hours": span_h,
        "tail_1000_ms": tail_ms, "bars_1m_1day_ms": bars_ms,
        "bytes_per_tick": disk / n, "sqlite_bytes_per_tick": sq_disk / n,
    }  # fmt: skip


def _best_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--ticks", type=int, default=5_000_000)
    ap.add_argument("--only", default="throughput,latency,scale")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.ticks = 3.0, 200_000
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    only = set(args.only.split(","))
    if "throughput" in only:
        r = bench_throughput(args.seconds, warmup=2.0)
        print(f"\nthroughput over {args.seconds:.0f} s (exchange in its own process, synthetic, max speed)")
        print(f"  bare websockets + json.loads : {r['bare']:>10,.0f} msgs/s  (best of {int(r['bare_runs'])} runs)")
        print(f"  quantkit Ingestor -> ArcticDB: {r['quantkit']:>10,.0f} ticks/s stored  ratio vs bare {r['quantkit'] / r['bare']:.2f} (target >= 0.8)")
        print(f"  SQLite INSERT+commit per tick: {r['sqlite']:>10,.0f} ticks/s  quantkit/sqlite {r['quantkit'] / r['sqlite']:.1f}x (target >= 20x)")
        print(f"  DuckDB INSERT per tick       : {r['duckdb']:>10,.0f} ticks/s  quantkit/duckdb {r['quantkit'] / r['duckdb']:.1f}x (target >= 20x)")
    if "latency" in only:
        r = bench_latency(args.rate, args.seconds)
        print(f"\ntick-to-queryable latency from another process at {args.rate:,.0f} ticks/s over {args.seconds:.0f} s ({int(r['samples']):,} ticks)")
        print(f"  p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms (target <= 250), max {r['max_ms']:.1f} ms")
    if "scale" in only:
        r = bench_scale(args.ticks)
        print(f"\nscale: {int(r['ticks']):,} ticks in one symbol written by the Ingestor ({r['ingest_s']:.0f} s, {r['ingest_ticks_per_s']:,.0f} ticks/s, {r['span_hours']:.1f} h of market time)")
        print(f"  tail(1000)              : {r['tail_1000_ms']:.2f} ms (target <= 5)")
        print(f"  one day of 1-minute bars: {r['bars_1m_1day_ms']:.1f} ms (target <= 100)")
        print(f"  disk bytes per tick     : {r['bytes_per_tick']:.1f} (ArcticDB/LMDB) vs {r['sqlite_bytes_per_tick']:.1f} (SQLite, same rows, trade_id primary key)")


if __name__ == "__main__":
    main()
