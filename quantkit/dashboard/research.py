"""The pair research page: two stored symbols, a date range, a bar size -> the whole pair study.

Everything ``notebooks/research_pair.ipynb`` shows is computed and laid out here, so the
notebook stays a few lines per cell and the logic is testable without a browser:

* :func:`compute_research` (no widgets): reads and aligns the pair's bars with the pair loader
  (:func:`quantkit.analytics.load_pair`: ``start`` inclusive, ``end`` exclusive, zero-volume bars
  dropped, a long hole splits the sample and the page says so), and runs the analytics: static /
  rolling / Kalman hedge ratios, the spread with Bollinger bands, ADF on each leg, Engle-Granger both ways, Johansen, KPSS on the spread,
  half-life, OU fit, Hurst, variance ratio, rolling return correlation, lead-lag, beta
  stability, and (optionally) the pair scanner over the stored symbols. The result
  (:class:`ResearchData`) has the tables, the verdict of
  :func:`quantkit.analytics.cointegration_study` (the same one the pair report shows) and a JSON summary.
* With no symbols (or no bar size) given, the page opens on what the store holds
  (:func:`resolve_params`): the configured pair when stored, else the scanner's best pair, else the
  store's first two symbols, at a bar size that gives enough bars; it says which it chose.
* :class:`ResearchPage`: ipywidgets controls (symbols, dates, bar size, window, log prices,
  "Analyse"), bqplot figures (price pair rebased to 100, spread with bands, rolling beta vs
  Kalman beta, rolling return correlation, lead-lag bars), the test tables with the
  verdict, and the scanner ranking; selecting a ranking row opens that pair.

Lines are decimated to at most :data:`MAX_POINTS` points, each bucket's min and max kept
(:mod:`quantkit.analytics.decimation`; full series stay in
:attr:`ResearchPage.data`). Analytics stay pure in :mod:`quantkit.analytics`; this module
only reads the store and draws.
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

import quantkit.analytics as qa
from quantkit.analytics.decimation import decimate_lines
from quantkit.analytics.scanner import BAR_LADDER, configured_pair
from quantkit.analytics.scanner import stored_symbols as scanner_symbols
from quantkit.errors import AnalyticsError, DashboardError, QuantkitError
from quantkit.symbols import SYMBOL_HELP, is_symbol

__all__ = [
    "BAR_SIZES",
    "MAX_POINTS",
    "ResearchData",
    "ResearchPage",
    "ResearchParams",
    "compute_research",
    "resolve_params",
    "stored_symbols",
]

log = logging.getLogger("quantkit.dashboard")

#: Bar sizes offered in the dropdown (any size the store accepts works through the parameters).
BAR_SIZES: tuple[str, ...] = BAR_LADDER
#: Maximum points per plotted line.
MAX_POINTS = 2500


@dataclass(frozen=True)
class ResearchParams:
    """The page's inputs (the notebook's ``parameters`` cell).

    Attributes:
        y_symbol: dependent leg, e.g. ``"ETHUSDT"`` or ``"BTCUSDT_PERP"`` (:mod:`quantkit.symbols`);
            None (default): chosen from the store (:func:`resolve_params`).
        x_symbol: hedge leg, e.g. ``"BTCUSDT"``; None: chosen with ``y_symbol``.
        bar_size: bar size (``"1s"``, ``"1m"``, ``"5m"``, ...); None (default): the coarsest size that
            gives enough bars in the stored span.
        start: first bar's open time, inclusive (str / Timestamp, naive = UTC), or None for the beginning.
        end: exclusive end, or None for the end.
        log_prices: analyse log prices (default True: beta is an elasticity).
        window: rolling OLS / spread z-score / correlation window in bars (default 240).
        band_k: Bollinger band half-width in rolling standard deviations (default 2).
        kalman_delta: Kalman state noise (default 1e-4).
        kalman_ve: Kalman observation noise; None = the variance of the static OLS spread
            (keeps the filter scale-aware for log or raw prices).
        max_lag: lead-lag range in bars (default 10).
        scan: run the pair scanner over ``scan_symbols`` (default True).
        scan_symbols: symbols for the scanner; None = every stored symbol.
        scan_maxlag: largest ADF lag in the scanner (default 12).
    """

    y_symbol: str | None = None
    x_symbol: str | None = None
    bar_size: str | None = None
    start: Any = None
    end: Any = None
    log_prices: bool = True
    window: int = 240
    band_k: float = 2.0
    kalman_delta: float = 1e-4
    kalman_ve: float | None = None
    max_lag: int = 10
    scan: bool = True
    scan_symbols: tuple[str, ...] | None = None
    scan_maxlag: int = 12

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "ResearchParams":
        """Build from a mapping (e.g. the notebook's ``globals()``), ignoring unknown keys."""
        kw = {f.name: values[f.name] for f in fields(cls) if f.name in values}
        if kw.get("scan_symbols") is not None:
            kw["scan_symbols"] = tuple(kw["scan_symbols"])
        params = cls(**kw)
        params.validate()
        return params

    def validate(self) -> None:
        """Raise DashboardError on an unusable combination (None symbols / bar size are resolved later)."""
        for name in ("y_symbol", "x_symbol"):
            v = getattr(self, name)
            if v is not None and not is_symbol(v):
                raise DashboardError(f"{name}={v!r}: not a symbol; use {SYMBOL_HELP}")
        if self.y_symbol is not None and self.y_symbol == self.x_symbol:
            raise DashboardError(f"y_symbol and x_symbol are both {self.y_symbol!r}: choose two different symbols")
        if not isinstance(self.window, (int, np.integer)) or self.window < 10:
            raise DashboardError(f"window={self.window!r}: expected an integer >= 10 bars")

    @property
    def min_bars(self) -> int:
        """Aligned bars the page needs: ``max(3 * window, 100)``."""
        return max(3 * int(self.window), 100)


def stored_symbols(store: Any) -> list[str]:
    """The symbols a store lists, sorted (:func:`quantkit.analytics.scanner.stored_symbols`)."""
    return sorted(scanner_symbols(store))


def resolve_params(store: Any, params: ResearchParams) -> tuple[ResearchParams, str]:
    """``params`` with a missing pair or bar size chosen from the store, and a sentence saying what was chosen.

    The pair: the configured pair when the store holds it, else the scanner's best pair, else the
    store's first two symbols (:func:`quantkit.analytics.default_pair`); the bar size: the coarsest
    of :data:`BAR_SIZES` whose stored span holds ten times :attr:`ResearchParams.min_bars`.

    Raises:
        DashboardError: the store holds fewer than two symbols.
    """
    p = params
    if p.y_symbol is not None and p.x_symbol is not None and p.bar_size is not None:
        return p, ""
    try:
        if p.y_symbol is None or p.x_symbol is None:
            choice = qa.default_pair(store, configured_pair(), freq=p.bar_size, min_bars=p.min_bars, ladder=BAR_SIZES)
        else:
            f = qa.default_bar_size(store, p.y_symbol, p.x_symbol, p.min_bars, ladder=BAR_SIZES)
            choice = qa.PairChoice(p.y_symbol, p.x_symbol, f, f"{p.y_symbol}/{p.x_symbol}: {f} bars (enough for the window)")
    except AnalyticsError as exc:
        raise DashboardError(str(exc)) from None
    return replace(p, y_symbol=choice.y, x_symbol=choice.x, bar_size=choice.freq), f"Opened on {choice.reason}."


def _f(v: Any) -> Any:
    """JSON-friendly float (NaN/inf -> None)."""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


@dataclass(frozen=True, eq=False)
class ResearchData:
    """Everything computed for one pair (see :func:`compute_research`)."""

    params: ResearchParams
    prices: pd.DataFrame  # aligned closes, columns y, x (raw prices)
    pair: pd.DataFrame  # aligned analysis series (log prices when log_prices)
    ols: qa.OLSHedge
    rolling: pd.DataFrame
    kalman: qa.KalmanHedge
    spread: pd.Series
    bands: pd.DataFrame
    adf_y: qa.ADFResult
    adf_x: qa.ADFResult
    eg_yx: qa.EngleGrangerResult
    eg_xy: qa.EngleGrangerResult
    johansen: qa.JohansenResult
    kpss_spread: qa.KPSSResult
    half_life: qa.HalfLife
    ou: qa.OUFit
    hurst: qa.HurstResult
    variance_ratio: qa.VarianceRatio
    corr: pd.Series
    lead_lag: qa.CrossCorrelation
    stability: qa.BetaStability
    scan: pd.DataFrame | None
    verdict: str
    study: qa.CointegrationStudy | None = None
    note: str = ""

    @property
    def n(self) -> int:
        """Aligned bars used."""
        return len(self.pair)

    @property
    def cointegrated(self) -> bool:
        """Engle-Granger rejects "no cointegration" at 5% in at least one direction."""
        return min(self.eg_yx.pvalue, self.eg_xy.pvalue) < 0.05

    @property
    def verdict_label(self) -> str:
        """``"cointegrated"``, ``"mixed evidence"`` or ``"not cointegrated"`` (:func:`quantkit.analytics.cointegration_study`)."""
        return self.study.label if self.study is not None else ""

    def tests_table(self) -> pd.DataFrame:
        """ADF (legs), Engle-Granger (both ways), Johansen (trace, max-eig) and KPSS (spread) in one table."""
        p = self.params
        y, x = p.y_symbol, p.x_symbol
        j = self.johansen
        rows = [
            ("ADF", y, "unit root", self.adf_y.stat, self.adf_y.crit["5%"], self.adf_y.pvalue,
             f"lags={self.adf_y.lags} ({self.adf_y.lag_choice})"),
            ("ADF", x, "unit root", self.adf_x.stat, self.adf_x.crit["5%"], self.adf_x.pvalue,
             f"lags={self.adf_x.lags} ({self.adf_x.lag_choice})"),
            ("Engle-Granger", f"{y} ~ {x}", "no cointegration", self.eg_yx.stat, self.eg_yx.crit["5%"],
             self.eg_yx.pvalue, f"beta={self.eg_yx.beta:.4g}, lags={self.eg_yx.lags}"),
            ("Engle-Granger", f"{x} ~ {y}", "no cointegration", self.eg_xy.stat, self.eg_xy.crit["5%"],
             self.eg_xy.pvalue, f"beta={self.eg_xy.beta:.4g}, lags={self.eg_xy.lags}"),
            ("Johansen trace", "r <= 0", "rank 0", j.trace_stat[0], j.trace_crit[0, 1], math.nan, f"rank={j.rank_trace}"),
            ("Johansen trace", "r <= 1", "rank <= 1", j.trace_stat[1], j.trace_crit[1, 1], math.nan, ""),
            ("Johansen max-eig", "r <= 0", "rank 0", j.max_eig_stat[0], j.max_eig_crit[0, 1], math.nan,
             f"rank={j.rank_max_eig}"),
            ("KPSS", "spread", "stationary", self.kpss_spread.stat, self.kpss_spread.crit["5%"],
             self.kpss_spread.pvalue, f"lags={self.kpss_spread.lags}" + (
                 f", p {self.kpss_spread.pvalue_bound} than shown" if self.kpss_spread.pvalue_bound else "")),
        ]
        out = pd.DataFrame(rows, columns=["test", "series", "H0", "statistic", "crit 5%", "p-value", "notes"])
        rejected = []
        for r in rows:
            test, stat, crit = r[0], r[3], r[4]
            if test == "KPSS":
                rejected.append(bool(stat > crit))
            elif test.startswith("Johansen"):
                rejected.append(bool(stat > crit))
            else:
                rejected.append(bool(stat < crit))
        out["reject H0 at 5%"] = rejected
        return out

    def mean_reversion_table(self) -> pd.DataFrame:
        """Half-life (exact and approximation), OU parameters, Hurst, variance ratio, stability, correlation."""
        hl = self.half_life
        bar_s = hl.bar_seconds
        rows = [
            ("half-life, exact -ln2/ln(1+g)", hl.exact, "bars", hl.exact * bar_s / 3600 if math.isfinite(bar_s) else math.nan),
            ("half-life, approx -ln2/g", hl.approx, "bars", hl.approx * bar_s / 3600 if math.isfinite(bar_s) else math.nan),
            ("AR(1) gamma", hl.gamma, "per bar", math.nan),
            ("OU theta", self.ou.theta, "per bar", math.nan),
            ("OU mu", self.ou.mu, "spread units", math.nan),
            ("OU sigma", self.ou.sigma, "per sqrt(bar)", math.nan),
            ("Hurst exponent", self.hurst.h, "0.5 = random walk", math.nan),
            (f"variance ratio q={self.variance_ratio.q}", self.variance_ratio.vr, f"z*={self.variance_ratio.z:.2f}", math.nan),
            ("rolling beta CV", self.stability.cv, f"window {self.stability.window}", math.nan),
            ("return correlation (full)", float(np.corrcoef(np.diff(np.log(self.prices['y'])),
                                                            np.diff(np.log(self.prices['x'])))[0, 1]), "", math.nan),
            ("lead-lag best lag", float(self.lead_lag.best_lag), f"leader: {self.lead_lag.leader}", math.nan),
        ]
        return pd.DataFrame(rows, columns=["measure", "value", "unit", "hours"]).set_index("measure")

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary of the headline numbers (what the notebook saves)."""
        p = self.params
        j = self.johansen
        out: dict[str, Any] = {
            "y_symbol": p.y_symbol,
            "x_symbol": p.x_symbol,
            "bar_size": p.bar_size,
            "log_prices": p.log_prices,
            "window": p.window,
            "n": self.n,
            "first": str(self.pair.index[0]),
            "last": str(self.pair.index[-1]),
            "ols": {k: _f(getattr(self.ols, k)) for k in ("alpha", "beta", "r2", "se_alpha", "se_beta")},
            "adf_y": {"stat": _f(self.adf_y.stat), "pvalue": _f(self.adf_y.pvalue), "lags": self.adf_y.lags},
            "adf_x": {"stat": _f(self.adf_x.stat), "pvalue": _f(self.adf_x.pvalue), "lags": self.adf_x.lags},
            "eg_yx": {"stat": _f(self.eg_yx.stat), "pvalue": _f(self.eg_yx.pvalue), "lags": self.eg_yx.lags,
                      "crit_5": _f(self.eg_yx.crit["5%"])},
            "eg_xy": {"stat": _f(self.eg_xy.stat), "pvalue": _f(self.eg_xy.pvalue), "lags": self.eg_xy.lags},
            "johansen": {"trace": [_f(v) for v in j.trace_stat], "max_eig": [_f(v) for v in j.max_eig_stat],
                         "rank_trace": j.rank_trace, "rank_max_eig": j.rank_max_eig},
            "kpss": {"stat": _f(self.kpss_spread.stat), "pvalue": _f(self.kpss_spread.pvalue), "lags": self.kpss_spread.lags},
            "half_life": {"exact": _f(self.half_life.exact), "approx": _f(self.half_life.approx),
                          "gamma": _f(self.half_life.gamma)},
            "ou": {"theta": _f(self.ou.theta), "mu": _f(self.ou.mu), "sigma": _f(self.ou.sigma)},
            "hurst": _f(self.hurst.h),
            "variance_ratio": {"q": self.variance_ratio.q, "vr": _f(self.variance_ratio.vr), "z": _f(self.variance_ratio.z)},
            "corr_last": _f(self.corr.dropna().iloc[-1]) if self.corr.notna().any() else None,
            "lead_lag": {"best_lag": self.lead_lag.best_lag, "best_corr": _f(self.lead_lag.best_corr)},
            "beta_cv": _f(self.stability.cv),
            "rolling_beta_last": _f(self.rolling["beta"].iloc[-1]),
            "kalman_beta_last": _f(self.kalman.last_beta),
            "z_last": _f(self.bands["z"].iloc[-1]),
            "cointegrated": self.cointegrated,
            "verdict": self.verdict,
            "verdict_label": self.verdict_label,
            "note": self.note,
        }
        if self.scan is not None:
            out["scan"] = [
                {"rank": int(r["rank"]), "y": r["y"], "x": r["x"], "pvalue": _f(r["pvalue"]),
                 "half_life": _f(r["half_life"]), "beta": _f(r["beta"])}
                for _, r in self.scan.iterrows()
            ]
        return out

    def summary_json(self) -> str:
        """:meth:`summary` as JSON text."""
        return json.dumps(self.summary(), indent=1, sort_keys=True)


def compute_research(store: Any, params: ResearchParams) -> ResearchData:
    """Read the pair's bars from ``store`` and run every analysis the page shows.

    Args:
        store: an object with ``symbols()`` and ``bars(symbol, freq, start, end)``
            (:class:`quantkit.store.TickStore`).
        params: :class:`ResearchParams`.

    Returns:
        :class:`ResearchData`.

    Raises:
        DashboardError: the store has no usable bars for a leg, or too few aligned bars.
        AnalyticsError: from the analytics on degenerate data (message names the problem).
    """
    params.validate()
    p, chosen = resolve_params(store, params)
    assert p.y_symbol is not None and p.x_symbol is not None and p.bar_size is not None
    try:
        loaded = qa.load_pair(store, p.y_symbol, p.x_symbol, p.bar_size, p.start, p.end)
    except (QuantkitError, ValueError) as exc:  # no bars, unknown symbol, a bar size the store cannot make
        raise DashboardError(str(exc).strip("'\"")) from None
    prices = loaded.pair
    if len(prices) < p.min_bars:
        raise DashboardError(
            f"only {len(prices)} aligned {p.bar_size} bars for {p.y_symbol}/{p.x_symbol}; need at least "
            f"{p.min_bars} (lower the window, use smaller bars or widen the dates)"
        )
    pair = prices.copy()
    if p.log_prices:
        pair["y"] = np.log(pair["y"])
        pair["x"] = np.log(pair["x"])
    y, x = pair["y"], pair["x"]
    study = qa.cointegration_study(y, x, names=(p.y_symbol, p.x_symbol))
    ols = study.ols
    spread = study.spread
    rolling = qa.rolling_ols(y, x, p.window)
    ve = p.kalman_ve if p.kalman_ve is not None else max(float(spread.var()), 1e-12)
    kalman = qa.kalman_hedge(y, x, delta=p.kalman_delta, ve=ve)
    bands = qa.bollinger_bands(spread, p.window, k=p.band_k)
    scan = None
    if p.scan:
        syms = list(p.scan_symbols) if p.scan_symbols is not None else stored_symbols(store)
        if len(syms) >= 2:
            try:
                scan = qa.scan_pairs(store, syms, freq=p.bar_size, start=p.start, end=p.end,
                                     log=p.log_prices, maxlag=p.scan_maxlag)
            except AnalyticsError as exc:
                log.warning("pair scanner skipped: %s", exc)
    n = len(pair)
    return ResearchData(
        params=p,
        prices=prices,
        pair=pair,
        ols=ols,
        rolling=rolling,
        kalman=kalman,
        spread=spread,
        bands=bands,
        adf_y=study.adf_y,
        adf_x=study.adf_x,
        eg_yx=study.eg_yx,
        eg_xy=study.eg_xy,
        johansen=study.johansen,
        kpss_spread=study.kpss_spread,
        half_life=study.half_life,
        ou=qa.ou_fit(spread),
        hurst=qa.hurst(spread, max_lag=max(3, min(100, n // 4))),
        variance_ratio=qa.variance_ratio(spread, q=max(2, min(p.window // 4, n // 4))),
        corr=qa.rolling_correlation(prices["y"], prices["x"], min(p.window, n - 2)),
        lead_lag=qa.cross_correlation(prices["y"], prices["x"], max_lag=min(p.max_lag, n // 4)),
        stability=qa.beta_stability(y, x, p.window),
        scan=scan,
        verdict=study.text,
        study=study,
        note=" ".join(t for t in (chosen, loaded.note) if t),
    )


def _decimate(index: pd.Index, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    t = np.asarray(index.tz_localize(None) if getattr(index, "tz", None) else index, dtype="datetime64[ms]")
    return decimate_lines(t, *cols, max_points=MAX_POINTS)


def _html_table(frame: pd.DataFrame, fmt: str = "{:.4g}") -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if math.isnan(float(v)) else html.escape(fmt.format(v))
        return html.escape(str(v))

    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table style='border-collapse:collapse;font-size:12px'><tr>{head}</tr>{body}</table>"


class ResearchPage:
    """The interactive research page (widgets + figures), fed by a store.

    Args:
        store: object with ``symbols()`` and ``bars(symbol, freq, start, end)``.
        params: initial :class:`ResearchParams`.
        compute: compute immediately (default True).

    Attributes:
        widget: the page (an ``ipywidgets.VBox``) to display.
        data: the last :class:`ResearchData` (None until computed).
        params: the parameters of the last computation.
    """

    def __init__(self, store: Any, params: ResearchParams | None = None, *, compute: bool = True) -> None:
        import bqplot as bq
        import ipywidgets as w

        self.store = store
        self.params = params or ResearchParams()
        self.data: ResearchData | None = None
        self.status = w.HTML()
        try:
            self.params, chosen = resolve_params(store, self.params)
        except DashboardError as exc:
            chosen = ""
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
        #: What the page chose when the parameters left the pair or bar size open ("" otherwise).
        self.chosen = chosen
        symbols = stored_symbols(store)
        for s in (self.params.y_symbol, self.params.x_symbol):
            if s is not None and s not in symbols:
                symbols.append(s)
        self.y_dd = w.Dropdown(options=symbols, value=self.params.y_symbol, description="Y")
        self.x_dd = w.Dropdown(options=symbols, value=self.params.x_symbol, description="X")
        bar = self.params.bar_size
        sizes = list(BAR_SIZES) + ([bar] if bar is not None and bar not in BAR_SIZES else [])
        self.bar_dd = w.Dropdown(options=sizes, value=bar, description="bars")
        self.start_txt = w.Text(value="" if self.params.start is None else str(self.params.start),
                                description="start", placeholder="YYYY-MM-DD (blank: all)")
        self.end_txt = w.Text(value="" if self.params.end is None else str(self.params.end),
                              description="end", placeholder="YYYY-MM-DD (blank: all)")
        self.window_in = w.BoundedIntText(value=int(self.params.window), min=10, max=100_000, description="window")
        self.log_cb = w.Checkbox(value=bool(self.params.log_prices), description="log prices")
        self.run_btn = w.Button(description="Analyse", button_style="primary")
        self.run_btn.on_click(lambda _: self._on_run())

        def fig(title: str, marks: list, scales: dict, y_label: str) -> Any:
            ax_x = bq.Axis(scale=scales["x"], label="time (UTC)")
            ax_y = bq.Axis(scale=scales["y"], side="left", label=y_label, tick_format=".4g")
            return bq.Figure(marks=marks, axes=[ax_x, ax_y], title=title, animation_duration=0,
                             layout=w.Layout(width="100%", height="260px"),
                             fig_margin={"top": 30, "bottom": 35, "left": 60, "right": 20})

        sx = {k: bq.DateScale() for k in ("p", "s", "b", "c")}
        sy = {k: bq.LinearScale() for k in ("p", "s", "b", "c")}
        self.price_lines = bq.Lines(scales={"x": sx["p"], "y": sy["p"]}, colors=["#1f77b4", "#ff7f0e"],
                                    labels=["Y", "X"], display_legend=True)
        self.spread_lines = bq.Lines(scales={"x": sx["s"], "y": sy["s"]},
                                     colors=["#333333", "#2ca02c", "#d62728", "#d62728"],
                                     labels=["spread", "mean", "upper", "lower"], display_legend=True,
                                     line_style="solid")
        self.beta_lines = bq.Lines(scales={"x": sx["b"], "y": sy["b"]}, colors=["#1f77b4", "#9467bd", "#7f7f7f"],
                                   labels=["rolling OLS beta", "Kalman beta", "static OLS beta"], display_legend=True)
        self.corr_line = bq.Lines(scales={"x": sx["c"], "y": sy["c"]}, colors=["#8c564b"], labels=["return corr"])
        self.price_fig = fig("Price pair (rebased to 100)", [self.price_lines], {"x": sx["p"], "y": sy["p"]}, "index")
        self.spread_fig = fig("Spread with Bollinger bands", [self.spread_lines], {"x": sx["s"], "y": sy["s"]}, "spread")
        self.beta_fig = fig("Hedge ratio: rolling OLS vs Kalman", [self.beta_lines], {"x": sx["b"], "y": sy["b"]}, "beta")
        self.corr_fig = fig("Rolling correlation of returns", [self.corr_line], {"x": sx["c"], "y": sy["c"]}, "corr")
        lag_x, lag_y = bq.OrdinalScale(), bq.LinearScale()
        self.lag_bars = bq.Bars(scales={"x": lag_x, "y": lag_y}, colors=["#17becf"])
        self.lag_fig = bq.Figure(marks=[self.lag_bars], title="Lead-lag: corr(r_y[t], r_x[t-lag]) (lag > 0: X leads)",
                                 axes=[bq.Axis(scale=lag_x, label="lag (bars)"),
                                       bq.Axis(scale=lag_y, side="left", tick_format=".2f")],
                                 animation_duration=0, layout=w.Layout(width="100%", height="220px"))
        self.tests_html = w.HTML()
        self.verdict_html = w.HTML()
        self.mr_html = w.HTML()
        self.scan_html = w.HTML()
        self.scan_select = w.Select(options=[], rows=8, description="open pair",
                                    layout=w.Layout(width="100%"))
        self.scan_select.observe(self._on_scan_pick, names="value")
        controls = w.VBox([
            w.HBox([self.y_dd, self.x_dd, self.bar_dd]),
            w.HBox([self.start_txt, self.end_txt, self.window_in, self.log_cb, self.run_btn]),
            self.status,
        ])
        self.widget = w.VBox([
            controls,
            self.price_fig,
            self.spread_fig,
            w.HTML("<b>Stationarity and cointegration</b>"),
            self.tests_html,
            self.verdict_html,
            w.HTML("<b>Mean reversion and relationship</b>"),
            self.mr_html,
            self.beta_fig,
            self.corr_fig,
            self.lag_fig,
            w.HTML("<b>Pair scanner</b> (ranked by Engle-Granger p-value; select a row to open it)"),
            self.scan_html,
            self.scan_select,
        ])
        self._suppress_pick = False
        if compute and self.params.y_symbol is not None:
            self.refresh()

    # ------------------------------------------------------------------------------------------ actions

    def _params_from_controls(self) -> ResearchParams:
        start = self.start_txt.value.strip() or None
        end = self.end_txt.value.strip() or None
        kw = {f.name: getattr(self.params, f.name) for f in fields(ResearchParams)}
        kw.update(y_symbol=self.y_dd.value, x_symbol=self.x_dd.value, bar_size=self.bar_dd.value, start=start,
                  end=end, window=int(self.window_in.value), log_prices=bool(self.log_cb.value))
        return ResearchParams(**kw)

    def _on_run(self) -> None:
        try:
            self.refresh(self._params_from_controls())
        except QuantkitError as exc:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"

    def _on_scan_pick(self, change: dict) -> None:
        if self._suppress_pick or change.get("new") is None or self.data is None or self.data.scan is None:
            return
        row = self.data.scan.iloc[int(change["new"])]
        self.open_pair(str(row["y"]), str(row["x"]))

    def open_pair(self, y_symbol: str, x_symbol: str) -> ResearchData:
        """Switch the page to another pair (same dates, bar size and settings) and recompute."""
        for dd, s in ((self.y_dd, y_symbol), (self.x_dd, x_symbol)):
            if s not in dd.options:
                dd.options = list(dd.options) + [s]
        self.y_dd.value = y_symbol
        self.x_dd.value = x_symbol
        kw = {f.name: getattr(self.params, f.name) for f in fields(ResearchParams)}
        kw.update(y_symbol=y_symbol, x_symbol=x_symbol)
        return self.refresh(ResearchParams(**kw), rescan=False)

    def refresh(self, params: ResearchParams | None = None, *, rescan: bool = True) -> ResearchData:
        """Recompute for ``params`` (default: the current ones) and redraw everything.

        Args:
            params: new parameters, or None to recompute the current ones.
            rescan: re-run the pair scanner (False keeps the previous ranking when only the pair changed).
        """
        p = params or self.params
        old_scan = self.data.scan if (self.data is not None and not rescan) else None
        if not rescan and old_scan is not None:
            kw = {f.name: getattr(p, f.name) for f in fields(ResearchParams)}
            kw["scan"] = False
            data = replace(compute_research(self.store, ResearchParams(**kw)), scan=old_scan)
        else:
            data = compute_research(self.store, p)
        if params is None and self.chosen and self.chosen not in data.note:
            data = replace(data, note=" ".join(t for t in (self.chosen, data.note) if t))
        self.params = p
        self.data = data
        self._draw(data)
        p = data.params
        note = data.note
        self.status.value = (f"{html.escape(str(p.y_symbol))} / {html.escape(str(p.x_symbol))}: {data.n:,} aligned "
                             f"{html.escape(str(p.bar_size))} bars, {html.escape(str(data.pair.index[0]))} .. "
                             f"{html.escape(str(data.pair.index[-1]))}"
                             + (f"<br><i>{html.escape(note)}</i>" if note else ""))
        return data

    # ------------------------------------------------------------------------------------------ drawing

    def _draw(self, d: ResearchData) -> None:
        pr = d.prices
        t, py, px = _decimate(pr.index, 100 * pr["y"] / pr["y"].iloc[0], 100 * pr["x"] / pr["x"].iloc[0])
        with self.price_lines.hold_sync():
            self.price_lines.x = t
            self.price_lines.y = np.vstack([py, px])
            self.price_lines.labels = [d.params.y_symbol, d.params.x_symbol]
        t, s, m, up, lo = _decimate(d.spread.index, d.spread, d.bands["mid"], d.bands["upper"], d.bands["lower"])
        with self.spread_lines.hold_sync():
            self.spread_lines.x = t
            self.spread_lines.y = np.vstack([s, m, up, lo])
        t, rb, kb = _decimate(d.rolling.index, d.rolling["beta"], d.kalman.frame["beta"])
        with self.beta_lines.hold_sync():
            self.beta_lines.x = t
            self.beta_lines.y = np.vstack([rb, kb, np.full(len(t), d.ols.beta)])
        t, c = _decimate(d.corr.index, d.corr)
        with self.corr_line.hold_sync():
            self.corr_line.x = t
            self.corr_line.y = c
        with self.lag_bars.hold_sync():
            self.lag_bars.x = [str(v) for v in d.lead_lag.corr.index]
            self.lag_bars.y = d.lead_lag.corr.to_numpy()
        self.tests_html.value = _html_table(d.tests_table())
        self.verdict_html.value = f"<p style='max-width:900px'><b>Verdict.</b> {html.escape(d.verdict)}</p>"
        mr = d.mean_reversion_table().reset_index()
        self.mr_html.value = _html_table(mr)
        if d.scan is not None:
            shown = d.scan[["rank", "y", "x", "pvalue", "half_life", "corr", "beta", "beta_cv"]]
            self.scan_html.value = _html_table(shown)
            self._suppress_pick = True
            try:
                self.scan_select.options = [
                    (f"{int(r['rank']):>2}. {r['y']} ~ {r['x']}  p={r['pvalue']:.4f}  half-life={r['half_life']:.0f} bars", i)
                    for i, (_, r) in enumerate(d.scan.iterrows())
                ]
                self.scan_select.value = None
            finally:
                self._suppress_pick = False
        else:
            self.scan_html.value = "<i>scanner not run</i>"
            self.scan_select.options = []

    def save_summary(self, path: str | Path | None) -> str:
        """Write :meth:`ResearchData.summary` as JSON to ``path`` (if given) and return the JSON text."""
        if self.data is None:
            raise DashboardError("nothing computed yet")
        text = self.data.summary_json()
        if path:
            Path(path).write_text(text)
        return text
