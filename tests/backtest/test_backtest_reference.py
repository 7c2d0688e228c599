"""An independent, deliberately simple event-loop backtest agrees with the vectorised engine to 1e-9."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantkit.backtest import BollingerBands, Costs, Execution, Hedge, LinearReversion, ZScoreBand, backtest_pair

TOL = 1e-9


# ------------------------------------------------------------------ the reference, one bar at a time
def ref_zscore(spread, window):
    """Rolling z-score with ddof=0 by slicing each window."""
    z = [math.nan] * len(spread)
    for t in range(window - 1, len(spread)):
        w = spread[t - window + 1 : t + 1]
        if any(math.isnan(v) for v in w):
            continue
        m = sum(w) / window
        sd = math.sqrt(sum((v - m) ** 2 for v in w) / window)
        if sd > 1e-9 * max(1.0, abs(m)):
            z[t] = (spread[t] - m) / sd
    return z


def ref_rolling_beta(y, x, window):
    """Rolling OLS (intercept) by solving each window's normal equations."""
    alpha = [math.nan] * len(y)
    beta = [math.nan] * len(y)
    for t in range(window - 1, len(y)):
        ys, xs = y[t - window + 1 : t + 1], x[t - window + 1 : t + 1]
        mx, my = sum(xs) / window, sum(ys) / window
        sxx = sum((a - mx) ** 2 for a in xs)
        sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys))
        beta[t] = sxy / sxx
        alpha[t] = my - beta[t] * mx
    return alpha, beta


def ref_band(z, entry, exit, stop=None, max_hold=None):
    """The band rules as a state machine per side (long side reads v = -z, short side v = z)."""
    out = []
    sides = [{"pos": 0, "armed": True, "held": 0, "sign": -1}, {"pos": 0, "armed": True, "held": 0, "sign": 1}]
    for zt in z:
        for sd in sides:
            v = sd["sign"] * zt
            if not math.isnan(v):
                if v <= exit:
                    sd["pos"], sd["armed"] = 0, True
                elif stop is not None and v > stop:
                    sd["pos"], sd["armed"] = 0, False
                elif v > entry and sd["armed"]:
                    sd["pos"] = 1
            if sd["pos"]:
                sd["held"] += 1
                if max_hold is not None and sd["held"] > max_hold:
                    sd["pos"], sd["armed"] = 0, False
            else:
                sd["held"] = 0
        out.append(sides[0]["pos"] - sides[1]["pos"])
    return out


def ref_backtest(y, x, signal, beta, *, lag, notional, rebalance, fee_bps, extra_bps):
    """Cash accounting, one bar at a time: buy/sell at the fill, mark at the close."""
    T = len(y)
    rate = (fee_bps + extra_bps) / 1e4
    fee_rate = fee_bps / 1e4
    targets = []
    cur = (0.0, 0.0)
    for t in range(T):
        s = signal[t]
        changed = t == 0 or s != signal[t - 1]
        if changed or rebalance:
            if s == 0:
                cur = (0.0, 0.0)
            else:
                uy, ux = 1.0, -beta[t]
                k = s * (notional / (abs(uy) * y[t] + abs(ux) * x[t]) if notional else 1.0)
                cur = (k * uy, k * ux)
        targets.append(cur)
    cash = 0.0
    held = (0.0, 0.0)
    equity_prev = 0.0
    rows = []
    trades = []
    open_trade = None
    for t in range(T):
        want = targets[t - lag] if t - lag >= 0 else (0.0, 0.0)
        s_held = signal[t - lag] if t - lag >= 0 else 0
        new_side = 0 if want == (0.0, 0.0) else (1 if s_held > 0 else -1)
        old_side = 0 if held == (0.0, 0.0) else open_trade["side"]
        gross_prev = abs(held[0]) * y[t - 1] + abs(held[1]) * x[t - 1] if t else 0.0
        traded = 0.0
        cost = 0.0
        if new_side != old_side and old_side != 0:  # close the old trade
            notional_out = abs(held[0]) * y[t] + abs(held[1]) * x[t]
            c = notional_out * rate
            cash += held[0] * y[t] + held[1] * x[t] - c
            open_trade["cash"] += held[0] * y[t] + held[1] * x[t] - c
            open_trade["costs"] += c
            open_trade["exit"] = t
            trades.append(open_trade)
            open_trade = None
            traded += notional_out
            cost += c
            held = (0.0, 0.0)
        if new_side != 0 and open_trade is None:  # open a new trade
            open_trade = {"side": new_side, "entry": t, "cash": 0.0, "costs": 0.0, "exit": -1,
                          "gross": abs(want[0]) * y[t] + abs(want[1]) * x[t]}
        if want != held:  # entry or rebalance inside a trade
            dy, dx = want[0] - held[0], want[1] - held[1]
            n_in = abs(dy) * y[t] + abs(dx) * x[t]
            c = n_in * rate
            cash -= dy * y[t] + dx * x[t] + c
            open_trade["cash"] -= dy * y[t] + dx * x[t] + c
            open_trade["costs"] += c
            traded += n_in
            cost += c
            held = want
        equity = cash + held[0] * y[t] + held[1] * x[t]
        pnl = equity - equity_prev
        equity_prev = equity
        gross_open = abs(held[0]) * y[t] + abs(held[1]) * x[t]
        base = gross_prev if gross_prev > 0 else gross_open
        rows.append({"pnl": pnl, "ret": pnl / base if base > 0 else 0.0, "y": held[0], "x": held[1],
                     "traded": traded, "cost": cost, "fee": traded * fee_rate, "gross": gross_open})
    if open_trade is not None:
        open_trade["cash"] += held[0] * y[-1] + held[1] * x[-1]  # marked to market
        trades.append(open_trade)
    for tr in trades:
        tr["pnl"] = tr["cash"]
    return rows, trades


