"""Pair scanner: rank every pair of symbols by Engle-Granger cointegration.

For each unordered pair {A, B} the scanner runs the Engle-Granger test in
**both** directions (A on B and B on A: the test is not symmetric), keeps the
direction with the smaller p-value as the pair's orientation (``y`` on ``x``),
and reports for it:

========== ==================================================================
column     meaning
========== ==================================================================
y, x       the orientation with the smaller EG p-value (y regressed on x)
pvalue     Engle-Granger p-value (MacKinnon, N=2) of that direction
stat       its ADF statistic on the residuals; ``crit_5``: 5% EG critical value
pvalue_rev p-value of the other direction
beta       hedge ratio (OLS with intercept); ``alpha`` the intercept
half_life  exact AR(1) half-life of the residual spread, in bars (inf = none)
hl_approx  the ``-ln2/gamma`` approximation, in bars
corr       correlation of the legs' bar returns over the window
beta_cv    std / |mean| of the rolling OLS beta (``stability_window`` bars): lower = steadier
lags       ADF lags chosen for the residual regression
n          bars used
========== ==================================================================

Each pair uses the bars both of its symbols have (NaN / empty bars of a third
symbol never shorten it); pairs with fewer than ``min_obs`` common bars are left out.
Bars are read by the pair loader's rules (:mod:`quantkit.analytics.alignment`: ``start``
inclusive, ``end`` exclusive, zero-volume bars carry no price), and a hole in a pair's common
bars longer than ``max_gap`` is never bridged: the pair is tested on its latest contiguous
segment, and the row's ``gap`` column names the hole that was left out.

:func:`default_pair` picks the pair a page opens on when none is given: the configured pair when
the store holds it, else the scanner's best pair, else the store's first two symbols; and a bar
size that gives the page enough bars (:func:`default_bar_size`).
Rows are sorted by ``pvalue`` (then by ``half_life``); ``rank`` starts at 1.
Log prices are used by default (``log=True``), so beta is an elasticity and
the scan is unit-free.

The residual ADF regressions use the fast factorisation of ``_adf`` with
``method="gram"`` (same numbers as statsmodels' ``coint`` to ~1e-9) and by
default choose lags by AIC up to ``maxlag`` (default 12) instead of
statsmodels' ``12*(n/100)^(1/4)`` (55 lags for a month of 1m bars), which
keeps a 21-pair x 43k-bar scan to about a second.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
from statsmodels.tsa.adfvalues import mackinnoncrit, mackinnonp

from quantkit.errors import AnalyticsError

from ._adf import adf_core
from ._rolling import rolling_moments
from ._validation import check_int, to_log
from .alignment import bar_timedelta, contiguous_tail, default_max_gap, price_series, read_bars

__all__ = [
    "BAR_LADDER",
    "SCAN_COLUMNS",
    "PairChoice",
    "common_span",
    "configured_pair",
    "default_bar_size",
    "default_pair",
    "load_closes",
    "scan_pairs",
    "stored_spans",
    "stored_symbols",
]

logger = logging.getLogger("quantkit.analytics")

SCAN_COLUMNS: tuple[str, ...] = (
    "rank", "y", "x", "pvalue", "stat", "crit_5", "pvalue_rev", "beta", "alpha",
    "half_life", "hl_approx", "corr", "beta_cv", "lags", "n", "first", "gap",
)

#: Bar sizes :func:`default_bar_size` chooses from, finest first.
BAR_LADDER: tuple[str, ...] = ("1s", "5s", "15s", "1m", "5m", "15m", "1h", "4h", "1d")

_SQRTEPS = math.sqrt(np.finfo(np.float64).eps)


def stored_symbols(store: Any) -> list[str]:
    """The symbols a store lists, in its order (``store.symbols()``: a frame with a ``symbol`` column, or a list)."""
    syms = store.symbols()
    if isinstance(syms, pd.DataFrame):
        if "symbol" in syms.columns:
            return [str(s) for s in syms["symbol"].tolist()]
        return [str(s) for s in syms.index.tolist()]
    return [str(s) for s in syms]


def load_closes(
    store: Any,
    symbols: list[str] | tuple[str, ...] | None = None,
    *,
    freq: str = "1m",
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Read bar closes of several symbols from a store and inner-join them on time.

    Args:
        store: an object with ``symbols()`` and ``bars(symbol, freq, start, end)``
            (e.g. :class:`quantkit.store.TickStore`).
        symbols: which symbols (default: all the store lists).
        freq: bar size, e.g. ``"1m"``, ``"5m"``.
        start, end: the window: bars with ``start <= open time < end`` (None = open ended).

    Returns:
        DataFrame, one column of closes per symbol on the union of bar times; NaN where
        a symbol has no (or an empty) bar (empty bars follow
        :func:`~quantkit.analytics.alignment.price_series`).
    """
    names = list(symbols) if symbols is not None else stored_symbols(store)
    if len(names) < 2:
        raise AnalyticsError(f"need at least 2 symbols, got {names}")
    cols = {}
    for sym in names:
        bars = read_bars(store, sym, freq, start, end)
        if bars is None or len(bars) == 0:
            raise AnalyticsError(f"{sym}: no bars in the chosen window ({start} .. {end}, {freq})")
        cols[sym] = price_series(bars, sym)
    return pd.concat(cols, axis=1, join="outer").sort_index()


