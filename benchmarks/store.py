"""Benchmark of the tick store (a script, not a test): prints tables for benchmarks/RESULTS.md.

Usage::

    python benchmarks/store.py                 # 5,000,000 ticks (about 2 days of a busy symbol)
    python benchmarks/store.py --quick         # 200,000 ticks
    python benchmarks/store.py --ticks 1000000 --keep

What it measures (LMDB in ``benchmarks/_work/``, removed afterwards unless ``--keep``):

1. Write: N synthetic ticks (several trades per millisecond, ~29 trades/s) through
   ``TickStore.append_ticks`` in ingest-sized batches (uniform 1,000-5,000 ticks), with the
   default :class:`~quantkit.store.MaintenancePolicy` cadence (a pass every 200 appends) run as the
   ingest writer would. Append and maintenance latency; index/version/segment growth at checkpoints.
2. Reads: ``tail(1000)``, last 5 minutes of ticks, one day of 1-minute bars (through the writer's
   1-minute bar cache, and directly from the ticks), whole-history bars computed by ArcticDB
   (``QueryBuilder.resample``) vs the in-process fold (read ticks + ``fold_ticks``, the live bar builder's rule), with a check that both agree.
3. Disk: bytes per tick of the LMDB store (file size and live ArcticDB keys) vs SQLite holding the same
   rows (``trade_id INTEGER PRIMARY KEY``; with and without an index on time).
4. Maintenance policies on a smaller symbol: none vs the default vs prune+compact on every append.
5. Reader freshness: how long until a reader *process* sees an appended tick, for
   ``VersionMap.ReloadInterval`` 0 s and 0.1 s (the store default), and the reader's ``tail`` cost.

Numbers depend on the machine and on what else runs on it; treat them as indicative.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from quantkit.store import MaintenancePolicy, TickStore
from quantkit.store._bars import tick_bars_arctic, tick_bars_local

__all__ = ["main"]

SYMBOL = "BTCUSDT"
START = pd.Timestamp("2024-08-08", tz="UTC")


# ----------------------------------------------------------------------------- data


def synthetic_ticks(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` ticks: taker orders every ~75 ms (exponential), each filling 1-6 makers in one millisecond."""
    rng = np.random.default_rng(seed)
    sizes = rng.geometric(0.45, size=n)  # makers per taker order, mean ~2.2
    group = np.repeat(np.arange(len(sizes)), sizes)[:n]
    n_groups = int(group[-1]) + 1
    gaps = np.maximum(rng.exponential(75.0, size=n_groups), 0.0).astype(np.int64)
    order_ms = START.value // 1_000_000 + np.cumsum(gaps)
    side = rng.random(n_groups) < 0.5
    steps = rng.standard_normal(n_groups) * 0.0002
    mid = 60000.0 * np.exp(np.cumsum(steps))
    within = np.arange(n) - np.searchsorted(group, group)  # position inside the order
    price = np.round(mid[group] + np.where(side[group], -1, 1) * within * 0.01, 2)
    qty = np.round(rng.lognormal(-5.0, 1.5, size=n), 5) + 0.00001
    return pd.DataFrame(
        {
            "trade_id": np.arange(1_000_000_000, 1_000_000_000 + n, dtype=np.int64),
            "price": price,
            "qty": qty,
            "quote_qty": price * qty,
            "is_buyer_maker": side[group],
        },
        index=pd.DatetimeIndex((order_ms[group] * 1_000_000).astype("datetime64[ns]"), name="time").tz_localize("UTC"),
    )


# ----------------------------------------------------------------------------- helpers


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """Wall times in ms of ``repeat`` calls, and the last result."""
    out: list[float] = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out, result


def pct(values: list[float], q: float) -> float:
    """The q-th percentile."""
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def dir_bytes(path: Path) -> int:
    """Bytes allocated on disk by the files under ``path`` (sparse-aware)."""
    total = 0
    for f in path.rglob("*"):
        if f.is_file():
            total += f.stat().st_blocks * 512
    return total


