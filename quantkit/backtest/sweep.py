"""Parameter sweeps with in-sample / out-of-sample (walk-forward) splits.

:func:`sweep_pair` runs a z-score band strategy for every ``entry x exit x window x hedge``
combination on every fold of a :class:`Split` and returns a :class:`SweepResult` whose
:attr:`~SweepResult.frame` is tidy: one row per (fold, hedge, window, entry, exit, sample),
``sample`` being ``"in"`` or ``"out"``, with every :class:`~quantkit.backtest.metrics.Metrics`
field as a column.

Folds. With ``n`` bars and ``k = floor(train x n)``:

* ``folds=1``: in-sample bars ``[0, k)``, out-of-sample ``[k, n)``;
* ``folds=F>1`` (walk-forward): the last ``n - k`` bars are cut into ``F`` consecutive
  out-of-sample blocks (the last takes the remainder); each block's in-sample part is the
  ``k`` bars just before it (``anchored=False``) or every bar before it (``anchored=True``).

In each fold the strategy runs once over in-sample + out-of-sample bars (state carries over
the boundary; a static hedge is fitted on the in-sample bars only; rolling and Kalman hedges
are causal). In-sample metrics use the in-sample bars after the warm-up; out-of-sample metrics
use the out-of-sample bars; a trade counts in the part where it entered.

The in-sample optimum of each fold (highest ``select`` metric, default Sharpe) is then run
alone: its out-of-sample returns, stitched over the folds, give
:attr:`SweepResult.walk_forward_metrics`.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from quantkit.backtest._simulation import simulate_arrays
from quantkit.backtest._trades import trade_arrays
from quantkit.backtest.costs import Costs
from quantkit.backtest.engine import _capital, _prepare_legs, evaluate, zscore_indicator
from quantkit.backtest.execution import Execution
from quantkit.backtest.hedging import Hedge, hedge_ratios
from quantkit.backtest.metrics import Metrics, bar_seconds, compute_metrics
from quantkit.backtest.metrics import periods_per_year as _periods_per_year
from quantkit.backtest.strategies import band_positions
from quantkit.errors import BacktestError

__all__ = ["Split", "SweepResult", "sweep_pair"]

logger = logging.getLogger("quantkit.backtest")

_METRIC_FIELDS = [f for f in Metrics.__dataclass_fields__]


@dataclass(frozen=True)
class Split:
    """In-sample / out-of-sample layout.

    Attributes:
        train: fraction of the bars in each in-sample part (0 < train < 1, default 0.7).
        folds: number of walk-forward folds (default 1: one split).
        anchored: walk-forward in-sample parts start at bar 0 (expanding) instead of rolling.
    """

    train: float = 0.7
    folds: int = 1
    anchored: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.train, (int, float)) and 0 < self.train < 1):
            raise BacktestError(f"Split.train={self.train!r}: expected a fraction 0 < train < 1")
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 1:
            raise BacktestError(f"Split.folds={self.folds!r}: expected an integer >= 1")

    def bounds(self, n: int) -> list[tuple[int, int, int]]:
        """``(in_start, in_end = out_start, out_end)`` bar numbers of each fold for ``n`` bars."""
        k = int(math.floor(self.train * n))
        if k < 3 or n - k < self.folds:
            raise BacktestError(f"Split(train={self.train}, folds={self.folds}) leaves no room in {n} bars")
        if self.folds == 1:
            return [(0, k, n)]
        block = (n - k) // self.folds
        out = []
        for i in range(self.folds):
            o0 = k + i * block
            o1 = n if i == self.folds - 1 else o0 + block
            out.append((0 if self.anchored else o0 - k, o0, o1))
        return out


@dataclass(frozen=True, eq=False, repr=False)
class SweepResult:
    """Outcome of :func:`sweep_pair`.

    Attributes:
        frame: tidy results, one row per (fold, hedge, window, entry, exit, sample).
        folds: one row per fold: bar numbers and times of the in/out-of-sample parts.
        select: the metric used to pick in-sample optima.
        walk_forward: one row per fold: the in-sample optimum, its in-sample and out-of-sample metrics.
        walk_forward_metrics: metrics of the optima's out-of-sample returns stitched over folds
            (None when no fold had a valid optimum).
        params: the grid and the execution/cost settings.
    """

    frame: pd.DataFrame
    folds: pd.DataFrame
    select: str
    walk_forward: pd.DataFrame
    walk_forward_metrics: Metrics | None
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        n_combos = len(self.frame) // 2 if len(self.frame) else 0
        wf = self.walk_forward_metrics
        tail = f", walk_forward_{self.select}={getattr(wf, self.select):.3f}" if wf is not None else ""
        return f"SweepResult(folds={len(self.folds)}, runs={n_combos}, select={self.select!r}{tail})"

    def to_frame(self) -> pd.DataFrame:
        """The tidy results (a copy)."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        """Grid, folds, and the walk-forward summary (JSON-friendly)."""
        return {
            "params": self.params,
            "select": self.select,
            "folds": self.folds.astype(str).to_dict(orient="records"),
            "walk_forward": self.walk_forward.astype(object).where(self.walk_forward.notna(), None)
            .to_dict(orient="records"),
            "walk_forward_metrics": self.walk_forward_metrics.to_dict() if self.walk_forward_metrics else None,
        }

    def best(self, metric: str | None = None, *, fold: int = 0, sample: str = "in") -> pd.Series | None:
        """The row with the highest ``metric`` in ``sample`` of ``fold`` (None if all are NaN)."""
        metric = metric or self.select
        sub = self.frame[(self.frame["fold"] == fold) & (self.frame["sample"] == sample)]
        vals = sub[metric].astype(float)
        if vals.notna().sum() == 0:
            return None
        return sub.loc[vals.idxmax()]

    def heatmap(
        self,
        metric: str | None = None,
        *,
        sample: str = "in",
        fold: int = 0,
        window: int | None = None,
        hedge: str | None = None,
    ) -> pd.DataFrame:
        """``metric`` as an entry (rows) x exit (columns) table for one window and hedge.

        ``window``/``hedge`` default to those of the fold's in-sample optimum.
        """
        metric = metric or self.select
        best = self.best(metric, fold=fold)
        if window is None:
            window = int(best["window"]) if best is not None else int(self.frame["window"].iloc[0])
        if hedge is None:
            hedge = str(best["hedge"]) if best is not None else str(self.frame["hedge"].iloc[0])
        f = self.frame
        sub = f[(f["fold"] == fold) & (f["sample"] == sample) & (f["window"] == window) & (f["hedge"] == hedge)]
        return sub.pivot_table(index="entry", columns="exit", values=metric, aggfunc="first", dropna=False)


def _coerce_hedges(hedges: Iterable[Any]) -> list[Hedge]:
    out = [Hedge.coerce(h) for h in hedges]
    if not out:
        raise BacktestError("hedges: give at least one hedge method")
    return out


def _grid(values: Sequence[float], name: str) -> list[float]:
    vals = [float(v) for v in values]
    if not vals or not all(math.isfinite(v) for v in vals):
        raise BacktestError(f"{name}={values!r}: expected a non-empty list of finite numbers")
    return vals


def sweep_pair(
    y: Any,
    x: Any,
    *,
    entries: Sequence[float],
    exits: Sequence[float],
    windows: Sequence[int],
    hedges: Sequence[Any] = ("static",),
    stop: float | None = None,
    max_hold: int | None = None,
    split: Split | None = None,
    execution: Execution | None = None,
    costs: Costs | None = None,
    periods_per_year: float | None = None,
    select: str = "sharpe",
    names: tuple[str, str] | None = None,
    calendar: str = "crypto",
    ddof: int = 0,
) -> SweepResult:
    """Sweep a z-score band strategy over ``entries x exits x windows x hedges`` with IS/OOS folds.

    Args:
        y: first leg prices (Series with a DatetimeIndex or array).
        x: second leg prices.
        entries: entry thresholds (z units).
        exits: exit thresholds; combinations with ``exit > entry`` or ``exit <= -entry`` are skipped.
        windows: z-score windows (bars); a rolling hedge without its own window uses the same.
        hedges: hedge methods or :class:`Hedge` objects (default ``("static",)``).
        stop: optional stop (z units) for every run.
        max_hold: optional maximum holding time (bars) for every run.
        split: the folds (default ``Split()``: 70 % in-sample, one fold).
        execution: execution model (default next close, raw hedge units).
        costs: cost model.
        periods_per_year: annualisation, used as given.
        select: metric used to pick the in-sample optimum (default ``"sharpe"``).
        names: leg names.
        calendar: ``"crypto"`` (default) or ``"exchange"``: how ``periods_per_year`` is inferred.
        ddof: z-score standard-deviation divisor ``window - ddof`` (0 default, 1 sample).

    Returns:
        :class:`SweepResult`.

    Raises:
        BacktestError: bad prices, grids or split.
    """
    split = split or Split()
    execution = execution or Execution()
    costs = costs or Costs()
    if select not in _METRIC_FIELDS:
        raise BacktestError(f"select={select!r}: expected a Metrics field such as 'sharpe'")
    entries_l, exits_l = _grid(entries, "entries"), _grid(exits, "exits")
    windows_l = [int(w) for w in windows]
    if not windows_l or any(w < 2 for w in windows_l):
        raise BacktestError(f"windows={windows!r}: expected integers >= 2")
    hedge_l = _coerce_hedges(hedges)
    legs = names or (str(getattr(y, "name", None) or "y"), str(getattr(x, "name", None) or "x"))
    close, _, index = _prepare_legs([(legs[0], y), (legs[1], x)], [None, None])
    n = close[0].shape[0]
    P = _periods_per_year(index, periods_per_year, calendar=calendar)
    if isinstance(ddof, bool) or ddof not in (0, 1):
        raise BacktestError(f"ddof={ddof!r}: expected 0 (population) or 1 (sample standard deviation)")
    sec = bar_seconds(index)
    bounds = split.bounds(n)
    combos = [(e, xx) for e, xx in itertools.product(entries_l, exits_l) if -e < xx <= e and e > 0]
    skipped = len(entries_l) * len(exits_l) - len(combos)
    if skipped:
        logger.info("sweep: skipped %d entry/exit combinations with exit > entry or exit <= -entry", skipped)
    if not combos:
        raise BacktestError("no valid (entry, exit) combination: every exit is above its entry")
    rows: list[dict[str, Any]] = []
    fold_rows = []
    for f, (i0, i1, o1) in enumerate(bounds):
        fold_rows.append({
            "fold": f, "in_start": index[i0], "in_end": index[i1 - 1], "out_start": index[i1], "out_end": index[o1 - 1],
            "in_bars": i1 - i0, "out_bars": o1 - i1,
        })
        ys, xs = close[0][i0:o1], close[1][i0:o1]
        sub_index = index[i0:o1]
        n_in = i1 - i0
        for h in hedge_l:
            cache: dict[int | None, Any] = {}
            for w in windows_l:
                spec = replace(h, train=n_in if h.method == "static" else None)
                # static, Kalman and fixed-window rolling hedges do not depend on the z window
                key = w if (h.method == "rolling" and h.window is None) else None
                try:
                    if key not in cache:
                        cache[key] = hedge_ratios(ys, xs, spec, window=w, index=sub_index)
                    hs = cache[key]
                    spread = hs.spread(ys, xs, alpha_in_spread=spec.alpha_in_spread)
                    z, _ = zscore_indicator(spread, w, n_in, ddof=ddof)
                except BacktestError as exc:
                    logger.warning("sweep: fold %d hedge %s window %d skipped: %s", f, h.label, w, exc)
                    continue
                finite = np.flatnonzero(np.isfinite(z))
                if finite.size == 0 or finite[0] >= n_in - execution.lag:
                    logger.warning("sweep: fold %d window %d: warm-up covers the in-sample part", f, w)
                    continue
                start = int(finite[0])
                units = [1.0 / ys, -1.0 / xs] if execution.sizing == "dollar" else [np.ones(len(ys)), -hs.beta]
                sub_close = [ys, xs]
                for e, xx in combos:
                    s = band_positions(z, e, xx, stop, max_hold).astype(np.float64)
                    sim = simulate_arrays(sub_close, units, s, execution=execution, costs=costs)
                    tr = trade_arrays(sim)
                    cap = _capital(execution, sim)
                    base = {"fold": f, "hedge": h.label, "window": w, "entry": e, "exit": xx}
                    for sample, a, b in (("in", start, n_in), ("out", n_in, o1 - i0)):
                        m = evaluate(sim, tr, a, b, periods_per_year=P, bar_seconds=sec, capital=cap,
                                     rows="in_sample_after_warmup" if sample == "in" else "out_of_sample")
                        rows.append({**base, "sample": sample, "start": sub_index[a], "end": sub_index[b - 1],
                                     **m.to_dict()})
    if not rows:
        raise BacktestError("the sweep produced no run: every window is too long for the in-sample part")
    frame = pd.DataFrame(rows)
    folds = pd.DataFrame(fold_rows).set_index("fold")
    wf, wf_metrics = _walk_forward(frame, bounds, close, index, select, stop, max_hold, execution, costs, P, sec,
                                   hedge_l, ddof)
    params = {
        "entries": entries_l, "exits": exits_l, "windows": windows_l, "hedges": [h.label for h in hedge_l],
        "stop": stop, "max_hold": max_hold, "split": asdict(split), "execution": asdict(execution),
        "costs": asdict(costs), "periods_per_year": P, "legs": list(legs), "calendar": calendar, "ddof": ddof,
    }
    return SweepResult(frame=frame, folds=folds, select=select, walk_forward=wf, walk_forward_metrics=wf_metrics,
                       params=params)


def _walk_forward(
    frame: pd.DataFrame,
    bounds: list[tuple[int, int, int]],
    close: list[np.ndarray],
    index: pd.Index,
    select: str,
    stop: float | None,
    max_hold: int | None,
    execution: Execution,
    costs: Costs,
    P: float,
    sec: float | None,
    hedges: list[Hedge],
    ddof: int = 0,
) -> tuple[pd.DataFrame, Metrics | None]:
    """Per fold: the in-sample optimum and its out-of-sample metrics; stitched OOS metrics."""
    by_label = {h.label: h for h in hedges}
    rows = []
    pieces: dict[str, list[np.ndarray]] = {k: [] for k in ("returns", "pnl", "fees", "costs", "traded", "held")}
    t_pnl: list[np.ndarray] = []
    t_ret: list[np.ndarray] = []
    t_bars: list[np.ndarray] = []
    caps: list[float] = []
    for f, (i0, i1, o1) in enumerate(bounds):
        sub = frame[(frame["fold"] == f) & (frame["sample"] == "in")]
        vals = sub[select].astype(float)
        if vals.notna().sum() == 0:
            continue
        best = sub.loc[vals.idxmax()]
        key = (frame["fold"] == f) & (frame["sample"] == "out")
        for col in ("hedge", "window", "entry", "exit"):
            key &= frame[col] == best[col]
        oos = frame[key].iloc[0]
        rows.append({
            "fold": f, "hedge": best["hedge"], "window": int(best["window"]), "entry": best["entry"],
            "exit": best["exit"], f"in_{select}": best[select], f"out_{select}": oos[select],
            "in_total_return": best["total_return"], "out_total_return": oos["total_return"],
            "in_trades": best["n_trades"], "out_trades": oos["n_trades"],
            "out_start": oos["start"], "out_end": oos["end"],
        })
        # re-run the optimum to stitch its out-of-sample bars
        h = by_label[str(best["hedge"])]
        w = int(best["window"])
        ys, xs = close[0][i0:o1], close[1][i0:o1]
        spec = replace(h, train=(i1 - i0) if h.method == "static" else None)
        hs = hedge_ratios(ys, xs, spec, window=w, index=index[i0:o1])
        spread = hs.spread(ys, xs, alpha_in_spread=spec.alpha_in_spread)
        z, _ = zscore_indicator(spread, w, i1 - i0, ddof=ddof)
        units = [1.0 / ys, -1.0 / xs] if execution.sizing == "dollar" else [np.ones(len(ys)), -hs.beta]
        s = band_positions(z, float(best["entry"]), float(best["exit"]), stop, max_hold).astype(np.float64)
        sim = simulate_arrays([ys, xs], units, s, execution=execution, costs=costs)
        tr = trade_arrays(sim)
        a, b = i1 - i0, o1 - i0
        sl = slice(a, b)
        pieces["returns"].append(sim.returns[sl])
        pieces["pnl"].append(sim.pnl[sl])
        pieces["fees"].append(sim.fees[sl])
        pieces["costs"].append(sim.costs[sl])
        pieces["traded"].append(sim.traded_notional[sl])
        pieces["held"].append(sim.side[sl] != 0)
        sel = (tr.entry_bar >= a) & (tr.entry_bar < b) & tr.closed
        t_pnl.append(tr.pnl[sel])
        t_ret.append(tr.returns[sel])
        t_bars.append((tr.exit_bar - tr.entry_bar)[sel].astype(np.float64))
        caps.append(_capital(execution, sim))
    wf = pd.DataFrame(rows)
    if not rows:
        return wf, None
    metrics = compute_metrics(
        np.concatenate(pieces["returns"]), np.concatenate(pieces["pnl"]), np.concatenate(pieces["fees"]),
        np.concatenate(pieces["costs"]), np.concatenate(pieces["traded"]), np.concatenate(pieces["held"]),
        np.concatenate(t_pnl), np.concatenate(t_ret), np.concatenate(t_bars),
        periods_per_year=P, bar_seconds=sec, capital=max(caps), rows="out_of_sample",
    )
    return wf, metrics
