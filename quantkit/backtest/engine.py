"""The backtest engine: prices + hedge + strategy -> positions, P&L, trades, metrics.

Entry points:

* :func:`backtest_pair` -- a pair ``y``/``x`` with a hedge ratio that is static in-sample,
  rolling, Kalman, or given (a number or a per-bar series).
* :func:`backtest_portfolio` -- an N-leg portfolio with fixed unit weights (e.g. a
  Johansen eigenvector).
* :func:`simulate` -- the core on plain arrays: prices, units per spread unit and a signal.

Pipeline of a pair backtest (all vectorised; no Python loop over bars):

1. validate and align the legs (NaN, non-positive prices, lengths -> :class:`BacktestError`);
2. hedge: per-bar ``alpha_t``, ``beta_t`` (:mod:`quantkit.backtest.hedging`);
3. spread ``y - alpha_t - beta_t x`` (``spread="price"``; ``"log"`` on log prices; ``"ratio"``
   ``y / x``) and the indicator ``z`` (:mod:`quantkit.backtest.strategies`);
4. signal ``s_t = strategy.positions(z)`` (spread units after bar t's close);
5. units per spread unit ``[1, -beta_t]`` (``sizing="hedge"``, price spread), ``[1/y_t, -beta_t/x_t]``
   (log spread) or ``[1/y_t, -1/x_t]`` (``"dollar"``, ratio spread), positions, fills, costs,
   funding of perpetual legs and P&L (:mod:`quantkit.backtest._simulation`,
   :mod:`quantkit.backtest.funding`);
6. the trade list and :class:`~quantkit.backtest.metrics.Metrics` over the evaluation bars
   (from the first bar with a defined ``z`` to the end; ``metrics_rows="all"``: every bar).

Every convention and its default, with references: ``docs/conventions.md``.

Look-ahead: with ``fill="next_close"``/``"next_open"`` and a rolling or Kalman hedge (or a
static one with ``Hedge(train=...)``), positions up to bar t depend only on prices up to bar
t. A static hedge fitted on every bar (``train=None``) and ``fill="same_close"`` reproduce
textbook results and are flagged in the parameters.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import asdict
from typing import Any, Sequence

import numpy as np
import pandas as pd

from quantkit import analytics
from quantkit.backtest._simulation import Simulation, simulate_arrays
from quantkit.backtest._trades import TradeArrays, trade_arrays, trades_frame
from quantkit.backtest.costs import Costs
from quantkit.backtest.execution import Execution
from quantkit.backtest.funding import Funding, FundingEvents, funding_events
from quantkit.backtest.hedging import Hedge, hedge_ratios, resolve_train
from quantkit.backtest.metrics import (
    CALENDARS,
    METRICS_ROWS,
    Metrics,
    bar_seconds,
    compute_metrics,
    infer_periods_per_year,
    periods_per_year,
)
from quantkit.backtest.results import BacktestResult
from quantkit.backtest.strategies import BollingerBands, KalmanSignal, Strategy
from quantkit.errors import AnalyticsError, BacktestError

__all__ = ["SPREADS", "backtest_pair", "backtest_portfolio", "evaluate", "simulate", "zscore_indicator"]

logger = logging.getLogger("quantkit.backtest")

#: Allowed values of ``backtest_pair(spread=...)``.
SPREADS: tuple[str, ...] = ("price", "log", "ratio")



# ---------------------------------------------------------------------------------- inputs
def _as_values(data: Any, name: str) -> tuple[np.ndarray, pd.Index | None]:
    if isinstance(data, pd.Series):
        idx = data.index
        vals = data.to_numpy()
    else:
        idx = None
        vals = np.asarray(data)
    if vals.ndim != 1:
        raise BacktestError(f"{name}: expected 1-D prices, got shape {vals.shape}")
    try:
        arr = np.ascontiguousarray(vals, dtype=np.float64)
    except (TypeError, ValueError):
        raise BacktestError(f"{name}: prices are not numeric (dtype {vals.dtype})") from None
    return arr, idx


def _check_prices(arr: np.ndarray, name: str, index: pd.Index) -> None:
    lo = float(arr.min()) if arr.size else 1.0  # NaN if any NaN; one pass in the common case
    if lo > 0 and lo != np.inf and np.isfinite(arr.max()):
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BacktestError(
            f"{name}: {int(bad.sum())} missing/non-finite price(s), first at {index[i]} (bar {i}); "
            "drop or fill the gaps before backtesting"
        )
    nonpos = arr <= 0
    if nonpos.any():
        i = int(np.flatnonzero(nonpos)[0])
        raise BacktestError(f"{name}: non-positive price {arr[i]!r} at {index[i]} (bar {i}); prices must be > 0")


def _prepare_legs(
    legs: Sequence[tuple[str, Any]], opens: Sequence[Any | None]
) -> tuple[list[np.ndarray], list[np.ndarray] | None, pd.Index]:
    """Validate/align legs: returns per-leg closes, per-leg opens (or None), and the index."""
    arrays = []
    indexes = []
    for name, data in legs:
        a, idx = _as_values(data, name)
        arrays.append(a)
        indexes.append(idx)
    series_idx = [i for i in indexes if i is not None]
    if len(series_idx) == len(indexes) and any(not series_idx[0].equals(i) for i in series_idx[1:]):
        frame = pd.concat(
            [pd.Series(a, index=i, name=n) for (n, _), a, i in zip(legs, arrays, series_idx)], axis=1, join="inner"
        )
        dropped = max(len(i) for i in series_idx) - len(frame)
        logger.info("aligned %d legs on their common bars (%d bars, %d dropped)", len(legs), len(frame), dropped)
        index = frame.index
        arrays = [frame[n].to_numpy(dtype=np.float64) for n, _ in legs]
        if any(o is not None for o in opens):
            raise BacktestError("open prices need legs on identical indexes; align the bars first")
    else:
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise BacktestError(f"legs have different lengths {[len(a) for a in arrays]}; align them first")
        index = series_idx[0] if series_idx else pd.RangeIndex(len(arrays[0]))
    if len(index) < 3:
        raise BacktestError(f"too few bars ({len(index)}); need at least 3")
    if isinstance(index, pd.DatetimeIndex) and not index.is_monotonic_increasing:
        raise BacktestError("the bars' index is not sorted in time")
    for (name, _), a in zip(legs, arrays):
        _check_prices(a, name, index)
    close = arrays
    open_arr = None
    if any(o is not None for o in opens):
        if any(o is None for o in opens):
            raise BacktestError("open prices must be given for every leg or for none")
        cols = []
        for (name, _), o in zip(legs, opens):
            a, _ = _as_values(o, f"{name} open")
            if len(a) != len(index):
                raise BacktestError(f"{name} open: {len(a)} values for {len(index)} bars")
            _check_prices(a, f"{name} open", index)
            cols.append(a)
        open_arr = cols
    return close, open_arr, index


def _leg_name(data: Any, default: str) -> str:
    name = getattr(data, "name", None)
    return str(name) if name is not None and str(name) else default


# ---------------------------------------------------------------------------------- indicator
def _static_stats(spread: np.ndarray, train_end: int, ddof: int = 0) -> tuple[float, float]:
    part = spread[:train_end]
    part = part[np.isfinite(part)]
    if part.size < 2:
        raise BacktestError(f"the static z-score needs >= 2 defined spread values in the {train_end} training bars")
    m = float(part.mean())
    sd = float(part.std(ddof=ddof))
    if not sd > 0:
        raise BacktestError("the spread is constant over the training bars; the z-score is undefined")
    return m, sd


def zscore_indicator(
    spread: np.ndarray, window: int | None, train_end: int, *, bands: bool = False, ddof: int = 0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The z-score of ``spread``: rolling over ``window`` bars, or static training statistics.

    Args:
        spread: the spread per bar (NaN allowed during a hedge warm-up).
        window: rolling window in bars (current bar included), or None for the mean and
            standard deviation of the first ``train_end`` bars.
        train_end: training bars of a static z-score.
        bands: also return the rolling ``mean``/``std`` (for Bollinger bands).
        ddof: standard-deviation divisor ``window - ddof`` (``n - ddof`` for the static form); default 0.

    Returns:
        ``(z, extras)``; extras holds ``mean``/``std`` when ``bands`` is True.

    Raises:
        BacktestError: too few bars for the window, or a constant spread.
    """
    n = spread.shape[0]
    extras: dict[str, np.ndarray] = {}
    if window is None:
        m, sd = _static_stats(spread, train_end, ddof)
        z = (spread - m) / sd
        if bands:
            extras = {"mean": np.full(n, m), "std": np.full(n, sd)}
        return z, extras
    if n < window + 1:
        raise BacktestError(f"too few bars for window={window}: {n} bars; need at least window + 1 = {window + 1}")
    try:
        if bands:
            ms = analytics.rolling_mean_std(spread, window, ddof=ddof)
            mean, std = ms["mean"].to_numpy(), ms["std"].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                z = (spread - mean) / std
            z[~(std > 0)] = np.nan
            extras = {"mean": mean, "std": std}
        else:
            z = analytics.zscore(spread, window, ddof=ddof).to_numpy()
    except AnalyticsError as exc:
        raise BacktestError(f"z-score over window={window}: {exc}") from exc
    return z, extras


