"""The read-only (Voila) dashboard: the live pair dashboard for viewers who may look but not touch.

A Voila page runs ``notebooks/voila_dashboard.ipynb`` in a kernel of its own for each
page load. Viewers cannot run code there (Voila drops ``execute_request``), but they
can send widget messages (``comm_msg``), so this page is built to take nothing from
them on trust:

* **Read-only data path.** The store is opened for reading only: an LMDB store that
  does not exist yet is *not* created, the alert history is not written
  (``LiveDashboard(read_only=True)``), there is no export, and no ingest is started.
  The store URI comes from the server's environment (``QUANTKIT_ARCTIC_URI``) and
  never reaches a widget, so credentials in it (``s3://...?access=..&secret=..``) are
  never in widget state or in the page; errors shown in the page carry the exception
  type only (details go to the server log).
* **View controls only.** Viewers may change the pair, bar size, window and price style
  (:data:`~quantkit.dashboard.live.params.VIEW_FIELDS`), open a pair from the grid and
  pause the charts. :class:`CommGuard` wraps every widget's message handler: updates to
  any other widget or trait are dropped, a value the widget itself rejects (an index out
  of range, a wrong type) is ignored, and either way the page says what it ignored.
  Values that pass the widgets are validated again by
  :class:`~quantkit.dashboard.live.params.LiveParams` (a window beyond the history is
  refused and shown in the status panel) and symbols must be stored ones.
* **Kernels that go away.** A :class:`~quantkit.dashboard.heartbeat.ViewerLease` ticks in
  the browser; when the ticks stop (tab closed), the publishers stop, the kernel goes
  quiet and the server's idle culler reclaims it (see ``jupyter_config/README.md``).

Layouts: ``"grid"`` shows a small grid of pair tiles (z-score, sparkline, status; one
click opens the pair in the full view, in a second tab, built on first use); ``"single"``
shows the full view only.

Module contents: :class:`ReadOnlyDashboard` (the page), :class:`PairGrid` (the tiles),
:class:`CommGuard` (what the browser may send), :func:`open_store_readonly`,
:func:`route_logs_to_server`, :func:`widget_tree`, :func:`viewer_timeout_from_env`.
"""

from __future__ import annotations

import html
import itertools
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, cast

import numpy as np

from quantkit._threads import ServiceThread, every
from quantkit.config import StoreConfig, viewer_timeout_from_env
from quantkit.dashboard.heartbeat import ViewerLease
from quantkit.errors import DashboardError
from quantkit.symbols import parse_pair

if TYPE_CHECKING:
    from quantkit.dashboard.live import LiveDashboard
    from quantkit.store import TickStore

__all__ = [
    "LAYOUTS",
    "CommGuard",
    "PairGrid",
    "ReadOnlyDashboard",
    "StoreNotReady",
    "VIEWER_TIMEOUT_ENV",
    "open_store_readonly",
    "route_logs_to_server",
    "viewer_timeout_from_env",
    "widget_tree",
]

log = logging.getLogger("quantkit.dashboard")

#: Page layouts of :class:`ReadOnlyDashboard`.
LAYOUTS: tuple[str, ...] = ("grid", "single")
#: Environment variable: seconds without a browser heartbeat before a page stops publishing.
VIEWER_TIMEOUT_ENV = "QUANTKIT_VIEWER_TIMEOUT"  # read by quantkit.config.viewer_timeout_from_env


class StoreNotReady(DashboardError):
    """The store has no data to show yet (an LMDB store that does not exist is not created)."""


