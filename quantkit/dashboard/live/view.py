"""The live dashboard's widgets: controls, bqplot figures and HTML panels, and how to draw into them.

:class:`DashboardView` only builds widgets and writes them; it computes
nothing and reads no store. Writes happen from one thread (the dashboard's
publisher), each chart update inside ``hold_sync`` so x and y travel in one
message. Control observers do not touch any widget: they hand the new value to
``post`` (the publisher validates it). Times are drawn from ``datetime64[ms]``
arrays on a shared :class:`bqplot.DateScale` (int64 would be cast to int32 by
bqplot's serializer).

Figures: prices (Y left axis, X right axis; lines or candles), quote volume,
spread with its mean and ±k sigma bands, z-score with the entry/exit
thresholds, return correlation with its floor, hedge ratio. Panels: metrics
strip, feed status, alerts, export. Nothing in widget state is secret: the
store URI never reaches a widget.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from quantkit.dashboard.live.params import BAR_CHOICES, PRICE_STYLES, LiveParams

__all__ = ["DashboardView"]

Y_COLOR = "#1f77b4"
X_COLOR = "#ff7f0e"
_EMPTY_T = np.array([], dtype="datetime64[ms]")
_EMPTY = np.array([], dtype=np.float64)
_METHOD_LABELS = (("OLS", "ols"), ("Huber", "huber"), ("Kalman", "kalman"))

_CSS = """
<style>
.qk-live table {border-collapse: collapse; font-size: 12px;}
.qk-live td, .qk-live th {padding: 1px 8px; text-align: right; white-space: nowrap;}
.qk-live th {color: #555; font-weight: normal;}
.qk-live .qk-err {color: #b00; font-weight: bold;}
.qk-live .qk-ok {color: #080;}
.qk-live .qk-warn {color: #b60;}
.qk-live .qk-long {color: #080;}
.qk-live .qk-short {color: #b00;}
</style>
"""


class DashboardView:
    """Build the widgets of the live dashboard.

    Args:
        params: the initial parameters (set the controls).
        post: called by control observers as ``post(kind, payload)``: ``("set", {field: value})``,
            ``("pause", bool)``, ``("export", None)``, ``("heartbeat", value)``.
        read_only: hide what writes (export) and lock the analysis controls; only the
            view controls (:data:`~quantkit.dashboard.live.params.VIEW_FIELDS`) stay enabled.
        heartbeat_ms: browser heartbeat period (an ``ipywidgets.Play`` ticking in the page), ms.

    Attributes:
        widget: the root ``ipywidgets.VBox``.
        figures: the bqplot figures by name (``prices``, ``volume``, ``spread``, ``z``, ``corr``, ``beta``).
        marks: the bqplot marks by name.
        controls: the control widgets by parameter name (plus ``pause``, ``export``).
        metrics, status, alerts, export_note: the HTML panels.
    """

    def __init__(
        self,
        params: LiveParams,
        post: Callable[[str, Any], None],
        *,
        read_only: bool = False,
        heartbeat_ms: int = 2000,
    ) -> None:
        import bqplot as bq
        import ipywidgets as w

        self._post = post
        self.read_only = read_only
        self._quiet = threading.local()

        # ------------------------------------------------------------------ controls
        sym_opts = [s for s in (params.y, params.x) if s]
        lay = w.Layout(width="150px")
        c: dict[str, Any] = {
            "y": w.Dropdown(options=sym_opts, value=params.y, description="Y", layout=w.Layout(width="190px")),
            "x": w.Dropdown(options=sym_opts, value=params.x, description="X", layout=w.Layout(width="190px")),
            "bar": w.ToggleButtons(options=list(BAR_CHOICES), value=params.bar, tooltips=["bar size"] * 3,
                                   style={"button_width": "42px"}),
            "window": w.BoundedIntText(value=params.window, min=10, max=100_000, description="window", layout=lay),
            "method": w.Dropdown(options=list(_METHOD_LABELS), value=params.method, description="hedge",
                                 layout=w.Layout(width="170px")),
            "z_entry": w.BoundedFloatText(value=params.z_entry, min=0.1, max=20, step=0.1, description="z entry",
                                          layout=lay),
            "z_exit": w.BoundedFloatText(value=params.z_exit, min=0.0, max=20, step=0.1, description="z exit",
                                         layout=lay),
            "corr_floor": w.BoundedFloatText(value=params.corr_floor, min=-1, max=1, step=0.05,
                                             description="corr floor", layout=lay),
            "min_volume": w.BoundedFloatText(value=params.min_volume, min=0, max=1e15, step=100,
                                             description="min vol $", layout=w.Layout(width="170px")),
            "price_style": w.ToggleButtons(options=list(PRICE_STYLES), value=params.price_style,
                                           style={"button_width": "72px"}),
            "pause": w.ToggleButton(value=False, description="Pause", icon="pause", layout=w.Layout(width="90px")),
            "export": w.Button(description="Export CSV", icon="download", layout=w.Layout(width="110px")),
        }
        for ctl in c.values():
            if hasattr(ctl, "style") and hasattr(ctl.style, "description_width"):
                ctl.style.description_width = "initial"
        self.controls = c
        for name in ("y", "x", "bar", "window", "method", "z_entry", "z_exit", "corr_floor", "min_volume", "price_style"):
            c[name].observe(self._on_param(name), names="value")
        c["pause"].observe(self._on_pause, names="value")
        c["export"].on_click(self._on_export)
        if read_only:
            for name in ("method", "z_entry", "z_exit", "corr_floor", "min_volume"):
                c[name].disabled = True
            c["export"].layout.display = "none"
        # browser heartbeat: a Play widget ticks in the page and its value changes reach the kernel.
        # The page starts the animation only on a *change* of `playing`: see kick_heartbeat().
        self.heartbeat = w.Play(value=0, min=0, max=1_000_000_000, step=1, interval=int(heartbeat_ms), repeat=True,
                                playing=False, layout=w.Layout(display="none"))
        self.heartbeat.observe(self._on_heartbeat, names="value")

        # ------------------------------------------------------------------ figures
        xs = bq.DateScale()
        self.x_scale = xs
        self.marks: dict[str, Any] = {}
        self.figures: dict[str, Any] = {}

        def fig(name: str, title: str, marks: list[Any], axes: list[Any], height: str = "210px") -> Any:
            f = bq.Figure(marks=marks, axes=axes, title=title, animation_duration=0,
                          fig_margin={"top": 30, "bottom": 25, "left": 65, "right": 65},
                          layout=w.Layout(width="100%", height=height, min_width="300px"),
                          title_style={"font-size": "13px"})
            self.figures[name] = f
            return f

        def xaxis() -> Any:
            return bq.Axis(scale=xs, tick_format="%H:%M:%S", num_ticks=5)

        sy, sx = bq.LinearScale(), bq.LinearScale()
        m = self.marks
        m["y_price"] = bq.Lines(x=_EMPTY_T, y=_EMPTY, scales={"x": xs, "y": sy}, colors=[Y_COLOR], labels=["Y"],
                                stroke_width=1.2)
        m["x_price"] = bq.Lines(x=_EMPTY_T, y=_EMPTY, scales={"x": xs, "y": sx}, colors=[X_COLOR], labels=["X"],
                                stroke_width=1.2)
        m["y_candles"] = bq.OHLC(x=_EMPTY_T, y=np.empty((0, 4)), scales={"x": xs, "y": sy}, marker="candle",
                                 colors=["#2ca02c", "#d62728"], stroke=Y_COLOR, visible=False)
        m["x_candles"] = bq.OHLC(x=_EMPTY_T, y=np.empty((0, 4)), scales={"x": xs, "y": sx}, marker="bar",
                                 stroke=X_COLOR, visible=False)
        self.axis_y = bq.Axis(scale=sy, orientation="vertical", label="Y", label_color=Y_COLOR, tick_format=".4~g",
                              color=Y_COLOR, grid_lines="none")
        self.axis_x = bq.Axis(scale=sx, orientation="vertical", side="right", label="X", label_color=X_COLOR,
                              tick_format=".5~g", color=X_COLOR, grid_lines="none")
        fig("prices", "prices", [m["y_price"], m["x_price"], m["y_candles"], m["x_candles"]],
            [xaxis(), self.axis_y, self.axis_x])

        sv = bq.LinearScale(min=0)
        m["volume"] = bq.Lines(x=_EMPTY_T, y=np.empty((2, 0)), scales={"x": xs, "y": sv}, colors=[Y_COLOR, X_COLOR],
                               fill="bottom", fill_opacities=[0.35, 0.35], opacities=[0.8, 0.8], labels=["Y", "X"],
                               stroke_width=0.8)
        fig("volume", "volume per bar (quote)", [m["volume"]],
            [xaxis(), bq.Axis(scale=sv, orientation="vertical", tick_format=".2~s")], height="150px")

        ss = bq.LinearScale()
        m["spread"] = bq.Lines(x=_EMPTY_T, y=np.empty((4, 0)), scales={"x": xs, "y": ss},
                               colors=["#333333", "#9467bd", "#bbbbbb", "#bbbbbb"], stroke_width=1.0,
                               line_style="solid", labels=["spread", "mean", "+k sd", "-k sd"])
        fig("spread", "spread", [m["spread"]], [xaxis(), bq.Axis(scale=ss, orientation="vertical", tick_format=".3~g")])

        sz = bq.LinearScale()
        m["z"] = bq.Lines(x=_EMPTY_T, y=_EMPTY, scales={"x": xs, "y": sz}, colors=["#333333"], stroke_width=1.0)
        m["z_levels"] = bq.Lines(x=_EMPTY_T, y=np.empty((4, 0)), scales={"x": xs, "y": sz},
                                 colors=["#d62728", "#2ca02c", "#999999", "#999999"], line_style="dashed",
                                 stroke_width=1.0)
        fig("z", "z-score", [m["z"], m["z_levels"]], [xaxis(), bq.Axis(scale=sz, orientation="vertical")])

        sc = bq.LinearScale(min=-1.0, max=1.0)
        m["corr"] = bq.Lines(x=_EMPTY_T, y=_EMPTY, scales={"x": xs, "y": sc}, colors=["#17becf"], stroke_width=1.0)
        m["corr_floor"] = bq.Lines(x=_EMPTY_T, y=_EMPTY, scales={"x": xs, "y": sc}, colors=["#d62728"],
                                   line_style="dashed", stroke_width=1.0)
        fig("corr", "return correlation", [m["corr"], m["corr_floor"]],
            [xaxis(), bq.Axis(scale=sc, orientation="vertical")])

        sb = bq.LinearScale()
        m["beta"] = bq.Lines(x=_EMPTY_T, y=_EMPTY, scales={"x": xs, "y": sb}, colors=["#8c564b"], stroke_width=1.2)
        fig("beta", "hedge ratio", [m["beta"]], [xaxis(), bq.Axis(scale=sb, orientation="vertical", tick_format=".4~g")])

        # ------------------------------------------------------------------ panels
        self.metrics = w.HTML(value="<i>waiting for data...</i>", layout=w.Layout(width="100%"))
        self.status = w.HTML(value="<i>starting...</i>", layout=w.Layout(width="100%"))
        self.alerts = w.HTML(value="<i>no alerts</i>", layout=w.Layout(width="100%"))
        self.export_note = w.HTML(value="")
        self.metrics.add_class("qk-metrics")
        self.status.add_class("qk-status")
        self.alerts.add_class("qk-alerts")

        half = w.Layout(width="50%")
        row = lambda *ws: w.HBox(list(ws), layout=w.Layout(width="100%"))  # noqa: E731
        col = lambda *ws: w.VBox(list(ws), layout=half)  # noqa: E731
        controls = w.VBox([
            w.HBox([c["y"], c["x"], c["bar"], c["window"], c["method"], c["price_style"]],
                   layout=w.Layout(flex_flow="row wrap")),
            w.HBox([c["z_entry"], c["z_exit"], c["corr_floor"], c["min_volume"], c["pause"], c["export"],
                    self.export_note], layout=w.Layout(flex_flow="row wrap")),
        ])  # fmt: skip
        f = self.figures
        self.widget = w.VBox(
            [
                w.HTML(_CSS),
                controls,
                self.metrics,
                row(col(f["prices"], f["volume"]), col(f["spread"], f["z"])),
                row(col(f["corr"]), col(f["beta"])),
                row(col(w.HTML("<b>feed</b>"), self.status), col(w.HTML("<b>alerts</b>"), self.alerts)),
                self.heartbeat,
            ],
            layout=w.Layout(width="100%"),
        )
        self.widget.add_class("qk-live")

    # ---------------------------------------------------------------------------------------------- observers
    def _quiet_now(self) -> bool:
        return bool(getattr(self._quiet, "on", False))

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Silence the control observers while the publisher itself writes the controls."""
        self._quiet.on = True
        try:
            yield
        finally:
            self._quiet.on = False

    def _on_param(self, name: str) -> Callable[[Mapping[str, Any]], None]:
        def handler(change: Mapping[str, Any]) -> None:
            if not self._quiet_now():
                self._post("set", {name: change["new"]})

        return handler

    def _on_pause(self, change: Mapping[str, Any]) -> None:
        if not self._quiet_now():
            self._post("pause", bool(change["new"]))

    def _on_export(self, _button: Any) -> None:
        if not self.read_only:
            self._post("export", None)

    def _on_heartbeat(self, change: Mapping[str, Any]) -> None:
        self._post("heartbeat", change["new"])

    # ---------------------------------------------------------------------------------------------- writes
    def sync_controls(self, params: LiveParams, symbols: Sequence[str] | None = None, *, paused: bool | None = None) -> None:
        """Show ``params`` in the controls (and the symbol choices), without triggering the observers."""
        c = self.controls
        with self.quiet():
            if symbols is not None:
                opts = list(symbols)
                for leg in ("y", "x"):
                    v = getattr(params, leg)
                    o = opts if v is None or v in opts else opts + [v]
                    if list(c[leg].options) != o:
                        with c[leg].hold_sync():
                            c[leg].options = o
                            c[leg].value = v
            for name in ("y", "x", "bar", "window", "method", "z_entry", "z_exit", "corr_floor", "min_volume",
                         "price_style"):
                v = getattr(params, name)
                if c[name].value != v:
                    c[name].value = v
            if paused is not None and c["pause"].value != paused:
                c["pause"].value = paused
                c["pause"].description = "Resume" if paused else "Pause"
                c["pause"].icon = "play" if paused else "pause"

    def draw(self, series: Mapping[str, np.ndarray], params: LiveParams) -> None:
        """Replace every chart's data.

        Args:
            series: ``t`` (datetime64[ms]) and the float columns ``y_close``, ``x_close``,
                ``y_quote_volume``, ``x_quote_volume``, ``spread``, ``mean``, ``upper``, ``lower``,
                ``z``, ``corr``, ``beta``; for candles also ``t_candles`` and ``y_ohlc`` / ``x_ohlc`` (n, 4).
            params: what is drawn (thresholds, style).
        """
        m = self.marks
        t = series["t"]
        candles = params.price_style == "candles"
        edges = t[[0, -1]] if len(t) else _EMPTY_T
        with contextlib.ExitStack() as stack:
            for mark in m.values():
                stack.enter_context(mark.hold_sync())
            m["y_price"].visible = m["x_price"].visible = not candles
            m["y_candles"].visible = m["x_candles"].visible = candles
            if candles:
                tc = series["t_candles"]
                m["y_candles"].x = tc
                m["y_candles"].y = series["y_ohlc"]
                m["x_candles"].x = tc
                m["x_candles"].y = series["x_ohlc"]
            else:
                m["y_price"].x = t
                m["y_price"].y = series["y_close"]
                m["x_price"].x = t
                m["x_price"].y = series["x_close"]
            m["volume"].x = t
            m["volume"].y = np.vstack([series["y_quote_volume"], series["x_quote_volume"]])
            m["spread"].x = t
            m["spread"].y = np.vstack([series["spread"], series["mean"], series["upper"], series["lower"]])
            m["z"].x = t
            m["z"].y = series["z"]
            e, x = params.z_entry, params.z_exit
            m["z_levels"].x = edges
            m["z_levels"].y = np.array([[e, e], [-e, -e], [x, x], [-x, -x]], dtype=float)[:, : len(edges)]
            m["corr"].x = t
            m["corr"].y = series["corr"]
            m["corr_floor"].x = edges
            m["corr_floor"].y = np.full(len(edges), params.corr_floor)
            m["beta"].x = t
            m["beta"].y = series["beta"]
        self.figures["spread"].title = f"spread ({params.method.upper()}) with mean ± {params.k:g} sd"
        self.figures["beta"].title = f"hedge ratio ({params.method.upper()}, window {params.window})"
        self.figures["prices"].title = f"prices: {params.y} (left) / {params.x} (right), {params.bar} bars"
        self.axis_y.label = params.y or "Y"
        self.axis_x.label = params.x or "X"

    def kick_heartbeat(self) -> None:
        """(Re)start the page's heartbeat animation: ``playing`` False then True, as two messages."""
        with self.quiet():
            self.heartbeat.playing = False
            self.heartbeat.playing = True

    def set_html(self, panel: str, value: str) -> None:
        """Replace an HTML panel (``metrics``, ``status``, ``alerts``, ``export_note``) if it changed."""
        wdg = getattr(self, panel)
        if wdg.value != value:
            wdg.value = value