def _first_valid(z: np.ndarray, n: int, lag: int, what: str) -> int:
    start = -1
    step = 65_536  # the warm-up is short next to the data: look chunk by chunk, not at every bar
    for lo in range(0, n, step):
        ok = np.isfinite(z[lo : lo + step])
        if ok.any():
            start = lo + int(np.argmax(ok))
            break
    if start < 0:
        raise BacktestError(f"too few bars ({n}) for {what}: the indicator is never defined")
    if start > n - 1 - lag:
        raise BacktestError(
            f"too few bars ({n}) for {what}: the first signal is at bar {start}, leaving no bar to trade"
        )
    return start


# ---------------------------------------------------------------------------------- evaluation
def evaluate(
    sim: Simulation,
    trades: TradeArrays,
    start: int,
    stop: int,
    *,
    periods_per_year: float,
    bar_seconds: float | None,
    capital: float,
    rows: str = "after_warmup",
) -> Metrics:
    """Metrics of bars ``start..stop-1`` and of the closed trades that entered in them (``rows`` labels them)."""
    sl = slice(start, stop)
    in_range = (trades.entry_bar >= start) & (trades.entry_bar < stop) & trades.closed
    traded = sim.in_range(sim.fill_traded, start, stop)  # costs are sparse: only fill bars have any
    return compute_metrics(
        sim.returns[sl],
        sim.pnl[sl],
        traded * sim.fee_rate,
        traded * sim.rate,
        traded,
        sim.side[sl],
        trades.pnl[in_range],
        trades.returns[in_range],
        (trades.exit_bar - trades.entry_bar)[in_range].astype(np.float64),
        periods_per_year=periods_per_year,
        bar_seconds=bar_seconds,
        capital=capital,
        funding=sim.funding[sl] if sim.funding is not None else None,
        rows=rows,
    )


