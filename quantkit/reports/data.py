"""The pair report's content, computed in Python so the notebook stays a thin layout.

:meth:`PairReportData.build` reads and aligns the two legs' bars with the pair loader
(:func:`quantkit.analytics.load_pair`: ``start`` inclusive, ``end`` exclusive, zero-volume bars
carry no price, a hole longer than a day splits the sample and the report says so), and runs
quantkit's own analytics and backtest on them. Parameters left open (pair, range, bar size) are
chosen from the store first (:meth:`PairReportParameters.resolve`):

* data coverage and quality per leg: bars present / expected, missing-bar gaps,
  stale periods (runs of zero-volume or unchanged flat bars), trade-id gaps the
  ingest recorded, rejected ticks when the store knows them;
* the hedge ratio (static OLS, rolling OLS or Kalman), the spread
  ``y - alpha_t - beta_t x`` and its rolling z-score;
* the cointegration table (ADF on both legs and on the spread, Engle-Granger both
  ways, Johansen trace and max-eigenvalue) and the verdict of
  :func:`quantkit.analytics.cointegration_study` (the same one the research page shows);
* the half-life of the spread, the rolling beta;
* a z-score band backtest (:func:`quantkit.backtest.backtest_pair`) with the same
  hedge and window, its metrics and equity curve;
* the alerts recorded in the store for either leg in the period.

Every number shown comes from :mod:`quantkit.analytics` / :mod:`quantkit.backtest`
on exactly the aligned bars, so the report and a notebook doing the same calls agree.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantkit import analytics
from quantkit.analytics import PairBars
from quantkit.analytics.verdict import duration_text
from quantkit.errors import AnalyticsError, QuantkitError, ReportParameterError, SymbolNotFoundError

from .display import Chart, Note, Table, figure, xy
from .parameters import PairReportParameters, redact_uri

__all__ = ["EG_METHOD", "PairBars", "PairReportData", "TOP_ROWS", "load_pair_bars", "open_store"]

logger = logging.getLogger("quantkit.reports")

#: Longest gap / stale period tables keep this many rows.
TOP_ROWS: int = 10

#: Factorisation of the Engle-Granger residual ADF regressions: "gram" is ~10x faster than "qr"
#: on a month of 1-minute bars and matches it (and statsmodels) to ~1e-9 on the statistic.
EG_METHOD: Literal["qr", "gram"] = "gram"


def open_store(uri: str | None = None, library: str | None = None) -> Any:
    """A :class:`quantkit.store.TickStore` for ``uri``/``library`` (``None``: ``QUANTKIT_*`` defaults).

    Reports only read from it.
    """
    from quantkit.config import StoreConfig
    from quantkit.store import TickStore

    base = StoreConfig.from_env()
    return TickStore(config=StoreConfig(uri=uri or base.uri, library=library or base.library))


def _stored_span(store: Any, symbol: str) -> str:
    try:
        syms = store.symbols()
        row = syms[syms["symbol"] == symbol]
        if len(row):
            return f"{row['first'].iloc[0]} .. {row['last'].iloc[0]}"
    except (QuantkitError, KeyError, AttributeError):
        pass
    return "unknown"


def load_pair_bars(p: PairReportParameters, store: Any) -> PairBars:
    """Read and align the pair's bars (:func:`quantkit.analytics.load_pair`); the checks the runner makes
    before starting a kernel.

    Args:
        p: the parameters, resolved (:meth:`PairReportParameters.resolve`) or not.
        store: the store (read only).

    Returns:
        The :class:`~quantkit.analytics.PairBars` (legs' bars in ``[start, end)``, aligned closes
        of the latest contiguous segment, and a note when a hole split the sample).

    Raises:
        ReportParameterError: an unknown symbol, no bars in the range, no common bars, or
            fewer aligned bars than the windows need.
    """
    p = p.resolve(store)
    for symbol in (p.y, p.x):
        try:
            if hasattr(store, "has_symbol") and not store.has_symbol(symbol):
                raise SymbolNotFoundError(symbol, list(store.symbols()["symbol"]))
        except SymbolNotFoundError as exc:
            raise ReportParameterError("pair", p.pair, str(exc).strip("'\"")) from None
    try:
        return analytics.load_pair(store, p.y, p.x, str(p.freq), p.start_ts, p.end_ts, min_bars=p.min_bars)
    except SymbolNotFoundError as exc:
        raise ReportParameterError("pair", p.pair, str(exc).strip("'\"")) from None
    except AnalyticsError as exc:
        text = str(exc)
        for symbol in (p.y, p.x):
            if text.startswith(f"{symbol}: no "):
                raise ReportParameterError(
                    "start", p.start,
                    f"no {p.freq} bars of {symbol} in {p.start} .. {p.end} (stored: {_stored_span(store, symbol)})",
                ) from None
        if "need at least" in text:
            raise ReportParameterError(
                "window", p.window, f"{text}; widen the range, use smaller bars (freq) or shorten the windows",
            ) from None
        raise ReportParameterError("pair", p.pair, f"the legs have no usable bars in common in the range ({text})") from None
    except ValueError as exc:  # e.g. 1s bars of a symbol stored as 1m candles
        raise ReportParameterError("freq", p.freq, str(exc)) from None


# ---------------------------------------------------------------------------------- data quality
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index runs where ``mask`` is True."""
    if mask.size == 0:
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _gaps(bars: pd.DataFrame, bar: pd.Timedelta) -> pd.DataFrame:
    """Missing-bar periods between the first and the last bar: from, to (exclusive), missing bars."""
    idx = bars.index
    if len(idx) < 2:
        return pd.DataFrame({"from": [], "to": [], "missing_bars": []})
    step = np.diff(idx.asi8)
    where = np.flatnonzero(step > bar.value)
    frm = idx[where] + bar
    to = idx[where + 1]
    missing = ((to - frm) // bar).astype(np.int64)
    return pd.DataFrame({"from": frm, "to": to, "missing_bars": missing})


def _stale(bars: pd.DataFrame, bar: pd.Timedelta, min_bars: int) -> pd.DataFrame:
    """Runs of >= ``min_bars`` consecutive stale bars (zero volume, or flat at the previous close)."""
    close = bars["close"].to_numpy(dtype=np.float64)
    flat = (bars["open"].to_numpy() == bars["high"].to_numpy()) & (bars["low"].to_numpy() == close) & (
        bars["high"].to_numpy() == close
    )
    prev = np.concatenate([[np.nan], close[:-1]])
    vol = bars["volume"].to_numpy(dtype=np.float64) if "volume" in bars else np.ones(len(bars))
    stale = (vol <= 0) | (flat & (close == prev))
    # a run must also be contiguous in time: a missing bar ends it
    contiguous = np.concatenate([[True], np.diff(bars.index.asi8) == bar.value])
    rows = []
    for a, b in _runs(stale):
        # split at time gaps
        cuts = [a] + [i for i in range(a + 1, b) if not contiguous[i]] + [b]
        for s, e in zip(cuts[:-1], cuts[1:]):
            if e - s >= min_bars:
                rows.append((bars.index[s], bars.index[e - 1] + bar, e - s))
    return pd.DataFrame(rows, columns=["from", "to", "bars"])


def _records(store: Any, name: str, legs: tuple[str, str], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
    """Rows of the store's small table ``name`` (``alerts``, ``rejected``) about the pair in ``[start, end)``.

    A row is about the pair when its ``symbol`` is one of the legs or its ``pair`` is ``"Y/X"``
    (tables without either column are kept whole). None when the store keeps no such table.
    """
    if not hasattr(store, "read_records"):
        return None
    try:
        frame = store.read_records(name, start, end)
    except (QuantkitError, ValueError, KeyError) as exc:
        logger.debug("no %s records in the store: %s", name, exc)
        return None
    if frame.shape[1] == 0:
        return None
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame[(frame.index >= start) & (frame.index < end)]
    keep = None
    if "symbol" in frame.columns:
        keep = frame["symbol"].astype(str).isin(legs)
    if "pair" in frame.columns:
        about = frame["pair"].astype(str) == "/".join(legs)
        keep = about if keep is None else keep | about
    return frame[keep] if keep is not None else frame


def _trade_gaps(store: Any, legs: tuple[str, str], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
    """Trade-id gaps recorded for the legs whose first missing trade (else detection time) is in ``[start, end)``."""
    if not hasattr(store, "gaps"):
        return None
    try:
        g = store.gaps()
    except (QuantkitError, ValueError, KeyError) as exc:
        logger.debug("no gap records in the store: %s", exc)
        return None
    when = g["first_missing_time"].where(g["first_missing_time"].notna(), g.index.to_series()) \
        if "first_missing_time" in g.columns else g.index.to_series()
    mask = g["symbol"].astype(str).isin(legs) & (when >= start) & (when < end)
    return g[mask.to_numpy()]


# ---------------------------------------------------------------------------------- the report
@dataclass(frozen=True, eq=False)
class PairReportData:
    """Everything the pair report shows, computed from the store (see the module docstring).

    Build it with :meth:`build`; the notebook displays its tables and charts.

    Attributes:
        params: the report's parameters.
        store_uri: the store's URI (credentials masked).
        bars: the legs' bars and their alignment.
        gaps: missing-bar periods per leg (columns leg, from, to, missing_bars).
        stale: stale periods per leg (columns leg, from, to, bars).
        trade_gaps: trade-id gaps recorded for the legs in the period (:meth:`TickStore.gaps`; None if unknown).
        rejected: rows of the store's ``rejected`` records table for the legs in the period (columns
            ``symbol`` and ``count``, or one row per rejected tick); None when the store keeps no such table.
        ols: static OLS fit of y on x over the range.
        hedge: per-bar ``alpha``/``beta`` of the chosen hedge method.
        rolling_beta: rolling OLS (``beta_window`` bars) ``alpha``/``beta``.
        spread: ``y - alpha_t - beta_t x``.
        z: rolling z-score of the spread over ``window`` bars.
        adf_y: ADF of the y price level.
        adf_x: ADF of the x price level.
        adf_spread: ADF of the spread (warm-up dropped).
        eg_yx: Engle-Granger, y regressed on x.
        eg_xy: Engle-Granger, x regressed on y.
        johansen: Johansen test on (y, x).
        study: the tests behind the verdict (:func:`quantkit.analytics.cointegration_study`).
        half_life: half-life of the spread.
        backtest: the z-score band backtest.
        alerts: rows of the store's ``alerts`` records table whose ``symbol`` is a leg or whose ``pair``
            is ``"Y/X"``, in the period; None when the store keeps no alerts table.
    """

    params: PairReportParameters
    store_uri: str
    bars: PairBars
    gaps: pd.DataFrame
    stale: pd.DataFrame
    trade_gaps: pd.DataFrame | None
    rejected: pd.DataFrame | None
    ols: Any
    hedge: pd.DataFrame
    rolling_beta: pd.DataFrame
    spread: pd.Series
    z: pd.Series
    adf_y: Any
    adf_x: Any
    adf_spread: Any
    eg_yx: Any
    eg_xy: Any
    johansen: Any
    half_life: Any
    backtest: Any
    alerts: pd.DataFrame | None
    study: analytics.CointegrationStudy

    # ---- construction ------------------------------------------------------------------
    @classmethod
    def build(cls, params: PairReportParameters | None = None, *, store: Any = None, **values: Any) -> "PairReportData":
        """Read the bars and compute every section.

        Args:
            params: the parameters; or give them as keyword ``values`` (parsed like ``--param``).
            store: an open :class:`quantkit.store.TickStore` (default: opened from ``params.store``).
            **values: parameter values when ``params`` is None.

        Raises:
            ReportParameterError: bad parameters or no usable data in the range.
            AnalyticsError, BacktestError: the analytics could not run on these bars.
        """
        from quantkit.backtest import Costs, Execution, Hedge, ZScoreBand, backtest_pair

        p = params if params is not None else PairReportParameters.from_mapping(values)
        store = store if store is not None else open_store(p.store, p.library)
        p = p.resolve(store)
        data = load_pair_bars(p, store)
        pair = data.pair
        y, x = pair["y"].rename(p.y), pair["x"].rename(p.x)
        bar = p.bar

        legs_bars = ((p.y, data.y), (p.x, data.x))
        gaps = _stack([_gaps(b, bar).assign(leg=s) for s, b in legs_bars], ["leg", "from", "to", "missing_bars"])
        stale = _stack([_stale(b, bar, p.stale_bars).assign(leg=s) for s, b in legs_bars], ["leg", "from", "to", "bars"])
        legs = (p.y, p.x)
        trade_gaps = _trade_gaps(store, legs, p.start_ts, p.end_ts)
        rejected = _records(store, "rejected", legs, p.start_ts, p.end_ts)
        alerts = _records(store, "alerts", legs, p.start_ts, p.end_ts)

        ols = analytics.ols_hedge(y, x)
        rolling = analytics.rolling_ols(y, x, p.hedge_window)
        if p.hedge == "static":
            hedge = pd.DataFrame({"alpha": ols.alpha, "beta": ols.beta}, index=pair.index)
        elif p.hedge == "rolling":
            hedge = rolling
        else:
            hedge = analytics.kalman_hedge(y, x, delta=p.kalman_delta, ve=p.kalman_ve).frame[["alpha", "beta"]]
        spread = analytics.spread(y, x, hedge["beta"], hedge["alpha"])
        z = analytics.zscore(spread, p.window)
        clean = spread.dropna()
        study = analytics.cointegration_study(y, x, names=(p.y, p.x), level=p.significance, method=EG_METHOD)
        funding = data.funding(p.funding_rate)
        hedge_spec = Hedge(p.hedge, window=p.hedge_window if p.hedge == "rolling" else None,
                           delta=p.kalman_delta, ve=p.kalman_ve)
        bt = backtest_pair(
            y, x, ZScoreBand(entry=p.entry_z, exit=p.exit_z, window=p.window, stop=p.stop_z),
            hedge=hedge_spec, execution=Execution(notional=p.notional), costs=Costs(fee_bps=p.fee_bps), names=legs,
            funding_y=funding[0], funding_x=funding[1],
        )
        return cls(
            params=p,
            store_uri=str(redact_uri(getattr(store, "uri", None) or p.store or "")),
            bars=data,
            gaps=gaps,
            stale=stale,
            trade_gaps=trade_gaps,
            rejected=rejected,
            ols=ols,
            hedge=hedge,
            rolling_beta=rolling,
            spread=spread,
            z=z,
            adf_y=study.adf_y,
            adf_x=study.adf_x,
            adf_spread=analytics.adf(clean),
            eg_yx=study.eg_yx,
            eg_xy=study.eg_xy,
            johansen=study.johansen,
            half_life=analytics.half_life(clean),
            backtest=bt,
            alerts=alerts,
            study=study,
        )

    # ---- summary values ----------------------------------------------------------------
    @property
    def cointegrated(self) -> str:
        """``"cointegrated"``, ``"mixed evidence"`` or ``"not cointegrated"`` at ``params.significance``
        (:attr:`quantkit.analytics.CointegrationStudy.label`)."""
        return self.study.label

    def verdict(self) -> Note:
        """The cointegration verdict (:attr:`quantkit.analytics.CointegrationStudy.text`, as the research page shows it)."""
        return Note("verdict", self.study.text, title="Verdict:")

    def choices(self) -> Note | None:
        """What the report chose for open parameters and whether a hole split the sample, or None."""
        text = " ".join(t for t in (
            f"Chosen from the store: {self.params.chosen}." if self.params.chosen else "", self.bars.note) if t)
        return Note("choices", text, title="Note:") if text else None

    # ---- tables ------------------------------------------------------------------------
    def header(self) -> Table:
        """What was reported on: pair, range, bar size, store and every parameter."""
        p = self.params
        rows = {k: ("—" if v is None else v) for k, v in p.to_display().items()}
        rows["store"] = self.store_uri or rows["store"]
        if self.bars.note:
            rows["split sample"] = self.bars.note
        rows["aligned bars"] = len(self.bars.pair)
        rows["first common bar"] = self.bars.pair.index[0]
        rows["last common bar"] = self.bars.pair.index[-1]
        frame = pd.DataFrame({"value": [str(v) if not isinstance(v, (int, float, pd.Timestamp)) else v for v in rows.values()]},
                             index=pd.Index(list(rows), name="parameter"))
        return Table("parameters", frame)

    def coverage_table(self) -> Table:
        """Per leg: bars present and expected, coverage, gaps, stale periods, recorded trade gaps, rejected ticks."""
        p = self.params
        expected = int((p.end_ts - p.start_ts) // p.bar)
        rows = []
        for leg, bars in ((p.y, self.bars.y), (p.x, self.bars.x)):
            g = self.gaps[self.gaps["leg"] == leg]
            st = self.stale[self.stale["leg"] == leg]
            flat = (bars["open"] == bars["high"]) & (bars["low"] == bars["close"]) & (bars["high"] == bars["close"])
            tg = self.trade_gaps
            rj = self.rejected
            rows.append({
                "leg": leg,
                "first bar": bars.index[0],
                "last bar": bars.index[-1],
                "bars": len(bars),
                "expected": expected,
                "coverage %": 100.0 * len(bars) / expected if expected else math.nan,
                "missing bars": int(g["missing_bars"].sum()),
                "gaps": len(g),
                "longest gap (bars)": int(g["missing_bars"].max()) if len(g) else 0,
                "zero-volume bars": int((bars["volume"] <= 0).sum()) if "volume" in bars else 0,
                "flat bars": int(flat.sum()),
                "stale periods": len(st),
                "stale bars": int(st["bars"].sum()),
                "trade-id gaps": None if tg is None else int((tg["symbol"] == leg).sum()),
                "missing trades": None if tg is None else int(tg.loc[tg["symbol"] == leg, "missing"].sum()),
                "rejected ticks": None if rj is None else _count_rejected(rj, leg),
            })
        pair = self.bars.pair
        return Table("coverage", pd.DataFrame(rows).set_index("leg"), caption=(
            f"The analysis uses the {len(pair)} bars present in both legs with a trade (zero-volume bars carry no "
            f"price), {pair.index[0]:%Y-%m-%d %H:%M} .. {pair.index[-1]:%Y-%m-%d %H:%M} UTC."))

    def gaps_table(self) -> Table:
        """The longest missing-bar periods (up to :data:`TOP_ROWS`)."""
        top = self.gaps.sort_values("missing_bars", ascending=False).head(TOP_ROWS).reset_index(drop=True)
        top.index = pd.RangeIndex(1, len(top) + 1, name="#")
        return Table("gaps", top, caption=f"Longest missing-bar periods ({len(self.gaps)} in total)")

    def stale_table(self) -> Table:
        """The longest stale periods (up to :data:`TOP_ROWS`)."""
        top = self.stale.sort_values("bars", ascending=False).head(TOP_ROWS).reset_index(drop=True)
        top.index = pd.RangeIndex(1, len(top) + 1, name="#")
        return Table("stale", top, caption=(
            f"Longest stale periods: >= {self.params.stale_bars} bars of zero volume or a flat unchanged price "
            f"({len(self.stale)} in total)"))

    def hedge_table(self) -> Table:
        """Static OLS fit and a summary of the chosen hedge's beta."""
        p = self.params
        beta = self.hedge["beta"].dropna()
        rows = {
            "OLS alpha": self.ols.alpha,
            "OLS beta": self.ols.beta,
            "OLS R²": self.ols.r2,
            "OLS beta std error": self.ols.se_beta,
            f"{p.hedge} beta: last": float(beta.iloc[-1]) if len(beta) else math.nan,
            f"{p.hedge} beta: mean": float(beta.mean()) if len(beta) else math.nan,
            f"{p.hedge} beta: min": float(beta.min()) if len(beta) else math.nan,
            f"{p.hedge} beta: max": float(beta.max()) if len(beta) else math.nan,
            "spread std": float(self.spread.std(ddof=0)),
            "last z": float(self.z.dropna().iloc[-1]) if self.z.notna().any() else math.nan,
        }
        return Table("hedge", pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="quantity")))

    def cointegration_table(self) -> Table:
        """ADF, Engle-Granger and Johansen: statistic, p-value, 5 % critical value, lags, decision."""
        p = self.params
        lvl = p.significance
        rows = []

        def add(test: str, stat: float, pvalue: float, crit5: float, lags: Any, reject: bool | str) -> None:
            rows.append({"test": test, "statistic": stat, "p-value": pvalue, "5% critical": crit5, "lags": lags,
                         "rejects H0": reject})

        for name, r in ((f"ADF {p.y} (level)", self.adf_y), (f"ADF {p.x} (level)", self.adf_x)):
            add(name, r.stat, r.pvalue, r.crit["5%"], r.lags, r.reject(lvl))
        # The spread is built from an *estimated* hedge ratio, so plain ADF critical values and p-values
        # over-reject there; the decision belongs to Engle-Granger. The row stays as a description only.
        r = self.adf_spread
        add(f"ADF spread ({p.hedge}), descriptive", r.stat, r.pvalue, math.nan, r.lags, "n/a: see Engle-Granger")
        for name, r in ((f"Engle-Granger {p.y}~{p.x}", self.eg_yx), (f"Engle-Granger {p.x}~{p.y}", self.eg_xy)):
            add(name, r.stat, r.pvalue, r.crit["5%"], r.lags, r.reject(lvl))
        j = self.johansen
        for i in range(len(j.eigenvalues)):
            add(f"Johansen trace r<={i}", float(j.trace_stat[i]), math.nan, float(j.trace_crit[i, 1]), j.k_ar_diff,
                bool(j.trace_stat[i] > j.trace_crit[i, 1]))
        for i in range(len(j.eigenvalues)):
            add(f"Johansen max-eig r<={i}", float(j.max_eig_stat[i]), math.nan, float(j.max_eig_crit[i, 1]), j.k_ar_diff,
                bool(j.max_eig_stat[i] > j.max_eig_crit[i, 1]))
        return Table("cointegration", pd.DataFrame(rows).set_index("test"), caption=(
            "H0: unit root (ADF), no cointegration (Engle-Granger, MacKinnon p-values for estimated residuals), "
            "rank <= r (Johansen, 95 % critical values). Plain ADF p-values on an estimated spread over-reject: "
            "that row is descriptive only"))

    def half_life_table(self) -> Table:
        """AR(1) half-life of the spread, in bars and in time."""
        hl = self.half_life
        bar = self.params.bar
        rows = {
            "gamma (AR(1) on the level)": hl.gamma,
            "gamma std error": hl.se_gamma,
            "half-life (bars)": hl.exact,
            "half-life, -ln2/gamma (bars)": hl.approx,
            "half-life (time)": _duration(hl.exact * bar) if math.isfinite(hl.exact) else "∞",
            "mean reverting": hl.mean_reverting,
            "observations": hl.n,
        }
        return Table("half-life", pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="quantity")))

    def backtest_table(self) -> Table:
        """The backtest's strategy and metrics."""
        p = self.params
        m = self.backtest.metrics
        rows: dict[str, Any] = {
            "strategy": f"z-score band: entry {p.entry_z:g}, exit {p.exit_z:g}, stop {p.stop_z if p.stop_z is not None else '—'}, "
                        f"window {p.window}, hedge {p.hedge}",
            "evaluation bars": m.bars,
            "total P&L (quote)": m.total_pnl,
            "total return": m.total_return,
            "sharpe": m.sharpe,
            "sortino": m.sortino,
            "max drawdown": m.max_drawdown,
            "trades": m.n_trades,
            "win rate": m.win_rate,
            "profit factor": m.profit_factor,
            "avg holding (bars)": m.avg_holding_bars,
            "exposure": m.exposure,
            "turnover (x capital)": m.turnover,
            "fees (quote)": m.fees,
            "costs (quote)": m.costs,
        }
        note = self.bars.funding_note(p.funding_rate)
        if note:
            rows["funding (quote, inside total P&L)"] = m.funding
            rows["funding source"] = note
        return Table("backtest", pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="metric")))

    def trades_table(self, last: int = 10) -> Table:
        """The last ``last`` trades of the backtest."""
        t = self.backtest.trades
        keep = [c for c in ("entry_time", "exit_time", "side", "bars", "pnl", "return", "closed") if c in t.columns]
        frame = t[keep].tail(last) if keep else t.tail(last)
        frame = frame.reset_index(drop=True)
        frame.index = pd.RangeIndex(len(t) - len(frame) + 1, len(t) + 1, name="trade")
        return Table("trades", frame, caption=f"Last {len(frame)} of {len(t)} trades")

    def alerts_table(self) -> Table | Note:
        """Alerts recorded for the legs in the period."""
        if self.alerts is None:
            return Note("alerts", "The store keeps no alerts table; no alerts to show.")
        if len(self.alerts) == 0:
            return Note("alerts", f"No alert fired for {self.params.pair} in the period.")
        timed = isinstance(self.alerts.index, pd.DatetimeIndex)
        frame = self.alerts.reset_index(drop=not timed)  # keep the alert time as a column
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="#")
        return Table("alerts", frame, caption=f"{len(frame)} alerts fired for {self.params.pair} in the period")

    # ---- charts ------------------------------------------------------------------------
    def price_chart(self) -> Chart:
        """Both legs' closes (y on the left axis, x on the right)."""
        p = self.params
        fig, (ax,) = figure(1, right=0.925)
        ax.plot(*xy(self.bars.pair["y"]), color="tab:blue", lw=0.8, label=p.y)
        ax.set_ylabel(p.y, color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(*xy(self.bars.pair["x"]), color="tab:orange", lw=0.8, label=p.x)
        ax2.set_ylabel(p.x, color="tab:orange")
        ax.set_title(f"Close prices of {p.y} and {p.x}, {p.freq} bars (UTC)")
        return Chart("prices", fig)

    def spread_chart(self) -> Chart:
        """The spread with its rolling mean and the entry bands."""
        p = self.params
        fig, (ax,) = figure(1)
        ms = analytics.rolling_mean_std(self.spread, p.window)
        ax.plot(*xy(self.spread), lw=0.7, color="tab:blue", label="spread")
        ax.plot(*xy(ms["mean"]), lw=0.8, color="black", label=f"rolling mean ({p.window})")
        for sign in (1, -1):
            ax.plot(*xy(ms["mean"] + sign * p.entry_z * ms["std"]), lw=0.6, color="tab:red", ls="--")
        ax.set_title(f"Spread {p.y} - alpha - beta x {p.x} ({p.hedge} hedge), bands at ±{p.entry_z:g} sd")
        ax.legend(loc="upper left", fontsize=8)
        return Chart("spread", fig)

    def zscore_chart(self) -> Chart:
        """The rolling z-score with the entry, exit and stop levels."""
        p = self.params
        fig, (ax,) = figure(1)
        ax.plot(*xy(self.z), lw=0.6, color="tab:purple")
        for level, style in ((p.entry_z, "--"), (p.exit_z, ":")):
            ax.axhline(level, color="tab:red", ls=style, lw=0.8)
            ax.axhline(-level, color="tab:green", ls=style, lw=0.8)
        if p.stop_z is not None:
            ax.axhline(p.stop_z, color="black", lw=0.8)
            ax.axhline(-p.stop_z, color="black", lw=0.8)
        ax.set_title(f"z-score of the spread, window {p.window} bars (entry ±{p.entry_z:g}, exit {p.exit_z:g})")
        return Chart("zscore", fig)

    def beta_chart(self) -> Chart:
        """Rolling OLS beta, the chosen hedge's beta, and the static OLS beta."""
        p = self.params
        fig, (ax,) = figure(1)
        ax.plot(*xy(self.rolling_beta["beta"]), lw=0.7, color="tab:blue", label=f"rolling OLS ({p.hedge_window} bars)")
        if p.hedge == "kalman":
            ax.plot(*xy(self.hedge["beta"]), lw=0.7, color="tab:orange", label="Kalman")
        ax.axhline(self.ols.beta, color="black", lw=0.8, ls="--", label=f"static OLS {self.ols.beta:.4g}")
        ax.set_title(f"Hedge ratio beta of {p.y} on {p.x}")
        ax.legend(loc="upper left", fontsize=8)
        return Chart("beta", fig)

    def equity_chart(self) -> Chart:
        """Equity curve (quote currency) and drawdown of the backtest."""
        bt = self.backtest
        fig, (ax, ax2) = figure(2, height=4.6, ratios=[3, 1])
        ax.plot(*xy(bt.equity.iloc[bt.start:]), lw=0.8, color="tab:green")
        ax.set_title(f"Backtest equity (quote currency, capital {bt.capital:,.0f}) and drawdown, {bt.metrics.n_trades} trades")
        dx, dy = xy(bt.drawdown.iloc[bt.start:])
        ax2.fill_between(dx, dy * 100.0, 0.0, color="tab:red", alpha=0.4, lw=0)
        ax2.set_ylabel("drawdown %")
        return Chart("equity", fig)


def _stack(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenate the non-empty frames (an empty frame with ``columns`` if none)."""
    rows = [f[columns] for f in frames if len(f)]
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype="datetime64[ns, UTC]" if c in ("from", "to") else object)
                             for c in columns})
    return pd.concat(rows, ignore_index=True)


def _count_rejected(frame: pd.DataFrame, leg: str) -> int:
    rows = frame[frame["symbol"] == leg] if "symbol" in frame.columns else frame
    for col in ("count", "rejected", "n"):
        if col in rows.columns:
            return int(pd.to_numeric(rows[col], errors="coerce").fillna(0).sum())
    return len(rows)


def _duration(td: pd.Timedelta | float) -> str:
    """A readable duration: ``2.05 h``, ``37.5 min``, ``3.2 d``."""
    if not isinstance(td, pd.Timedelta):
        return "—"
    return duration_text(td.total_seconds())

