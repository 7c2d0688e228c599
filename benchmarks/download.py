"""Benchmark of ``quantkit download`` (a script, not a test): download+import vs ``quantkit import`` of the same files.

Usage::

    python benchmarks/download.py              # 6 daily spot trades files x 400,000 rows (2.4M rows)
    python benchmarks/download.py --quick      # 3 files x 100,000 rows
    python benchmarks/download.py --files 10 --rows 1000000 --jobs 4 --keep

What it measures (everything under ``benchmarks/_work/download/``, removed afterwards unless ``--keep``):

1. A local HTTP server in the archive's layout (the test suite's ``tests/_support/archive_server.py``,
   real HTTP on 127.0.0.1) serves N daily spot trades zips in the archive's format (microsecond times,
   as spot files from 2025 on) with their ``.CHECKSUM`` files.
2. ``download --no-import``: fetch and verify only (network + sha256 + zip CRC check).
3. ``import_files`` (what ``quantkit import`` runs) of the verified zips into a fresh LMDB store (after an
   untimed warm-up import of one file into a scratch store, so neither step pays the first-call costs).
4. ``download`` (``quantkit.ingest.download``, what the command runs): fetch + verify + import as files
   arrive, into another fresh store. Rows/s and MB/s (zip bytes) end to end.
5. A second ``download`` of the same range: every file found verified in the mirror and in the store's
   ledger of imported files (sha256 re-checked, nothing read or stored).

Steps run interleaved for ``--repeat`` rounds (fresh stores and mirrors each round); the best and the
median time are printed. The load average is printed at start and end: a figure taken at load > 1 is marked "loaded" and proves
little about speed on a quiet machine (the ratio between steps 3 and 4 is the meaningful number).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the archive server of the test suite (tests/_support/archive_server.py)

from quantkit.ingest.download import download  # noqa: E402
from quantkit.store import TickStore, import_files  # noqa: E402

__all__ = ["main"]


def trades_csv(n: int, day: dt.date, first_id: int, seed: int) -> str:
    """``n`` spot trades of one day in the archive's spot layout (no header, µs times, True/False)."""
    rng = np.random.default_rng(seed)
    t0_us = int(pd.Timestamp(day, tz="UTC").value // 1000)
    gaps = rng.exponential(85_000e6 / n, n).astype(np.int64)  # the day ends before the next file starts
    t = t0_us + np.cumsum(gaps)
    price = np.round(60000 + np.cumsum(rng.normal(0, 0.5, n)), 2)
    qty = np.round(rng.exponential(0.05, n) + 0.00001, 5)
    frame = pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + n),
            "price": [f"{p:.8f}" for p in price],
            "qty": [f"{q:.8f}" for q in qty],
            "quote": [f"{v:.8f}" for v in price * qty],
            "time": t,
            "maker": np.where(rng.random(n) < 0.5, "True", "False"),
            "best": "True",
        }
    )
    return frame.to_csv(header=False, index=False)


def _load() -> float:
    return os.getloadavg()[0]


STEPS = {
    "verify": "download + verify only (`--no-import`)",
    "import": "`quantkit import` of the same zips (fresh store)",
    "download": "download + import as files arrive (fresh store)",
    "again": "second download (all verified in the mirror, nothing stored)",
}


def _row(what: str, best: float, median: float, rows: int, mb: float, load: float) -> None:
    tag = " (loaded)" if load > 1 else ""
    print(
        f"| {what} | {best:,.2f} s (median {median:,.2f}) | {rows / best:,.0f} rows/s | {mb / best:,.1f} MB/s | {load:.1f}{tag} |",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    from _support.archive_server import ArchiveServer, zip_csv

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=6, help="daily files (default 6)")
    p.add_argument("--rows", type=int, default=400_000, help="rows per file (default 400,000)")
    p.add_argument("--jobs", type=int, default=4, help="parallel downloads (default 4)")
    p.add_argument("--repeat", type=int, default=3, help="rounds; the best and the median are printed (default 3)")
    p.add_argument("--quick", action="store_true", help="3 files x 100,000 rows, 1 round")
    p.add_argument("--keep", action="store_true", help="keep benchmarks/_work/download/")
    args = p.parse_args(argv)
    if args.quick:
        args.files, args.rows, args.repeat = 3, 100_000, 1
    work = ROOT / "benchmarks" / "_work" / "download"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"load average at start: {_load():.2f}", flush=True)
    days = [dt.date(2025, 3, 1) + dt.timedelta(days=i) for i in range(args.files)]
    server = ArchiveServer()
    zip_bytes = 0
    for i, day in enumerate(days):
        name = f"BTCUSDT-trades-{day.isoformat()}"
        body = zip_csv(name + ".csv", trades_csv(args.rows, day, 1_000_000 + i * args.rows, seed=i))
        server.add(f"data/spot/daily/trades/BTCUSDT/{name}.zip", body)
        zip_bytes += len(body)
    rows = args.files * args.rows
    mb = zip_bytes / 1e6
    print(f"{args.files} files x {args.rows:,} rows = {rows:,} rows, {mb:,.1f} MB of zips; jobs={args.jobs}\n")
    print(f"best of {args.repeat} round(s), steps interleaved\n")
    print("| step | time | rows/s (best) | MB/s of zips (best) | load at end |")
    print("|---|---|---|---|---|")
    # end is exclusive (the day after the last day), like --end everywhere in quantkit
    common = dict(market="spot", kind="trades", start=days[0], end=days[-1] + dt.timedelta(days=1), base_url="",
                  jobs=args.jobs, progress=False)
    times: dict[str, list[float]] = {k: [] for k in STEPS}
    with server:
        common["base_url"] = server.url
        for r in range(args.repeat):  # steps interleaved, fresh stores and mirrors each round
            t0 = time.perf_counter()
            rep = download("BTCUSDT", dest=work / f"only{r}", import_=False, **common)  # type: ignore[arg-type]
            times["verify"].append(time.perf_counter() - t0)
            assert rep.ok

            paths = sorted((work / f"only{r}").rglob("*.zip"))
            if r == 0:
                import_files(TickStore(f"lmdb://{work / 'warmup'}"), paths[:1], progress=False)  # warm-up, not timed
            store2 = TickStore(f"lmdb://{work / f'import{r}'}")
            t0 = time.perf_counter()
            irep = import_files(store2, paths, progress=False)
            times["import"].append(time.perf_counter() - t0)
            assert irep.ok and irep.stored == rows, str(irep)

            store = TickStore(f"lmdb://{work / f'download{r}'}")
            t0 = time.perf_counter()
            rep = download("BTCUSDT", store=store, dest=work / f"mirror{r}", **common)  # type: ignore[arg-type]
            times["download"].append(time.perf_counter() - t0)
            assert rep.ok and rep.stored == rows, str(rep)

            t0 = time.perf_counter()
            rep = download("BTCUSDT", store=store, dest=work / f"mirror{r}", **common)  # type: ignore[arg-type]
            times["again"].append(time.perf_counter() - t0)
            assert rep.ok and rep.stored == 0 and rep.bytes == 0, str(rep)
    load = _load()
    for key, label in STEPS.items():
        _row(label, min(times[key]), statistics.median(times[key]), rows, mb, load)
    print(f"\nload average at end: {_load():.2f}", flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        raise SystemExit(main())
