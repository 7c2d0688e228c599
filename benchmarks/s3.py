"""ArcticDB on S3 next to LMDB: ingest (append) and read latency, and what the compaction policy changes.

The S3 endpoint is moto's server in its own process on 127.0.0.1 (``python -m moto.server``), so
S3 figures here are a lower bound of a real bucket's latency (no network, no TLS; but moto is slow
Python). For each back-end and each maintenance policy:

1. **append**: ``--appends`` batches of ``--rows`` ticks appended to one symbol through
   ``TickStore.append_ticks`` (as the ingest's writer does every flush); latency p50/p99/max, where
   p99/max include the inline maintenance passes the policy triggers;
2. **reads** after those appends (the symbol as the writer left it), median of ``--reads`` calls:
   ``tail(1000)``, ``ticks`` of the last 5 minutes, 1-minute ``bars`` of everything, ``symbols()``;
3. **end to end** (``--ingest-seconds``): the Ingestor from a local exchange into the store; tick-to-store
   lag p50/p99 (store time minus the trade's exchange time) at the default maintenance policy.

Policies: ``none`` (no maintenance: every append stays its own segment), ``every 200`` (the default
``MaintenancePolicy``: prune + compact after 200 appends or 60 s), ``every 50``, ``every 10``.

Usage: python benchmarks/s3.py [--quick] [--appends N] [--rows R] [--reads K] [--ingest-seconds S]
"""

from __future__ import annotations

import argparse
import logging
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the moto S3 helper of the test suite (tests/_support/s3.py)

T0_MS = 1_723_075_200_000


def ticks(start_id: int, n: int, t0_ms: int) -> pd.DataFrame:
    """``n`` ticks with ids from ``start_id``, ~35 ms apart (a busy symbol)."""
    ids = np.arange(start_id, start_id + n, dtype=np.int64)
    rng = np.random.default_rng(start_id)
    price = 61_800 + rng.standard_normal(n).cumsum() * 0.5
    qty = np.round(rng.random(n) * 0.1 + 0.0001, 5)
    t = t0_ms + (ids - 1) * 35
    return pd.DataFrame(
        {"trade_id": ids, "price": price, "qty": qty, "quote_qty": price * qty, "is_buyer_maker": rng.random(n) < 0.5},
        index=pd.DatetimeIndex(pd.to_datetime(t, unit="ms", utc=True), name="time"),
    )


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def timed(fn: Callable[[], Any], k: int) -> float:
    """Median wall ms of ``k`` calls."""
    out = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return float(np.median(out))


def bench_policy(uri: str, policy: Any, appends: int, rows: int, reads: int) -> dict[str, Any]:
    from quantkit.store import TickStore

    store = TickStore(uri, maintenance=policy)
    sym = "BTCUSDT"
    lat = []
    for b in range(appends):
        frame = ticks(1 + b * rows, rows, T0_MS)
        t = time.perf_counter()
        store.append_ticks(sym, frame)
        lat.append((time.perf_counter() - t) * 1000)
    last = store.tail(sym, 1).index[-1]
    segments = store.raw_library.get_description(sym).row_count, store._segments(sym)  # row slices (private helper)
    return {
        "append_p50": pct(lat, 50), "append_p99": pct(lat, 99), "append_max": max(lat),
        "tail": timed(lambda: store.tail(sym, 1000), reads),
        "last5m": timed(lambda: store.ticks(sym, start=last - pd.Timedelta(minutes=5)), reads),
        "bars": timed(lambda: store.bars(sym, "1m"), reads),
        "symbols": timed(store.symbols, reads),
        "rows": segments[0], "segments": segments[1],
    }