def _capital(execution: Execution, sim: Simulation) -> float:
    if execution.capital is not None:
        return float(execution.capital)
    if execution.notional is not None:
        return float(execution.notional)
    g = float(sim.gross_exposure.max()) if sim.gross_exposure.size else 0.0
    return g if g > 0 else 1.0


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BacktestError(f"{name}={value!r}: expected one of {', '.join(repr(a) for a in allowed)}")


def _funding_events(
    funding: Sequence[Any] | None, legs: tuple[str, ...], index: pd.Index, close: list[np.ndarray], fill: str
) -> tuple[list[FundingEvents | None] | None, dict[str, Any]]:
    """Per-leg funding settlements (None for spot legs) and their description for the parameters."""
    if funding is None:
        return None, {}
    if len(funding) != len(legs):
        raise BacktestError(f"funding: {len(funding)} entries for {len(legs)} legs")
    specs = [Funding.coerce(f) for f in funding]
    if all(sp is None for sp in specs):
        return None, {}
    events = [None if sp is None else funding_events(sp, index, close[i], fill=fill) for i, sp in enumerate(specs)]
    return events, {leg: sp.to_dict() for leg, sp in zip(legs, specs) if sp is not None}


def _result(
    *,
    close: list[np.ndarray],
    open_: list[np.ndarray] | None,
    units: list[np.ndarray],
    spread: np.ndarray,
    z: np.ndarray,
    signal: np.ndarray,
    start: int,
    index: pd.Index,
    legs: tuple[str, ...],
    execution: Execution,
    costs: Costs,
    ppy: float | None,
    params: dict[str, Any],
    extras: dict[str, np.ndarray],
    calendar: str = "crypto",
    metrics_rows: str = "after_warmup",
    funding: Sequence[Any] | None = None,
) -> BacktestResult:
    _check_choice("calendar", calendar, CALENDARS)
    _check_choice("metrics_rows", metrics_rows, METRICS_ROWS)
    sec = bar_seconds(index)
    P = periods_per_year(index, ppy, calendar=calendar) if ppy is not None else infer_periods_per_year(sec, calendar)
    events, funding_params = _funding_events(funding, legs, index, close, execution.fill)
    sim = simulate_arrays(close, units, signal, execution=execution, costs=costs, open_=open_, funding=events)
    tr = trade_arrays(sim)
    capital = _capital(execution, sim)
    first = 0 if metrics_rows == "all" else start
    metrics = evaluate(sim, tr, first, len(index), periods_per_year=P, bar_seconds=sec, capital=capital,
                       rows=metrics_rows)
    params = {
        **params,
        "execution": asdict(execution),
        "costs": asdict(costs),
        "periods_per_year": P,
        "periods_per_year_source": "given" if ppy is not None else f"inferred ({calendar} calendar)",
        "metrics_rows": metrics_rows,
        "warmup_end": start,
    }
    if funding_params:
        params["funding"] = funding_params
    return BacktestResult(
        index=index,
        legs=legs,
        close_legs=tuple(close),
        units_legs=tuple(units),
        spread=spread,
        indicator=z,
        signal=signal,
        sim=sim,
        start=first,
        trades=trades_frame(tr, sim, index, legs, execution.lag),
        metrics=metrics,
        capital=capital,
        params=params,
        extras=extras,
    )