def key_sizes(store: TickStore, symbol: str) -> dict[str, tuple[int, int]]:
    """ArcticDB key counts and compressed bytes for one symbol, by key type."""
    sizes = store.raw_library.admin_tools().get_sizes_for_symbol(symbol)
    return {k.name: (int(v.count), int(v.bytes_compressed)) for k, v in sizes.items() if v.count}


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        return str(v)

    lines = [f"\n### {title}\n", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 1. write


def write_symbol(
    store: TickStore, ticks: pd.DataFrame, batch: tuple[int, int], every: int | None, seed: int = 1
) -> dict[str, Any]:
    """Append ``ticks`` in random-size batches; run ``maintain`` every ``every`` appends."""
    rng = np.random.default_rng(seed)
    n = len(ticks)
    append_ms: list[float] = []
    maint_ms: list[float] = []
    checkpoints: list[list[Any]] = []
    next_cp = n // 10
    pos = 0
    appends = 0
    while pos < n:
        size = int(rng.integers(batch[0], batch[1] + 1))
        chunk = ticks.iloc[pos : pos + size]
        t0 = time.perf_counter()
        store.append_ticks(SYMBOL, chunk)
        append_ms.append((time.perf_counter() - t0) * 1000)
        pos += len(chunk)
        appends += 1
        if every is not None and appends % every == 0:
            t0 = time.perf_counter()
            store.maintain(SYMBOL)
            maint_ms.append((time.perf_counter() - t0) * 1000)
        if pos >= next_cp or pos >= n:
            next_cp += n // 10
            tail_ms, _ = timed(lambda: store.tail(SYMBOL, 1000), 15)
            ks = key_sizes(store, SYMBOL)
            checkpoints.append(
                [
                    pos,
                    appends,
                    store._segments(SYMBOL),
                    ks.get("TABLE_INDEX", (0, 0))[0],
                    ks.get("TABLE_INDEX", (0, 0))[1] / 1e6,
                    ks.get("TABLE_DATA", (0, 0))[0],
                    ks.get("VERSION", (0, 0))[0],
                    ks.get("VERSION", (0, 0))[1] / 1e6,
                    statistics.median(tail_ms),
                ]
            )
    return {"append_ms": append_ms, "maint_ms": maint_ms, "checkpoints": checkpoints, "appends": appends}


# ----------------------------------------------------------------------------- 3. sqlite baseline


def sqlite_bytes(ticks: pd.DataFrame, path: Path, time_index: bool) -> tuple[int, float]:
    """Size of an SQLite file holding ``ticks`` (trade_id primary key), and the insert time in s."""
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE ticks (trade_id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, price REAL NOT NULL, "
        "qty REAL NOT NULL, quote_qty REAL NOT NULL, is_buyer_maker INTEGER NOT NULL)"
    )
    if time_index:
        con.execute("CREATE INDEX ticks_time ON ticks(time_ns)")
    rows = zip(
        ticks["trade_id"].tolist(),
        ticks.index.asi8.tolist(),
        ticks["price"].tolist(),
        ticks["qty"].tolist(),
        ticks["quote_qty"].tolist(),
        ticks["is_buyer_maker"].astype(int).tolist(),
    )
    t0 = time.perf_counter()
    with con:
        con.executemany("INSERT INTO ticks VALUES (?, ?, ?, ?, ?, ?)", rows)
    elapsed = time.perf_counter() - t0
    con.close()
    return path.stat().st_size, elapsed


# ----------------------------------------------------------------------------- 5. reader freshness


def _freshness_reader(uri: str, reload_interval: float, seconds: float, out: Any) -> None:
    store = TickStore(uri, maintenance=None, reload_interval=reload_interval)
    seen: dict[int, float] = {}
    tail_ms: list[float] = []
    deadline = time.time() + seconds
    out.put("ready")
    while time.time() < deadline:
        t0 = time.perf_counter()
        try:
            last = store.tail(SYMBOL, 1, columns=["trade_id"])
        except Exception:  # symbol not there yet
            continue
        tail_ms.append((time.perf_counter() - t0) * 1000)
        if len(last):
            tid = int(last["trade_id"].iloc[-1])
            seen.setdefault(tid, time.time())
    out.put((seen, tail_ms))


def freshness(work: Path, reload_interval: float, seconds: float = 4.0) -> dict[str, float]:
    """Writer appends every 50 ms; a spawned reader polls ``tail(1)``; delay append-done -> seen."""
    uri = f"lmdb://{work / f'fresh_{reload_interval}'}"
    writer = TickStore(uri, maintenance=MaintenancePolicy(interval=None, every_appends=200))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_freshness_reader, args=(uri, reload_interval, seconds, out))
    proc.start()
    out.get(timeout=120)
    ticks = synthetic_ticks(20_000, seed=7)
    done: dict[int, float] = {}
    pos = 0
    deadline = time.time() + seconds - 0.5
    while time.time() < deadline and pos < len(ticks):
        chunk = ticks.iloc[pos : pos + 50]
        writer.append_ticks(SYMBOL, chunk)
        done[int(chunk["trade_id"].iloc[-1])] = time.time()
        pos += 50
        time.sleep(0.05)
    seen, tail_ms = out.get(timeout=120)
    proc.join(timeout=30)
    # delay of an append = first time the reader's tail showed that id or a later one
    seen_ids = np.array(sorted(seen), dtype=np.int64)
    first_seen = np.minimum.accumulate(np.array([seen[t] for t in seen_ids])[::-1])[::-1] if len(seen_ids) else np.array([])
    delays = []
    for tid, t_done in done.items():
        k = int(np.searchsorted(seen_ids, tid))
        if k < len(seen_ids):
            delays.append((float(first_seen[k]) - t_done) * 1000)
    return {
        "appends": len(done),
        "observed": len(delays),
        "p50_ms": pct(delays, 50),
        "p99_ms": pct(delays, 99),
        "max_ms": max(delays) if delays else float("nan"),
        "tail1_p50_ms": pct(tail_ms, 50),
    }


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=5_000_000, help="ticks to write (default 5,000,000)")
    ap.add_argument("--quick", action="store_true", help="200,000 ticks and smaller side experiments")
    ap.add_argument("--batch", type=int, nargs=2, default=(1000, 5000), metavar=("MIN", "MAX"), help="ticks per append")
    ap.add_argument("--maintain-every", type=int, default=200, help="appends between maintenance passes")
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent / "_work" / "store")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw numbers to this JSON file")
    ap.add_argument("--only-freshness", action="store_true", help="run only the reader-freshness experiment")
    args = ap.parse_args(argv)
    n = 200_000 if args.quick else args.ticks
    work: Path = args.dir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict[str, Any] = {"ticks": n}
    out: list[str] = [f"## Tick store benchmark: {n:,} ticks, batches {args.batch[0]:,}-{args.batch[1]:,}, "
                      f"maintenance every {args.maintain_every} appends (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"]
    try:
        if args.only_freshness:
            out.append(freshness_table(work, args.quick, results))
            return 0
        t0 = time.perf_counter()
        ticks = synthetic_ticks(n)
        span = ticks.index[-1] - ticks.index[0]
        out.append(f"\nsynthetic ticks: {n:,} over {span} ({n / span.total_seconds():.1f}/s), "
                   f"{(ticks.index.to_series().diff() == pd.Timedelta(0)).mean():.0%} share a timestamp with the previous; "
                   f"generated in {time.perf_counter() - t0:.1f} s")

        # 1. write
        uri = f"lmdb://{work / 'main'}"
        store = TickStore(uri, maintenance=None)
        t0 = time.perf_counter()
        w = write_symbol(store, ticks, tuple(args.batch), args.maintain_every)
        write_s = time.perf_counter() - t0
        results["write"] = {k: w[k] for k in ("appends",)}
        am, mm = w["append_ms"], w["maint_ms"]
        out.append(table(
            "Write (append_ticks + maintenance)",
            ["appends", "total s", "ticks/s", "append p50 ms", "append p99 ms", "append max ms", "maint passes", "maint p50 ms", "maint max ms"],
            [[w["appends"], write_s, n / write_s, pct(am, 50), pct(am, 99), max(am), len(mm), pct(mm, 50), max(mm) if mm else float("nan")]],
        ))
        out.append(table(
            "Growth during the write (index/version keys of the symbol; bounded = flat)",
            ["ticks", "appends", "segments", "index keys", "index MB", "data keys", "version keys", "version MB", "tail(1000) ms"],
            w["checkpoints"],
        ))
        results["growth"] = w["checkpoints"]

        # 2. reads
        store.maintain(SYMBOL)
        tail_ms, tail = timed(lambda: store.tail(SYMBOL, 1000), 50)
        assert len(tail) == 1000
        last = ticks.index[-1]
        recent_ms, recent = timed(lambda: store.ticks(SYMBOL, last - pd.Timedelta("5min"), None), 20)
        day0 = ticks.index[0].floor("1D") + pd.Timedelta("1D") if span > pd.Timedelta("2D") else ticks.index[0].floor("1D")
        day1 = day0 + pd.Timedelta("1D") - pd.Timedelta(1, "ns")
        day_ms, day_bars = timed(lambda: store.bars(SYMBOL, "1m", day0, day1), 10)
        day5_ms, _ = timed(lambda: store.bars(SYMBOL, "5m", day0, day1), 10)
        lib = store.raw_library
        direct_ms, direct = timed(lambda: tick_bars_arctic(lib, SYMBOL, "1min", (day0, day1)), 5)
        assert direct.index.equals(day_bars.index) and (direct["trades"] == day_bars["trades"]).all()
        hour_ms, _ = timed(lambda: store.bars(SYMBOL, "1m", last - pd.Timedelta("1h"), None), 20)
        reads = [
            ["tail(1000)", pct(tail_ms, 50), pct(tail_ms, 95), "<= 5 ms"],
            [f"ticks, last 5 min ({len(recent):,} rows)", pct(recent_ms, 50), pct(recent_ms, 95), ""],
            [f"bars 1m, one day ({len(day_bars):,} bars; bar cache + newer ticks)", pct(day_ms, 50), pct(day_ms, 95), "<= 100 ms"],
            ["bars 5m, one day (from the 1m cache)", pct(day5_ms, 50), pct(day5_ms, 95), ""],
            ["bars 1m, one day, ArcticDB resample of the ticks (no cache)", pct(direct_ms, 50), pct(direct_ms, 95), ""],
            ["bars 1m, last hour", pct(hour_ms, 50), pct(hour_ms, 95), ""],
        ]
        out.append(table("Reads (maintained symbol)", ["query", "p50 ms", "p95 ms", "target"], reads))
        results["reads"] = reads

        # ArcticDB vs pandas resample over the whole history
        comp: list[list[Any]] = []
        for freq, rule in (("1s", "1s"), ("1m", "1min"), ("5m", "5min")):
            s_ms, _ = timed(lambda: store.bars(SYMBOL, freq), 3)
            a_ms, a_bars = timed(lambda: tick_bars_arctic(lib, SYMBOL, rule, None), 3)

            def pandas_path() -> pd.DataFrame:
                return tick_bars_local(store.ticks(SYMBOL), rule)

            p_ms, p_bars = timed(pandas_path, 3)
            same_index = a_bars.index.equals(p_bars.index)
            ohlc_equal = same_index and all((a_bars[c].to_numpy() == p_bars[c].to_numpy()).all() for c in ("open", "high", "low", "close", "trades"))
            rel = float(np.nanmax(np.abs(a_bars["quote_volume"].to_numpy() / p_bars["quote_volume"].to_numpy() - 1))) if same_index else float("nan")
            comp.append([freq, len(a_bars), min(s_ms), min(a_ms), min(p_ms), min(p_ms) / min(a_ms), ohlc_equal, f"{rel:.1e}"])
        out.append(table(
            "Bars over the whole history: store.bars (1m cache where it applies) vs ArcticDB resample of ticks vs the in-process fold (read ticks + fold_ticks); best of 3",
            ["freq", "bars", "store.bars ms", "ArcticDB resample ms", "local fold ms", "local/ArcticDB", "OHLC+count identical", "max rel diff of sums"],
            comp,
        ))
        results["resample"] = comp

        # 3. disk
        ks = key_sizes(store, SYMBOL)
        live = sum(b for _, b in ks.values())
        lmdb_file = dir_bytes(work / "main")
        sq_pk, sq_pk_s = sqlite_bytes(ticks, work / "ticks_pk.sqlite", time_index=False)
        sq_ix, sq_ix_s = sqlite_bytes(ticks, work / "ticks_pk_time.sqlite", time_index=True)
        disk = [
            ["ArcticDB live keys of the symbol (compressed)", live, live / n],
            ["  of which data segments", ks.get("TABLE_DATA", (0, 0))[1], ks.get("TABLE_DATA", (0, 0))[1] / n],
            ["  of which version chain (VERSION keys)", ks.get("VERSION", (0, 0))[1], ks.get("VERSION", (0, 0))[1] / n],
            ["LMDB files on disk (incl. freed pages LMDB keeps)", lmdb_file, lmdb_file / n],
            [f"SQLite, trade_id PRIMARY KEY (insert {sq_pk_s:.1f} s)", sq_pk, sq_pk / n],
            [f"SQLite, + index on time (insert {sq_ix_s:.1f} s)", sq_ix, sq_ix / n],
            ["raw numpy (8+8+8+8+8+1 bytes)", 41 * n, 41.0],
        ]
        out.append(table("Disk", ["what", "bytes", "bytes/tick"], disk))
        results["disk"] = disk
        del store

        # 4. maintenance policies (smaller symbol, smaller batches = more appends)
        pn = 100_000 if args.quick else 500_000
        pticks = synthetic_ticks(pn, seed=3)
        pol_rows: list[list[Any]] = []
        for name, every in (("none", None), (f"every {args.maintain_every} appends (default)", args.maintain_every), ("every append", 1)):
            puri = f"lmdb://{work / ('pol_' + str(every))}"
            ps = TickStore(puri, maintenance=None)
            t0 = time.perf_counter()
            pw = write_symbol(ps, pticks, (400, 600), every, seed=5)
            el = time.perf_counter() - t0
            pk = key_sizes(ps, SYMBOL)
            t_ms, _ = timed(lambda: ps.tail(SYMBOL, 1000), 30)
            b_ms, _ = timed(lambda: tick_bars_arctic(ps.raw_library, SYMBOL, "1min", None), 5)
            pol_rows.append([
                name, pw["appends"], el, pct(pw["append_ms"], 50), pct(pw["append_ms"], 99),
                sum(pw["maint_ms"]) / 1000, ps._segments(SYMBOL), pk.get("TABLE_INDEX", (0, 0))[0],
                pk.get("TABLE_INDEX", (0, 0))[1] / 1e6, pk.get("TABLE_DATA", (0, 0))[0], pk.get("VERSION", (0, 0))[1] / 1e6,
                pct(t_ms, 50), pct(b_ms, 50), dir_bytes(work / ("pol_" + str(every))) / 1e6,
            ])
        out.append(table(
            f"Maintenance policies: {pn:,} ticks in 400-600-tick appends",
            ["policy", "appends", "write s", "append p50 ms", "append p99 ms", "maint total s", "segments", "index keys",
             "index MB", "data keys", "version MB", "tail(1000) ms", "resample 1m all ms", "LMDB MB"],
            pol_rows,
        ))
        results["policies"] = pol_rows

        # 5. reader freshness vs reload interval
        out.append(freshness_table(work, args.quick, results))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        text = "\n".join(out)
        print(text)
        if args.json:
            args.json.write_text(json.dumps(results, default=str, indent=1))
    return 0


def freshness_table(work: Path, quick: bool, results: dict[str, Any]) -> str:
    """Section 5: reader freshness for ReloadInterval 0 s and 0.1 s."""
    fr_rows = []
    for ri in (0.0, 0.1):
        f = freshness(work, ri, seconds=3.0 if quick else 6.0)
        fr_rows.append([f"{ri:g} s", f["appends"], f["observed"], f["p50_ms"], f["p99_ms"], f["max_ms"], f["tail1_p50_ms"]])
    results["freshness"] = fr_rows
    return table(
        "Reader process freshness (writer appends every 50 ms; delay = append returned -> reader's tail shows it)",
        ["ReloadInterval", "appends", "measured", "delay p50 ms", "delay p99 ms", "delay max ms", "reader tail(1) p50 ms"],
        fr_rows,
    )


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        raise SystemExit(main())
