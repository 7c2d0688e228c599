"""Live benchmarks: the one live engine (what the dashboard and the alerts run per bar) and the warm start.

Run:  python benchmarks/live.py [--quick] [--only engine,warm]

1. engine: on the same synthetic pair of bars (an AR(1) spread around 0.05 x, 1-minute grid),
   microseconds per bar of

   * ``PairTrack.update(row)``: what :class:`quantkit.alerts.AlertMonitor` calls for every final
     pair bar (the live dashboard, ``quantkit alerts`` and the Voila page all run it): the one
     engine :class:`quantkit.analytics.PairStream` plus the history row the charts draw from;
   * ``PairStream.update(y, x)`` alone, per hedge method (ols, kalman, huber);

   in CPU time (best of 3; wall time next to it), and the largest scaled difference between the engine's beta / spread / z / correlation and the
   batch functions (``rolling_ols``, ``spread``, ``zscore``, ``rolling_correlation``) on the same bars.
2. warm: ``quantkit ingest --history H`` on a fresh LMDB store (the embedded exchange's synthetic
   market with a past of H, real time): seconds from the command's start to its "warm start done"
   line, the trades backfilled, and the warm start's own time (REST backfill into the store).

The 1-minute load average is printed at the start and at the end; a figure taken while it is above
1 is marked "loaded" (on a shared machine it then measures the neighbours as much as the code).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _load import LoadWatch, is_loaded, load_now  # benchmarks/_load.py: "loaded" above 1
from _table import print_rows

ROOT = Path(__file__).resolve().parents[1]


def _pair(n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = 60_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
    e = rng.normal(0, 2.0, n)
    s = np.zeros(n)
    phi = 2 ** (-1 / 30)
    for i in range(1, n):
        s[i] = phi * s[i - 1] + e[i]
    return 20.0 + 0.05 * x + s, x


def _max_scaled_diff(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return math.inf
    m = ~np.isnan(b)
    scale = np.std(b[m]) + np.mean(np.abs(b[m]))
    return float(np.max(np.abs(a[m] - b[m]) / (np.abs(b[m]) + scale)))


def bench_engine(n: int, window: int, rows: list[tuple[str, str, str]]) -> None:
    import quantkit.analytics as qa
    from quantkit.alerts import PAIR_FIELDS, PairTrack

    y, x = _pair(n)
    bars = np.zeros((n, len(PAIR_FIELDS)))
    bars[:, 0] = np.arange(n) * 60_000.0
    bars[:, PAIR_FIELDS.index("y_close")] = y
    bars[:, PAIR_FIELDS.index("x_close")] = x
    yl, xl = y.tolist(), x.tolist()

    def best(run: object, repeat: int = 3) -> str:
        """CPU microseconds per bar (best of ``repeat``; CPU time barely moves with the load) and wall time."""
        cpu, wall = [], []
        for _ in range(repeat):
            c, t = time.process_time(), time.perf_counter()
            run()  # type: ignore[operator]
            cpu.append((time.process_time() - c) / n * 1e6)
            wall.append((time.perf_counter() - t) / n * 1e6)
        return f"{min(cpu):.2f} us/bar CPU ({min(wall):.2f} wall)"

    def track(method: str) -> str:
        return best(lambda: PairTrack(window, method, capacity=20_000).extend(bars))

    def stream(method: str) -> str:
        def run() -> None:
            upd = qa.PairStream(window, method=method).update
            for a, b in zip(yl, xl):
                upd(a, b)
        return best(run, 1 if method == "huber" else 3)

    tr = PairTrack(window, "ols", capacity=n)
    tr.extend(bars)
    f = tr.frame()
    ys, xs = pd.Series(y), pd.Series(x)
    roll = qa.rolling_ols(ys, xs, window)
    s = qa.spread(ys, xs, roll["beta"], roll["alpha"])
    d = max(_max_scaled_diff(f["beta"].to_numpy(), roll["beta"].to_numpy()),
            _max_scaled_diff(f["spread"].to_numpy(), s.to_numpy()),
            _max_scaled_diff(f["z"].to_numpy(), qa.zscore(s, window).to_numpy()),
            _max_scaled_diff(f["corr"].to_numpy(), qa.rolling_correlation(ys, xs, window).to_numpy()))
    rows.append((f"PairTrack.update (dashboard/alerts per bar: engine + history row), OLS, {n:,} bars",
                 track("ols"), f"window {window}; engine vs batch max scaled diff {d:.1e}"))
    rows.append(("  same, Kalman hedge", track("kalman"), ""))
    rows.append(("  PairStream.update alone (the engine), OLS", stream("ols"), ""))
    rows.append(("  PairStream.update alone, Kalman", stream("kalman"), ""))
    rows.append(("  PairStream.update alone, Huber (refit every window/20 bars)", stream("huber"), ""))


def bench_warm_start(history: str, rows: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory(prefix="qk-warm-") as tmp:
        env = dict(os.environ, QUANTKIT_DATA_DIR=tmp)
        env.pop("QUANTKIT_ARCTIC_URI", None)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantkit", "ingest", "--history", history, "--stats-every", "0"],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        line = ""
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "warm start done" in line:
                    break
            total = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(60)
        m = re.search(r"warm start done in ([0-9.,]+) s \(([0-9,]+) trades", line)
        if not m:
            rows.append((f"warm start, --history {history}", "failed", line.strip()[-200:]))
            return
        own, trades = float(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
        rows.append((f"warm start: `quantkit ingest --history {history}` to 'done' (fresh store)", f"{total:.1f} s",
                     f"{trades:,} trades backfilled over REST in {own:.1f} s ({trades / own:,.0f} trades/s); "
                     f"the rest is start-up (imports, exchange, past generation)"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    ap.add_argument("--only", default="engine,warm", help="comma-separated: engine, warm")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    load0 = load_now()  # LoadWatch (below) prints the load at start and end
    rows: list[tuple[str, str, str]] = []
    if "engine" in only:
        bench_engine(20_000 if args.quick else 200_000, 120, rows)
    if "warm" in only:
        bench_warm_start("10m", rows)  # the default of `quantkit up`
        if not args.quick:
            bench_warm_start("30m", rows)  # ~140k trades: more than a minute's REST weight budget
    mark = " (loaded)" if is_loaded(load0, load_now()) else ""
    print(f"# quantkit live benchmarks{mark} (Python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs)")
    print_rows(rows, suffix=mark)
    return 0


if __name__ == "__main__":
    with LoadWatch():
        sys.exit(main())
