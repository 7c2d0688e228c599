"""The live pair dashboard: one publisher thread draws what an :class:`~quantkit.alerts.AlertMonitor` tracks.

Data path per publisher cycle (``publish_hz`` times a second, default 4)::

    commands (control changes, pause, export, browser heartbeat)   <- posted by observers
    AlertMonitor.run_once(): store tail -> final pair bars -> O(1) estimators -> alert rules
    every ``slow_interval_s``: ADF / Engle-Granger / half-life / volatility regime, symbol list
    publish: decimated arrays into the bqplot marks (hold_sync), HTML panels

The publisher thread is the only writer of the dashboard's widgets (the
control observers only post); a failure inside a cycle is counted, logged and
shown in the feed-status panel, and the next cycle tries again. A parameter
change that alters the bars or the estimators (pair, bar size, window, hedge
method, minimum volume) re-seeds from the store and keeps streaming; a
threshold change only redraws and reconfigures the alert rules.

Seams for a read-only (Voila) page: ``read_only=True`` accepts only the view
fields (:data:`~quantkit.dashboard.live.params.VIEW_FIELDS`) from the browser,
hides the export, and never writes to the store. ``heartbeat_timeout_s``
pauses the publisher when the page's heartbeat stops (tab closed) and resumes
it when the heartbeat returns.
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np
import pandas as pd

from quantkit._threads import ServiceThread
from quantkit.alerts import TRACK_FIELDS, AlertMonitor, Rule, default_rules
from quantkit.config import StoreConfig, default_data_dir
from quantkit.analytics.decimation import DecimationCache, plan_decimation
from quantkit.dashboard.live.metrics import (
    fast_metrics,
    ingest_problem,
    render_alerts,
    render_metrics,
    render_status,
    slow_metrics,
)
from quantkit.dashboard.live.params import VIEW_FIELDS, LiveParams, ParameterError
from quantkit.ingest.heartbeat import FeedStatus, default_status_path, read_status
from quantkit.errors import DashboardError

if TYPE_CHECKING:
    from quantkit.dashboard.live.view import DashboardView
    from quantkit.store import TickStore

__all__ = ["LiveDashboard"]

log = logging.getLogger("quantkit.dashboard")

_C = {c: i for i, c in enumerate(TRACK_FIELDS)}
_LINE_COLS = ("y_close", "x_close", "y_quote_volume", "x_quote_volume", "spread", "mean", "std", "z", "corr", "beta")
_LINE_IDX = np.array([_C[c] for c in _LINE_COLS])
_OHLC_IDX = {leg: np.array([_C[f"{leg}_{c}"] for c in ("open", "high", "low", "close")]) for leg in ("y", "x")}
_SLOW_SYMBOLS_S = 10.0
_HEARTBEAT_S = 2.0  # the page's heartbeat period


def _open_store(store: "TickStore | StoreConfig | str | None") -> "TickStore":
    if store is not None and not isinstance(store, (str, StoreConfig)):
        return store
    from quantkit.store import TickStore

    if store is None:
        return TickStore(config=StoreConfig.from_env())
    if isinstance(store, StoreConfig):
        return TickStore(config=store)
    return TickStore(store)


class LiveDashboard:
    """A live pairs dashboard over the tick store (ipywidgets + bqplot), with alerts.

    Args:
        store: a :class:`~quantkit.store.TickStore`, a store URI, a ``StoreConfig``, or
            ``None`` for ``StoreConfig.from_env()`` (``QUANTKIT_ARCTIC_URI`` / ``QUANTKIT_DATA_DIR``).
        params: the initial :class:`~quantkit.dashboard.live.params.LiveParams`; keyword
            arguments named like its fields override it (``y="SYNAUSDT", bar="1m"``...).
        publish_hz: publisher cycles (store polls + chart updates) per second (default 4).
        slow_interval_s: seconds between the slow statistics (ADF, EG, half-life, regime) (default 10).
        status_path: the ingest heartbeat file (default ``<QUANTKIT_DATA_DIR>/ingest_status.json``).
        read_only: view-only page: only view fields change, no export, nothing written (default False).
        persist_alerts: append alerts to the store's history (default True; always False when read-only).
        rules: alert rules; ``None`` builds :func:`~quantkit.alerts.default_rules` from the parameters
            (and keeps them in step with the threshold controls).
        stale_after_s: seconds without ticks before the stale-feed alert (default 10; default rules only).
        spread_width: add a spread-width rule at this deviation, quote currency (default None).
        cooldown_s: cooldown of the default rules, seconds (default 60).
        heartbeat_timeout_s: pause when the browser heartbeat is older than this, seconds;
            ``None`` (default) never pauses on its own.
        export_dir: where :meth:`export_csv` writes (default ``<QUANTKIT_DATA_DIR>/exports``).
        clock: wall clock, seconds since the epoch (tests may inject one).
        **param_fields: fields of :class:`LiveParams`.

    Attributes:
        view: the :class:`~quantkit.dashboard.live.view.DashboardView` (widgets).
        monitor: the :class:`~quantkit.alerts.AlertMonitor` of the current pair (``None`` until chosen).
        cycles: publisher cycles run; publishes: chart updates sent.
        errors: failed cycles; last_error: the last failure message (also shown in the status panel).
        update_ms: recent cycle costs without the store reads (new bars -> estimators -> alerts ->
            widget messages), ms.
        read_ms: the store-read part of the same cycles, ms.

    Raises:
        ParameterError: an invalid parameter (a ValueError naming the field).

    Example:
        >>> dash = LiveDashboard(y="SYNAUSDT", x="SYNBUSDT", bar="1s").start()  # doctest: +SKIP
        >>> dash                                                                # doctest: +SKIP
    """

    def __init__(
        self,
        store: "TickStore | StoreConfig | str | None" = None,
        params: LiveParams | None = None,
        *,
        publish_hz: float = 4.0,
        slow_interval_s: float = 10.0,
        status_path: str | Path | None = None,
        read_only: bool = False,
        persist_alerts: bool = True,
        rules: Iterable[Rule] | None = None,
        stale_after_s: float = 10.0,
        spread_width: float | None = None,
        cooldown_s: float = 60.0,
        heartbeat_timeout_s: float | None = None,
        export_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        **param_fields: Any,
    ) -> None:
        from quantkit.dashboard.live.view import DashboardView

        base = params or LiveParams()
        self.params: LiveParams = base.replace(**param_fields) if param_fields else base
        if not 0 < float(publish_hz) <= 60:
            raise ParameterError("publish_hz", publish_hz, "must be in (0, 60] per second")
        if not float(slow_interval_s) > 0:
            raise ParameterError("slow_interval_s", slow_interval_s, "must be > 0 seconds")
        if heartbeat_timeout_s is not None and not float(heartbeat_timeout_s) > 0:
            raise ParameterError("heartbeat_timeout_s", heartbeat_timeout_s, "must be > 0 seconds or None")
        self.store = _open_store(store)
        self.publish_hz = float(publish_hz)
        self.slow_interval_s = float(slow_interval_s)
        self.status_path = Path(status_path) if status_path is not None else default_status_path()
        self.read_only = bool(read_only)
        self.persist_alerts = bool(persist_alerts) and not self.read_only
        self._custom_rules = list(rules) if rules is not None else None
        self._stale_after_s = float(stale_after_s)
        self._spread_width = spread_width
        self._cooldown_s = float(cooldown_s)
        self.heartbeat_timeout_s = None if heartbeat_timeout_s is None else float(heartbeat_timeout_s)
        self.export_dir = Path(export_dir) if export_dir is not None else default_data_dir() / "exports"
        self._clock = clock

        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._loop = ServiceThread(lambda _stop: self._run(), name="quantkit-live-dashboard", stop=self._stop)
        self._step_lock = threading.RLock()  # held by each cycle; frame()/series() readers wait for it

        self.monitor: AlertMonitor | None = None
        self.cycles = 0
        self.publishes = 0
        self.errors = 0
        self.last_error: str | None = None
        self.update_ms: collections.deque[float] = collections.deque(maxlen=200)
        self.read_ms: collections.deque[float] = collections.deque(maxlen=200)
        self.last_export: Path | None = None
        self._paused = False
        self._auto_paused = False
        self._symbols: list[str] = []
        self._symbols_at = -math.inf
        self._slow: dict[str, Any] = {}
        self._slow_at = -math.inf
        self._drawn: tuple[int, LiveParams] | None = None
        self._dec = DecimationCache()
        self._dec_token: tuple[int, LiveParams] | None = None
        self._rate: collections.deque[tuple[float, int]] = collections.deque()
        self._last_beat = time.monotonic()
        self._beats = 0
        self._kicked = -math.inf
        self._state = "starting"
        self.view: DashboardView = DashboardView(self.params, self._post, read_only=self.read_only,
                                                 heartbeat_ms=int(_HEARTBEAT_S * 1000))

    # ---------------------------------------------------------------------------------------------- public API
    @property
    def widget(self) -> Any:
        """The root widget (display it, or just leave the dashboard as a cell's last expression)."""
        return self.view.widget

    @property
    def paused(self) -> bool:
        """True while paused (by the control, :meth:`pause`, or a missing browser heartbeat)."""
        return self._paused or self._auto_paused

    @property
    def running(self) -> bool:
        """True while the publisher thread runs."""
        return self._loop.running

    def start(self) -> "LiveDashboard":
        """Start the publisher thread (idempotent); returns ``self``."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the publisher thread (idempotent). The widgets keep their last state."""
        self._stop.set()
        self._wake.set()
        self._loop.stop(timeout)
        self._state = "stopped"
        try:
            self.view.set_html("status", render_status(self._status_info(self._clock())))
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass

    def stop_after(self, seconds: float | None) -> None:
        """Block ``seconds`` then :meth:`stop` (for headless runs); ``None`` returns at once and keeps streaming."""
        if seconds is None:
            return
        deadline = time.monotonic() + float(seconds)
        while time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        self.stop()

    def set_params(self, **changes: Any) -> None:
        """Change parameters (validated now, applied by the publisher at its next cycle).

        Raises:
            ParameterError: an unknown field or invalid value.
        """
        self.params.replace(**changes)  # validate in the caller's thread
        self._post("set", changes)

    def pause(self) -> None:
        """Freeze the charts (the publisher stops reading the store)."""
        self._post("pause", True)

    def resume(self) -> None:
        """Resume streaming (re-seeds from the store, so nothing is missed)."""
        self._post("pause", False)

    def export_csv(self, path: str | Path | None = None, *, timeout: float = 30.0) -> Path:
        """Write the shown bars and statistics (full bar resolution) to CSV; returns the file.

        Runs on the publisher thread when it is running (waits up to ``timeout`` seconds).

        Raises:
            DashboardError: read-only dashboard, nothing to export yet, or the publisher did not answer.
        """
        if self.read_only:
            raise DashboardError("export is disabled on a read-only dashboard")
        if not self.running:
            return self._export(path)
        done = threading.Event()
        box: dict[str, Any] = {}
        self._post("export", (path, done, box))
        if not done.wait(timeout):
            raise DashboardError(f"export did not finish within {timeout} s")
        if "error" in box:
            raise box["error"]
        return box["path"]

    def step(self) -> None:
        """Run one publisher cycle in the calling thread (tests, benchmarks; not while :meth:`start` runs)."""
        if self.running:
            raise DashboardError("step() is for a stopped publisher; the thread is running")
        self._cycle()

    def frame(self) -> pd.DataFrame:
        """The bars and statistics held for the current pair (a copy; empty before data). Safe from any thread."""
        with self._step_lock:
            mon = self.monitor
            if mon is None or mon.tracker.n == 0:
                return pd.DataFrame(columns=list(TRACK_FIELDS[1:]))
            f = mon.tracker.frame()
        k = self.params.k
        f["upper"] = f["mean"] + k * f["std"]
        f["lower"] = f["mean"] - k * f["std"]
        return f

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        display(self.view.widget)

    # ---------------------------------------------------------------------------------------------- commands
    def _post(self, kind: str, payload: Any) -> None:
        self._queue.put((kind, payload))
        self._wake.set()

    def _handle_commands(self) -> None:
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if kind == "set":
                    self._apply(dict(payload))
                elif kind == "pause":
                    self._set_paused(bool(payload))
                elif kind == "heartbeat":
                    self._last_beat = time.monotonic()
                    self._beats += 1
                elif kind == "export":
                    self._export_command(payload)
            except ParameterError as exc:
                self._fail(f"rejected {exc}", log_level=logging.INFO)
                self.view.sync_controls(self.params)

    def _apply(self, changes: dict[str, Any]) -> None:
        if self.read_only:
            bad = sorted(set(changes) - VIEW_FIELDS)
            if bad:
                raise ParameterError(bad[0], changes[bad[0]], "not changeable on a read-only dashboard")
        new = self.params.replace(**changes)
        if new == self.params:
            return
        old, self.params = self.params, new
        if old.needs_reseed(new):
            self.monitor = None  # re-seeded at this cycle
        elif self.monitor is not None and self._custom_rules is None:
            self.monitor.configure_rules(self._rules())
        self._drawn = None
        self._slow_at = -math.inf
        self.view.sync_controls(new)
        self.last_error = None if self.last_error and self.last_error.startswith("rejected") else self.last_error

    def _set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        if not paused:
            self.monitor = None  # re-seed: catch up from the store in one bounded read
            self._drawn = None
        self.view.sync_controls(self.params, paused=paused)

    def _export_command(self, payload: Any) -> None:
        if payload is None:  # the button
            try:
                p = self._export(None)
                self.view.set_html("export_note", f"<small>saved {p.name}</small>")
            except Exception as exc:  # noqa: BLE001 - shown next to the button
                self.view.set_html("export_note", f"<small class='qk-err'>export failed: {type(exc).__name__}</small>")
                raise
            return
        path, done, box = payload
        try:
            box["path"] = self._export(path)
        except Exception as exc:  # noqa: BLE001 - handed back to the caller
            box["error"] = exc
        finally:
            done.set()

    def _export(self, path: str | Path | None) -> Path:
        frame = self.frame()
        if frame.empty:
            raise DashboardError("nothing to export yet: no bars for the current pair")
        p = self.params
        if path is None:
            stamp = pd.Timestamp(self._clock(), unit="s", tz="UTC").strftime("%Y%m%dT%H%M%S")
            path = self.export_dir / f"{p.y}_{p.x}_{p.bar}_{p.method}_{stamp}.csv"
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out)
        self.last_export = out
        log.info("exported %d bars to %s", len(frame), out)
        return out

    # ---------------------------------------------------------------------------------------------- the cycle
    def _run(self) -> None:
        period = 1.0 / self.publish_hz
        next_t = time.monotonic()
        while not self._stop.is_set():
            self._cycle()
            next_t += period
            now = time.monotonic()
            if next_t < now - period:  # fell behind (a slow store read): do not try to catch up
                next_t = now
            while not self._stop.is_set():
                remaining = next_t - time.monotonic()
                if remaining <= 0:
                    break
                if self._wake.wait(remaining):
                    self._wake.clear()
                    if not self._queue.empty():
                        break  # a control changed: apply it now

    def _cycle(self) -> None:
        with self._step_lock:
            t0 = time.perf_counter()
            now = self._clock()
            try:
                self._handle_commands()
                self._check_heartbeat()
                if self.paused:
                    self._state = "paused" + (" (no browser heartbeat)" if self._auto_paused else "")
                    self.view.set_html("status", render_status(self._status_info(now)))
                    return
                waiting = self.monitor is None or not self.monitor.source.seeded
                if time.monotonic() - self._symbols_at >= (1.0 if waiting else _SLOW_SYMBOLS_S):
                    self._refresh_symbols()
                mon = self._ensure_monitor()
                if mon is None:
                    self._state = "waiting for two symbols in the store"
                    self.view.set_html("status", render_status(self._status_info(now)))
                    return
                n_before = mon.tracker.n
                mon.run_once()
                self._rate.append((time.monotonic(), mon.source.new_ticks))
                self._state = "streaming" if mon.source.seeded else f"waiting for ticks of {mon.pair}"
                if time.monotonic() - self._slow_at >= self.slow_interval_s and mon.tracker.n:
                    self._slow = slow_metrics(mon.tracker, self.params.window, mon.source.freq_ms / 1000.0)
                    self._slow_at = time.monotonic()
                self._publish(mon, now, redraw=mon.tracker.n != n_before)
                read = mon.source.read_ms
                self.read_ms.append(read)
                self.update_ms.append((time.perf_counter() - t0) * 1000.0 - read)
            except Exception as exc:  # noqa: BLE001 - shown in the status panel, never lost
                self._fail(f"{type(exc).__name__}: {exc}")
                try:
                    self.view.set_html("status", render_status(self._status_info(now)))
                except Exception:  # noqa: BLE001 - the panel itself failed; the log has it
                    log.exception("status panel update failed")
            finally:
                self.cycles += 1

    def _fail(self, msg: str, *, log_level: int = logging.WARNING) -> None:
        self.errors += 1
        if msg != self.last_error:
            log.log(log_level, "live dashboard: %s", msg)
        self.last_error = msg

    def _check_heartbeat(self) -> None:
        mono = time.monotonic()
        if mono - self._last_beat > 3 * _HEARTBEAT_S and mono - self._kicked > 5.0:
            # no beat: the page was not shown yet, or was reloaded (a new page does not animate by itself)
            self.view.kick_heartbeat()
            self._kicked = mono
        if self.heartbeat_timeout_s is None:
            return
        stale = time.monotonic() - self._last_beat > self.heartbeat_timeout_s
        if stale and not self._auto_paused:
            self._auto_paused = True
            log.info("live dashboard paused: no browser heartbeat for %.0f s", self.heartbeat_timeout_s)
        elif not stale and self._auto_paused:
            self._auto_paused = False
            self.monitor = None
            self._drawn = None

    def _refresh_symbols(self) -> None:
        self._symbols_at = time.monotonic()
        frame = self.store.symbols()
        if len(frame) and "kind" in frame.columns:
            frame = frame[frame["kind"] == "ticks"]
        syms = sorted(str(s) for s in frame["symbol"]) if len(frame) else []
        if syms != self._symbols:
            self._symbols = syms
            p = self.params
            if (p.y is None or p.x is None) and len(syms) >= 2:
                y = p.y or next(s for s in syms if s != p.x)
                x = p.x or next(s for s in syms if s != y)
                self.params = p.replace(y=y, x=x)
                self.monitor = None
            self.view.sync_controls(self.params, syms)

    def _rules(self) -> list[Rule]:
        if self._custom_rules is not None:
            return list(self._custom_rules)
        p = self.params
        return default_rules(z_entry=p.z_entry, z_exit=p.z_exit, corr_floor=p.corr_floor,
                             stale_after_s=self._stale_after_s, spread_width=self._spread_width,
                             cooldown_s=self._cooldown_s)

    def _ensure_monitor(self) -> AlertMonitor | None:
        if self.monitor is not None:
            return self.monitor
        p = self.params
        if p.y is None or p.x is None:
            return None
        self.monitor = AlertMonitor(
            self.store, (p.y, p.x), self._rules(), bar=p.bar, window=p.window, method=p.method,
            history_bars=p.history_bars, min_volume=p.min_volume, persist=self.persist_alerts,
            label="dashboard", clock=self._clock, log_level=logging.INFO,
        )  # fmt: skip
        self._drawn = None
        self._slow = {}
        self._slow_at = -math.inf
        self._rate.clear()
        return self.monitor

    # ---------------------------------------------------------------------------------------------- publishing
    def series(self) -> dict[str, np.ndarray]:
        """The decimated arrays drawn by the charts (see :meth:`DashboardView.draw`). Safe from any thread."""
        with self._step_lock:
            return self._series()

    def _series(self) -> dict[str, np.ndarray]:
        mon = self.monitor
        p = self.params
        if mon is None or mon.tracker.n == 0:
            t0 = np.array([], dtype="datetime64[ms]")
            e = np.array([], dtype=np.float64)
            out = {c: e for c in _LINE_COLS + ("upper", "lower")}
            out.update(t=t0, t_candles=t0, y_ohlc=np.empty((0, 4)), x_ohlc=np.empty((0, 4)))
            return out
        tr = mon.tracker
        rows = tr.rows()
        token = (id(tr), p)
        if self._dec_token != token:
            self._dec.reset()
            self._dec_token = token
        k = p.k

        def cols(lo: int, hi: int) -> np.ndarray:
            c = rows[lo:hi, _LINE_IDX]
            mean, std = c[:, 5], c[:, 6]
            return np.column_stack([c, mean + k * std, mean - k * std])

        t_ms = rows[:, 0].astype(np.int64)
        t_d, c_d = self._dec.lines(t_ms, cols, tr.n - tr.size, p.max_points)
        out = {c: np.ascontiguousarray(c_d[:, i]) for i, c in enumerate(_LINE_COLS)}
        out["upper"] = np.ascontiguousarray(c_d[:, len(_LINE_COLS)])
        out["lower"] = np.ascontiguousarray(c_d[:, len(_LINE_COLS) + 1])
        out["t"] = t_d.astype("datetime64[ms]")
        if p.price_style == "candles":
            dec = plan_decimation(len(rows), tr.n - tr.size, p.max_points)
            tc, yo = dec.candles(t_ms, rows[:, _OHLC_IDX["y"]])
            _, xo = dec.candles(t_ms, rows[:, _OHLC_IDX["x"]])
            out.update(t_candles=tc.astype("datetime64[ms]"), y_ohlc=yo, x_ohlc=xo)
        return out

    def _publish(self, mon: AlertMonitor, now: float, *, redraw: bool) -> None:
        p = self.params
        key = (mon.tracker.n, p)
        if redraw or self._drawn != key:
            self.view.draw(self._series(), p)
            self._drawn = key
            self.publishes += 1
        live = {}
        for leg, sym in (("y", mon.y), ("x", mon.x)):
            part = mon.source.partial(sym)
            live[leg] = float(part[4]) if part is not None else mon.tracker.latest().get(f"{leg}_close", math.nan)
        fast = fast_metrics(mon.tracker, p.window)
        hb = read_status(self.status_path, clock=self._clock)
        book = hb.get("quotes", {}) if hb.fresh else {}  # best bid/ask per symbol, when the ingest subscribes them
        quotes = {leg: book[sym] for leg, sym in (("y", mon.y), ("x", mon.x)) if isinstance(book.get(sym), dict)}
        self.view.set_html("metrics", render_metrics(fast, self._slow, live_prices=live, y=mon.y, x=mon.x,
                                                     method=p.method, bars=mon.tracker.n, filtered=mon.source.filtered,
                                                     quotes=quotes))
        active = {name: st.direction for name in (r.name for r in mon.engine.rules)
                  if (st := mon.engine.state(name)).active}
        self.view.set_html("alerts", render_alerts(list(mon.recent), active))
        self.view.set_html("status", render_status(self._status_info(now, hb)))

    def _status_info(self, now: float, hb: FeedStatus | None = None) -> dict[str, Any]:
        mon = self.monitor
        info: dict[str, Any] = {
            "state": self._state,
            "update_ms": float(np.median(self.update_ms)) if self.update_ms else None,
            "read_ms": float(np.median(self.read_ms)) if self.read_ms else None,
            "publishes": self.publishes,
            "errors": self.errors,
            "last_error": self.last_error,
            "browser_age_s": time.monotonic() - self._last_beat if self._beats else None,
        }
        if hb is None:
            hb = read_status(self.status_path, clock=self._clock)
        if hb.fresh:
            info.update(
                heartbeat=True,
                feed_state=hb.get("feed_state", "unknown"),
                rejected=sum((hb.get("rejected") or {}).values()) if isinstance(hb.get("rejected"), dict) else None,
                gaps=hb.get("gaps"),
                gaps_unfilled=hb.get("gaps_unfilled"),
                ingest_lag_ms=hb.get("lag_ms_p50"),
                ingest_tps=hb.get("ticks_per_second"),
                reconnects=hb.get("reconnects"),
                ingest_error=hb.get("last_error"),
                ingest_problem=ingest_problem(hb.data),
            )
        else:
            info.update(heartbeat=False, feed_state="unknown" if hb.data == {} else "stale heartbeat")
            stale_problem = ingest_problem(hb.data) if hb.data else None
            if stale_problem:  # the ingest stopped in an error state (e.g. store full): say why, with its age
                info["ingest_problem"] = f"{stale_problem} (last heartbeat {hb.age_s:,.0f} s ago)"
        if mon is not None and mon.source.last_tick_ms >= 0:
            last = mon.source.last_tick_ms
            info["last_tick_ms"] = last
            info["tick_age_s"] = now - last / 1000.0
            info["send_lag_ms"] = max(0.0, now * 1000.0 - last)
            rate = self._rate
            cutoff = time.monotonic() - 5.0
            while len(rate) > 1 and rate[0][0] < cutoff:
                rate.popleft()
            if len(rate) > 1:
                span = rate[-1][0] - rate[0][0]
                info["ticks_per_s"] = sum(n for _, n in list(rate)[1:]) / span if span > 0 else None
        return info