def ref_metrics(rows, trades, start, P, capital):
    """Metrics by loops over the evaluation bars."""
    r = [row["ret"] for row in rows[start:]]
    n = len(r)
    wealth, peak, max_dd, under, longest = 1.0, 1.0, 0.0, 0, 0
    for v in r:
        wealth *= 1 + v
        peak = max(peak, wealth)
        max_dd = max(max_dd, 1 - wealth / peak)
        under = under + 1 if wealth < peak else 0
        longest = max(longest, under)
    mean = sum(r) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in r) / (n - 1))
    closed = [t for t in trades if t["exit"] >= 0 and t["entry"] >= start]
    wins = [t["pnl"] for t in closed if t["pnl"] > 0]
    losses = [t["pnl"] for t in closed if t["pnl"] < 0]
    return {
        "total_pnl": sum(row["pnl"] for row in rows[start:]),
        "total_return": wealth - 1,
        "sharpe": mean / sd * math.sqrt(P) if sd > 0 else math.nan,
        "max_drawdown": max_dd,
        "max_drawdown_bars": longest,
        "n_trades": len(closed),
        "win_rate": len(wins) / len(closed) if closed else math.nan,
        "profit_factor": (sum(wins) / -sum(losses)) if losses else (math.inf if wins else math.nan),
        "expectancy": sum(t["pnl"] for t in closed) / len(closed) if closed else math.nan,
        "avg_holding_bars": sum(t["exit"] - t["entry"] for t in closed) / len(closed) if closed else math.nan,
        "exposure": sum(1 for row in rows[start:] if row["gross"] > 0) / n,
        "fees": sum(row["fee"] for row in rows[start:]),
        "costs": sum(row["cost"] for row in rows[start:]),
        "turnover": sum(row["traded"] for row in rows[start:]) / capital,
    }


