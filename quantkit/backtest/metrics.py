"""Performance metrics, each formula spelled out so a result can be checked by hand.

Rows. By default (``metrics_rows="after_warmup"``) the metrics use the **evaluation bars**
``t = s .. e-1``: every bar from the first one whose indicator is defined (the warm-up rows
before it are excluded) to the end of the data (or of the in-/out-of-sample slice).
``metrics_rows="all"`` scores every row from bar 0 instead (warm-up rows count as flat
periods with a return of 0), the convention of Chan (2013), whose APR and Sharpe are
computed over the whole return series. :attr:`Metrics.rows` says which was used. Flat
bars count as periods with a return of 0. ``n`` is their number.

Per-bar series (from :mod:`quantkit.backtest.engine`):

* ``pnl_t`` quote-currency P&L of bar t after costs, funding included;
* ``r_t`` return on gross exposure: ``pnl_t / B_t`` with ``B_t`` the gross exposure
  ``sum_i |q_i,t-1| close_i,t-1`` held at the previous close, or, when flat then,
  the gross exposure ``sum_i |q_i,t| fill_i,t`` opened at bar t's fill; 0 when both are 0.

``P`` = periods per year, explicit (``periods_per_year=...``) or inferred from the bar
length of a ``DatetimeIndex`` (the median spacing) and a **calendar**:

* ``calendar="crypto"`` (default): markets trade 24/7, ``P = 365 x 86400 s / bar length``:
  525,600 for 1-minute bars, 8,760 for hourly bars, 365 for daily bars;
* ``calendar="exchange"``: exchange-traded days, ``P = 252 x 86400 s / bar length`` for bars
  of a day or longer (252 for daily bars: the US equity convention of Chan 2013 and most
  textbooks). Intraday bars of an exchange calendar need an explicit ``periods_per_year``
  (session lengths differ by exchange); inferring one raises.

A given ``periods_per_year`` is always used as given, whatever the index.

============================ ===================================================================
metric                       formula
============================ ===================================================================
total_pnl                    ``sum pnl_t`` (quote currency)
total_return                 ``prod (1 + r_t) - 1``
cagr (APR)                   ``(1 + total_return) ** (P / n) - 1`` (-1 if total_return <= -1; inf on overflow)
volatility                   ``std(r, ddof=1) * sqrt(P)``
sharpe                       ``mean(r) / std(r, ddof=1) * sqrt(P)``; risk-free rate 0; NaN if std is 0
sortino                      ``mean(r) / sqrt(mean(min(r_t, 0)^2)) * sqrt(P)`` (target 0, all n bars;
                             inf with no losing bar and mean > 0)
max_drawdown                 ``max_t (1 - W_t / max(1, max_{k<=t} W_k))``, ``W_t = prod_{k<=t} (1 + r_k)``;
                             a positive fraction (0.1 = 10 % below the peak)
max_drawdown_bars            longest run of consecutive bars with ``W_t`` below its running peak
max_drawdown_duration        ``max_drawdown_bars x bar length`` (None without a DatetimeIndex)
calmar                       ``cagr / max_drawdown`` over the whole sample (NaN if max_drawdown is 0)
n_trades                     closed trades that *entered* inside the evaluation bars (open trades are
                             listed in the trade list with ``closed=False`` but not counted)
win_rate                     ``#(trade pnl > 0) / n_trades``
profit_factor                ``sum of winning trade pnl / |sum of losing trade pnl|`` (inf with no loser)
expectancy                   ``mean trade pnl`` (quote currency per trade)
expectancy_return            ``mean(trade pnl / gross exposure at entry)``
avg_holding_bars             ``mean(exit bar - entry bar)`` of the closed trades
avg_holding_time             ``avg_holding_bars x bar length``
exposure                     fraction of evaluation bars ending with a non-zero position
traded_notional              ``sum_t sum_i |traded qty_i,t| x fill_i,t`` (quote currency)
turnover                     ``traded_notional / capital``
fees                         ``sum`` of commissions (``fee_bps`` part) in quote currency
costs                        fees + half-spread + slippage in quote currency
funding                      ``sum`` of funding P&L of perpetual legs in quote currency (received > 0,
                             paid < 0; already inside ``pnl_t``; 0 without funding)
============================ ===================================================================

A trade's P&L is the sum of its bars' P&L: from its entry fill to its exit fill,
with its entry, rebalancing and exit costs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import BacktestError

__all__ = ["CALENDARS", "METRICS_ROWS", "Metrics", "SECONDS_PER_YEAR", "bar_seconds", "compute_metrics",
           "infer_periods_per_year", "periods_per_year"]

#: Seconds in a (365-day) year: crypto markets trade every day.
SECONDS_PER_YEAR: float = 365.0 * 86400.0
#: Trading days per year of an exchange calendar (``calendar="exchange"``).
EXCHANGE_DAYS_PER_YEAR: float = 252.0
#: Allowed calendars for inferring ``periods_per_year`` (see the module docstring).
CALENDARS: tuple[str, ...] = ("crypto", "exchange")
#: Allowed values of ``metrics_rows``.
METRICS_ROWS: tuple[str, ...] = ("after_warmup", "all")


def bar_seconds(index: pd.Index) -> float | None:
    """Median spacing of a ``DatetimeIndex`` in seconds (None for other indexes or < 2 bars).

    On long indexes the median is taken over an evenly spread sample of 100,000 consecutive spacings.
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return None
    ns = index.asi8
    step = max(1, (len(ns) - 1) // 100_000)  # a sample of 100k consecutive spacings is plenty
    d = ns[1::step] - ns[:-1:step]
    sec = float(np.median(d)) / 1e9
    return sec if sec > 0 else None


def periods_per_year(index: pd.Index, override: float | None = None, *, calendar: str = "crypto") -> float:
    """Annualisation factor: ``override`` if given, else inferred from the bar length and ``calendar``.

    Args:
        index: the bars' index.
        override: periods per year to use as given (> 0), or None to infer.
        calendar: ``"crypto"`` (default; 24/7: ``365 x 86400 / bar seconds``) or ``"exchange"``
            (``252 x 86400 / bar seconds`` for bars of a day or longer).

    Raises:
        BacktestError: a bad override or calendar; no override and the index is not a
            DatetimeIndex with a positive spacing; intraday bars with ``calendar="exchange"``.
    """
    if calendar not in CALENDARS:
        raise BacktestError(f"calendar={calendar!r}: expected 'crypto' or 'exchange'")
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, (int, float, np.integer, np.floating)) \
                or not math.isfinite(override) or override <= 0:
            raise BacktestError(f"periods_per_year={override!r}: expected a number > 0")
        return float(override)
    return infer_periods_per_year(bar_seconds(index), calendar)