# ---------------------------------------------------------------------------------- public API
def simulate(
    close: Any,
    units: Any,
    signal: Any,
    *,
    execution: Execution | None = None,
    costs: Costs | None = None,
    open_prices: Any | None = None,
    index: pd.Index | None = None,
    legs: Sequence[str] | None = None,
    periods_per_year: float | None = None,
    start: int = 0,
    calendar: str = "crypto",
    funding: Sequence[Any] | None = None,
) -> BacktestResult:
    """The engine core on plain arrays: a signal in spread units and the units per spread unit.

    Args:
        close: (T, N) close prices (array or DataFrame; a DataFrame gives index and leg names).
        units: (T, N) units of each leg per spread unit decided at bar t, or (N,) constant.
        signal: (T,) target spread units decided at bar t's close (NaN = flat).
        execution: timing/sizing (default :class:`Execution()`: next close, raw units).
        costs: cost model (default: free).
        open_prices: (T, N) opens for ``fill="next_open"``.
        index: bar index (default: the DataFrame's, else a RangeIndex).
        legs: leg names (default: the DataFrame's columns, else ``leg0..``).
        periods_per_year: annualisation, used as given (required without a DatetimeIndex).
        start: first evaluation bar for the metrics (default 0).
        calendar: ``"crypto"`` (default, 365-day years) or ``"exchange"`` (252 trading days) to
            infer ``periods_per_year`` from the bar length (see :mod:`quantkit.backtest.metrics`).
        funding: per leg, None (spot) or the funding of a perpetual leg: a constant rate per
            funding time, a Series of rates or a funding table (:mod:`quantkit.backtest.funding`).

    Raises:
        BacktestError: bad shapes, NaN or non-positive prices, bad start.
    """
    execution = execution or Execution()
    costs = costs or Costs()
    if isinstance(close, pd.DataFrame):
        index = close.index if index is None else index
        legs = tuple(str(c) for c in close.columns) if legs is None else legs
        close_arr = close.to_numpy(dtype=np.float64)
    else:
        close_arr = np.asarray(close, dtype=np.float64)
    if close_arr.ndim != 2:
        raise BacktestError(f"close: expected a (bars, legs) array, got shape {close_arr.shape}")
    T, N = close_arr.shape
    index = pd.RangeIndex(T) if index is None else index
    if len(index) != T:
        raise BacktestError(f"index has {len(index)} labels for {T} bars")
    legs = tuple(legs) if legs is not None else tuple(f"leg{i}" for i in range(N))
    if len(legs) != N:
        raise BacktestError(f"legs={legs!r}: {len(legs)} names for {N} legs")
    for i, leg in enumerate(legs):
        _check_prices(close_arr[:, i], leg, index)
    w = np.asarray(units, dtype=np.float64)
    if w.ndim == 1:
        w = np.broadcast_to(w, (T, N)).copy()
    if w.shape != (T, N):
        raise BacktestError(f"units: shape {w.shape}, expected {(T, N)} or {(N,)}")
    s = np.asarray(signal, dtype=np.float64)
    if s.shape != (T,):
        raise BacktestError(f"signal: shape {s.shape}, expected {(T,)}")
    o = None
    if open_prices is not None:
        o = np.asarray(open_prices, dtype=np.float64)
        if o.shape != (T, N):
            raise BacktestError(f"open_prices: shape {o.shape}, expected {(T, N)}")
        for i, leg in enumerate(legs):
            _check_prices(o[:, i], f"{leg} open", index)
    if not 0 <= start < T:
        raise BacktestError(f"start={start}: expected 0 <= start < {T}")
    return _result(
        close=[close_arr[:, i].copy() for i in range(N)], open_=None if o is None else [o[:, i].copy() for i in range(N)],
        units=[w[:, i].copy() for i in range(N)], spread=np.full(T, np.nan), z=np.full(T, np.nan), signal=s,
        start=start, index=index, legs=legs, execution=execution, costs=costs, ppy=periods_per_year,
        params={"strategy": {"strategy": "given"}}, extras={}, calendar=calendar, funding=funding,
    )


