"""Backtest benchmarks: one band backtest on 1,000,000 bars, a 500-run sweep on 43k real 1m bars,
and the same executions in vectorbt (when it is importable) on identical signals and costs.

Run:  python benchmarks/backtest.py [--repeat N] [--no-vectorbt] [--only pipeline]

The 1M-bar pipeline is timed ``--repeat`` times (median) after a warm-up, interleaved with a fixed
numpy workload of the same memory traffic (the "machine unit": 20 element-wise passes, one
cumulative sum and one running maximum over 1M floats) so that a figure taken on a loaded machine
can still be compared as a ratio; the 1-minute load average is printed at the start and the end,
and a run that started or ended above load 1 is marked "loaded" (its milliseconds prove nothing).

vectorbt is a benchmark-only dependency and does not install into the dev venv's
constraints cleanly; make a separate venv for it, e.g.::

    python3.11 -m venv /work/venv-bench
    /work/venv-bench/bin/pip install vectorbt "plotly<6" && /work/venv-bench/bin/pip install -e .
    /work/venv-bench/bin/python benchmarks/backtest.py

("plotly<6": vectorbt 1.0.0 fails at import with plotly 7, "Invalid property specified for
object of type plotly.graph_objs.layout.template.Data: 'scattermapbox'".)
Without vectorbt the script prints why and skips the comparison.

Prints one table (markdown) with the median wall time of ``--repeat`` runs after one warm-up
run; vectorbt's first (numba compiling) call is reported separately as "cold".
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from quantkit.backtest import Costs, Execution, Hedge, Split, ZScoreBand, backtest_pair, sweep_pair
from quantkit.backtest._simulation import simulate_arrays
from quantkit.backtest._trades import trade_arrays, trades_frame
from quantkit.backtest.engine import evaluate, zscore_indicator
from quantkit.backtest.hedging import hedge_ratios
from quantkit.backtest.metrics import bar_seconds
from quantkit.backtest.strategies import band_positions

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("QUANTKIT_SHARED_DIR", REPO.parent / "shared")) / "data"
CLOSE_1M = DATA / "bybit_linear_klines_2025-04_2025-07_crypto_backtester/derived/close_1m_aligned.csv.gz"

ENTRIES = np.round(np.linspace(1.5, 3.0, 10), 4)
EXITS = np.round(np.linspace(-0.5, 1.0, 10), 4)
WINDOWS = [60, 120, 240, 480, 960]
COSTS = Costs(fee_bps=2.0, half_spread_bps=0.5, slippage_bps=0.5)
EXECUTION = Execution(notional=10_000.0)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs after one warm-up run, and the last result."""
    out = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def machine_unit(a: np.ndarray, out: np.ndarray) -> None:
    """A fixed numpy workload over 1M floats, the yardstick of the ratios (see the module docstring)."""
    for _ in range(20):
        np.add(a, 1.0, out=out)
    np.cumsum(a, out=out)
    np.maximum.accumulate(a, out=out)