def infer_periods_per_year(sec: float | None, calendar: str = "crypto") -> float:
    """Periods per year for bars of ``sec`` seconds on ``calendar`` (see :func:`periods_per_year`).

    Raises:
        BacktestError: ``sec`` is None (no DatetimeIndex), or intraday bars on an exchange calendar.
    """
    if calendar not in CALENDARS:
        raise BacktestError(f"calendar={calendar!r}: expected 'crypto' or 'exchange'")
    if sec is None:
        raise BacktestError(
            "periods_per_year is needed: the bars have no DatetimeIndex to infer the bar size from "
            "(pass e.g. periods_per_year=252 for daily equity data)"
        )
    if calendar == "exchange":
        if sec < 86400.0:
            raise BacktestError(
                f"calendar='exchange' with {sec:g}-second bars: give periods_per_year explicitly "
                "(trading-session lengths differ by exchange)"
            )
        return EXCHANGE_DAYS_PER_YEAR * 86400.0 / sec
    return SECONDS_PER_YEAR / sec


@dataclass(frozen=True)
class Metrics:
    """Performance of one backtest over its evaluation bars (formulas in the module docstring).

    Attributes:
        bars: number of evaluation bars ``n``.
        periods_per_year: annualisation factor ``P``.
        total_pnl: quote currency.
        total_return: fraction (0.1 = +10 %).
        cagr: compound annual growth rate (APR), fraction.
        volatility: annualised standard deviation of returns.
        sharpe: annualised Sharpe ratio.
        sortino: annualised Sortino ratio.
        calmar: cagr / max_drawdown.
        max_drawdown: positive fraction.
        max_drawdown_bars: bars.
        max_drawdown_duration: time (None without a DatetimeIndex).
        n_trades: closed trades.
        win_rate: fraction of winning trades (NaN with no trade).
        profit_factor: gross wins / gross losses (inf with no loser, NaN with no trade).
        expectancy: mean trade P&L, quote currency.
        expectancy_return: mean trade return on entry gross exposure.
        avg_holding_bars: bars.
        avg_holding_time: time (None without a DatetimeIndex or with no trade).
        exposure: fraction of bars in a position.
        turnover: traded notional / capital.
        traded_notional: quote currency.
        fees: commissions, quote currency.
        costs: commissions + spread + slippage, quote currency.
        funding: funding P&L of perpetual legs, quote currency (> 0 received; inside total_pnl).
        rows: which rows were scored: ``"after_warmup"`` (default), ``"all"``, or for sweeps
            ``"in_sample_after_warmup"`` / ``"out_of_sample"``.
    """

    bars: int
    periods_per_year: float
    total_pnl: float
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_bars: int
    max_drawdown_duration: pd.Timedelta | None
    n_trades: int
    win_rate: float
    profit_factor: float
    expectancy: float
    expectancy_return: float
    avg_holding_bars: float
    avg_holding_time: pd.Timedelta | None
    exposure: float
    turnover: float
    traded_notional: float
    fees: float
    costs: float
    funding: float = 0.0
    rows: str = "after_warmup"

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (durations as seconds, None kept): JSON-friendly."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, pd.Timedelta):
                v = v.total_seconds()
            elif isinstance(v, (np.integer,)):
                v = int(v)
            elif isinstance(v, (np.floating,)):
                v = float(v)
            out[f.name] = v
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: columns ``value`` (object) and ``unit``."""
        units = _UNITS
        d = asdict(self)
        return pd.DataFrame(
            {"value": pd.Series(d, dtype=object), "unit": pd.Series({k: units.get(k, "") for k in d})},
        ).rename_axis("metric")


_UNITS = {
    "bars": "bars",
    "periods_per_year": "bars/year",
    "total_pnl": "quote",
    "total_return": "fraction",
    "cagr": "fraction/year",
    "volatility": "annualised",
    "sharpe": "annualised",
    "sortino": "annualised",
    "calmar": "ratio",
    "max_drawdown": "fraction",
    "max_drawdown_bars": "bars",
    "max_drawdown_duration": "time",
    "n_trades": "trades",
    "win_rate": "fraction",
    "profit_factor": "ratio",
    "expectancy": "quote/trade",
    "expectancy_return": "fraction/trade",
    "avg_holding_bars": "bars",
    "avg_holding_time": "time",
    "exposure": "fraction",
    "turnover": "x capital",
    "traded_notional": "quote",
    "fees": "quote",
    "costs": "quote",
    "funding": "quote",
    "rows": "",
}


def _longest_underwater(under: np.ndarray, nz: np.ndarray, n: int) -> int:
    """Longest run of bars below the peak, from the underwater flags of the bars ``nz`` with r != 0.

    Wealth is constant between those bars, so a run that starts at ``nz[a]`` lasts until the next
    bar with r != 0 that is back at its peak (or the end).
    """
    if not under.any():
        return 0
    m = np.concatenate(([False], under, [False]))
    d = np.flatnonzero(m[1:] != m[:-1])
    first, stop = d[::2], d[1::2]  # runs cover nz[first] .. nz[stop - 1]
    ends = np.where(stop < nz.shape[0], nz[np.minimum(stop, nz.shape[0] - 1)], n)
    return int((ends - nz[first]).max())


def drawdown(returns: np.ndarray) -> np.ndarray:
    """Drawdown per bar as a negative fraction ``W_t / max(1, max_{k<=t} W_k) - 1`` (0 at a peak)."""
    wealth = returns + 1.0
    np.cumprod(wealth, out=wealth)
    peak = np.maximum(np.maximum.accumulate(wealth), 1.0) if wealth.size else wealth
    return wealth / peak - 1.0


def compute_metrics(
    returns: np.ndarray,
    pnl: np.ndarray,
    fees: np.ndarray,
    costs: np.ndarray,
    traded_notional: np.ndarray,
    held: np.ndarray,
    trade_pnl: np.ndarray,
    trade_return: np.ndarray,
    trade_bars: np.ndarray,
    *,
    periods_per_year: float,
    bar_seconds: float | None,
    capital: float,
    funding: np.ndarray | None = None,
    rows: str = "after_warmup",
) -> Metrics:
    """Metrics of the evaluation bars (arrays already sliced to them) and their closed trades.

    Args:
        returns: ``r_t`` per evaluation bar.
        pnl: quote P&L per evaluation bar.
        fees: commissions per bar (only summed: the fill bars' values are enough).
        costs: all costs per bar (likewise).
        traded_notional: traded notional per bar (likewise).
        held: per bar, non-zero (True, or the side -1/+1) when the bar ends with a position.
        trade_pnl: P&L of each closed trade counted.
        trade_return: P&L / entry gross exposure of each closed trade.
        trade_bars: bars held by each closed trade.
        periods_per_year: ``P``.
        bar_seconds: bar length in seconds (None: durations are None).
        capital: quote currency for the turnover.
        funding: funding P&L per bar (None: no funding).
        rows: label of the scored rows (:attr:`Metrics.rows`).

    Raises:
        BacktestError: no evaluation bar.
    """
    n = int(returns.shape[0])
    if n == 0:
        raise BacktestError("no evaluation bars: the window or the warm-up covers all the data")
    P = float(periods_per_year)
    # Flat bars have r = 0 exactly and leave wealth unchanged: every return statistic and the
    # drawdown are computed on the bars with r != 0 only (``nz``), the flat ones added in closed form.
    nz = np.flatnonzero(returns)
    r = returns[nz]
    m = r.shape[0]
    wealth = r + 1.0
    np.cumprod(wealth, out=wealth)
    growth = float(wealth[-1]) if m else 1.0
    total_return = growth - 1.0
    if growth > 0:
        expo = (P / n) * math.log(growth)
        cagr = math.expm1(expo) if expo < 709.0 else math.inf  # short samples of fast bars overflow
    else:
        cagr = -1.0
    mean = float(r.sum()) / n
    scratch = r - mean  # two-pass variance; no BLAS dot (its threads crawl on a busy 2-core box)
    if n > 1:
        scratch *= scratch
        sd = math.sqrt((float(scratch.sum()) + (n - m) * mean * mean) / (n - 1))
    else:
        sd = math.nan
    sqrtP = math.sqrt(P)
    volatility = sd * sqrtP
    sharpe = mean / sd * sqrtP if sd > 0 else math.nan
    neg = np.minimum(r, 0.0, out=scratch)
    neg *= neg
    downside = math.sqrt(float(neg.sum()) / n)
    sortino = mean / downside * sqrtP if downside > 0 else (math.inf if mean > 0 else math.nan)
    peak = np.maximum.accumulate(wealth)
    np.maximum(peak, 1.0, out=peak)
    np.divide(wealth, peak, out=peak)  # now W_t / peak_t <= 1
    max_dd = 1.0 - float(peak.min()) if m else 0.0
    if not max_dd > 0:
        max_dd = 0.0
    dd_bars = _longest_underwater(peak < 1.0, nz, n)
    calmar = cagr / max_dd if max_dd > 0 else math.nan
    k = int(trade_pnl.shape[0])
    if k:
        wins = trade_pnl[trade_pnl > 0]
        losses = trade_pnl[trade_pnl < 0]
        win_rate = wins.size / k
        gross_loss = -float(losses.sum())
        gross_win = float(wins.sum())
        profit_factor = gross_win / gross_loss if gross_loss > 0 else (math.inf if gross_win > 0 else math.nan)
        expectancy = float(trade_pnl.mean())
        expectancy_return = float(trade_return.mean())
        avg_bars = float(trade_bars.mean())
    else:
        win_rate = profit_factor = expectancy = expectancy_return = avg_bars = math.nan
    traded = float(traded_notional.sum())

    def _td(bars: float) -> pd.Timedelta | None:
        if bar_seconds is None or not math.isfinite(bars):
            return None
        return pd.Timedelta(seconds=bars * bar_seconds)

    return Metrics(
        bars=n,
        periods_per_year=P,
        total_pnl=float(pnl.sum()),
        total_return=total_return,
        cagr=cagr,
        volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        calmar=calmar,
        max_drawdown=max_dd,
        max_drawdown_bars=dd_bars,
        max_drawdown_duration=_td(dd_bars),
        n_trades=k,
        win_rate=win_rate,
        profit_factor=profit_factor,
        expectancy=expectancy,
        expectancy_return=expectancy_return,
        avg_holding_bars=avg_bars,
        avg_holding_time=_td(avg_bars),
        exposure=float(np.count_nonzero(held)) / n,
        turnover=traded / capital,
        traded_notional=traded,
        fees=float(fees.sum()),
        costs=float(costs.sum()),
        funding=float(funding.sum()) if funding is not None else 0.0,
        rows=rows,
    )
