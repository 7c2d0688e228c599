"""Processes started by the fault campaign (:mod:`_support.campaign`), a test harness.

* ``python tests/_support/ingest_child.py --exchange-url URL --store URI --symbols A,B`` runs an
  :class:`~quantkit.ingest.Ingestor` and prints one JSON line per change of its acknowledged state
  (``{"acks": {symbol: last stored id}, "state": ..., "stored": n, ...}``), so a parent that
  ``kill -9``\\ s it knows what the ingest had acknowledged as stored. SIGTERM stops it cleanly
  (prints ``{"final": {...}}``; exit 0, or 3 when accepted trades could not be written).
* :func:`read_loop` is the body of a reader process (dashboard, report or notebook-like reads) run
  with ``multiprocessing`` (spawn) while a writer ingests.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Sequence

import numpy as np

__all__ = ["READER_KINDS", "main", "read_loop"]

#: Read mixes of :func:`read_loop`: what a live dashboard, a report and a notebook kernel do.
READER_KINDS: tuple[str, ...] = ("dashboard", "report", "notebook")

def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run an ingest child until SIGTERM (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="ingest_child.py")
    ap.add_argument("--exchange-url", required=True)
    ap.add_argument("--store", required=True, help="ArcticDB URI")
    ap.add_argument("--library", default="quantkit")
    ap.add_argument("--symbols", required=True, help="comma-separated")
    ap.add_argument("--flush", type=float, default=0.1, help="flush interval, s")
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--maintain-every", type=int, default=200, help="appends between maintenance passes (0: off)")
    ap.add_argument("--ping", type=float, default=1.0, help="client ping interval and timeout, s")
    ap.add_argument("--backoff-max", type=float, default=1.0)
    ap.add_argument("--store-full-retry", type=float, default=1.0)
    ap.add_argument("--every", type=float, default=0.05, help="seconds between ack lines")
    args = ap.parse_args(argv)

    from quantkit.config import FeedConfig, IngestConfig, StoreConfig
    from quantkit.ingest import Ingestor
    from quantkit.store import MaintenancePolicy, TickStore

    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    feed = FeedConfig.for_source(
        "local", symbols, local_url=args.exchange_url, ping_interval=args.ping, ping_timeout=args.ping,
        backoff_initial=0.05, backoff_max=args.backoff_max, open_timeout=5.0,
    )
    policy = MaintenancePolicy(interval=None, every_appends=args.maintain_every) if args.maintain_every else None
    store = TickStore(config=StoreConfig(uri=args.store, library=args.library), maintenance=policy)
    cfg = IngestConfig(flush_interval=args.flush, batch_size=args.batch, queue_size=max(200_000, args.batch))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ing = Ingestor(feed, store, config=cfg, store_full_retry=args.store_full_retry).start()
    _emit({"event": "started", "pid": os.getpid()})
    last: tuple[Any, ...] | None = None
    while not stop.wait(args.every):
        st = ing.stats
        key = (tuple(sorted(st.last_ids.items())), st.state, st.feed_state, st.last_error, st.reconnects)
        if key != last:
            last = key
            _emit({"acks": st.last_ids, "state": st.state, "feed_state": st.feed_state, "stored": st.stored,
                   "reconnects": st.reconnects, "last_error": st.last_error, "gaps": st.gaps})
    code = 0
    try:
        final = ing.stop(timeout=20.0)
    except Exception as exc:  # IngestError: accepted trades not written (store full)
        code = 3
        final = ing.stats
        _emit({"error": f"{type(exc).__name__}: {exc}"})
    _emit({"final": final.to_dict()})
    if final.restart_required:
        # After MDB_MAP_FULL ArcticDB 6.28's LMDB environment is corrupted in memory: its destructors were
        # measured to abort the interpreter at exit ("double free or corruption"). Everything is flushed:
        # leave without running them.
        sys.stderr.flush()
        os._exit(code)
    return code


def read_loop(uri: str, library: str, symbols: Sequence[str], kind: str, seconds: float, ready: Any, go: Any, out: Any) -> None:
    """Read the store like a ``kind`` reader for ``seconds`` after ``go`` is set; report to ``out``.

    Every read checks what a reader must never see: an error, a symbol's ArcticDB version, row
    count or last trade id going backwards, ids not strictly increasing in a tail.

    Puts ``{"kind", "reads", "errors": [...], "regressions": [...], "versions": {sym: (first, last)}}``.
    """
    from quantkit.config import StoreConfig
    from quantkit.store import TickStore

    store = TickStore(config=StoreConfig(uri=uri, library=library), maintenance=None)
    lib = store.raw_library
    ready.put(kind)
    go.wait()
    errors: list[str] = []
    regressions: list[str] = []
    seen_version: dict[str, int] = {}
    first_version: dict[str, int] = {}
    seen_count: dict[str, int] = {}
    seen_last: dict[str, int] = {}
    reads = 0
    i = 0
    op = ""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sym = symbols[i % len(symbols)]
        i += 1
        try:
            op = "has_symbol"
            if not store.has_symbol(sym):
                time.sleep(0.01)
                continue
            op = "version"
            v = int(store._retry(sym, sym, lambda: lib.tail(sym, 1, columns=["trade_id"])).version)  # TickStore's read retry
            if v < seen_version.get(sym, -1):
                regressions.append(f"{sym}: version {seen_version[sym]} -> {v}")
            seen_version[sym] = max(v, seen_version.get(sym, -1))
            first_version.setdefault(sym, v)
            if kind == "dashboard":
                op = "tail"
                tail = store.tail(sym, 1000)
                op = "bars 1s"
                _ = store.bars(sym, "1s", start=tail.index[0] if len(tail) else None)
                if i % 10 == 0:
                    op = "symbols"
                    cat = store.symbols()
                    row = cat.loc[(cat["symbol"] == sym) & (cat["kind"] == "ticks"), "count"]
                    if row.empty:
                        errors.append(f"{sym}: symbols() does not list it ({len(cat)} rows)")
                        continue
                    count = int(row.iloc[0])
                    if count < seen_count.get(sym, -1):
                        regressions.append(f"{sym}: count {seen_count[sym]} -> {count}")
                    seen_count[sym] = max(count, seen_count.get(sym, -1))
            elif kind == "report":
                op = "ticks"
                ticks = store.ticks(sym, columns=["trade_id", "price"])
                count = len(ticks)
                if count < seen_count.get(sym, -1):
                    regressions.append(f"{sym}: count {seen_count[sym]} -> {count}")
                seen_count[sym] = max(count, seen_count.get(sym, -1))
                op = "bars 1m"
                _ = store.bars(sym, "1m")
                op = "gaps"
                _ = store.gaps()
                tail = ticks.iloc[-1000:]
            else:  # notebook: recent window + bars
                op = "tail"
                tail = store.tail(sym, 200)
                if len(tail):
                    op = "ticks window"
                    _ = store.ticks(sym, start=tail.index[0])
                    op = "bars 5s"
                    _ = store.bars(sym, "5s", start=tail.index[0])
            ids = tail["trade_id"].to_numpy()
            if len(ids) > 1 and not bool(np.all(np.diff(ids) > 0)):
                regressions.append(f"{sym}: ids not strictly increasing in a read")
            if len(ids):
                last = int(ids[-1])
                if last < seen_last.get(sym, -1):
                    regressions.append(f"{sym}: last id {seen_last[sym]} -> {last}")
                seen_last[sym] = max(last, seen_last.get(sym, -1))
            reads += 1
        except Exception as exc:  # the campaign counts these; there must be none
            errors.append(f"{sym} {op}: {type(exc).__name__}: {exc}"[:300])
    out.put({
        "kind": kind,
        "reads": reads,
        "errors": errors,
        "regressions": regressions,
        "versions": {s: (first_version[s], seen_version[s]) for s in seen_version},
    })


if __name__ == "__main__":
    sys.exit(main())
