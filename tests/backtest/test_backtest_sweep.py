"""Parameter sweeps: tidy frame, in/out-of-sample folds, and agreement with single backtests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantkit.backtest import Costs, Execution, Hedge, Split, ZScoreBand, backtest_pair, sweep_pair
from quantkit.backtest.metrics import Metrics


def _pair(n=1200, seed=9):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-03-01", periods=n, freq="5min", tz="UTC")
    x = 80 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    ou = np.zeros(n)
    for t in range(1, n):
        ou[t] = 0.9 * ou[t - 1] + rng.normal(0, 0.15)
    return pd.Series(3 + 1.1 * x + ou, index=idx, name="AAA"), pd.Series(x, index=idx, name="BBB")


def test_split_bounds():
    """One split is [0,k)/[k,n); walk-forward folds tile the out-of-sample part, rolling or anchored."""
    assert Split(train=0.7).bounds(100) == [(0, 70, 100)]
    assert Split(train=0.5, folds=3).bounds(100) == [(0, 50, 66), (16, 66, 82), (32, 82, 100)]
    assert Split(train=0.5, folds=3, anchored=True).bounds(100) == [(0, 50, 66), (0, 66, 82), (0, 82, 100)]


def test_tidy_frame_has_one_row_per_combination_and_sample():
    """Rows = valid (entry, exit) x windows x hedges x folds x {in, out}; columns hold every metric."""
    y, x = _pair()
    sw = sweep_pair(y, x, entries=[1.0, 2.0], exits=[0.0, 1.5], windows=[20, 40], hedges=["static", "rolling"],
                    split=Split(0.6, folds=2))
    f = sw.frame
    # (2.0, 0.0), (2.0, 1.5), (1.0, 0.0) are valid; (1.0, 1.5) has exit above entry
    assert len(f) == 3 * 2 * 2 * 2 * 2
    assert set(f["sample"]) == {"in", "out"} and set(f["fold"]) == {0, 1}
    assert set(Metrics.__dataclass_fields__) <= set(f.columns)
    assert not ((f["entry"] == 1.0) & (f["exit"] == 1.5)).any()
    assert list(sw.folds.index) == [0, 1]
    hm = sw.heatmap("sharpe", window=20, hedge="static")
    assert list(hm.index) == [1.0, 2.0] and list(hm.columns) == [0.0, 1.5]
    assert math.isnan(hm.loc[1.0, 1.5])


def test_out_of_sample_row_equals_a_single_backtest_on_the_same_bars():
    """A sweep row's out-of-sample metrics equal backtest_pair on the fold with the hedge trained in-sample."""
    y, x = _pair()
    ex, costs = Execution(notional=1000.0), Costs(fee_bps=2.0)
    sw = sweep_pair(y, x, entries=[1.5, 2.0], exits=[0.0, 0.5], windows=[30, 60], split=Split(0.7),
                    execution=ex, costs=costs)
    k = int(0.7 * len(y))
    res = backtest_pair(y, x, ZScoreBand(1.5, 0.5, 30), hedge=Hedge("static", train=k), execution=ex, costs=costs)
    f = sw.frame
    row_out = f[(f["entry"] == 1.5) & (f["exit"] == 0.5) & (f["window"] == 30) & (f["sample"] == "out")].iloc[0]
    row_in = f[(f["entry"] == 1.5) & (f["exit"] == 0.5) & (f["window"] == 30) & (f["sample"] == "in")].iloc[0]
    assert row_out["total_pnl"] == pytest.approx(res.sim.pnl[k:].sum(), rel=1e-12)
    r = res.sim.returns[k:]
    assert row_out["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(res.metrics.periods_per_year),
                                              rel=1e-12)
    assert row_out["bars"] == len(y) - k and row_out["start"] == y.index[k]
    assert row_in["bars"] == k - res.start
    ri = res.sim.returns[res.start : k]
    assert row_in["total_return"] == pytest.approx(np.prod(1 + ri) - 1, rel=1e-12)


def test_in_sample_optimum_and_walk_forward():
    """The walk-forward table holds each fold's in-sample optimum and that combination's out-of-sample row."""
    y, x = _pair(1500)
    sw = sweep_pair(y, x, entries=[1.0, 1.5, 2.0], exits=[0.0, 0.5], windows=[20, 50], split=Split(0.5, folds=3),
                    costs=Costs(fee_bps=1.0), execution=Execution(notional=1000.0))
    f = sw.frame
    assert len(sw.walk_forward) == 3
    for fold, row in sw.walk_forward.set_index("fold").iterrows():
        ins = f[(f["fold"] == fold) & (f["sample"] == "in")]
        assert row["in_sharpe"] == ins["sharpe"].max()
        best = sw.best(fold=fold)
        assert (best["entry"], best["exit"], best["window"]) == (row["entry"], row["exit"], row["window"])
        out = f[(f["fold"] == fold) & (f["sample"] == "out") & (f["entry"] == row["entry"])
                & (f["exit"] == row["exit"]) & (f["window"] == row["window"])]
        assert out["sharpe"].iloc[0] == row["out_sharpe"]
    wf = sw.walk_forward_metrics
    assert wf is not None and wf.bars == sum(sw.folds["out_bars"])
    assert wf.total_pnl == pytest.approx(sum(
        f[(f["fold"] == r.fold) & (f["sample"] == "out") & (f["entry"] == r.entry) & (f["exit"] == r.exit)
          & (f["window"] == r.window)]["total_pnl"].iloc[0] for r in sw.walk_forward.itertuples()), rel=1e-9)
    d = sw.to_dict()
    assert d["select"] == "sharpe" and len(d["walk_forward"]) == 3
    assert "SweepResult(folds=3" in repr(sw)
