"""Report benchmarks: one pair report end to end, and a batch of 10 pairs on 2 workers.

Every figure is measured in this run, on the shared Bybit 1-minute candles (7 symbols, 30 days) imported into a
temporary LMDB store with ``quantkit.store.import_files``.

1. single: ``run_report`` on ETHUSDT/BTCUSDT over the common 30-day window of 1-minute bars (43,196 bars), end to
   end as ``quantkit report`` does it: parameter check against the store, a fresh kernel, papermill, the
   HTML export without code, the index update. Target <= 20 s.
2. batch: ``run_batch`` on 10 pairs of the 7 symbols over the same window with ``workers=2`` (each worker keeps one
   warm kernel for its reports). Target <= 2.5 x the single report.
3. batch, fresh kernels (``--compare``): the same batch with a new kernel per report, to show what kernel reuse saves.

Usage: python benchmarks/reports.py [--quick] [--compare] [--repeat N] [--keep DIR]
    --quick    7 days instead of 30 (a smoke run)
    --repeat   run single and batch N times, interleaved, and keep the fastest of each (the machine is
               shared: the minimum is the least disturbed run)
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bybit_linear_klines_2025-04_2025-07_crypto_backtester" / "1m"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "ADAUSDT", "DOGEUSDT", "DOTUSDT")
# the common window of complete bars (shared/data/README.md)
START, END = "2025-05-30T16:42", "2025-06-29T16:38"


def build_store(folder: Path) -> str:
    """Import the 7 symbols' 1-minute candles into an LMDB store under ``folder``; returns its URI."""
    from quantkit.config import StoreConfig
    from quantkit.store import TickStore, import_files

    uri = f"lmdb://{folder / 'arctic'}"
    store = TickStore(config=StoreConfig(uri=uri, library="bench"))
    import_files(store, [DATA / f"{s}_1m.csv.gz" for s in SYMBOLS], progress=False)
    return uri


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the kernels, once shut down)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="7 days instead of 30")
    ap.add_argument("--compare", action="store_true", help="also run the batch with a fresh kernel per report")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved repetitions; the fastest run counts")
    ap.add_argument("--keep", help="write the reports here instead of a temporary folder")
    args = ap.parse_args()

    from quantkit.reports import run_batch, run_report

    tmp = Path(tempfile.mkdtemp(prefix="qk-bench-reports-"))
    out = Path(args.keep) if args.keep else tmp / "out"
    end = "2025-06-06T16:42" if args.quick else END
    rows: list[tuple[str, str, float, float, str]] = []
    try:
        t, c = time.perf_counter(), cpu_seconds()
        uri = build_store(tmp)
        rows.append(("store", "import 7 x 30 days of 1m candles", time.perf_counter() - t, cpu_seconds() - c, ""))
        common = {"start": START, "end": end, "freq": "1m", "store": uri, "library": "bench"}

        pairs = [f"{y}/{x}" for x, y in itertools.combinations(SYMBOLS, 2)][:10]
        singles: list[tuple[float, float]] = []
        batches: list[tuple[float, float]] = []
        ok = 0
        for _ in range(max(1, args.repeat)):
            t, c = time.perf_counter(), cpu_seconds()
            single = run_report({**common, "pair": "ETHUSDT/BTCUSDT"}, out_dir=out)
            singles.append((time.perf_counter() - t, cpu_seconds() - c))
            t, c = time.perf_counter(), cpu_seconds()
            runs = run_batch([{**common, "pair": p} for p in pairs], out_dir=out, workers=2, progress=False)
            batches.append((time.perf_counter() - t, cpu_seconds() - c))
            ok = sum(r.ok for r in runs)
        single_s, single_cpu = min(singles)
        batch_s, batch_cpu = min(batches)
        each = ", ".join(f"{w:.1f}" for w, _ in singles)
        rows.append(("single", f"ETHUSDT/BTCUSDT {START} .. {end}, fresh kernel", single_s, single_cpu,
                     f"target <= 20 s: {'met' if single_s <= 20 else 'MISSED'}" + (f" (runs: {each})" if len(singles) > 1 else "")))
        ratio = batch_s / single_s
        each = ", ".join(f"{w:.1f}" for w, _ in batches)
        rows.append(("batch", f"10 pairs, 2 workers, warm kernels ({ok}/10 ok)", batch_s, batch_cpu,
                     f"{ratio:.2f} x single; target <= 2.5 x: {'met' if ratio <= 2.5 else 'MISSED'}"
                     + (f" (runs: {each})" if len(batches) > 1 else "")))
        if args.compare:
            t, c = time.perf_counter(), cpu_seconds()
            runs = run_batch([{**common, "pair": p} for p in pairs], out_dir=out, workers=2, progress=False,
                             reuse_kernels=False)
            cold_s = time.perf_counter() - t
            rows.append(("batch-fresh", f"10 pairs, 2 workers, a fresh kernel per report ({sum(r.ok for r in runs)}/10 ok)",
                         cold_s, cpu_seconds() - c, f"{cold_s / single_s:.2f} x single"))
        html_kb = Path(out, single.html or "").stat().st_size / 1024 if single.html else float("nan")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()[0]
    print(f"# quantkit reports benchmark  ({platform.python_version()}, {os.cpu_count()} cpus, {platform.machine()}, "
          f"load average {load:.1f} at the end)")
    print(f"{'case':<12} {'what':<62} {'wall s':>8} {'cpu s':>8}  note")
    for case, what, wall, cpu, note in rows:
        print(f"{case:<12} {what:<62} {wall:>8.2f} {cpu:>8.2f}  {note}")
    print(f"single report HTML: {html_kb:.0f} KiB. cpu s = CPU of this process + its kernels (all cores); "
          "wall/cpu well below 1/2 on 2 cores means other load competed.")
    return 0


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        sys.exit(main())