def _eg(ya: np.ndarray, xa: np.ndarray, trend: str, lags: int | None, autolag: str | None,
        maxlag: int | None, method: Literal["qr", "gram"]) -> tuple[float, float, float, float, np.ndarray, int]:
    xm, ym = xa.mean(), ya.mean()
    xc, yc = xa - xm, ya - ym
    beta = float(np.dot(xc, yc)) / float(np.dot(xc, xc))
    alpha = float(ym - beta * xm)
    resid = yc - beta * xc
    r2 = 1.0 - float(np.dot(resid, resid)) / float(np.dot(yc, yc))
    if not r2 < 1.0 - 100.0 * _SQRTEPS:
        return -math.inf, 0.0, alpha, beta, resid, 0
    if lags is not None:
        core = adf_core(resid, maxlag=lags, regression="n", autolag=None, method=method)
    else:
        core = adf_core(resid, maxlag=maxlag, regression="n", autolag=autolag, method=method)  # type: ignore[arg-type]
    p = float(mackinnonp(core.stat, regression=trend, N=2))
    return core.stat, p, alpha, beta, resid, core.usedlag


def scan_pairs(
    source: Any,
    symbols: list[str] | tuple[str, ...] | None = None,
    *,
    freq: str = "1m",
    start: Any = None,
    end: Any = None,
    log: bool = True,
    lags: int | None = None,
    autolag: Literal["AIC", "BIC"] | None = "AIC",
    maxlag: int | None = 12,
    stability_window: int | None = None,
    min_obs: int = 100,
    method: Literal["qr", "gram"] = "gram",
    max_gap: Any = "default",
) -> pd.DataFrame:
    """Rank every pair among ``symbols`` by Engle-Granger p-value (see the module docstring).

    Args:
        source: a DataFrame of aligned prices (one column per symbol, time index),
            or a store with ``symbols()`` and ``bars(symbol, freq, start, end)``.
        symbols: the symbols to pair (default: every column / every stored symbol).
        freq: bar size when reading from a store (``"1m"``, ``"5m"``, ...).
        start, end: window (store: passed to ``bars``; DataFrame: label slice).
        log: use log prices (default True).
        lags: fixed ADF lag count on the residuals (overrides autolag).
        autolag: "AIC" (default), "BIC" or None (use maxlag).
        maxlag: largest ADF lag tried (default 12; None = statsmodels' default, slower).
        stability_window: rolling window for ``beta_cv`` (default ``max(30, n // 20)`` bars).
        min_obs: minimum common bars for a pair to be tested (default 100).
        method: "gram" (default, fast) or "qr" factorisation in the ADF regressions.
        max_gap: longest hole in a pair's common bars that is bridged; a longer one splits the pair's
            sample and only the latest contiguous segment is tested (its start in ``first``, the hole
            in ``gap``). ``"default"``: :func:`~quantkit.analytics.alignment.default_max_gap` of
            ``freq`` (store) or of the frame's median bar spacing; ``None``: no limit.

    Returns:
        DataFrame with :data:`SCAN_COLUMNS`, best pair first; ``attrs`` records the
        window, bar size and settings.

    Raises:
        AnalyticsError: fewer than 2 symbols, no pair with ``min_obs`` common bars,
            constant or non-positive prices (with log), unknown symbols.
    """
    if isinstance(source, pd.DataFrame):
        frame = source if symbols is None else source.loc[:, [s for s in symbols if s in source.columns]]
        if symbols is not None:
            missing = [s for s in symbols if s not in source.columns]
            if missing:
                raise AnalyticsError(f"symbols not in the price frame: {missing}")
        if start is not None or end is not None:
            frame = frame.loc[start:end]
    elif hasattr(source, "bars") and hasattr(source, "symbols"):
        frame = load_closes(source, symbols, freq=freq, start=start, end=end)
    else:
        raise AnalyticsError("scan_pairs: source must be a price DataFrame or a store with symbols() and bars()")
    names = [str(c) for c in frame.columns]
    if len(names) < 2:
        raise AnalyticsError(f"scan_pairs: need at least 2 symbols, got {names}")
    min_obs = check_int(min_obs, "min_obs", minimum=20)
    if lags is not None:
        lags = check_int(lags, "lags", minimum=0)
    if maxlag is not None:
        maxlag = check_int(maxlag, "maxlag", minimum=0)
    if autolag is not None and str(autolag).lower() not in ("aic", "bic"):
        raise AnalyticsError(f"autolag={autolag!r}: expected 'AIC', 'BIC' or None")
    al = str(autolag).lower() if autolag is not None else None
    if stability_window is not None:
        check_int(stability_window, "stability_window", minimum=3)
    data: dict[str, np.ndarray] = {}
    for c in names:
        arr = frame[c].to_numpy(dtype=np.float64)
        if np.isinf(arr).any():
            raise AnalyticsError(f"{c}: non-finite prices")
        data[c] = to_log(arr, c) if log else arr
    limit = _gap_limit(max_gap, frame.index, freq if not isinstance(source, pd.DataFrame) else None)
    rows = []
    n_max = 0
    for a, b in itertools.combinations(names, 2):
        both = ~(np.isnan(data[a]) | np.isnan(data[b]))
        pos, holes = contiguous_tail(frame.index[both], limit)
        if holes:
            both[np.flatnonzero(both)[:pos]] = False
        n = int(both.sum())
        n_max = max(n_max, n)
        if n < min_obs:
            logger.info("scan_pairs: %s/%s skipped: only %d common bars", a, b, n)
            continue
        da, db = data[a][both], data[b][both]
        for c, arr in ((a, da), (b, db)):
            if arr.max() - arr.min() <= 1e-14 * max(abs(arr.max()), 1e-300):
                raise AnalyticsError(f"{c}: prices are constant over the window")
        ml = None if maxlag is None else min(maxlag, n // 2 - 2)
        if lags is not None and lags > n // 2 - 2:
            raise AnalyticsError(f"lags={lags}: too many for {n} bars ({a}/{b})")
        res_ab = _eg(da, db, "c", lags, al, ml, method)
        res_ba = _eg(db, da, "c", lags, al, ml, method)
        if res_ba[1] < res_ab[1]:
            (ysym, xsym), best, other, yv, xv = (b, a), res_ba, res_ab, db, da
        else:
            (ysym, xsym), best, other, yv, xv = (a, b), res_ab, res_ba, da, db
        stat, p, alpha, beta, resid, used = best
        # half-life of the residual spread: AR(1) of resid
        lag_r = resid[:-1]
        cur = resid[1:]
        lc = lag_r - lag_r.mean()
        sxx = float(np.dot(lc, lc))
        gamma = (float(np.dot(lc, (cur - cur.mean()))) / sxx - 1.0) if sxx > 0 else math.nan
        if not gamma < 0:
            hl = hla = math.inf
        else:
            hla = -math.log(2.0) / gamma
            hl = -math.log(2.0) / math.log1p(gamma) if gamma > -1 else math.nan
        ry = np.diff(yv if log else to_log(yv, ysym))
        rx = np.diff(xv if log else to_log(xv, xsym))
        ryc, rxc = ry - ry.mean(), rx - rx.mean()
        den = math.sqrt(float(np.dot(ryc, ryc)) * float(np.dot(rxc, rxc)))
        corr = float(np.dot(ryc, rxc)) / den if den > 0 else math.nan
        sw = min(stability_window if stability_window is not None else max(30, n // 20), n)
        m = rolling_moments(xv, sw, yv)
        with np.errstate(divide="ignore", invalid="ignore"):
            rb = m.c_xy / m.m2_x
        rb = rb[np.isfinite(rb) & (m.m2_x > 1e-12 * m.raw_xx)]
        mean_b = float(rb.mean()) if len(rb) else math.nan
        beta_cv = float(rb.std()) / abs(mean_b) if len(rb) and mean_b != 0 else math.nan
        rows.append({
            "y": ysym, "x": xsym, "pvalue": p, "stat": stat,
            "crit_5": float(mackinnoncrit(N=2, regression="c", nobs=n - 1)[1]), "pvalue_rev": other[1],
            "beta": beta, "alpha": alpha, "half_life": hl, "hl_approx": hla, "corr": corr,
            "beta_cv": beta_cv, "lags": int(used), "n": n,
            "first": frame.index[both][0] if n else None, "gap": str(holes[-1]) if holes else "",
        })
    if not rows:
        raise AnalyticsError(f"scan_pairs: no pair has {min_obs} common bars (the most is {n_max})")
    out = pd.DataFrame(rows).sort_values(["pvalue", "half_life"], kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out = out.loc[:, list(SCAN_COLUMNS)]
    out.attrs.update({
        "freq": freq, "start": str(frame.index[0]), "end": str(frame.index[-1]), "log": log,
        "autolag": autolag, "maxlag": maxlag, "lags": lags, "stability_window": stability_window, "symbols": names,
    })
    logger.debug("scanned %d pairs", len(out))
    return out


def _gap_limit(max_gap: Any, index: pd.Index, freq: str | None) -> pd.Timedelta | None:
    if max_gap is None:
        return None
    if not (isinstance(max_gap, str) and max_gap == "default"):
        return pd.Timedelta(max_gap)
    if not isinstance(index, pd.DatetimeIndex):
        return None
    if freq is not None:
        return default_max_gap(freq)
    if len(index) < 2:
        return None
    step = pd.Timedelta(int(np.median(np.diff(index.asi8))), "ns")
    return default_max_gap(step) if step > pd.Timedelta(0) else None


@dataclass(frozen=True)
class PairChoice:
    """The pair (and bar size) a page opens on, and why.

    Attributes:
        y: the dependent leg.
        x: the hedge leg.
        freq: the bar size.
        reason: one sentence saying how they were chosen (pages show it).
    """

    y: str
    x: str
    freq: str
    reason: str

    def __str__(self) -> str:
        return self.reason


def configured_pair() -> tuple[str, str] | None:
    """The first two configured symbols (``QUANTKIT_SYMBOLS``; default the synthetic market's pair), or None."""
    from quantkit.config import Config
    from quantkit.errors import QuantkitError

    try:
        syms = Config.from_env().symbols
    except QuantkitError as exc:
        logger.info("no configured pair: %s", exc)
        return None
    return (syms[0], syms[1]) if syms is not None and len(syms) >= 2 else None


def common_span(store: Any, y: str, x: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The overlap ``(first, last)`` of two symbols' stored times (``store.symbols()``), or ``(None, None)``."""
    spans = stored_spans(store)
    if y not in spans or x not in spans:
        return None, None
    return max(spans[y][0], spans[x][0]), min(spans[y][1], spans[x][1])


def stored_spans(store: Any) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """``{symbol: (first, last)}`` UTC times from ``store.symbols()`` (empty when the store does not say)."""
    try:
        table = store.symbols()
    except Exception as exc:  # a store-like object without spans: no bar-size hint
        logger.debug("no symbol spans: %s", exc)
        return {}
    if not isinstance(table, pd.DataFrame) or not {"symbol", "first", "last"} <= set(table.columns):
        return {}
    out = {}
    for sym, first, last in zip(table["symbol"], table["first"], table["last"]):
        if pd.notna(first) and pd.notna(last):
            lo, hi = pd.Timestamp(first), pd.Timestamp(last)
            out[str(sym)] = (lo.tz_localize("UTC") if lo.tzinfo is None else lo,
                             hi.tz_localize("UTC") if hi.tzinfo is None else hi)
    return out


def default_bar_size(store: Any, y: str, x: str, min_bars: int, *, ladder: Sequence[str] = BAR_LADDER,
                     spans: dict[str, tuple[pd.Timestamp, pd.Timestamp]] | None = None) -> str:
    """The bar size a page uses for ``y``/``x`` when none is given.

    The first guess is the coarsest size of ``ladder`` whose common stored span (the overlap of the
    two symbols' first..last times in ``store.symbols()``) holds ``10 * min_bars`` bars. It is then
    checked with the pair loader: while the pair has fewer than ``min_bars`` aligned bars (holes,
    a split sample), the next finer size is tried. A store without spans starts from the finest.
    """
    from .alignment import load_pair

    sizes = list(ladder) or ["1m"]
    spans = stored_spans(store) if spans is None else spans
    guess = 0
    if y in spans and x in spans:
        span = min(spans[y][1], spans[x][1]) - max(spans[y][0], spans[x][0])
        guess = next((i for i in range(len(sizes) - 1, -1, -1) if span >= 10 * min_bars * bar_timedelta(sizes[i])), 0)
    for i in range(guess, -1, -1):
        try:
            if len(load_pair(store, y, x, sizes[i]).pair) >= min_bars:
                return sizes[i]
        except (AnalyticsError, KeyError, ValueError) as exc:
            logger.debug("default_bar_size: %s/%s at %s: %s", y, x, sizes[i], exc)
    return sizes[0]


def default_pair(
    store: Any,
    preferred: Sequence[str] | None = None,
    *,
    freq: str | None = None,
    min_bars: int = 100,
    ladder: Sequence[str] = BAR_LADDER,
    scan_limit: int = 8,
) -> PairChoice:
    """The pair a page opens on when none is given (issue: pages start on what is there).

    Order: ``preferred`` (the configured pair) when the store holds both symbols; else the best
    pair the scanner finds among the first ``scan_limit`` stored symbols; else the store's first two
    symbols. The bar size is ``freq`` or :func:`default_bar_size`.

    Args:
        store: a store with ``symbols()`` and ``bars()``.
        preferred: ``(y, x)`` to use when both are stored.
        freq: bar size; None = :func:`default_bar_size` for the chosen pair.
        min_bars: bars the page needs (sizes the bar choice and the scanner's ``min_obs``).
        ladder: bar sizes to choose from, finest first.
        scan_limit: most symbols the scanner looks at.

    Raises:
        AnalyticsError: the store holds fewer than two symbols.
    """
    names = stored_symbols(store)
    if len(names) < 2:
        raise AnalyticsError(
            f"the store holds {len(names)} symbol(s) {names}; "
            "fill it first (quantkit up, quantkit ingest or quantkit import)"
        )
    spans = stored_spans(store)
    if preferred is not None and len(preferred) == 2 and all(p in names for p in preferred):
        y, x = str(preferred[0]), str(preferred[1])
        f = freq or default_bar_size(store, y, x, min_bars, ladder=ladder, spans=spans)
        return PairChoice(y, x, f, f"{y}/{x}: the configured pair, {f} bars")
    cands = names[: max(2, scan_limit)]
    f = freq or default_bar_size(store, cands[0], cands[1], min_bars, ladder=ladder, spans=spans)
    try:
        scan = scan_pairs(store, cands, freq=f, min_obs=max(20, min(min_bars, 100)), maxlag=4)
        best = scan.iloc[0]
        y, x = str(best["y"]), str(best["x"])
        f2 = freq or default_bar_size(store, y, x, min_bars, ladder=ladder, spans=spans)
        return PairChoice(y, x, f2, f"{y}/{x}: the pair scanner's best pair among the stored symbols "
                                    f"(Engle-Granger p = {float(best['pvalue']):.3g} on {f} bars), {f2} bars")
    except AnalyticsError as exc:
        logger.info("default_pair: scanner gave no pair (%s)", exc)
    except KeyError as exc:  # a symbol listed but unreadable
        logger.info("default_pair: scanner could not read a symbol (%s)", exc)
    y, x = names[0], names[1]
    f = freq or default_bar_size(store, y, x, min_bars, ladder=ladder, spans=spans)
    return PairChoice(y, x, f, f"{y}/{x}: the store's first two symbols, {f} bars")
