"""What a report notebook displays: tables (HTML) and charts (static PNG), both readable offline.

* :class:`Table` wraps a DataFrame and renders as an HTML ``<table>`` with a
  stable ``id`` (``qk-<name>``) and numbers at 6 significant digits, so the
  HTML can be read back by people and by tests.
* :class:`Chart` wraps a matplotlib ``Figure`` (built without pyplot: no global
  state, safe in threads) and renders as ``image/png`` only: the exported HTML
  holds the picture as a data URI and needs no script or network to show it.
* :class:`Note` is a short Markdown/HTML paragraph (a verdict, a warning).

Charts keep at most :data:`MAX_POINTS` points per line (min/max per bucket, so
spikes survive): a month of 1-minute bars draws as fast as a day.
"""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


__all__ = ["Chart", "MAX_POINTS", "Note", "Table", "decimate", "figure", "format_value", "xy"]

#: Most points drawn per line; longer series are reduced to per-bucket min/max.
MAX_POINTS: int = 4000


def format_value(value: Any) -> str:
    """A cell's text: floats to 6 significant digits, timestamps to the minute, None/NaN as an em dash."""
    if value is None or value is pd.NaT or value is pd.NA:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        return f"{v:.6g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M") if value.second == 0 else value.isoformat()
    if isinstance(value, pd.Timedelta):
        return str(value)
    return str(value)


@dataclass(frozen=True, eq=False)
class Table:
    """A DataFrame shown as a plain HTML table.

    Attributes:
        name: short id; the table renders as ``<table id="qk-<name>">``.
        frame: the data; the index becomes the first column.
        caption: optional line of text shown above the table.
    """

    name: str
    frame: pd.DataFrame
    caption: str = ""

    def to_html(self) -> str:
        """The caption and ``<table>`` markup (values formatted with :func:`format_value`, text escaped)."""
        f = self.frame
        index_name = f.index.name or ""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [index_name, *f.columns])
        rows = []
        for label, row in zip(f.index, f.itertuples(index=False, name=None)):
            cells = "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row)
            rows.append(f"<tr><th>{html.escape(format_value(label))}</th>{cells}</tr>")
        caption = f'<p class="qk-caption">{html.escape(self.caption)}</p>' if self.caption else ""
        body = "".join(rows) if rows else f'<tr><td colspan="{len(f.columns) + 1}">(none)</td></tr>'
        return (
            f'<div class="qk-block">{caption}<table id="qk-{html.escape(self.name)}" class="qk-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"Table({self.name!r})\n{self.frame.to_string()}"


@dataclass(frozen=True, eq=False)
class Note:
    """A short paragraph: ``text`` is shown as-is in HTML (escaped) with an optional bold ``title``."""

    name: str
    text: str
    title: str = ""

    def _repr_html_(self) -> str:
        title = f"<strong>{html.escape(self.title)}</strong> " if self.title else ""
        return f'<p id="qk-{html.escape(self.name)}" class="qk-note">{title}{html.escape(self.text)}</p>'

    def __repr__(self) -> str:
        return f"{self.title} {self.text}".strip()


@dataclass(eq=False)
class Chart:
    """A static chart: a matplotlib ``Figure`` rendered to PNG on display.

    Attributes:
        name: short id (used in the PNG's metadata and in tests).
        figure: the matplotlib figure (build it with :func:`figure`).
        dpi: resolution of the PNG (default 100).
        alt: text alternative of the image (default: the axes' titles).
    """

    name: str
    figure: Any
    dpi: int = 100
    alt: str = ""
    _png: bytes | None = field(default=None, repr=False)

    def png(self) -> bytes:
        """The chart as PNG bytes (rendered once, then cached)."""
        if self._png is None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            FigureCanvasAgg(self.figure)
            buf = io.BytesIO()
            self.figure.savefig(buf, format="png", dpi=self.dpi, metadata={"Title": self.name})
            self._png = buf.getvalue()
        return self._png

    def description(self) -> str:
        """The ``alt`` text: given, else the axes' titles, else the name."""
        if self.alt:
            return self.alt
        titles = [ax.get_title() for ax in getattr(self.figure, "axes", []) if ax.get_title()]
        return "; ".join(titles) or self.name

    def _repr_png_(self) -> tuple[bytes, dict[str, str]]:
        return self.png(), {"alt": self.description()}

    def __repr__(self) -> str:
        return f"Chart({self.name!r})"


def figure(
    rows: int = 1,
    *,
    height: float = 3.2,
    width: float = 11.0,
    sharex: bool = True,
    ratios: list[float] | None = None,
    time_axis: bool = True,
    right: float = 0.985,
) -> tuple[Any, list[Any]]:
    """A matplotlib Figure with ``rows`` stacked axes (no pyplot).

    Margins are fixed (in inches, so every chart lines up) rather than computed by a layout
    engine: constrained layout was half of the drawing time of a report's charts.

    Args:
        rows: number of stacked axes.
        height: inches per row (or in total when ``ratios`` is given).
        width: inches.
        sharex: share the x axis.
        ratios: relative row heights.
        time_axis: concise date ticks on the x axis (default True).
        right: right edge of the axes as a fraction of the width (lower it for a twin y axis).

    Returns:
        ``(figure, axes)``; ``axes`` is always a list.
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    total = height * rows if ratios is None else height
    fig = Figure(figsize=(width, total))
    fig.subplots_adjust(left=0.8 / width, right=right, top=1.0 - 0.35 / total, bottom=0.5 / total, hspace=0.12)
    gs = {"height_ratios": ratios} if ratios is not None else None
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False, gridspec_kw=gs)[:, 0].tolist()
    for ax in axes:
        ax.grid(True, alpha=0.3)
        if time_axis:
            locator = AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return fig, axes


def decimate(series: pd.Series, max_points: int = MAX_POINTS) -> pd.Series:
    """At most ~``max_points`` points of ``series`` for drawing: the min and max of each bucket, in time order.

    NaNs are dropped first. Short series are returned unchanged. The one chart decimator,
    :func:`quantkit.analytics.decimation.decimate_series`.
    """
    # imported here: importing quantkit.analytics loads statsmodels/scipy (~0.7 s), which every `quantkit`
    # command would pay at start-up through quantkit.reports.commands -> quantkit.reports -> this module
    from quantkit.analytics.decimation import decimate_series

    return decimate_series(series, max_points)


def xy(series: pd.Series, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` arrays ready to plot: decimated, NaN-free, times as naive UTC ``datetime64``.

    matplotlib converts ``datetime64`` arrays in one go (a tz-aware index goes Timestamp by Timestamp).
    """
    s = decimate(series, max_points)
    idx = s.index
    if isinstance(idx, pd.DatetimeIndex):
        x = (idx.tz_convert("UTC").tz_localize(None) if idx.tz is not None else idx).to_numpy()
    else:
        x = np.asarray(idx)
    return x, s.to_numpy(dtype=np.float64)
