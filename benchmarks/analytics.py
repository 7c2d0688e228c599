"""Benchmarks for quantkit.analytics; prints one table (the lead aggregates into RESULTS.md).

Run:  python benchmarks/analytics.py [--quick]

1. Rolling hedge ratio + spread + z-score over 1,000,000 bars: quantkit vs
   statsmodels RollingOLS (+ the same spread/z-score steps), results checked equal.
2. The same pipeline on 20,000 bars vs refitting OLS per window in a Python loop
   (statsmodels OLS per window, and numpy lstsq per window), results checked equal.
3. (The live engine, PairStream as the dashboard runs it, is measured by benchmarks/live.py.)
4. Pair scanner: 7 symbols (21 pairs, both EG directions) x ~43,000 one-minute bars
   of real Bybit closes (shared data), and statsmodels coint on the same 42 regressions.

Times are wall-clock on the machine it runs on (best of a few repeats for the
fast paths, one run for the slow references); nothing is hard-coded.

``--blas-threads N`` sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before numpy loads.
On a shared 2-core machine OpenBLAS' spinning worker threads can make small BLAS calls
(even a 1-D ``a @ b``) 10-1000x slower under contention; 1 thread avoids that.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path


def _preparse_blas_threads(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--blas-threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--blas-threads="):
            return a.split("=", 1)[1]
    return None


_BLAS = _preparse_blas_threads(sys.argv[1:])
if _BLAS:
    os.environ["OPENBLAS_NUM_THREADS"] = _BLAS
    os.environ["OMP_NUM_THREADS"] = _BLAS

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import quantkit.analytics as qa  # noqa: E402
from _table import print_rows  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLOSES = "bybit_linear_klines_2025-04_2025-07_crypto_backtester/derived/close_1m_aligned.csv.gz"


def _shared_data() -> Path:
    base = os.environ.get("QUANTKIT_SHARED_DIR")
    return (Path(base) if base else REPO.parent / "shared") / "data"


def _best(fn, repeat: int = 3) -> tuple[float, object]:
    best = math.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _pair(n: int, seed: int = 0) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC")
    x = 60_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
    s = np.zeros(n)
    e = rng.normal(0, 2.0, n)
    phi = 2 ** (-1 / 30)
    for i in range(1, n):  # AR(1) spread (vectorising this is not the point of the benchmark)
        s[i] = phi * s[i - 1] + e[i]
    y = 20.0 + 0.05 * x + s
    return pd.Series(y, idx), pd.Series(x, idx)


def _ours(y: pd.Series, x: pd.Series, w: int, zw: int) -> tuple[pd.DataFrame, pd.Series]:
    roll = qa.rolling_ols(y, x, w)
    s = qa.spread(y, x, roll["beta"], roll["alpha"])
    return roll, qa.zscore(s, zw)


def _max_scaled_diff(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return math.inf
    m = ~np.isnan(b)
    scale = np.std(b[m]) + np.mean(np.abs(b[m]))
    return float(np.max(np.abs(a[m] - b[m]) / (np.abs(b[m]) + scale)))


def bench_rolling_vs_statsmodels(n: int, w: int, zw: int, rows: list[tuple[str, str, str]]) -> None:
    import statsmodels.api as sm
    from statsmodels.regression.rolling import RollingOLS

    y, x = _pair(n)
    t_ours, (roll, z) = _best(lambda: _ours(y, x, w, zw))

    def _sm():
        res = RollingOLS(y.to_numpy(), sm.add_constant(x.to_numpy()), window=w).fit(params_only=True)
        alpha, beta = res.params[:, 0], res.params[:, 1]
        s = pd.Series(y.to_numpy() - alpha - beta * x.to_numpy())
        zz = (s - s.rolling(zw).mean()) / s.rolling(zw).std(ddof=0)
        return beta, zz.to_numpy()

    t_sm, (beta_sm, z_sm) = _best(_sm, repeat=1)
    db = _max_scaled_diff(roll["beta"].to_numpy(), beta_sm)
    dz = float(np.nanmax(np.abs(z.to_numpy() - z_sm)))
    rows.append((f"rolling OLS+spread+z, {n:,} bars, w={w}: quantkit", f"{t_ours * 1e3:,.1f} ms", ""))
    rows.append((f"  statsmodels RollingOLS + same spread/z", f"{t_sm * 1e3:,.1f} ms",
                 f"x{t_sm / t_ours:,.1f} faster (target >= 20x); max beta diff {db:.1e} (scaled), max |dz| {dz:.1e}"))


def bench_rolling_vs_loop(n: int, w: int, zw: int, rows: list[tuple[str, str, str]]) -> None:
    import statsmodels.api as sm

    y, x = _pair(n, seed=1)
    t_ours, (roll, _) = _best(lambda: _ours(y, x, w, zw), repeat=5)
    ya, xa = y.to_numpy(), x.to_numpy()

    def _loop_sm():
        out = np.full((n, 2), np.nan)
        for t in range(w - 1, n):
            out[t] = sm.OLS(ya[t - w + 1 : t + 1], sm.add_constant(xa[t - w + 1 : t + 1])).fit().params
        b = out[:, 1]
        s = pd.Series(ya - out[:, 0] - b * xa)
        return b, ((s - s.rolling(zw).mean()) / s.rolling(zw).std(ddof=0)).to_numpy()

    def _loop_np():
        out = np.full((n, 2), np.nan)
        for t in range(w - 1, n):
            a = np.column_stack([np.ones(w), xa[t - w + 1 : t + 1]])
            out[t] = np.linalg.lstsq(a, ya[t - w + 1 : t + 1], rcond=None)[0]
        b = out[:, 1]
        s = pd.Series(ya - out[:, 0] - b * xa)
        return b, ((s - s.rolling(zw).mean()) / s.rolling(zw).std(ddof=0)).to_numpy()

    t_sm, (b_sm, _) = _best(_loop_sm, repeat=1)
    t_np, (b_np, _) = _best(_loop_np, repeat=1)
    rows.append((f"rolling OLS+spread+z, {n:,} bars, w={w}: quantkit", f"{t_ours * 1e3:,.2f} ms", ""))
    rows.append(("  per-window statsmodels OLS refit loop", f"{t_sm * 1e3:,.0f} ms",
                 f"x{t_sm / t_ours:,.0f} faster (target >= 200x); max beta diff {_max_scaled_diff(roll['beta'].to_numpy(), b_sm):.1e}"))
    rows.append(("  per-window numpy lstsq refit loop", f"{t_np * 1e3:,.0f} ms",
                 f"x{t_np / t_ours:,.0f} faster; max beta diff {_max_scaled_diff(roll['beta'].to_numpy(), b_np):.1e}"))


def bench_scanner(rows: list[tuple[str, str, str]]) -> None:
    path = _shared_data() / CLOSES
    if not path.exists():
        rows.append(("pair scanner", "skipped", f"{path} not found"))
        return
    prices = pd.read_csv(path, index_col=0, parse_dates=True)
    n_sym, n_bars = prices.shape[1], prices.shape[0]
    times = []
    table = None
    for _ in range(3):
        t = time.perf_counter()
        table = qa.scan_pairs(prices)
        times.append(time.perf_counter() - t)
    t_full = min(times)
    t_sm_lag, table_full = _best(lambda: qa.scan_pairs(prices, maxlag=None), repeat=1)
    assert table is not None
    top = table.iloc[0]
    from statsmodels.tsa.stattools import coint

    ly, lx = np.log(prices[top["y"]].to_numpy()), np.log(prices[top["x"]].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        ref = coint(ly, lx, maxlag=12)
        t_one = time.perf_counter() - t0
    pairs = n_sym * (n_sym - 1) // 2
    rows.append((f"pair scanner: {n_sym} symbols ({pairs} pairs, 2 EG directions), {n_bars:,} 1m bars",
                 f"{t_full:.2f} s", f"target <= 5 s (AIC up to 12 lags); best pair {top['y']}~{top['x']} p={top['pvalue']:.4f}"))
    rows.append(("  same, statsmodels default maxlag (55)", f"{t_sm_lag:.2f} s",
                 f"best pair {table_full.iloc[0]['y']}~{table_full.iloc[0]['x']} p={table_full.iloc[0]['pvalue']:.4f}"))
    rows.append(("  statsmodels coint, 1 direction of the top pair", f"{t_one:.2f} s",
                 f"x{42 * t_one:.1f} s for 42; p={ref[1]:.6f} vs ours {top['pvalue']:.6f}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    ap.add_argument("--blas-threads", default=None, help="OpenBLAS/OpenMP threads (set before numpy loads)")
    args = ap.parse_args(argv)
    big = 100_000 if args.quick else 1_000_000
    loop_n = 2_000 if args.quick else 20_000
    rows: list[tuple[str, str, str]] = []
    bench_rolling_vs_statsmodels(big, 120, 120, rows)
    bench_rolling_vs_loop(loop_n, 120, 120, rows)
    bench_scanner(rows)
    print(f"# quantkit.analytics benchmarks ({platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})")
    print_rows(rows, result="time")
    return 0


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        sys.exit(main())