def route_logs_to_server() -> None:
    """Send this kernel's quantkit logs and Python warnings to the server's terminal, never to the page.

    In a kernel, ``sys.stderr`` is captured into the running cell's output, which Voila
    renders in the page. Log records (and warnings, which may carry tracebacks or paths)
    go instead to the process's real stderr (``sys.__stderr__``), which is the Voila
    server's log. Idempotent.
    """
    import sys

    stream = sys.__stderr__
    for name in ("quantkit", "py.warnings"):
        logger = logging.getLogger(name)
        if any(getattr(h, "_qk_server_log", False) for h in logger.handlers):
            continue
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("[quantkit kernel %(process)d] %(levelname)s %(name)s: %(message)s"))
        setattr(handler, "_qk_server_log", True)
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    logging.captureWarnings(True)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def open_store_readonly(config: StoreConfig | None = None) -> "TickStore":
    """Open the tick store without creating anything.

    An LMDB store is opened only if it and its library exist (``TickStore(create=False)``); other
    back-ends (S3, Azure) are opened as usual, so that a missing bucket shows as an unavailable store.

    Args:
        config: URI and library; ``None`` reads ``QUANTKIT_ARCTIC_URI`` / ``QUANTKIT_LIBRARY``.

    Raises:
        StoreNotReady: the store or library does not exist yet.
        StoreError: the store cannot be opened.
    """
    from quantkit.errors import StoreNotFoundError
    from quantkit.store import TickStore

    cfg = config or StoreConfig.from_env()
    try:
        return TickStore(config=cfg, create=not cfg.uri.lower().startswith("lmdb://"))
    except StoreNotFoundError:
        raise StoreNotReady(f"no tick store library {cfg.library!r} yet: start the ingest first") from None