def backtest_pair(
    y: Any,
    x: Any,
    strategy: Strategy,
    *,
    hedge: Any = None,
    alpha: Any = 0.0,
    spread: str = "price",
    execution: Execution | None = None,
    costs: Costs | None = None,
    periods_per_year: float | None = None,
    calendar: str = "crypto",
    metrics_rows: str = "after_warmup",
    funding_y: Any = None,
    funding_x: Any = None,
    y_open: Any | None = None,
    x_open: Any | None = None,
    names: tuple[str, str] | None = None,
) -> BacktestResult:
    """Backtest a strategy on the pair ``y`` (long when long the spread) and ``x``.

    Args:
        y: prices of the first leg (Series with a DatetimeIndex, or a 1-D array).
        x: prices of the second leg (same bars; two Series are inner-joined on their index).
        strategy: :class:`ZScoreBand`, :class:`LinearReversion`, :class:`BollingerBands` or
            :class:`KalmanSignal`.
        hedge: ``"static"`` (default; ``"kalman"`` for a :class:`KalmanSignal`), ``"rolling"``,
            ``"kalman"``, a :class:`Hedge`, or given ratios: a number or a per-bar array/Series of beta.
        alpha: intercept used with given ratios (number or per-bar), default 0.0.
        spread: the spread definition (Chan 2013, ch. 3; see docs/conventions.md):

            * ``"price"`` (default): ``y - alpha_t - beta_t x`` on prices; one spread unit is
              ``+1`` unit of y and ``-beta_t`` units of x (``sizing="hedge"``).
            * ``"log"``: ``ln y - alpha_t - beta_t ln x``, the hedge estimated on log prices; one
              spread unit is ``+1`` of quote currency in y and ``-beta_t`` in x (market values),
              i.e. ``1/y_t`` and ``-beta_t/x_t`` units at decision time.
            * ``"ratio"``: ``y / x``, no hedge regression (``hedge`` must be left None); one spread
              unit is ``+1`` of quote currency in y and ``-1`` in x.

            With ``sizing="dollar"`` every definition trades ``1/y_t`` and ``-1/x_t`` units. Chan's
            examples hold constant market values, i.e. ``Execution(rebalance=True)``.
        execution: timing and sizing (default: next close, hedge units, no rescaling).
        costs: cost model (default: free).
        periods_per_year: annualisation, used as given (needed without a DatetimeIndex).
        calendar: how ``periods_per_year`` is inferred when not given: ``"crypto"`` (default,
            24/7: 365 daily bars a year) or ``"exchange"`` (252 daily bars a year).
        metrics_rows: ``"after_warmup"`` (default: score the bars from the first defined
            indicator on) or ``"all"`` (score every bar; Chan's APR and Sharpe). The result's
            ``metrics.rows`` says which.
        funding_y: funding of y if it is a perpetual (None: spot, the default): a constant rate
            per funding time, a Series of rates, or a funding table indexed by funding time with
            ``funding_rate`` (and optionally ``mark_price``) as ``TickStore.funding`` gives;
            see :mod:`quantkit.backtest.funding`. Positive rates: longs pay shorts.
        funding_x: the same for x.
        y_open: open prices of y (for ``fill="next_open"``).
        x_open: open prices of x.
        names: leg names (default: the Series names, else ``("y", "x")``).

    Returns:
        :class:`BacktestResult`.

    Raises:
        BacktestError: NaN/zero prices, too few bars for the window, bad parameters.
    """
    execution = execution or Execution()
    costs = costs or Costs()
    _check_choice("spread", spread, SPREADS)
    legs = names or (_leg_name(y, "y"), _leg_name(x, "x"))
    if legs[0] == legs[1]:
        legs = (f"{legs[0]}_y", f"{legs[1]}_x")
    close, open_, index = _prepare_legs([(legs[0], y), (legs[1], x)], [y_open, x_open])
    if execution.fill == "next_open" and open_ is None:
        raise BacktestError("fill='next_open' needs y_open and x_open")
    ya, xa = close
    n = ya.shape[0]
    is_kalman = isinstance(strategy, KalmanSignal)
    window = strategy.window
    ddof = int(getattr(strategy, "ddof", 0))
    extras: dict[str, np.ndarray] = {}
    e = q = None
    hedge_params: dict[str, Any]
    if spread == "ratio":
        if is_kalman or hedge is not None:
            raise BacktestError("spread='ratio' trades y/x with no hedge ratio: leave hedge=None, use a z-score strategy")
        spr = ya / xa
        a_t = np.broadcast_to(0.0, (n,))
        b_t = np.broadcast_to(1.0, (n,))
        train_end = n
        hedge_params = {"method": "none (ratio)"}
    else:
        hy, hx = (np.log(ya), np.log(xa)) if spread == "log" else (ya, xa)
        if hedge is None or isinstance(hedge, (str, Hedge)):
            spec = Hedge.coerce(hedge if hedge is not None else ("kalman" if is_kalman else "static"))
            if isinstance(strategy, KalmanSignal):
                if spec.method != "kalman":
                    raise BacktestError(f"KalmanSignal trades the Kalman hedge; got hedge={spec.label!r}")
                spec = dataclasses.replace(spec, delta=strategy.delta, ve=strategy.ve, init=strategy.init)
            hs = hedge_ratios(hy, hx, spec, window=window, index=index)
            a_t, b_t, train_end = hs.alpha, hs.beta, hs.train_end
            spr = hs.spread(hy, hx, alpha_in_spread=spec.alpha_in_spread)
            hedge_params = {**asdict(spec), "train": str(spec.train) if spec.train is not None else None,
                            "in_sample": spec.method == "static" and spec.train is None}
            e, q = hs.e, hs.q
        else:
            if is_kalman:
                raise BacktestError("KalmanSignal computes its own hedge; do not pass given ratios")
            b_t = _given(hedge, "hedge", n, index)
            a_t = _given(alpha, "alpha", n, index)
            train_end = n
            hedge_params = {"method": "given"}
            spr = hy - a_t - b_t * hx
    extras["alpha"] = a_t
    extras["beta"] = b_t
    if isinstance(strategy, KalmanSignal):
        assert e is not None and q is not None
        with np.errstate(divide="ignore", invalid="ignore"):
            z = e / np.sqrt(q)
        z[: strategy.warmup] = np.nan
        extras["e"] = e
        extras["q"] = q
        what = f"the Kalman signal with warmup={strategy.warmup}"
    else:
        z, more = zscore_indicator(spr, window, train_end, bands=isinstance(strategy, BollingerBands), ddof=ddof)
        if isinstance(strategy, BollingerBands):
            extras["mean"] = more["mean"]
            extras["upper"] = more["mean"] + strategy.k_entry * more["std"]
            extras["lower"] = more["mean"] - strategy.k_entry * more["std"]
        what = f"window={window}" if window is not None else "the static z-score"
    start = _first_valid(z, n, execution.lag, what)
    signal = strategy.positions(z)
    units: list[np.ndarray]
    if execution.sizing == "dollar" or spread == "ratio":
        units = [1.0 / ya, -1.0 / xa]
    elif spread == "log":
        units = [1.0 / ya, -b_t / xa]
    elif b_t.strides == (0,):  # a static hedge: one number for every bar, no memory
        units = [np.broadcast_to(1.0, (n,)), np.broadcast_to(-float(b_t[0]), (n,))]
    else:
        units = [np.broadcast_to(1.0, (n,)), -b_t]
    return _result(
        close=close, open_=open_, units=units, spread=spr, z=z, signal=signal, start=start, index=index,
        legs=legs, execution=execution, costs=costs, ppy=periods_per_year,
        params={"strategy": strategy.to_dict(), "hedge": hedge_params, "spread": spread}, extras=extras,
        calendar=calendar, metrics_rows=metrics_rows, funding=[funding_y, funding_x],
    )


