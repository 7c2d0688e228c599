"""The backtest research page: pick a pair, a bar size, a date range and a strategy; see the result.

Everything the ``notebooks/backtest_pair.ipynb`` notebook shows is built here, so the
notebook stays a few lines per cell and the logic can be tested without a browser:

* controls (``ipywidgets``): pair, date range, bar size, strategy, its parameters, hedge,
  fill timing, notional and costs; "Run" and "Sweep" buttons;
* figures (``bqplot``): equity and drawdown, positions per leg (in quote currency), the
  z-score with its entry/exit thresholds and markers at each trade's signal;
* tables: the metrics, the trade list, and the sweep: entry x exit heatmaps of the
  in-sample metric with the in-sample optimum next to its out-of-sample result.

Bars come from the pair loader (:func:`quantkit.analytics.load_pair`: stored candles, or ticks
resampled by the store, at ``bar_size``; ``start`` inclusive, ``end`` exclusive, zero-volume bars
dropped, a long hole splits the sample and the page says so). With no pair or bar size given the
page opens on what the store holds (:func:`quantkit.dashboard.research.resolve_params`: the
configured pair, else the scanner's best, else the first two symbols) and says which it chose.
Lines are decimated to at most :data:`MAX_POINTS` points, each bucket's min and max kept, so
the drawdown trough is drawn (:mod:`quantkit.analytics.decimation`; the full series stays in
:attr:`BacktestPage.result`).
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantkit.backtest import (
    BacktestResult,
    BollingerBands,
    Costs,
    Execution,
    Hedge,
    KalmanSignal,
    LinearReversion,
    Split,
    SweepResult,
    ZScoreBand,
    backtest_pair,
    sweep_pair,
)
from quantkit.analytics.decimation import decimate_lines
from quantkit.analytics import PairBars, load_pair
from quantkit.analytics.scanner import BAR_LADDER, stored_symbols
from quantkit.errors import DashboardError, QuantkitError

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = [
    "BAR_SIZES",
    "MAX_POINTS",
    "STRATEGIES",
    "BacktestPage",
    "PageParams",
    "build_strategy",
]

log = logging.getLogger("quantkit.dashboard")

#: Strategy names offered on the page.
STRATEGIES: tuple[str, ...] = ("zscore_band", "bollinger", "linear", "kalman")
#: Bar sizes offered in the dropdown (any pandas frequency works through :class:`PageParams`).
BAR_SIZES: tuple[str, ...] = BAR_LADDER
#: Maximum points per plotted line (min/max per bucket kept; markers are not decimated).
MAX_POINTS = 3000


@dataclass(frozen=True)
class PageParams:
    """Everything the page needs to run one backtest and one sweep (the notebook's parameters).

    Attributes:
        y_symbol: first leg (long when long the spread), e.g. ``"ETHUSDT"`` or ``"BTCUSDT_PERP"``;
            None: chosen from the store.
        x_symbol: second leg, e.g. ``"BTCUSDT"``; None: chosen with ``y_symbol``.
        bar_size: bar size (e.g. ``"5m"``); None: the coarsest size giving enough bars in the stored span.
        start: first bar's open time (inclusive; str/Timestamp, naive = UTC) or None for the beginning.
        end: exclusive end or None for the end.
        strategy: one of :data:`STRATEGIES`.
        entry: entry threshold (z units; Bollinger: k_entry).
        exit: exit threshold (z units; Bollinger: k_exit).
        window: z-score / Bollinger window in bars.
        stop: stop threshold in z units or None.
        max_hold: maximum holding time in bars or None.
        scale: LinearReversion z units per spread unit.
        hedge: ``"static"``, ``"rolling"`` or ``"kalman"`` (Kalman strategy: always Kalman).
        hedge_window: rolling hedge window in bars (None: the strategy window).
        train: fraction of bars used to fit a static hedge (and as the sweep's in-sample part).
        kalman_delta: Kalman state noise.
        kalman_ve: Kalman observation noise variance (squared price units).
        kalman_warmup: bars ignored while the filter converges.
        fill: ``"next_close"``, ``"same_close"`` or ``"next_open"``.
        sizing: ``"hedge"`` or ``"dollar"``.
        notional: gross exposure per spread unit (quote currency).
        fee_bps: commission per side, bps.
        half_spread_bps: half spread per fill, bps.
        slippage_bps: slippage per fill, bps.
        sweep_entries: entry grid of the sweep.
        sweep_exits: exit grid of the sweep.
        sweep_windows: window grid of the sweep.
        sweep_hedges: hedge methods of the sweep.
        folds: walk-forward folds of the sweep (1 = one in/out-of-sample split).
        periods_per_year: annualisation override (None: from the bar size, 365-day year).
        funding_rate: constant funding rate per funding time (8-hourly) for a perpetual leg (a ``_PERP``
            name) with no funding stored for the range; None (default): such a leg is not charged
            funding. Stored funding rates (``TickStore.funding``) are always used when present.
    """

    y_symbol: str | None = None
    x_symbol: str | None = None
    bar_size: str | None = None
    start: str | None = None
    end: str | None = None
    strategy: str = "zscore_band"
    entry: float = 2.0
    exit: float = 0.5
    window: int = 120
    stop: float | None = None
    max_hold: int | None = None
    scale: float = 1.0
    hedge: str = "rolling"
    hedge_window: int | None = None
    train: float = 0.7
    kalman_delta: float = 1e-4
    kalman_ve: float = 1e-3
    kalman_warmup: int = 50
    fill: str = "next_close"
    sizing: str = "hedge"
    notional: float = 10_000.0
    fee_bps: float = 5.5
    half_spread_bps: float = 0.5
    slippage_bps: float = 0.0
    sweep_entries: tuple[float, ...] = (1.5, 2.0, 2.5, 3.0)
    sweep_exits: tuple[float, ...] = (0.0, 0.5, 1.0)
    sweep_windows: tuple[int, ...] = (60, 120, 240)
    sweep_hedges: tuple[str, ...] = ("rolling",)
    folds: int = 1
    periods_per_year: float | None = None
    funding_rate: float | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise DashboardError(f"strategy={self.strategy!r}: expected one of {', '.join(STRATEGIES)}")
        if self.y_symbol is not None and self.y_symbol == self.x_symbol:
            raise DashboardError(f"y_symbol and x_symbol are both {self.y_symbol!r}; pick two symbols")
        for name in ("sweep_entries", "sweep_exits", "sweep_windows", "sweep_hedges"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "PageParams":
        """Build from a dict (e.g. the notebook's parameters), ignoring unknown keys."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def strategy_object(self) -> Any:
        """The strategy these parameters describe (see :func:`build_strategy`)."""
        return build_strategy(self)

    def hedge_object(self, n_bars: int) -> Hedge | str:
        """The hedge spec for ``n_bars`` bars (a static hedge is fitted on the first ``train`` fraction)."""
        if self.strategy == "kalman":
            return "kalman"
        if self.hedge == "static":
            return Hedge("static", train=max(3, int(self.train * n_bars)))
        if self.hedge == "rolling":
            return Hedge("rolling", window=self.hedge_window)
        return Hedge("kalman", delta=self.kalman_delta, ve=self.kalman_ve)

    def execution(self) -> Execution:
        """The execution model."""
        return Execution(fill=self.fill, sizing=self.sizing, notional=self.notional,
                         rebalance=self.strategy in ("linear", "kalman"))

    def costs(self) -> Costs:
        """The cost model."""
        return Costs(fee_bps=self.fee_bps, half_spread_bps=self.half_spread_bps, slippage_bps=self.slippage_bps)


def build_strategy(p: PageParams) -> Any:
    """The strategy object for page parameters ``p``.

    Raises:
        BacktestError: invalid thresholds (e.g. exit above entry).
    """
    if p.strategy == "zscore_band":
        return ZScoreBand(entry=p.entry, exit=p.exit, window=p.window, stop=p.stop, max_hold=p.max_hold)
    if p.strategy == "bollinger":
        return BollingerBands(window=p.window, k_entry=p.entry, k_exit=p.exit, stop=p.stop, max_hold=p.max_hold)
    if p.strategy == "linear":
        return LinearReversion(window=p.window, scale=p.scale)
    return KalmanSignal(entry=p.entry, exit=p.exit, delta=p.kalman_delta, ve=p.kalman_ve, warmup=p.kalman_warmup,
                        stop=p.stop, max_hold=p.max_hold)


def _load(store: "TickStore", y_symbol: str, x_symbol: str, bar_size: str, start: Any, end: Any) -> PairBars:
    """The pair's aligned bars (the pair loader), page errors as DashboardError."""
    try:
        return load_pair(store, y_symbol, x_symbol, bar_size, start, end, min_bars=3)
    except (QuantkitError, ValueError) as exc:  # no / too few bars, unknown symbol, a bar size the store cannot make
        raise DashboardError(str(exc).strip("'\"")) from None


def _names(p: PageParams, data: pd.DataFrame) -> tuple[str, str]:
    """The legs' names: the parameters' symbols, else the data's column names."""
    return str(p.y_symbol or data.columns[0]), str(p.x_symbol or data.columns[1])


def _ms(index: pd.Index) -> np.ndarray:
    """bqplot-friendly times: datetime64[ms] (naive UTC) for a DatetimeIndex, else float positions."""
    if isinstance(index, pd.DatetimeIndex):
        idx = index.tz_convert(None) if index.tz is not None else index
        return idx.values.astype("datetime64[ms]")
    return np.arange(len(index), dtype=np.float64)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, pd.Timedelta):
        return str(v.floor("s"))
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:,.6g}"
    return html.escape(str(v))


def _table(frame: pd.DataFrame, *, index: bool = True) -> str:
    return frame.to_html(index=index, escape=True, border=0, na_rep="-", float_format=lambda v: f"{v:,.6g}",
                         classes="quantkit-table")


class BacktestPage:
    """The interactive backtest page (controls, figures and tables) over a tick store.

    Args:
        store: the tick store to read bars from, or None to use :meth:`set_data` only.
        params: initial parameters (default :class:`PageParams()`); keyword overrides allowed.
        **overrides: fields of :class:`PageParams` to change.

    Attributes:
        params: the parameters of the last run.
        data: the two close series of the last load (DataFrame, one column per leg).
        result: the last :class:`~quantkit.backtest.BacktestResult` (None before :meth:`run`).
        sweep: the last :class:`~quantkit.backtest.SweepResult` (None before :meth:`run_sweep`).
        last_error: the message of the last failed run shown on the page, or None.
        widget: the whole page (an ``ipywidgets.VBox``).
    """

    def __init__(self, store: "TickStore | None" = None, params: PageParams | None = None, **overrides: Any) -> None:
        self.store = store
        self.last_error: str | None = None
        base = params or PageParams()
        self.params = replace(base, **overrides) if overrides else base
        #: What the page chose when the parameters left the pair or bar size open ("" otherwise).
        self.chosen = ""
        #: The pair loader's note on the last load (a split sample), or "".
        self.note = ""
        #: The pair last read from the store (None before a load, or after :meth:`set_data`).
        self.pair: PairBars | None = None
        if store is not None and (self.params.y_symbol is None or self.params.x_symbol is None or self.params.bar_size is None):
            try:
                self._resolve()
            except QuantkitError as exc:  # an empty store: the page still opens and says why it has no pair
                self.last_error = self.chosen = str(exc)
        self.data: pd.DataFrame | None = None
        self.opens: pd.DataFrame | None = None
        self.result: BacktestResult | None = None
        self.sweep: SweepResult | None = None
        self._loaded_key: tuple[Any, ...] | None = None
        self._build()
        if self.last_error:
            self.status.value = f"<span style='color:#b00'>{html.escape(self.last_error)}</span>"

    def _resolve(self) -> None:
        """Choose the missing pair / bar size from the store, as the research page does."""
        from quantkit.dashboard.research import ResearchParams, resolve_params

        p = self.params
        need = max(3 * p.window, 100)
        rp, chosen = resolve_params(self.store, ResearchParams(y_symbol=p.y_symbol, x_symbol=p.x_symbol,
                                                              bar_size=p.bar_size, window=max(10, need // 3)))
        self.params = replace(p, y_symbol=rp.y_symbol, x_symbol=rp.x_symbol, bar_size=rp.bar_size)
        self.chosen = chosen

    # ------------------------------------------------------------------ widgets
    def _build(self) -> None:
        import bqplot as bq
        import ipywidgets as w

        p = self.params
        symbols = self._symbols()
        opts = sorted(set(symbols) | {s for s in (p.y_symbol, p.x_symbol) if s is not None})
        lay = w.Layout(width="170px")
        self.controls = {
            "y_symbol": w.Dropdown(options=opts, value=p.y_symbol, description="Y", layout=lay),
            "x_symbol": w.Dropdown(options=opts, value=p.x_symbol, description="X", layout=lay),
            "bar_size": w.Dropdown(options=sorted(set(BAR_SIZES) | ({p.bar_size} if p.bar_size else set()), key=_bar_key), value=p.bar_size,
                                   description="bars", layout=lay),
            "start": w.Text(value=p.start or "", description="start", placeholder="YYYY-MM-DD", layout=lay),
            "end": w.Text(value=p.end or "", description="end", placeholder="YYYY-MM-DD", layout=lay),
            "strategy": w.Dropdown(options=STRATEGIES, value=p.strategy, description="strategy", layout=lay),
            "entry": w.FloatText(value=p.entry, description="entry", step=0.1, layout=lay),
            "exit": w.FloatText(value=p.exit, description="exit", step=0.1, layout=lay),
            "window": w.IntText(value=p.window, description="window", layout=lay),
            "stop": w.FloatText(value=p.stop if p.stop is not None else 0.0, description="stop (0=off)", layout=lay),
            "max_hold": w.IntText(value=p.max_hold or 0, description="max hold", layout=lay),
            "hedge": w.Dropdown(options=("static", "rolling", "kalman"), value=p.hedge, description="hedge",
                                layout=lay),
            "fill": w.Dropdown(options=("next_close", "same_close", "next_open"), value=p.fill, description="fill",
                               layout=lay),
            "notional": w.FloatText(value=p.notional, description="notional", layout=lay),
            "fee_bps": w.FloatText(value=p.fee_bps, description="fee bps", layout=lay),
            "half_spread_bps": w.FloatText(value=p.half_spread_bps, description="½ spread bps", layout=lay),
        }
        self.run_button = w.Button(description="Run", button_style="primary")
        self.sweep_button = w.Button(description="Sweep")
        self.run_button.on_click(lambda _: self._safe(self.run_from_controls))
        self.sweep_button.on_click(lambda _: self._safe(self.sweep_from_controls))
        self.status = w.HTML()
        c = self.controls
        control_box = w.VBox([
            w.HBox([c["y_symbol"], c["x_symbol"], c["bar_size"], c["start"], c["end"]]),
            w.HBox([c["strategy"], c["entry"], c["exit"], c["window"], c["stop"], c["max_hold"]]),
            w.HBox([c["hedge"], c["fill"], c["notional"], c["fee_bps"], c["half_spread_bps"], self.run_button,
                    self.sweep_button]),
            self.status,
        ])

        def fig(title: str, ylabel: str, marks: list[Any], sx: Any, sy: Any, height: str = "220px",
                tick_format: str = ".3s") -> Any:
            ax_x = bq.Axis(scale=sx, label="")
            ax_y = bq.Axis(scale=sy, orientation="vertical", label=ylabel, tick_format=tick_format)
            return bq.Figure(marks=marks, axes=[ax_x, ax_y], title=title, animation_duration=0,
                             layout=w.Layout(width="100%", height=height),
                             fig_margin={"top": 30, "bottom": 30, "left": 60, "right": 20})

        sx = bq.DateScale()
        self.equity_line = bq.Lines(x=[], y=[], scales={"x": sx, "y": bq.LinearScale()}, colors=["#1f77b4"])
        self.equity_fig = fig("Equity (quote)", "equity", [self.equity_line], sx, self.equity_line.scales["y"])
        self.drawdown_line = bq.Lines(x=[], y=[], scales={"x": sx, "y": bq.LinearScale()}, colors=["#d62728"],
                                      fill="bottom", fill_opacities=[0.3])
        self.drawdown_fig = fig("Drawdown", "", [self.drawdown_line], sx, self.drawdown_line.scales["y"],
                                "160px", tick_format=".1%")
        self.position_lines = bq.Lines(x=[], y=[[], []], scales={"x": sx, "y": bq.LinearScale()},
                                       colors=["#2ca02c", "#9467bd"], labels=["y", "x"], display_legend=True)
        self.position_fig = fig("Positions (quote notional per leg)", "notional", [self.position_lines], sx,
                                self.position_lines.scales["y"], "180px")
        sz = bq.LinearScale()
        self.z_line = bq.Lines(x=[], y=[], scales={"x": sx, "y": sz}, colors=["#555555"], stroke_width=1)
        self.z_bands = bq.Lines(x=[], y=[[], [], [], []], scales={"x": sx, "y": sz},
                                colors=["#d62728", "#d62728", "#2ca02c", "#2ca02c"], line_style="dashed")
        self.entry_marks = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sz}, marker="triangle-up",
                                      colors=["#2ca02c"], default_size=40)
        self.short_marks = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sz}, marker="triangle-down",
                                      colors=["#d62728"], default_size=40)
        self.exit_marks = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sz}, marker="circle", colors=["#000000"],
                                     default_size=20)
        self.z_fig = fig("z-score, thresholds and trades (▲ long, ▼ short, ● exit)", "z",
                         [self.z_line, self.z_bands, self.entry_marks, self.short_marks, self.exit_marks], sx, sz,
                         "240px", tick_format=".1f")
        self.metrics_html = w.HTML()
        self.trades_html = w.HTML()
        def heat(title: str) -> tuple[Any, Any]:
            col = bq.ColorScale(scheme="RdYlGn")
            mark = bq.GridHeatMap(color=np.zeros((2, 2)), row=np.array([0.0, 1.0]), column=np.array([0.0, 1.0]),
                                  scales={"row": bq.OrdinalScale(reverse=True), "column": bq.OrdinalScale(),
                                          "color": col})
            figure = bq.Figure(
                marks=[mark], title=title, animation_duration=0,
                axes=[bq.Axis(scale=mark.scales["column"], label="exit"),
                      bq.Axis(scale=mark.scales["row"], orientation="vertical", label="entry"),
                      bq.ColorAxis(scale=col, orientation="vertical", side="right", tick_format=".2f", num_ticks=3)],
                fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 90},
                layout=w.Layout(width="420px", height="340px"))
            return mark, figure

        self.heatmap, self.heatmap_fig = heat("In-sample")
        self.heatmap_oos, self.heatmap_oos_fig = heat("Out-of-sample")
        self.sweep_html = w.HTML()
        self.widget = w.VBox([
            control_box,
            self.equity_fig,
            self.drawdown_fig,
            self.position_fig,
            self.z_fig,
            w.HBox([w.VBox([w.HTML("<b>Metrics</b>"), self.metrics_html]),
                    w.VBox([w.HTML("<b>Trades</b>"), self.trades_html],
                           layout=w.Layout(overflow="auto", max_height="640px"))]),
            w.HBox([self.heatmap_fig, self.heatmap_oos_fig]),
            self.sweep_html,
        ])

    def _symbols(self) -> list[str]:
        if self.store is None:
            return []
        try:
            return stored_symbols(self.store)
        except QuantkitError as exc:  # the page still works with typed symbols
            log.warning("could not list the store's symbols: %s", exc)
            return []

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)

    def _safe(self, fn: Any) -> None:
        try:
            fn()
        except (QuantkitError, ValueError) as exc:
            self.last_error = str(exc)
            self.status.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            log.info("backtest page: %s", exc)

    # ------------------------------------------------------------------ data and runs
    def params_from_controls(self) -> PageParams:
        """The parameters currently shown in the controls."""
        c = self.controls
        stop = float(c["stop"].value)
        hold = int(c["max_hold"].value)
        return replace(
            self.params,
            y_symbol=c["y_symbol"].value, x_symbol=c["x_symbol"].value, bar_size=c["bar_size"].value,
            start=c["start"].value or None, end=c["end"].value or None, strategy=c["strategy"].value,
            entry=float(c["entry"].value), exit=float(c["exit"].value), window=int(c["window"].value),
            stop=stop if stop > 0 else None, max_hold=hold if hold > 0 else None, hedge=c["hedge"].value,
            fill=c["fill"].value, notional=float(c["notional"].value), fee_bps=float(c["fee_bps"].value),
            half_spread_bps=float(c["half_spread_bps"].value),
        )

    @property
    def funding_note(self) -> str:
        """Where the perpetual legs' funding comes from ("" without a perpetual leg or a store)."""
        return self.pair.funding_note(self.params.funding_rate) if self.pair is not None else ""

    def set_data(self, frame: pd.DataFrame, opens: pd.DataFrame | None = None) -> None:
        """Use these two close columns (first = y), and optionally opens, instead of reading the store."""
        if frame.shape[1] != 2:
            raise DashboardError(f"set_data: expected two close columns, got {list(frame.columns)}")
        self.data = frame.astype("float64")
        self.opens = opens.astype("float64") if opens is not None else None
        self.pair = None
        self._loaded_key = ("given",)

    def load(self, params: PageParams | None = None) -> pd.DataFrame:
        """Read both legs' bars from the store (cached while pair, bar size and range are unchanged)."""
        p = params or self.params
        key = (p.y_symbol, p.x_symbol, p.bar_size, p.start, p.end)
        if self.data is not None and self._loaded_key in (key, ("given",)):
            return self.data
        if self.store is None:
            raise DashboardError("no store: pass one to BacktestPage or call set_data()")
        if p.y_symbol is None or p.x_symbol is None or p.bar_size is None:
            raise DashboardError("choose two symbols and a bar size")
        self.pair = _load(self.store, p.y_symbol, p.x_symbol, p.bar_size, p.start, p.end)
        self.note = self.pair.note
        self.data, self.opens = self.pair.field("close"), self.pair.field("open")
        self._loaded_key = key
        return self.data

    def run(self, params: PageParams | None = None, **overrides: Any) -> BacktestResult:
        """Load the bars if needed, run the backtest, and update figures and tables.

        Raises:
            BacktestError, DashboardError: bad parameters or data (also shown on the page by the buttons).
        """
        p = params or self.params
        if overrides:
            p = replace(p, **overrides)
        data = self.load(p)
        y, x = data.iloc[:, 0], data.iloc[:, 1]
        opens = self.opens if p.fill == "next_open" else None
        if p.fill == "next_open" and opens is None:
            raise DashboardError("fill='next_open' needs open prices (load from a store or pass opens to set_data)")
        fy, fx = self.pair.funding(p.funding_rate) if self.pair is not None else (None, None)
        res = backtest_pair(y, x, p.strategy_object(), hedge=p.hedge_object(len(data)), execution=p.execution(),
                            costs=p.costs(), periods_per_year=p.periods_per_year, names=_names(p, data),
                            funding_y=fy, funding_x=fx,
                            y_open=None if opens is None else opens.iloc[:, 0],
                            x_open=None if opens is None else opens.iloc[:, 1])
        self.params = p
        self.result = res
        self.last_error = None
        self._show_result(res, p)
        return res

    def run_sweep(self, params: PageParams | None = None, **overrides: Any) -> SweepResult:
        """Run the parameter sweep (z-score band) with the in/out-of-sample split and show it."""
        p = params or self.params
        if overrides:
            p = replace(p, **overrides)
        data = self.load(p)
        y, x = data.iloc[:, 0], data.iloc[:, 1]
        sw = sweep_pair(y, x, entries=p.sweep_entries, exits=p.sweep_exits, windows=p.sweep_windows,
                        hedges=p.sweep_hedges, stop=p.stop, max_hold=p.max_hold,
                        split=Split(train=p.train, folds=p.folds), execution=replace(p.execution(), rebalance=False),
                        costs=p.costs(), periods_per_year=p.periods_per_year, names=_names(p, data))
        self.params = p
        self.sweep = sw
        self._show_sweep(sw)
        return sw

    def run_from_controls(self) -> BacktestResult:
        """Button handler: run with the controls' parameters."""
        return self.run(self.params_from_controls())

    def sweep_from_controls(self) -> SweepResult:
        """Button handler: sweep with the controls' pair and costs."""
        return self.run_sweep(self.params_from_controls())

    # ------------------------------------------------------------------ views
    def _show_result(self, res: BacktestResult, p: PageParams) -> None:
        n = len(res.index)
        t = _ms(res.index)
        notional = res.sim.positions * res.close
        z = res.indicator
        td, eq_d, dd_d, p0_d, p1_d, z_d = decimate_lines(
            t, res.equity.to_numpy(), res.drawdown.to_numpy(), notional[:, 0], notional[:, 1],
            np.where(np.isfinite(z), z, np.nan), max_points=MAX_POINTS,
        )
        with self.equity_line.hold_sync():
            self.equity_line.x = td
            self.equity_line.y = eq_d
        with self.drawdown_line.hold_sync():
            self.drawdown_line.x = td
            self.drawdown_line.y = dd_d
        with self.position_lines.hold_sync():
            self.position_lines.x = td
            self.position_lines.y = [p0_d, p1_d]
            self.position_lines.labels = list(res.legs)
        with self.z_line.hold_sync():
            self.z_line.x = td
            self.z_line.y = z_d
        band = p.entry if p.strategy != "linear" else 1.0
        ex = p.exit if p.strategy != "linear" else 0.0
        ends = np.array([t[0], t[-1]]) if n else np.array([])
        with self.z_bands.hold_sync():
            self.z_bands.x = ends
            self.z_bands.y = [[band, band], [-band, -band], [ex, ex], [-ex, -ex]]
        tr = res.trades
        sig = res.index.get_indexer(pd.Index(tr["signal_time"])) if len(tr) else np.zeros(0, dtype=np.int64)
        side = tr["side"].to_numpy() if len(tr) else np.zeros(0)
        longs, shorts = sig[side > 0], sig[side < 0]
        self.entry_marks.x, self.entry_marks.y = t[longs], z[longs]
        self.short_marks.x, self.short_marks.y = t[shorts], z[shorts]
        closed = tr[tr["closed"]] if len(tr) else tr
        exits = (closed["exit_bar"].to_numpy() - res.params["execution"]["fill"].startswith("next")) if len(closed) \
            else np.zeros(0, dtype=np.int64)
        exits = np.clip(exits.astype(np.int64), 0, max(n - 1, 0))
        self.exit_marks.x, self.exit_marks.y = t[exits], z[exits]
        self.metrics_html.value = self.metrics_table_html()
        self.trades_html.value = self.trades_table_html()
        m = res.metrics
        note = " ".join(t for t in (self.chosen, self.note, self.funding_note) if t)
        self.status.value = (f"{html.escape(res.legs[0])}/{html.escape(res.legs[1])}: {n:,} {p.bar_size} bars "
                             f"{res.index[0]} → {res.index[-1]}; {m.n_trades} trades, Sharpe {_fmt(m.sharpe)}, "
                             f"P&L {_fmt(m.total_pnl)}" + (f" (funding {_fmt(m.funding)})" if self.funding_note else "")
                             + (f"<br><i>{html.escape(note)}</i>" if note else ""))

    def metrics_table_html(self) -> str:
        """The metrics of the last run as an HTML table."""
        if self.result is None:
            return ""
        mf = self.result.metrics.to_frame()
        mf["value"] = [_fmt(v) for v in mf["value"]]
        return _table(mf)

    def trades_table_html(self, limit: int = 100) -> str:
        """The last ``limit`` trades as an HTML table."""
        if self.result is None:
            return ""
        tr = self.result.trades
        if len(tr) == 0:
            return "<i>no trades</i>"
        cols = [c for c in ["side", "entry_time", "exit_time", "holding_time", "entry_gross", "pnl", "return",
                            "fees", "closed"] if c in tr.columns]
        return f"<div>{len(tr)} trades, last {min(limit, len(tr))}:</div>" + _table(tr[cols].tail(limit))

    def oos_table(self) -> pd.DataFrame:
        """The in-sample optimum of each fold next to its out-of-sample performance."""
        if self.sweep is None:
            return pd.DataFrame()
        return self.sweep.walk_forward.copy()

    def _show_sweep(self, sw: SweepResult) -> None:
        best = sw.best()
        window = int(best["window"]) if best is not None else None
        hedge = str(best["hedge"]) if best is not None else None
        for mark, fig_, sample in ((self.heatmap, self.heatmap_fig, "in"), (self.heatmap_oos, self.heatmap_oos_fig,
                                                                              "out")):
            hm = sw.heatmap(sw.select, sample=sample, window=window, hedge=hedge)
            with mark.hold_sync(), mark.hold_trait_notifications():  # row/column/color are cross-validated
                mark.row = np.asarray(hm.index, dtype=np.float64)
                mark.column = np.asarray(hm.columns, dtype=np.float64)
                mark.color = hm.to_numpy(dtype=np.float64)
            label = "In-sample" if sample == "in" else "Out-of-sample"
            fig_.title = f"{label} {sw.select} (window {window}, {hedge})"
        wf = self.oos_table()
        head = ""
        if best is not None:
            head = (f"<div>In-sample optimum ({sw.select}): window {int(best['window'])}, hedge {best['hedge']}, "
                    f"entry {best['entry']:g}, exit {best['exit']:g}</div>")
        wfm = sw.walk_forward_metrics
        tail = ""
        if wfm is not None:
            tail = (f"<div>Out-of-sample (stitched over folds): {sw.select} {_fmt(getattr(wfm, sw.select))}, "
                    f"total return {_fmt(wfm.total_return)}, trades {wfm.n_trades}</div>")
        self.sweep_html.value = head + _table(wf, index=False) + tail

    # ------------------------------------------------------------------ summaries
    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary of the last run and sweep (what the notebook prints)."""
        out: dict[str, Any] = {"params": {k: getattr(self.params, k) for k in
                                          (f.name for f in fields(PageParams))},
                               "note": " ".join(t for t in (self.chosen, self.note, self.funding_note) if t)}
        if self.result is not None:
            r = self.result
            out["bars"] = len(r.index)
            out["first"] = str(r.index[0])
            out["last"] = str(r.index[-1])
            out["metrics"] = r.metrics.to_dict()
            out["trades"] = int(len(r.trades))
            out["final_equity"] = float(r.equity.iloc[-1])
        if self.sweep is not None:
            best = self.sweep.best()
            out["sweep"] = {
                "runs": int(len(self.sweep.frame) // 2),
                "best": None if best is None else {k: _plain(best[k]) for k in
                                                   ("hedge", "window", "entry", "exit", self.sweep.select)},
                "walk_forward": [{k: _plain(v) for k, v in row.items()} for row in
                                 self.sweep.walk_forward.to_dict(orient="records")],
            }
        return out

    def summary_json(self) -> str:
        """:meth:`summary` as JSON text (NaN kept as ``NaN``)."""
        return json.dumps(self.summary(), default=str)


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, pd.Timestamp):
        return str(v)
    return v


_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "D": 86400.0}


def _bar_key(freq: str) -> float:
    """Seconds in a bar size such as ``"5m"``, ``"15min"``, ``"1h"`` (inf if unknown), for sorting."""
    num = freq.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = freq[len(num):]
    try:
        return float(num or 1) * _UNIT_SECONDS[unit]
    except (KeyError, ValueError):
        return math.inf