def bench_ingest(uri: str, seconds: float) -> dict[str, Any]:
    from quantkit.config import FeedConfig, IngestConfig
    from quantkit.exchange import LocalExchange, SyntheticMarket
    from quantkit.ingest import Ingestor

    # speed 1 (exchange time = wall time, so the lag is real) with 20x the default trade rates: ~500 trades/s
    market = SyntheticMarket(seed=3, speed=1.0, trade_rates=(440.0, 600.0, 300.0, 240.0))
    with LocalExchange(market, ping_interval=None) as ex:
        feed = FeedConfig.for_source("local", ["SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT"], local_url=ex.url)
        ing = Ingestor(feed, uri, config=IngestConfig(flush_interval=0.25)).start()
        time.sleep(seconds)
        st = ing.stop()
    return {"stored": st.stored, "lag_p50": st.lag_ms_p50, "lag_p99": st.lag_ms_p99, "write_errors": st.write_errors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--appends", type=int, default=None, help="appends per run (default 400; quick 60)")
    ap.add_argument("--rows", type=int, default=500, help="ticks per append (default 500: a 0.25-1 s flush)")
    ap.add_argument("--reads", type=int, default=None, help="calls per read figure (default 15; quick 5)")
    ap.add_argument("--ingest-seconds", type=float, default=None, help="end-to-end run per back-end (default 20; quick 5)")
    args = ap.parse_args()
    appends = args.appends or (60 if args.quick else 400)
    reads = args.reads or (5 if args.quick else 15)
    ingest_s = args.ingest_seconds if args.ingest_seconds is not None else (5.0 if args.quick else 20.0)
    logging.basicConfig(level=logging.ERROR)

    from _support.s3 import MotoServer

    from quantkit.store import MaintenancePolicy

    policies = {
        "none": None,
        "every 200 (default)": MaintenancePolicy(),
        "every 50": MaintenancePolicy(interval=None, every_appends=50),
        "every 10": MaintenancePolicy(interval=None, every_appends=10),
    }
    print(f"# ArcticDB on S3 (moto server, own process, 127.0.0.1) vs LMDB — {time.strftime('%Y-%m-%d %H:%M:%S')}, "
          f"{platform.platform()}, {shutil.os.cpu_count()} CPUs (shared)")
    print(f"# {appends} appends x {args.rows} ticks per run; reads: median of {reads} calls after the appends\n", flush=True)
    work = Path(tempfile.mkdtemp(prefix="qk-s3-"))
    moto = MotoServer()
    rows = []
    try:
        for backend in ("lmdb", "s3"):
            for name, pol in policies.items():
                uri = f"lmdb://{work / (backend + name.split()[0] + name.split()[-1])}" if backend == "lmdb" \
                    else moto.uri(moto.new_bucket("bench"))
                r = bench_policy(uri, pol, appends, args.rows, reads)
                rows.append((backend, name, r))
                print(f"  {backend:4} {name:20} append p50 {r['append_p50']:7.1f} ms ... done", flush=True)
        head = ("back-end", "maintenance", "append p50 ms", "p99 ms", "max ms", "tail(1000) ms", "last 5 min ms",
                "1m bars (all) ms", "symbols() ms", "segments")
        table = [head]
        for backend, name, r in rows:
            table.append((backend, name, f"{r['append_p50']:.1f}", f"{r['append_p99']:.1f}", f"{r['append_max']:.1f}",
                          f"{r['tail']:.1f}", f"{r['last5m']:.1f}", f"{r['bars']:.1f}", f"{r['symbols']:.1f}",
                          str(r["segments"])))
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        print()
        for k, row in enumerate(table):
            print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
            if k == 0:
                print("  ".join("-" * w for w in widths))
        if ingest_s > 0:
            print(f"\n## End to end: Ingestor (flush 0.25 s, default maintenance), synthetic market at 1x with 20x its "
                  f"trade rates (~500 trades/s), {ingest_s:g} s\n")
            for backend in ("lmdb", "s3"):
                uri = f"lmdb://{work / 'ingest'}" if backend == "lmdb" else moto.uri(moto.new_bucket("ingest"))
                e = bench_ingest(uri, ingest_s)
                print(f"{backend:4}  stored {e['stored']:,}  tick-to-store lag p50 {e['lag_p50']:.0f} ms, "
                      f"p99 {e['lag_p99']:.0f} ms, write errors {e['write_errors']}")
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        sys.exit(main())