def _given(value: Any, name: str, n: int, index: pd.Index) -> np.ndarray:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if not math.isfinite(float(value)):
            raise BacktestError(f"{name}={value!r}: must be finite")
        return np.full(n, float(value))
    if isinstance(value, pd.Series) and isinstance(index, pd.DatetimeIndex) and not value.index.equals(index):
        value = value.reindex(index)
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        raise BacktestError(f"{name}: {arr.shape} values for {n} bars")
    if np.isinf(arr).any():
        raise BacktestError(f"{name}: contains infinite values")
    return arr


def backtest_portfolio(
    prices: pd.DataFrame,
    weights: Any,
    strategy: Strategy,
    *,
    train: int | str | pd.Timestamp | None = None,
    execution: Execution | None = None,
    costs: Costs | None = None,
    periods_per_year: float | None = None,
    opens: pd.DataFrame | None = None,
    calendar: str = "crypto",
    metrics_rows: str = "after_warmup",
    funding: dict[str, Any] | None = None,
) -> BacktestResult:
    """Backtest a strategy on an N-leg portfolio ``spread_t = sum_i w_i p_i,t``.

    Args:
        prices: (T, N) close prices, one column per leg.
        weights: N units per spread unit (e.g. a Johansen eigenvector), or ``"johansen"`` to take
            the first eigenvector of :func:`quantkit.analytics.cointegration.johansen` fitted on the
            training bars (normalised so the first weight is 1).
        strategy: a z-score strategy (:class:`ZScoreBand`, :class:`LinearReversion`,
            :class:`BollingerBands`); Kalman signals are pair-only.
        train: training bars for ``"johansen"`` and for a static z-score (``window=None``);
            None = every bar (in-sample).
        execution: timing and sizing (``sizing`` must be ``"hedge"``).
        costs: cost model.
        periods_per_year: annualisation, used as given.
        opens: (T, N) open prices for ``fill="next_open"``.
        calendar: ``"crypto"`` (default) or ``"exchange"``: how ``periods_per_year`` is inferred.
        metrics_rows: ``"after_warmup"`` (default) or ``"all"``.
        funding: ``{column: funding}`` for perpetual legs (as ``backtest_pair``'s ``funding_y``).

    Raises:
        BacktestError: bad weights, prices or parameters.
    """
    execution = execution or Execution()
    costs = costs or Costs()
    if not isinstance(prices, pd.DataFrame) or prices.shape[1] < 2:
        raise BacktestError("prices: expected a DataFrame with one column per leg (>= 2 legs)")
    if isinstance(strategy, KalmanSignal):
        raise BacktestError("KalmanSignal is defined for pairs only; use backtest_pair")
    if execution.sizing != "hedge":
        raise BacktestError(f"sizing={execution.sizing!r}: portfolios are sized by their weights ('hedge')")
    legs = tuple(str(c) for c in prices.columns)
    o_list: list[Any] = [None] * len(legs) if opens is None else [opens[c] for c in prices.columns]
    close, open_, index = _prepare_legs([(leg, prices[c]) for leg, c in zip(legs, prices.columns)], o_list)
    N = len(close)
    n = close[0].shape[0]
    train_end = resolve_train(train, index, n)
    if isinstance(weights, str):
        if weights != "johansen":
            raise BacktestError(f"weights={weights!r}: expected N numbers or 'johansen'")
        w = _johansen_weights(np.column_stack(close)[:train_end])
        weight_params: Any = "johansen"
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        weight_params = w.tolist()
    if w.shape != (N,) or not np.isfinite(w).all() or not np.any(w != 0):
        raise BacktestError(f"weights={weights!r}: expected {N} finite numbers, not all zero")
    if funding is not None and set(funding) - set(prices.columns):
        raise BacktestError(f"funding: no leg named {sorted(map(str, set(funding) - set(prices.columns)))}")
    spread = sum(w[i] * close[i] for i in range(N))
    window = strategy.window
    z, more = zscore_indicator(spread, window, train_end, bands=isinstance(strategy, BollingerBands),
                               ddof=int(getattr(strategy, "ddof", 0)))
    extras: dict[str, np.ndarray] = {}
    if isinstance(strategy, BollingerBands):
        extras["mean"] = more["mean"]
        extras["upper"] = more["mean"] + strategy.k_entry * more["std"]
        extras["lower"] = more["mean"] - strategy.k_entry * more["std"]
    start = _first_valid(z, n, execution.lag, f"window={window}")
    signal = strategy.positions(z)
    units = [np.full(n, w[i]) for i in range(N)]
    return _result(
        close=close, open_=open_, units=units, spread=spread, z=z, signal=signal, start=start, index=index,
        legs=legs, execution=execution, costs=costs, ppy=periods_per_year,
        params={"strategy": strategy.to_dict(), "weights": weight_params, "weight_values": w.tolist(),
                "train": str(train) if train is not None else None},
        extras=extras, calendar=calendar, metrics_rows=metrics_rows,
        funding=None if funding is None else [funding.get(c) for c in prices.columns],
    )


def _johansen_weights(close: np.ndarray) -> np.ndarray:
    try:
        from quantkit.analytics.cointegration import johansen
    except ImportError as exc:  # pragma: no cover - analytics ships it
        raise BacktestError(f"weights='johansen' needs quantkit.analytics.cointegration.johansen ({exc})") from exc
    try:
        res = johansen(close, det_order=0, k_ar_diff=1)
    except AnalyticsError as exc:
        raise BacktestError(f"johansen weights: {exc}") from exc
    v = np.asarray(res.eigenvectors)[:, 0].astype(np.float64)
    if v[0] == 0:
        raise BacktestError("johansen weights: the first eigenvector has no weight on the first leg")
    return v / v[0]