# ------------------------------------------------------------------ data and comparison
def make_pair(seed, n=400):
    """A cointegrated random pair on 1-hour bars."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-03-01", periods=n, freq="1h", tz="UTC")
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    ou = np.zeros(n)
    for t in range(1, n):
        ou[t] = 0.9 * ou[t - 1] + rng.normal(0, 0.8)
    y = 20 + 0.7 * x + ou
    return pd.Series(y, index=idx, name="YY"), pd.Series(x, index=idx, name="XX")


def assert_close(a, b, what):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL, err_msg=what)


CASES = [
    dict(strategy=ZScoreBand(2.0, 0.0, 20), hedge="static", fill="next_close", notional=None, rebalance=False),
    dict(strategy=ZScoreBand(1.5, 0.5, 30, stop=3.0), hedge="rolling", fill="next_close", notional=10_000.0,
         rebalance=False),
    dict(strategy=ZScoreBand(1.0, -0.3, 25, max_hold=12), hedge="static", fill="same_close", notional=5_000.0,
         rebalance=False),
    dict(strategy=ZScoreBand(1.2, 1.2, 15, stop=2.5, max_hold=8), hedge="rolling", fill="next_close",
         notional=1_000.0, rebalance=True),
    dict(strategy=BollingerBands(20, 1.8, 0.2), hedge="rolling", fill="same_close", notional=None, rebalance=False),
    dict(strategy=LinearReversion(20, scale=2.0, max_units=1.5), hedge="static", fill="next_close",
         notional=1_000.0, rebalance=False),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_event_loop_matches_engine(seed, case):
    """Positions, per-bar P&L and returns, the trade list and the metrics agree with the event loop."""
    c = CASES[case]
    strat = c["strategy"]
    y, x = make_pair(seed)
    costs = Costs(fee_bps=4.0, half_spread_bps=1.5, slippage_bps=0.5)
    ex = Execution(fill=c["fill"], notional=c["notional"], rebalance=c["rebalance"])
    res = backtest_pair(y, x, strat, hedge=c["hedge"], execution=ex, costs=costs)
    yl, xl = y.tolist(), x.tolist()
    if c["hedge"] == "static":
        b = np.polyfit(xl, yl, 1)
        beta, alpha = [b[0]] * len(yl), [b[1]] * len(yl)
    else:
        alpha, beta = ref_rolling_beta(yl, xl, strat.window)
    spread = [yy - a - bb * xx for yy, xx, a, bb in zip(yl, xl, alpha, beta)]
    z = ref_zscore(spread, strat.window)
    assert_close(res.indicator, z, "z-score")
    if isinstance(strat, LinearReversion):
        signal = [0.0 if math.isnan(v) else max(-strat.max_units, min(strat.max_units, -v / strat.scale)) for v in z]
    elif isinstance(strat, BollingerBands):
        signal = ref_band(z, strat.k_entry, strat.k_exit, strat.stop, strat.max_hold)
    else:
        signal = ref_band(z, strat.entry, strat.exit, strat.stop, strat.max_hold)
    assert_close(res.signal, signal, "signal")
    rows, trades = ref_backtest(yl, xl, signal, beta, lag=0 if c["fill"] == "same_close" else 1,
                                notional=c["notional"], rebalance=c["rebalance"], fee_bps=4.0, extra_bps=2.0)
    assert_close(res.sim.positions[:, 0], [r["y"] for r in rows], "y units")
    assert_close(res.sim.positions[:, 1], [r["x"] for r in rows], "x units")
    assert_close(res.sim.pnl, [r["pnl"] for r in rows], "pnl")
    assert_close(res.sim.returns, [r["ret"] for r in rows], "returns")
    assert_close(res.sim.fees, [r["fee"] for r in rows], "fees")
    assert len(res.trades) == len(trades) and len(trades) > 0
    assert res.trades["side"].tolist() == [t["side"] for t in trades]
    assert res.trades["entry_bar"].tolist() == [t["entry"] for t in trades]
    assert res.trades["exit_bar"].tolist() == [t["exit"] for t in trades]
    assert_close(res.trades["pnl"], [t["pnl"] for t in trades], "trade pnl")
    assert_close(res.trades["costs"], [t["costs"] for t in trades], "trade costs")
    assert_close(res.trades["entry_gross"], [t["gross"] for t in trades], "entry gross")
    start = next(i for i, v in enumerate(z) if not math.isnan(v))
    assert res.start == start
    capital = c["notional"] or max(r["gross"] for r in rows)
    ref = ref_metrics(rows, trades, start, 365 * 24, capital)
    got = res.metrics.to_dict()
    for k, v in ref.items():
        if isinstance(v, float) and math.isnan(v):
            assert math.isnan(got[k]), k
        else:
            assert got[k] == pytest.approx(v, rel=TOL, abs=TOL), k