def interleaved(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """Median wall seconds of ``fn`` and of the machine unit, timed alternately ``repeat`` times after a
    warm-up, and the median CPU seconds of ``fn``'s thread (less sensitive to other processes than wall time)."""
    a = np.random.default_rng(0).random(1_000_000)
    buf = np.empty_like(a)
    out = fn()
    machine_unit(a, buf)
    t_fn, t_unit, t_cpu = [], [], []
    for _ in range(repeat):
        t = time.perf_counter()
        machine_unit(a, buf)
        t_unit.append(time.perf_counter() - t)
        t = time.perf_counter()
        c = time.thread_time()
        out = fn()
        t_cpu.append(time.thread_time() - c)
        t_fn.append(time.perf_counter() - t)
    return statistics.median(t_fn), statistics.median(t_unit), statistics.median(t_cpu), out


def synthetic_pair(n: int, seed: int = 0) -> tuple[pd.Series, pd.Series]:
    """A cointegrated pair of 1-minute bars: x a log random walk, y = 5 + 0.8 x + AR(1) noise."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2023-01-01", periods=n, freq="1min", tz="UTC")
    x = 100.0 * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
    ou = lfilter([1.0], [1.0, -0.995], rng.normal(0, 0.05, n))
    return pd.Series(5 + 0.8 * x + ou, index=idx, name="SYNY"), pd.Series(x, index=idx, name="SYNX")


def load_eth_btc() -> tuple[pd.Series, pd.Series]:
    df = pd.read_csv(CLOSE_1M, index_col=0, parse_dates=True)
    return df["ETHUSDT"], df["BTCUSDT"]


def sweep_targets(y: pd.Series, x: pd.Series) -> tuple[list[tuple[Any, ...]], np.ndarray, list[np.ndarray]]:
    """Signals of the 500 sweep runs on the whole sample (static hedge fitted on the first 70 %)."""
    ya, xa = y.to_numpy(), x.to_numpy()
    k = int(0.7 * len(ya))
    hs = hedge_ratios(ya, xa, Hedge("static", train=k), window=None, index=y.index)
    units = np.column_stack([np.ones(len(ya)), -hs.beta])
    spread = ya - hs.alpha - hs.beta * xa
    keys, signals = [], []
    for w in WINDOWS:
        z, _ = zscore_indicator(spread, w, k)
        for e in ENTRIES:
            for ex in EXITS:
                keys.append((w, float(e), float(ex)))
                signals.append(band_positions(z, e, ex).astype(np.float64))
    return keys, units, signals


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per benchmark (median reported)")
    ap.add_argument("--no-vectorbt", action="store_true", help="skip the vectorbt comparison")
    ap.add_argument("--only", choices=["pipeline"], help="run only the 1M-bar pipeline and its pieces")
    args = ap.parse_args()
    rows: list[dict[str, str]] = []
    notes: list[str] = []
    load_start = os.getloadavg()[0]
    print(f"load average (1 min) at start: {load_start:.2f}", flush=True)

    # 1. one z-score band backtest over 1,000,000 bars (the whole pipeline), and its pieces
    y1, x1 = synthetic_pair(1_000_000)
    strat = ZScoreBand(entry=2.0, exit=0.5, window=1440)
    t_full, t_unit, t_cpu, res1 = interleaved(
        lambda: backtest_pair(y1, x1, strat, execution=EXECUTION, costs=COSTS), args.repeat)
    loaded = max(load_start, os.getloadavg()[0]) > 1.0
    rows.append({"benchmark": "band backtest, 1,000,000 bars, whole pipeline (static OLS + spread + rolling z + "
                              "signal + P&L + trades + metrics)",
                 "quantkit": f"{t_full * 1e3:.1f} ms" + (" (loaded)" if loaded else ""), "target": "<= 100 ms",
                 "check": f"{res1.metrics.n_trades} trades; thread CPU time {t_cpu * 1e3:.1f} ms; "
                          f"{t_full / t_unit:.2f} machine units (unit {t_unit * 1e3:.1f} ms)"})
    close1, units1, sig1 = res1.close, res1.units, res1.signal
    z1 = res1.indicator
    cols1, ucols1 = list(res1.close_legs), list(res1.units_legs)
    P1 = res1.metrics.periods_per_year
    ya1, xa1 = cols1

    def engine_given_z() -> Any:
        sig = strat.positions(z1)
        sim = simulate_arrays(cols1, ucols1, sig, execution=EXECUTION, costs=COSTS)
        tr = trade_arrays(sim)
        return evaluate(sim, tr, res1.start, len(sig), periods_per_year=P1, bar_seconds=60.0,
                        capital=float(EXECUTION.notional))  # type: ignore[arg-type]

    t_engine, m_engine = timed(engine_given_z, args.repeat)
    assert m_engine.total_pnl == res1.metrics.total_pnl
    hs1 = hedge_ratios(ya1, xa1, Hedge("static"), window=None, index=y1.index)
    t_ols, _ = timed(lambda: hedge_ratios(ya1, xa1, Hedge("static"), window=None, index=y1.index), args.repeat)
    t_spread, _ = timed(lambda: hs1.spread(ya1, xa1), args.repeat)
    t_z, _ = timed(lambda: zscore_indicator(res1.spread, strat.window, len(z1)), args.repeat)
    t_sig, _ = timed(lambda: strat.positions(z1), args.repeat)
    t_core, sim1 = timed(lambda: simulate_arrays(cols1, ucols1, sig1, execution=EXECUTION, costs=COSTS),
                         args.repeat)
    t_tr, tr1 = timed(lambda: trade_arrays(sim1), args.repeat)
    t_tf, _ = timed(lambda: trades_frame(tr1, sim1, y1.index, res1.legs, 1), args.repeat)
    t_met, _ = timed(lambda: evaluate(sim1, tr1, res1.start, len(sig1), periods_per_year=P1, bar_seconds=60.0,
                                      capital=float(EXECUTION.notional)), args.repeat)  # type: ignore[arg-type]
    pieces = (f"static OLS {t_ols * 1e3:.1f} / spread {t_spread * 1e3:.1f} / rolling z {t_z * 1e3:.1f} / "
              f"signal {t_sig * 1e3:.1f} / execution core {t_core * 1e3:.1f} / trades {t_tr * 1e3:.1f} + "
              f"frame {t_tf * 1e3:.1f} / metrics {t_met * 1e3:.1f} ms")
    rows.append({"benchmark": "same, given the z-score: band signal + execution + trades + metrics",
                 "quantkit": f"{t_engine * 1e3:.1f} ms", "target": "", "check": "same P&L"})
    rows.append({"benchmark": "same, the pieces", "quantkit": pieces, "target": "", "check": ""})
    if args.only == "pipeline":
        _print(rows, notes, load_start)
        return 0

    # 2. sweep 10 entries x 10 exits x 5 windows over the real 43k 1m bars, in/out-of-sample
    y2, x2 = load_eth_btc()
    t_sweep, sw = timed(lambda: sweep_pair(y2, x2, entries=ENTRIES, exits=EXITS, windows=WINDOWS,
                                           split=Split(train=0.7), execution=EXECUTION, costs=COSTS),
                        max(1, args.repeat // 2))
    n_runs = len(sw.frame) // 2
    rows.append({"benchmark": f"sweep {len(ENTRIES)}x{len(EXITS)}x{len(WINDOWS)} = {n_runs} runs, "
                              f"{len(y2):,} 1m bars ETH/BTC, IS+OOS metrics",
                 "quantkit": f"{t_sweep:.2f} s", "target": "<= 3 s",
                 "check": f"IS-best OOS sharpe {sw.walk_forward['out_sharpe'].iloc[0]:.2f}"})

    # 3. vectorbt on identical targets and costs
    vbt = None
    if args.no_vectorbt:
        notes.append("vectorbt comparison skipped (--no-vectorbt).")
    else:
        try:
            import vectorbt as vbt  # noqa: F811
        except Exception as exc:  # noqa: BLE001 - report any import failure verbatim
            notes.append(f"vectorbt comparison SKIPPED: `import vectorbt` failed in {sys.executable}: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                         "(install it in a separate venv, see the module docstring).")
    if vbt is not None:
        rate = COSTS.rate

        def vbt_run(close: pd.DataFrame, size: np.ndarray, group_by: Any, init_cash: float) -> Any:
            pf = vbt.Portfolio.from_orders(close, size, size_type="targetamount", fees=rate, init_cash=init_cash,
                                           cash_sharing=True, group_by=group_by, call_seq="auto", freq="1min")
            return pf, pf.value().to_numpy()

        # 3a. the 1M-bar backtest: our core from the signal vs vectorbt from our target units
        q = sim1.positions
        size = q.copy()
        chg = np.ones(len(q), dtype=bool)
        chg[1:] = (q[1:] != q[:-1]).any(axis=1)
        size[~chg] = np.nan  # orders only where the target changes (vectorbt's cheapest case)
        # vectorbt gets a tz-naive UTC index: with a tz-aware one its value() took ~16 s here (vs ~0.1 s)
        close_df = pd.DataFrame(close1, index=y1.index.tz_convert(None), columns=["y", "x"])
        init = 2 * EXECUTION.notional  # type: ignore[operator]
        t0 = time.perf_counter()
        vbt_run(close_df, size, True, init)
        cold = time.perf_counter() - t0
        t_vbt, (pf, value) = timed(lambda: vbt_run(close_df, size, True, init), max(1, args.repeat // 2))
        pnl_v = np.diff(np.concatenate([[init], value]))
        diff = float(np.abs(pnl_v - sim1.pnl).max())
        tot = abs(float(pf.total_profit()) - float(sim1.pnl.sum()))
        rows.append({"benchmark": "execution on identical 1M-bar targets: quantkit core (from the signal) vs "
                                  "vectorbt from_orders + value()",
                     "quantkit": f"{t_core * 1e3:.1f} ms", "vectorbt": f"{t_vbt * 1e3:.0f} ms ({cold:.1f} s cold)",
                     "target": "quantkit <= vectorbt",
                     "check": f"max bar P&L diff {diff:.1e}, total P&L diff {tot:.1e}"})
        # 3b. the sweep's 500 runs: one vectorbt call with 1000 columns vs our per-run core + metrics
        keys, units2, signals = sweep_targets(y2, x2)
        close2 = np.column_stack([y2.to_numpy(), x2.to_numpy()])
        P = 525_600.0
        sec = bar_seconds(y2.index)

        def ours_runs() -> list[float]:
            out = []
            for s in signals:
                sim = simulate_arrays(close2, units2, s, execution=EXECUTION, costs=COSTS)
                tr = trade_arrays(sim)
                m = evaluate(sim, tr, 0, len(s), periods_per_year=P, bar_seconds=sec,
                             capital=float(EXECUTION.notional))  # type: ignore[arg-type]
                out.append(m.total_pnl)
            return out

        t_ours500, pnl_ours = timed(ours_runs, max(1, args.repeat // 2))
        targets = np.empty((len(close2), 2 * len(signals)))
        for j, s in enumerate(signals):
            sim = simulate_arrays(close2, units2, s, execution=EXECUTION, costs=COSTS)
            targets[:, 2 * j] = sim.q[0]
            targets[:, 2 * j + 1] = sim.q[1]
        chg2 = np.ones(targets.shape, dtype=bool)
        chg2[1:] = targets[1:] != targets[:-1]
        targets[~chg2] = np.nan
        close_wide = pd.DataFrame(np.tile(close2, (1, len(signals))), index=y2.index.tz_convert(None))
        groups = np.repeat(np.arange(len(signals)), 2)

        def vbt_sweep() -> tuple[np.ndarray, Any]:
            pf = vbt.Portfolio.from_orders(close_wide, targets, size_type="targetamount", fees=rate, init_cash=init,
                                           cash_sharing=True, group_by=groups, call_seq="auto", freq="1min")
            return pf.total_profit().to_numpy(), pf.sharpe_ratio()

        t_vbt500, (pnl_vbt, _) = timed(vbt_sweep, 1)
        d500 = float(np.max(np.abs(np.asarray(pnl_ours) - pnl_vbt)))
        rows.append({"benchmark": f"{len(signals)} sweep runs on identical signals, 43k bars: quantkit core+trades+"
                                  "metrics (loop) vs vectorbt from_orders+total_profit+sharpe (one 1000-column call)",
                     "quantkit": f"{t_ours500:.2f} s", "vectorbt": f"{t_vbt500:.2f} s", "target": "quantkit <= vectorbt",
                     "check": f"max total P&L diff over runs {d500:.1e}"})
        notes.append(f"vectorbt {vbt.__version__}, numba {__import__('numba').__version__}; vectorbt P&L = "
                     "diff of pf.value() with init_cash = 2 x notional, fees = (fee+half spread+slippage) bps, "
                     "orders = quantkit's target units where they change, tz-naive index (vectorbt's fast case).")

    _print(rows, notes, load_start)
    return 0


def _print(rows: list[dict[str, str]], notes: list[str], load_start: float) -> None:
    load_end = os.getloadavg()[0]
    print(f"# quantkit backtest benchmarks ({platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}, {os.cpu_count()} CPUs, {platform.machine()}; "
          f"load {load_start:.2f} at start, {load_end:.2f} at end"
          f"{' -- LOADED: wall-clock figures prove nothing' if max(load_start, load_end) > 1 else ''})\n")
    print("| benchmark | quantkit | vectorbt | target | check |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['benchmark']} | {r['quantkit']} | {r.get('vectorbt', '')} | {r['target']} | {r['check']} |")
    for n in notes:
        print(f"\n{n}")
    print(f"\nload average (1 min) at end: {load_end:.2f}")


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        raise SystemExit(main())