# ---------------------------------------------------------------------------------------------- comm guard
def widget_tree(root: Any) -> list[Any]:
    """Every widget reachable from ``root`` through its traits (children, layout, style, marks, scales...)."""
    from ipywidgets import Widget

    seen: dict[int, Any] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, Widget):
            if id(obj) in seen:
                continue
            seen[id(obj)] = obj
            stack.extend(obj.trait_values().values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
    return list(seen.values())


@dataclass(frozen=True)
class _Allowed:
    keys: frozenset[str]
    custom: bool
    label: str


class CommGuard:
    """Accept from the browser only the widget messages a viewer is meant to send.

    Wraps the ``comm`` message handler of every widget under ``root``. A message is passed
    to the widget when it is a ``request_state`` (the page loading its widgets), a state
    update of an allowed widget restricted to its allowed traits, or a ``custom`` message
    (a button click) of a widget allowed to receive them. Everything else is dropped. If the
    widget itself refuses an allowed value (an index out of range, a wrong type), the error
    is caught and the widget's real state is sent again (ipywidgets 8 echoes a value to the
    page before validating it, so the page would otherwise show the refused value). Dropped and refused messages are counted and reported through ``on_reject``
    (never raised, never written anywhere else).

    Args:
        root: the page's root widget.
        on_reject: called with a short, safe description of each ignored message.

    Attributes:
        rejected: messages dropped or refused; passed: messages handed to a widget.
    """

    def __init__(self, root: Any, on_reject: Callable[[str], None] | None = None) -> None:
        self.root = root
        self._on_reject = on_reject
        self._allowed: dict[int, _Allowed] = {}
        self.rejected = 0
        self.passed = 0
        self.installed = 0

    def allow(self, widget: Any, keys: Iterable[str] = (), *, custom: bool = False, label: str | None = None) -> None:
        """Let the browser set ``keys`` of ``widget`` (and send it ``custom`` messages such as clicks)."""
        name = label or getattr(widget, "description", "") or type(widget).__name__
        self._allowed[id(widget)] = _Allowed(frozenset(keys), bool(custom), str(name))

    def install(self) -> int:
        """Wrap the handlers of every widget under ``root``; returns how many were wrapped."""
        n = 0
        for w in widget_tree(self.root):
            comm = getattr(w, "comm", None)
            if comm is not None:
                comm.on_msg(self._handler(w))
                n += 1
        self.installed = n
        return n

    def _reject(self, why: str) -> None:
        self.rejected += 1
        if self.rejected <= 20 or self.rejected % 100 == 0:
            log.info("read-only page ignored a widget message: %s (%d so far)", why, self.rejected)
        if self._on_reject is not None:
            try:
                self._on_reject(why)
            except Exception:  # noqa: BLE001 - reporting must never break message handling
                log.exception("comm guard reporter failed")

    @staticmethod
    def _resync(widget: Any, state: Mapping[str, Any]) -> None:
        """Show the widget's real state again: ipywidgets echoes a value to the page before validating it."""
        try:
            keys = [k for k in state if k in widget.keys]
            if keys:
                widget.send_state(key=keys)
        except Exception:  # noqa: BLE001 - best effort; the next update corrects the page anyway
            log.debug("comm guard: resync failed", exc_info=True)

    def _handler(self, widget: Any) -> Callable[[Mapping[str, Any]], None]:
        original = widget._handle_msg
        kind = type(widget).__name__

        def handle(msg: Mapping[str, Any]) -> None:
            # ipywidgets' own handler turns any exception into a traceback sent to the page
            # (``IPython.showtraceback``); here updates and events are applied directly, and a
            # refusal becomes a short note instead.
            try:
                data = msg["content"]["data"]
                method = data.get("method")
            except (KeyError, TypeError, AttributeError):
                self._reject(f"malformed message to {kind}")
                return
            if method == "request_state":  # the page loading the widget: always answered
                try:
                    original(msg)
                except Exception:  # noqa: BLE001 - never reaches the page
                    log.debug("comm guard: request_state failed", exc_info=True)
                return
            allowed = self._allowed.get(id(widget))
            if allowed is None:
                self._reject(f"{kind} is read-only here")
                return
            if method == "update":
                state = data.get("state")
                if not isinstance(state, dict) or not state:
                    self._reject(f"malformed update to {allowed.label}")
                    return
                kept = {k: v for k, v in state.items() if k in allowed.keys}
                if len(kept) != len(state):
                    extra = sorted(str(k) for k in state if k not in allowed.keys)
                    self._reject(f"{allowed.label}: {', '.join(extra)[:60]} cannot be changed here")
                if not kept:
                    return
                try:
                    widget.set_state(kept)
                    self.passed += 1
                except Exception as exc:  # noqa: BLE001 - a refused value is ignored and reported, never raised
                    self._reject(f"invalid value for {allowed.label} ({type(exc).__name__})")
                    self._resync(widget, kept)
            elif method == "custom":
                if not allowed.custom:
                    self._reject(f"{allowed.label} takes no events here")
                    return
                content = data.get("content")
                if not isinstance(content, dict):
                    self._reject(f"malformed event to {allowed.label}")
                    return
                try:
                    widget._handle_custom_msg(content, [])
                    self.passed += 1
                except Exception as exc:  # noqa: BLE001 - as above
                    self._reject(f"event refused by {allowed.label} ({type(exc).__name__})")
            else:
                self._reject(f"unknown message {str(method)[:20]!r} to {allowed.label}")

        return handle


# ---------------------------------------------------------------------------------------------- pair grid
def _parse_pair(raw: str | Sequence[str]) -> tuple[str, str]:
    try:
        return parse_pair(raw if isinstance(raw, str) else list(raw))
    except ValueError as exc:
        raise ValueError(f"pair={raw!r}: expected two different symbols such as 'SYNAUSDT/SYNBUSDT' ({exc})") from None


def _sparkline(z: np.ndarray, level: float, width: int = 220, height: int = 46) -> str:
    """An inline SVG of the z-score with dashed ±level lines (no widget, no JavaScript)."""
    z = z[np.isfinite(z)]
    if len(z) < 2:
        return f"<svg width='{width}' height='{height}'></svg>"
    top = max(level * 1.5, float(np.max(np.abs(z))), 1e-9)
    xs = np.linspace(1, width - 1, len(z))
    ys = height / 2 - (z / top) * (height / 2 - 2)
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))
    lv = [height / 2 - s * level / top * (height / 2 - 2) for s in (1, -1)]
    lines = "".join(
        f"<line x1='0' x2='{width}' y1='{v:.1f}' y2='{v:.1f}' stroke='#bbb' stroke-dasharray='3,3'/>" for v in lv
    )
    mid = f"<line x1='0' x2='{width}' y1='{height / 2:.1f}' y2='{height / 2:.1f}' stroke='#eee'/>"
    return (f"<svg class='qk-spark' width='{width}' height='{height}'>{mid}{lines}"
            f"<polyline fill='none' stroke='#333' stroke-width='1' points='{pts}'/></svg>")  # fmt: skip


