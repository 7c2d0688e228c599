"""Ingest benchmarks: throughput vs baselines, tick-to-queryable latency, and a 5M-tick store built by the ingest path.

Every figure is measured in this run; speeds are quoted as ratios against baselines measured in the same run, and
each figure carries the machine load (1-minute average) at its start and end: a figure taken at load > 1 is
marked "loaded" (benchmarks/_load.py) and is not used for a "met" verdict.

1. Throughput. The local exchange runs in its own process (synthetic market, max speed). Each consumer, in this
   process, connects to a fresh exchange and runs for ``--seconds`` (default 8) after a 2 s warm-up:
     * bare:    a websockets client that only does json.loads per message (the ceiling);
     * quantkit: the Ingestor (feed client -> buffer -> batched ArcticDB appends); counted as *stored* ticks;
   ``--rounds`` (default 3) rounds of bare then quantkit; every run is printed, then the best of each. Two figures
   per run: wall msgs/s (what the target is about, meaningful on a quiet machine only) and CPU seconds of this
   process per message (all its threads: feed, writer, ArcticDB's pools), which a loaded machine disturbs less.
   Then one run each of
     * sqlite:  websockets + json.loads + one INSERT and commit per tick (what typical dashboards do);
     * duckdb:  the same against DuckDB.
2. Latency. Exchange paced at ``--rate`` ticks/s (default 2,000); ingest in its own process (`quantkit ingest
   --exchange-url`); this process polls the store and measures, for every tick it sees, wall time minus the trade's
   exchange time.
3. Scale. ``--ticks`` (default 5,000,000) ticks written into one symbol by the Ingestor itself (not one bulk write),
   end to end from the exchange in its own process, the Ingestor in a child process whose memory (RSS sampled every
   0.5 s, and the kernel's peak VmHWM) is reported; then tail(1000), one day of 1-minute bars, disk bytes per tick,
   next to SQLite holding the same rows. Prints how long each step took (5M ticks: several minutes).

Usage: python benchmarks/ingest.py [--quick] [--seconds S] [--rounds N] [--rate R] [--ticks N]
                                   [--only throughput,baselines,latency,scale]
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
from _load import load_now, settle, tag  # noqa: E402
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
class Run:
    """One consumer run: messages (or stored ticks) counted, wall and CPU seconds of this process, loads."""

    def __init__(self, name: str, count: int, wall: float, cpu: float, load0: float, load1: float) -> None:
        self.name, self.count, self.wall, self.cpu, self.load0, self.load1 = name, count, wall, cpu, load0, load1

    @property
    def rate(self) -> float:
        return self.count / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / max(self.count, 1) * 1e6

    def line(self) -> str:
        return (f"{self.name:9s}: {self.rate:>9,.0f} msgs/s wall, {self.cpu_us:6.2f} us CPU per message "
                f"(CPU use {self.cpu / self.wall:.2f} cores), load {self.load0:.1f} -> {self.load1:.1f}"
                f"{tag(self.load0, self.load1)}")


async def _consume(url: str, warmup: float, seconds: float, on_message) -> tuple[int, float, float]:  # type: ignore[no-untyped-def]
    """Read ``url`` for warm-up + seconds; (messages, wall s, CPU s) over the measured window only."""
    from websockets.asyncio.client import connect

    count = 0
    wall = cpu = 0.0
    async with connect(url, max_size=None, ping_interval=None) as ws:
        t_start = time.perf_counter()
        w0 = c0 = 0.0
        counting = False
        async for msg in ws:
            on_message(msg)
            if counting:
                count += 1
            now = time.perf_counter()
            if not counting and now - t_start >= warmup:
                counting, w0, c0 = True, now, time.process_time()
            if counting and now - w0 >= seconds:
                # Stop the clocks here: the closing handshake that follows (the server is still
                # sending at full speed) is not part of the window.
                wall, cpu = now - w0, time.process_time() - c0
                break
    return count, wall, cpu


def _timed(name: str, fn) -> Run:  # type: ignore[no-untyped-def]
    load0 = load_now()
    count, wall, cpu = fn()
    return Run(name, count, wall, cpu, load0, load_now())


def bare_consumer(url: str, warmup: float, seconds: float) -> Run:
    return _timed("bare", lambda: asyncio.run(_consume(url, warmup, seconds, json.loads)))


def sqlite_consumer(url: str, warmup: float, seconds: float, path: Path) -> Run:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE IF NOT EXISTS trades (symbol TEXT, trade_id INTEGER, price REAL, qty REAL, time INTEGER, maker INTEGER, PRIMARY KEY(symbol, trade_id))")

    def insert(msg: str) -> None:
        d = json.loads(msg)["data"]
        con.execute("INSERT OR IGNORE INTO trades VALUES (?,?,?,?,?,?)", (d["s"], d["t"], float(d["p"]), float(d["q"]), d["T"], int(d["m"])))
        con.commit()

    run = _timed("sqlite", lambda: asyncio.run(_consume(url, warmup, seconds, insert)))
    con.close()
    return run


def duckdb_consumer(url: str, warmup: float, seconds: float, path: Path) -> Run:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE IF NOT EXISTS trades (symbol VARCHAR, trade_id BIGINT, price DOUBLE, qty DOUBLE, time BIGINT, maker BOOLEAN)")

    def insert(msg: str) -> None:
        d = json.loads(msg)["data"]
        con.execute("INSERT INTO trades VALUES (?,?,?,?,?,?)", (d["s"], d["t"], float(d["p"]), float(d["q"]), d["T"], d["m"]))

    run = _timed("duckdb", lambda: asyncio.run(_consume(url, warmup, seconds, insert)))
    con.close()
    return run


def quantkit_consumer(exchange: ExchangeProcess, warmup: float, seconds: float, path: Path) -> Run:
    from quantkit.config import FeedConfig, IngestConfig
    from quantkit.ingest import Ingestor

    feed = FeedConfig.for_source("local", synthetic_symbols(), local_url=exchange.url)
    ing = Ingestor(feed, f"lmdb://{path}", config=IngestConfig()).start()

    def window() -> tuple[int, float, float]:
        time.sleep(warmup)
        s0, w0, c0 = ing.stats.stored, time.perf_counter(), time.process_time()
        time.sleep(seconds)
        s1, w1, c1 = ing.stats.stored, time.perf_counter(), time.process_time()
        return s1 - s0, w1 - w0, c1 - c0

    try:
        return _timed("quantkit", window)
    finally:
        ing.stop()


def _with_exchange(fn):  # type: ignore[no-untyped-def]
    ex = ExchangeProcess("--source", "synthetic", "--speed", "inf", "--no-rate-limits")
    try:
        return fn(ex)
    finally:
        ex.close()


def bench_throughput(seconds: float, warmup: float, rounds: int, quiet: float = 0.5) -> dict[str, list[Run]]:
    """``rounds`` x (bare, quantkit), each against a fresh exchange; every run printed as it ends.

    Before each run the load is let settle below ``quiet`` (:func:`_load.settle`, at most 150 s): the
    previous run's two busy processes would otherwise leave the next one starting at load ~1.
    """
    runs: dict[str, list[Run]] = {"bare": [], "quantkit": []}
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    try:
        for i in range(rounds):
            for name in ("bare", "quantkit"):
                if quiet:
                    settle(quiet, label=f"round {i + 1}: {name}")
                if name == "bare":
                    run = _with_exchange(lambda ex: bare_consumer(ex.stream_url(synthetic_symbols()), warmup, seconds))
                else:
                    run = _with_exchange(lambda ex: quantkit_consumer(ex, warmup, seconds, tmp / f"qk{i}"))
                runs[name].append(run)
                print(f"  round {i + 1}: {run.line()}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def bench_baselines(seconds: float, warmup: float) -> list[Run]:
    """One run each of the per-tick-INSERT baselines (SQLite, DuckDB)."""
    tmp = Path(tempfile.mkdtemp(dir=WORK))
    try:
        url = lambda ex: ex.stream_url(synthetic_symbols())  # noqa: E731
        return [
            _with_exchange(lambda ex: sqlite_consumer(url(ex), warmup, seconds, tmp / "ticks.sqlite")),
            _with_exchange(lambda ex: duckdb_consumer(url(ex), warmup, seconds, tmp / "ticks.duckdb")),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
def _memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB: resident now and the kernel's peak."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def _scale_child(url: str, uri: str, symbol: str, n_ticks: int, out: "mp.Queue[dict[str, float]]") -> None:
    """In a fresh process: the Ingestor stores ``n_ticks`` of ``symbol``; its memory is sampled meanwhile."""
    from quantkit.config import FeedConfig, IngestConfig
    from quantkit.ingest import Ingestor

    rss0, _ = _memory_kb(os.getpid())
    feed = FeedConfig.for_source("local", [symbol], local_url=url)
    t0, c0 = time.perf_counter(), time.process_time()
    ing = Ingestor(feed, uri, config=IngestConfig()).start()
    rss_max, last_print = rss0, t0
    try:
        while (stored := ing.stats.stored) < n_ticks:
            time.sleep(0.5)
            rss_max = max(rss_max, _memory_kb(os.getpid())[0])
            if time.perf_counter() - last_print >= 30:
                last_print = time.perf_counter()
                print(f"    ... {stored:,} ticks stored after {last_print - t0:.0f} s, RSS {rss_max / 1024:.0f} MB max so far",
                      flush=True)
    finally:
        final = ing.stop()
    rss1, hwm = _memory_kb(os.getpid())
    out.put({"stored": float(final.stored), "ingest_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
             "rss_start_mb": rss0 / 1024, "rss_max_mb": max(rss_max, rss1) / 1024, "rss_end_mb": rss1 / 1024,
             "peak_mb": hwm / 1024, "write_errors": float(final.write_errors)})


def bench_scale(n_ticks: int) -> dict[str, float]:
    import multiprocessing as mp

    import pandas as pd

    from store import dir_bytes, sqlite_bytes  # benchmarks/store.py: the same disk and SQLite measures

    from quantkit.store import TickStore

    tmp = Path(tempfile.mkdtemp(dir=WORK))
    uri = f"lmdb://{tmp / 'scale'}"
    sym = "SYNBUSDT"
    t_all = time.perf_counter()
    ex = ExchangeProcess("--source", "synthetic", "--speed", "inf", "--no-rate-limits")
    try:
        ctx = mp.get_context("spawn")
        out: mp.Queue[dict[str, float]] = ctx.Queue()
        child = ctx.Process(target=_scale_child, args=(ex.url, uri, sym, n_ticks, out))
        child.start()
        r = out.get()
        child.join(60)
    finally:
        ex.close()
    store = TickStore(uri)
    t_maint = time.perf_counter()
    store.maintain(sym)
    r["maintain_s"] = time.perf_counter() - t_maint
    ticks = store.ticks(sym)
    n = len(ticks)
    r["tail_1000_ms"] = _best_ms(lambda: store.tail(sym, 1000), 30)
    day_end = ticks.index[-1]
    day_start = day_end - pd.Timedelta("1D")
    r["bars"] = float(len(store.bars(sym, "1m", day_start, day_end)))
    r["bars_1m_1day_ms"] = _best_ms(lambda: store.bars(sym, "1m", day_start, day_end), 10)
    r["span_hours"] = (ticks.index[-1] - ticks.index[0]).total_seconds() / 3600
    r["ticks"] = float(n)
    r["bytes_per_tick"] = dir_bytes(tmp / "scale") / n
    sq_size, _ = sqlite_bytes(ticks, tmp / "baseline.sqlite", time_index=False)
    r["sqlite_bytes_per_tick"] = sq_size / n
    shutil.rmtree(tmp, ignore_errors=True)
    r["total_s"] = time.perf_counter() - t_all
    return r


def _best_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


PARTS = ("throughput", "baselines", "latency", "scale")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run (3 s windows, 1 round, 200k ticks)")
    ap.add_argument("--seconds", type=float, default=8.0, help="measured window of each run, s (default 8)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of bare + quantkit (default 3: best of 3)")
    ap.add_argument("--settle", type=float, default=0.5,
                    help="throughput: wait (<= 150 s) for the 1-min load to fall below this before each run; 0: don't")
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--ticks", type=int, default=5_000_000)
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {PARTS}")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only - set(PARTS):
        ap.error(f"--only: unknown part(s) {sorted(only - set(PARTS))}; choose from {PARTS}")
    if args.quick:
        args.seconds, args.ticks, args.rounds, args.settle = 3.0, 200_000, 1, 0.0
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if "throughput" in only:
        print(f"\nthroughput: {args.rounds} round(s) of bare then quantkit, {args.seconds:.0f} s windows after a 2 s warm-up "
              "(exchange in its own process, synthetic, max speed)", flush=True)
        runs = bench_throughput(args.seconds, 2.0, args.rounds, args.settle)
        bare = max(runs["bare"], key=lambda r: r.rate)
        qk = max(runs["quantkit"], key=lambda r: r.rate)
        bare_cpu = min(r.cpu_us for r in runs["bare"])
        qk_cpu = min(r.cpu_us for r in runs["quantkit"])
        loads = [x for r in runs["bare"] + runs["quantkit"] for x in (r.load0, r.load1)]
        print(f"  best of {args.rounds}, wall: quantkit {qk.rate:,.0f} ticks/s stored vs bare {bare.rate:,.0f} msgs/s: "
              f"ratio {qk.rate / bare.rate:.2f} (target >= 0.8){tag(*loads)}")
        print(f"  best of {args.rounds}, CPU per message: quantkit {qk_cpu:.2f} us vs bare {bare_cpu:.2f} us: "
              f"ratio {bare_cpu / qk_cpu:.2f} (bare / quantkit; the wall ratio this predicts when both are CPU-bound)"
              f"{tag(*loads)}")
    if "baselines" in only:
        print(f"\nper-tick INSERT baselines, {args.seconds:.0f} s windows", flush=True)
        for run in bench_baselines(args.seconds, 2.0):
            print(f"  {run.line()}", flush=True)
        print("  (compare with the quantkit runs above: target quantkit >= 20x each)")
    if "latency" in only:
        load0 = load_now()
        r = bench_latency(args.rate, args.seconds)
        print(f"\ntick-to-queryable latency from another process at {args.rate:,.0f} ticks/s over {args.seconds:.0f} s ({int(r['samples']):,} ticks)")
        print(f"  p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms (target <= 250), max {r['max_ms']:.1f} ms{tag(load0, load_now())}")
    if "scale" in only:
        load0 = load_now()
        print(f"\nscale: {args.ticks:,} ticks in one symbol through the Ingestor (a child process), load {load0:.1f} at start", flush=True)
        r = bench_scale(args.ticks)
        mark = tag(load0, load_now())
        print(f"  {int(r['ticks']):,} ticks stored in {r['ingest_s']:.0f} s ({r['stored'] / r['ingest_s']:,.0f} ticks/s, "
              f"{r['cpu_s'] / r['stored'] * 1e6:.2f} us CPU per tick in the ingest process, {r['write_errors']:.0f} write errors), "
              f"{r['span_hours']:.1f} h of market time{mark}")
        print(f"  ingest process memory: RSS {r['rss_start_mb']:.0f} MB at start, {r['rss_max_mb']:.0f} MB max (sampled "
              f"every 0.5 s), {r['rss_end_mb']:.0f} MB at the end; peak (VmHWM) {r['peak_mb']:.0f} MB")
        print(f"  tail(1000)              : {r['tail_1000_ms']:.2f} ms (target <= 5){mark}")
        print(f"  one day of 1-minute bars: {r['bars_1m_1day_ms']:.1f} ms for {int(r['bars']):,} bars (target <= 100){mark}")
        print(f"  disk bytes per tick     : {r['bytes_per_tick']:.1f} (ArcticDB/LMDB, allocated blocks after maintain) vs "
              f"{r['sqlite_bytes_per_tick']:.1f} (SQLite, same rows, trade_id primary key)")
        print(f"  the scale part took {r['total_s']:.0f} s in all (ingest {r['ingest_s']:.0f} s, maintain {r['maintain_s']:.1f} s, "
              "then reads, bars and the SQLite copy)")


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        main()