class PairGrid:
    """A small grid of pair tiles: z-score, a sparkline and the status of each pair, updating live.

    One daemon thread (the only writer of the tiles) polls each pair's
    :class:`~quantkit.alerts.AlertMonitor` (read-only: ``persist=False``, no rules) every
    ``refresh_s`` seconds. Tiles are created up front (``max_tiles`` slots) so the set of
    widgets never changes; slots are filled as symbols appear in the store. Each tile's
    button calls ``on_open(y, x)``.

    Args:
        store: the tick store (read only).
        pairs: ``"Y/X"`` strings or ``(y, x)``; ``None``: pairs of the first stored tick symbols.
        on_open: called with ``(y, x)`` when a tile's button is clicked.
        bar: bar size of the tiles (default ``"1s"``).
        window: rolling window in bars (default 120).
        method: hedge ratio ``"ols"``, ``"huber"`` or ``"kalman"`` (default ``"ols"``).
        z_entry: |z| drawn as the dashed level and highlighted (default 2.0).
        max_tiles: tile slots (default 6).
        refresh_s: seconds between updates (default 2.0).
        stale_after_s: a pair whose last tick is older than this is shown as stale (default 10).
        status_path: the ingest heartbeat file (default ``<QUANTKIT_DATA_DIR>/ingest_status.json``); an
            error state in it (receiving but storing nothing, store full) is shown in red above the tiles.
        clock: wall clock, seconds since the epoch (tests may inject one).

    Raises:
        ValueError: a malformed pair or an out-of-range argument.
    """

    def __init__(
        self,
        store: "TickStore",
        pairs: Iterable[str | Sequence[str]] | None = None,
        *,
        on_open: Callable[[str, str], None] | None = None,
        bar: str = "1s",
        window: int = 120,
        method: str = "ols",
        z_entry: float = 2.0,
        max_tiles: int = 6,
        refresh_s: float = 2.0,
        stale_after_s: float = 10.0,
        status_path: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import ipywidgets as w

        from quantkit.dashboard.live import LiveParams
        from quantkit.ingest.heartbeat import default_status_path

        LiveParams(bar=bar, window=window, method=method, z_entry=z_entry)  # validate once, with field names
        self.status_path = Path(status_path) if status_path is not None else default_status_path()
        if not 1 <= int(max_tiles) <= 24:
            raise ValueError(f"max_tiles={max_tiles!r}: must be between 1 and 24")
        if not float(refresh_s) > 0:
            raise ValueError(f"refresh_s={refresh_s!r}: must be > 0 seconds")
        self.store = store
        self.fixed_pairs = [_parse_pair(p) for p in pairs] if pairs is not None else None
        self.on_open = on_open
        self.bar, self.window, self.method, self.z_entry = bar, int(window), str(method).lower(), float(z_entry)
        self.max_tiles = int(max_tiles)
        self.refresh_s = float(refresh_s)
        self.stale_after_s = float(stale_after_s)
        self._clock = clock
        self.symbols: list[str] = []
        self._symbols_at = -math.inf
        self.pairs: list[tuple[str, str] | None] = [None] * self.max_tiles
        self._monitors: dict[tuple[str, str], Any] = {}
        self.refreshes = 0
        self.errors = 0
        self._loop = ServiceThread(every(self.refresh, lambda: self.refresh_s), name="quantkit-pair-grid")

        self.bodies = [w.HTML(value="", layout=w.Layout(width="100%")) for _ in range(self.max_tiles)]
        self.buttons = [w.Button(description="open", icon="expand", layout=w.Layout(width="100%"))
                        for _ in range(self.max_tiles)]  # fmt: skip
        self.tiles = []
        for i, (body, button) in enumerate(zip(self.bodies, self.buttons)):
            button.on_click(lambda _b, i=i: self._clicked(i))
            tile = w.VBox([body, button], layout=w.Layout(width="250px", margin="4px", padding="6px",
                                                          border="1px solid #ddd", display="none"))
            tile.add_class("qk-tile")
            self.tiles.append(tile)
        self.notice = w.HTML(value="<i>waiting for stored symbols...</i>")
        self.widget = w.VBox([self.notice, w.HBox(self.tiles, layout=w.Layout(flex_flow="row wrap"))])
        self.widget.add_class("qk-grid")

    # ---------------------------------------------------------------------------------------------- lifecycle
    @property
    def running(self) -> bool:
        """True while the refresh thread runs."""
        return self._loop.running

    def start(self) -> "PairGrid":
        """Start refreshing in a daemon thread (idempotent)."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop refreshing (idempotent); tiles keep their last content."""
        self._loop.stop(timeout)

    # ---------------------------------------------------------------------------------------------- cycle
    def _clicked(self, slot: int) -> None:
        pair = self.pairs[slot] if 0 <= slot < len(self.pairs) else None
        if pair is not None and self.on_open is not None:
            try:
                self.on_open(*pair)
            except Exception:  # noqa: BLE001 - a click handler's exception would reach the page as a traceback
                log.exception("pair grid: opening %s/%s failed", *pair)

    def _choose_pairs(self) -> list[tuple[str, str]]:
        if self.fixed_pairs is not None:
            return self.fixed_pairs[: self.max_tiles]
        return list(itertools.islice(itertools.combinations(self.symbols[:6], 2), self.max_tiles))

    def _refresh_symbols(self) -> None:
        frame = self.store.symbols()
        if len(frame) and "kind" in frame.columns:
            frame = frame[frame["kind"] == "ticks"]
        self.symbols = sorted(str(s) for s in frame["symbol"]) if len(frame) else []
        self._symbols_at = time.monotonic()

    def refresh(self) -> None:
        """One update of every tile (the thread calls this; tests may call it directly)."""
        try:
            if time.monotonic() - self._symbols_at >= (10.0 if self.symbols else 1.0):
                self._refresh_symbols()
        except Exception as exc:  # noqa: BLE001 - shown (type only), logged in full
            self.errors += 1
            log.warning("pair grid: symbol list failed: %s", exc)
            self._set(self.notice, f"<span class='qk-err'>store unavailable ({type(exc).__name__})</span>")
            return
        from quantkit.dashboard.live.metrics import ingest_problem, render_ingest_problem
        from quantkit.ingest.heartbeat import read_status

        chosen = self._choose_pairs()
        hb = read_status(self.status_path, clock=self._clock)
        problem = ingest_problem(hb.data) if hb.data else None
        banner = f"<div>{render_ingest_problem(problem)}</div>" if problem else ""
        if not chosen:
            self._set(self.notice, banner + "<i>waiting for two symbols in the store...</i>")
        else:
            self._set(self.notice, banner + f"<small>{len(chosen)} pairs &middot; {html.escape(self.bar)} bars &middot; "
                                   f"window {self.window} &middot; click a tile to open the full view</small>")
        for slot in range(self.max_tiles):
            pair = chosen[slot] if slot < len(chosen) else None
            self.pairs[slot] = pair
            tile = self.tiles[slot]
            if pair is None:
                if tile.layout.display != "none":
                    tile.layout.display = "none"
                continue
            self._set(self.bodies[slot], self._render_tile(pair))
            if tile.layout.display != "flex":
                tile.layout.display = "flex"
        self.refreshes += 1

    def _monitor(self, pair: tuple[str, str]) -> Any:
        mon = self._monitors.get(pair)
        if mon is None:
            from quantkit.alerts import AlertMonitor

            mon = AlertMonitor(self.store, pair, [], bar=self.bar, window=self.window, method=self.method,
                               history_bars=max(4 * self.window, 600), persist=False, label="grid",
                               clock=self._clock)  # fmt: skip
            self._monitors[pair] = mon
        return mon

    def _render_tile(self, pair: tuple[str, str]) -> str:
        y, x = pair
        title = f"<b class='qk-tile-pair'>{html.escape(y)} / {html.escape(x)}</b>"
        unknown = [s for s in pair if s not in self.symbols]
        if unknown:
            return f"{title}<div class='qk-tile-status qk-warn'>unknown symbol {html.escape(unknown[0])}</div>"
        try:
            mon = self._monitor(pair)
            mon.run_once()
        except Exception as exc:  # noqa: BLE001 - shown (type only), logged in full
            self.errors += 1
            log.warning("pair grid: %s/%s failed: %s", y, x, exc)
            return f"{title}<div class='qk-tile-status qk-err'>error ({html.escape(type(exc).__name__)})</div>"
        latest = mon.tracker.latest()
        z = latest.get("z", math.nan)
        spark = mon.tracker.column("z", last=120) if mon.tracker.n else np.array([])
        last_ms = mon.source.last_tick_ms
        if last_ms is None or last_ms < 0 or not mon.tracker.n:
            status, cls = "waiting for data", "qk-warn"
        else:
            age = self._clock() - last_ms / 1000.0
            status, cls = ("streaming", "qk-ok") if age <= self.stale_after_s else (f"stale: no tick for {age:,.0f} s", "qk-warn")
        zcls = "qk-short" if z >= self.z_entry else "qk-long" if z <= -self.z_entry else ""
        ztxt = f"{z:+.2f}" if math.isfinite(z) else "n/a"
        beta = latest.get("beta", math.nan)
        corr = latest.get("corr", math.nan)
        return (
            f"{title}<div style='font-size:22px' class='qk-tile-z {zcls}' data-z='{ztxt}'>z {ztxt}</div>"
            f"{_sparkline(np.asarray(spark, dtype=float), self.z_entry)}"
            f"<div><small>beta {beta:.4g} &middot; corr {corr:.2f} &middot; {mon.tracker.n:,} bars</small></div>"
            f"<div class='qk-tile-status {cls}'>{html.escape(status)}</div>"
        )

    @staticmethod
    def _set(widget: Any, value: str) -> None:
        if widget.value != value:
            widget.value = value


# ---------------------------------------------------------------------------------------------- the page
_CSS = """
<style>
.qk-readonly .qk-err {color: #b00; font-weight: bold;}
.qk-readonly .qk-ok {color: #080;}
.qk-readonly .qk-warn {color: #b60;}
.qk-readonly .qk-long {color: #080;}
.qk-readonly .qk-short {color: #b00;}
.qk-readonly .qk-notice {color: #666; font-size: 12px;}
</style>
"""


class ReadOnlyDashboard:
    """The live dashboard in read-only form, for a Voila page.

    In the ``"grid"`` layout the full view is built the first time it is opened (a tile's
    button or its tab): a page that is only glanced at costs a quarter of the widgets and no
    full-view publisher.

    Args:
        store: a :class:`~quantkit.store.TickStore`, a ``StoreConfig``, or ``None`` to open
            ``QUANTKIT_ARCTIC_URI`` / ``QUANTKIT_LIBRARY`` read-only (:func:`open_store_readonly`).
            Pass objects, not URI strings, so no credential ever sits in a notebook.
        layout: ``"grid"`` (pair tiles + full view in tabs, default) or ``"single"`` (full view only).
        pairs: the grid's pairs (``"Y/X"``); ``None``: pairs of the first stored symbols.
        y, x: the full view's first pair (``None``: the first stored symbols).
        bar: bar size ``"1s"``, ``"1m"`` or ``"5m"`` (default ``"1s"``).
        window: rolling window in bars (default 120).
        method: hedge ratio ``"ols"``, ``"huber"`` or ``"kalman"`` (default ``"ols"``).
        z_entry, z_exit: signal thresholds drawn in the z-score chart (defaults 2.0, 0.5).
        publish_hz: full-view chart updates per second (default 2).
        grid_refresh_s: seconds between grid updates (default 2).
        max_tiles: grid tile slots (default 6).
        viewer_timeout_s: seconds without a browser heartbeat before the page stops publishing;
            ``None``: ``QUANTKIT_VIEWER_TIMEOUT`` or 15.
        heartbeat_ms: browser heartbeat period, ms (default ``min(2000, viewer_timeout_s * 250)``).
        route_logs: send logs and warnings to the server's terminal instead of the page
            (:func:`route_logs_to_server`); ``None`` (default): only when running in a kernel.
        clock: wall clock, seconds since the epoch (tests may inject one).

    Attributes:
        widget: the page's root widget.
        dash: the full view, a :class:`~quantkit.dashboard.live.LiveDashboard` (``read_only=True``);
            ``None`` until opened (grid layout) or while the store is not ready.
        grid: the :class:`PairGrid` (``None`` in the ``"single"`` layout or while the store is not ready).
        tabs: the ``Tab`` holding the grid and the full view (grid layout only).
        lease: the :class:`~quantkit.dashboard.heartbeat.ViewerLease`.
        guard: the :class:`CommGuard` of the page.
        notice: the HTML line that reports ignored viewer input.

    Raises:
        ValueError: an invalid argument (the message names it).

    Example (the notebook's only code)::

        ReadOnlyDashboard(layout="grid").start()
    """

    def __init__(
        self,
        store: "TickStore | StoreConfig | None" = None,
        *,
        layout: str = "grid",
        pairs: Iterable[str | Sequence[str]] | None = None,
        y: str | None = None,
        x: str | None = None,
        bar: str = "1s",
        window: int = 120,
        method: str = "ols",
        z_entry: float = 2.0,
        z_exit: float = 0.5,
        publish_hz: float = 2.0,
        grid_refresh_s: float = 2.0,
        max_tiles: int = 6,
        viewer_timeout_s: float | None = None,
        heartbeat_ms: int | None = None,
        route_logs: bool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import ipywidgets as w

        from quantkit.dashboard.live import LiveParams

        if isinstance(store, str):
            raise ValueError("store: pass a TickStore or StoreConfig (or None for QUANTKIT_ARCTIC_URI), not a URI string")
        if layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r}: expected one of {', '.join(LAYOUTS)}")
        if not 0 < float(publish_hz) <= 60:
            raise ValueError(f"publish_hz={publish_hz!r}: must be in (0, 60] per second")
        params = LiveParams(y=y, x=x, bar=bar, window=window, method=method, z_entry=z_entry, z_exit=z_exit)
        timeout = viewer_timeout_from_env() if viewer_timeout_s is None else float(viewer_timeout_s)
        beat_ms = int(heartbeat_ms) if heartbeat_ms is not None else int(min(2000.0, timeout * 250.0))
        if route_logs if route_logs is not None else _in_kernel():
            route_logs_to_server()
        self.layout = layout
        self.lease = ViewerLease(timeout_s=timeout, interval_ms=beat_ms)
        self.notice = w.HTML(value="")
        self.notice.add_class("qk-notice")
        self.dash: LiveDashboard | None = None
        self.grid: PairGrid | None = None
        self.tabs: Any = None
        self.store: TickStore | None = None
        self.ignored: list[str] = []
        self._params = params
        self._publish_hz = float(publish_hz)
        self._clock = clock
        self._started = False
        self._lock = threading.RLock()

        try:
            opened = cast("TickStore", store) if _is_store(store) else open_store_readonly(cast("StoreConfig | None", store))
        except StoreNotReady:
            body: Any = w.HTML("<b>No market data yet.</b> Start the ingest (<code>quantkit up</code> or "
                               "<code>quantkit ingest</code>) and reload this page.")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the page says the store is unavailable; the log has the details
            log.error("read-only dashboard: cannot open the store: %s", exc)
            body = w.HTML(f"<b class='qk-err'>The tick store is unavailable</b> ({html.escape(type(exc).__name__)}); "
                          "see the server log.")  # fmt: skip
        else:
            self.store = opened
            if layout == "grid":
                self.grid = PairGrid(opened, pairs, on_open=self.open_pair, bar=bar, window=window, method=method,
                                     z_entry=z_entry, max_tiles=max_tiles, refresh_s=grid_refresh_s, clock=clock)
                later = w.HTML("<i>opening the full view...</i>")
                self.tabs = w.Tab(children=[self.grid.widget, later], titles=("pairs", "pair view"))
                self.tabs.observe(self._on_tab, names="selected_index")
                body = self.tabs
            else:
                body = self._build_full_view().widget
        self.widget = w.VBox([w.HTML(_CSS), self.notice, body, self.lease.widget], layout=w.Layout(width="100%"))
        self.widget.add_class("qk-readonly")

        self.guard = CommGuard(self.widget, on_reject=self._ignored)
        self.guard.allow(self.lease.widget, ("value", "playing", "_view_count"), label="heartbeat")
        if self.grid is not None:
            for i, b in enumerate(self.grid.buttons):
                self.guard.allow(b, (), custom=True, label=f"tile {i + 1}")
        if self.tabs is not None:
            self.guard.allow(self.tabs, ("selected_index",), label="tabs")
        self._allow_full_view()
        self.guard.install()
        self.lease.on_expire(self._stop_publishers)
        self.lease.on_renew(self._start_publishers)

    # ---------------------------------------------------------------------------------------------- API
    def start(self) -> "ReadOnlyDashboard":
        """Start the publishers and the viewer lease; returns ``self``."""
        self._started = True
        self._start_publishers()
        self.lease.start()
        return self

    def stop(self) -> None:
        """Stop the lease and the publishers (idempotent)."""
        self._started = False
        self.lease.stop()
        self._stop_publishers()

    @property
    def publishing(self) -> bool:
        """True while a publisher thread (full view or grid) runs."""
        return bool((self.dash is not None and self.dash.running) or (self.grid is not None and self.grid.running))

    def full_view(self) -> "LiveDashboard | None":
        """The full view, built now if it was not yet (``None`` while the store is not ready)."""
        if self.store is None:
            return None
        return self.dash if self.dash is not None else self._build_full_view()

    def open_pair(self, y: str, x: str) -> None:
        """Show ``y``/``x`` in the full view (validated: both must be stored symbols)."""
        if self.store is None:
            return
        known = set(self.grid.symbols) if self.grid is not None and self.grid.symbols else self._stored_symbols()
        bad = [s for s in (y, x) if not isinstance(s, str) or s not in known]
        if bad:
            self._ignored(f"unknown symbol {str(bad[0])[:30]}")
            return
        try:
            if self.dash is None:
                self._build_full_view(y=y, x=x)
            else:
                self.dash.set_params(y=y, x=x)
        except ValueError as exc:
            self._ignored(str(exc)[:120])
            return
        if self.tabs is not None:
            self.tabs.selected_index = 1

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        display(self.widget)

    # ---------------------------------------------------------------------------------------------- internals
    def _build_full_view(self, **pair: str) -> "LiveDashboard":
        from quantkit.dashboard.live import LiveDashboard

        with self._lock:
            if self.dash is not None:
                if pair:
                    self.dash.set_params(**pair)
                return self.dash
            params = self._params.replace(**pair) if pair else self._params
            dash = LiveDashboard(self.store, params, read_only=True, publish_hz=self._publish_hz,
                                 heartbeat_timeout_s=None, clock=self._clock)  # fmt: skip
            self.dash = dash
            if self.tabs is not None:
                self.tabs.children = [self.grid.widget if self.grid is not None else self.tabs.children[0], dash.widget]
            if hasattr(self, "guard"):  # built after the page: wrap the new widgets too
                self._allow_full_view()
                self.guard.install()
            self.lease.kick_also(dash.view.heartbeat)
            if self._started and self.lease.alive:
                dash.start()
            return dash

    def _allow_full_view(self) -> None:
        from quantkit.dashboard.live import VIEW_FIELDS

        if self.dash is None:
            return
        ctl = self.dash.view.controls
        for name in sorted(VIEW_FIELDS):
            if name in ctl:
                self.guard.allow(ctl[name], ("index", "value"), label=name)
        self.guard.allow(ctl["pause"], ("value",), label="pause")
        self.guard.allow(self.dash.view.heartbeat, ("value", "playing", "_view_count"), label="heartbeat")

    def _on_tab(self, change: Mapping[str, Any]) -> None:
        if change.get("new") == 1 and self.dash is None:
            try:
                self._build_full_view()
            except Exception:  # noqa: BLE001 - an observer's exception must never reach the page
                log.exception("read-only dashboard: building the full view failed")
                self._ignored("the full view could not be built (see the server log)")

    def _stored_symbols(self) -> set[str]:
        if self.store is None:
            return set()
        try:
            frame = self.store.symbols()
            return {str(s) for s in frame["symbol"]} if len(frame) else set()
        except Exception:  # noqa: BLE001 - unknown store state: accept nothing
            return set()

    def _ignored(self, why: str) -> None:
        with self._lock:
            self.ignored.append(why)
            del self.ignored[:-20]
            stamp = time.strftime("%H:%M:%S", time.gmtime())
            self.notice.value = f"<span class='qk-warn'>ignored ({stamp} UTC): {html.escape(why)}</span>"

    def _start_publishers(self) -> None:
        with self._lock:  # the lease's thread and a viewer's click may both get here
            if self.dash is not None:
                self.dash.start()
            if self.grid is not None:
                self.grid.start()

    def _stop_publishers(self) -> None:
        with self._lock:
            if self.grid is not None:
                self.grid.stop()
            if self.dash is not None:
                self.dash.stop()


def _is_store(obj: Any) -> bool:
    return obj is not None and not isinstance(obj, (str, StoreConfig))
