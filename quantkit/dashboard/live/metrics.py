"""The numbers of the metrics strip, and the HTML of the strip, feed-status and alert panels.

Two cadences: :func:`fast_metrics` is cheap (sums over the last window of a
:class:`~quantkit.alerts.PairTrack`) and runs at every publish;
:func:`slow_metrics` runs statistical tests (ADF of the spread, Engle-Granger
of the legs, half-life, volatility regime) on the last window and runs every
few seconds. Rendering functions escape every string they insert.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from quantkit.alerts import LONG_SPREAD, SHORT_SPREAD, TRACK_FIELDS, Alert, PairTrack
from quantkit.analytics import adf, engle_granger, half_life, volatility_regime
from quantkit.errors import AnalyticsError

__all__ = ["fast_metrics", "ingest_problem", "render_alerts", "render_ingest_problem", "render_metrics", "render_status",
           "slow_metrics"]

_C = {c: i for i, c in enumerate(TRACK_FIELDS)}
_NAN = math.nan


def fast_metrics(tracker: PairTrack, window: int) -> dict[str, float]:
    """Latest statistics plus window VWAP and taker imbalance of each leg.

    Returns:
        ``alpha, beta, r2, z, corr, spread, mean, std`` of the newest bar, ``y_close``,
        ``x_close``, and ``y_vwap``, ``x_vwap`` (quote volume / volume over the window),
        ``y_imbalance``, ``x_imbalance`` (``(2 * taker buy - volume) / volume`` over the
        window, in [-1, 1]); NaN when unknown.
    """
    out: dict[str, float] = {}
    if tracker.n == 0:
        return out
    r = tracker.rows(window)
    last = r[-1]
    for k in ("alpha", "beta", "r2", "z", "corr", "spread", "mean", "std", "y_close", "x_close", "open_ms"):
        out[k] = float(last[_C[k]])
    for leg in ("y", "x"):
        v = float(r[:, _C[f"{leg}_volume"]].sum())
        qv = float(r[:, _C[f"{leg}_quote_volume"]].sum())
        tb = float(r[:, _C[f"{leg}_taker_buy_volume"]].sum())
        out[f"{leg}_vwap"] = qv / v if v > 0 else _NAN
        out[f"{leg}_imbalance"] = (2.0 * tb - v) / v if v > 0 else _NAN
    return out


def _try(fn: Any) -> Any:
    try:
        return fn()
    except (AnalyticsError, ValueError, np.linalg.LinAlgError, FloatingPointError):
        return None


def slow_metrics(tracker: PairTrack, window: int, bar_seconds: float) -> dict[str, Any]:
    """Tests recomputed on a slower cadence, on the last ``window`` bars.

    Returns:
        ``adf_p`` (ADF p-value of the spread), ``eg_p`` (Engle-Granger p-value of y on x),
        ``half_life_s`` (seconds; inf if not mean-reverting), ``y_regime`` / ``x_regime``
        ("low" / "normal" / "high" realised volatility over ``window`` bars relative to the
        held history, or None), ``rv_ratio``; None where a test cannot run (warm-up).
    """
    out: dict[str, Any] = {"adf_p": None, "eg_p": None, "half_life_s": None, "y_regime": None, "x_regime": None,
                           "y_rv_ratio": None, "x_rv_ratio": None}
    n = tracker.size
    if n < 20:
        return out
    r = tracker.rows(window)
    s = r[:, _C["spread"]]
    s = s[~np.isnan(s)]
    if len(s) >= 20:
        res = _try(lambda: adf(s))
        out["adf_p"] = None if res is None else float(res.pvalue)
        hl = _try(lambda: half_life(s))
        out["half_life_s"] = None if hl is None else float(hl.exact) * bar_seconds
    y, x = r[:, _C["y_close"]], r[:, _C["x_close"]]
    eg = _try(lambda: engle_granger(y, x))
    out["eg_p"] = None if eg is None else float(eg.pvalue)
    long = min(n - 1, 10 * window)
    short = max(10, window // 4) if long <= window else window
    if long > short >= 2:
        rows = tracker.rows(long + 1)
        for leg in ("y", "x"):
            reg = _try(lambda: volatility_regime(rows[:, _C[f"{leg}_close"]], window=short, long_window=long))
            if reg is not None and len(reg):
                last = reg.iloc[-1]
                out[f"{leg}_regime"] = last["regime"]
                out[f"{leg}_rv_ratio"] = None if pd.isna(last["ratio"]) else float(last["ratio"])
    return out


def _f(v: Any, fmt: str = ".4g") -> str:
    if v is None:
        return "n/a"
    try:
        fv = float(v)
    except (TypeError, ValueError):
        return html.escape(str(v))
    if math.isnan(fv):
        return "n/a"
    if math.isinf(fv):
        return "∞"
    return format(fv, fmt)


def _quoted(q: Mapping[str, Any] | None) -> tuple[str, str]:
    """``("bid / ask", "spread bps")`` of one leg's quote, or n/a."""
    if not q:
        return "n/a", "n/a"
    return f"{_f(q.get('bid'), '.8g')} / {_f(q.get('ask'), '.8g')}", _f(q.get("spread_bps"), ".3g")


def render_metrics(fast: Mapping[str, float], slow: Mapping[str, Any], *, live_prices: Mapping[str, float],
                   y: str, x: str, method: str, bars: int, filtered: int,
                   quotes: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The metrics strip: two HTML tables, the fit and its tests above, each leg's market below.

    ``quotes``: leg (``"y"``/``"x"``) -> the ingest heartbeat's best bid/ask of that symbol
    (:attr:`quantkit.ingest.IngestStats.quotes`); the quoted spread of each leg is shown from it
    (n/a when the ingest does not subscribe quotes).
    """
    quotes = quotes or {}
    (y_ba, y_bps), (x_ba, x_bps) = _quoted(quotes.get("y")), _quoted(quotes.get("x"))
    z = fast.get("z", _NAN)
    zcls = "qk-short" if z == z and z > 0 else "qk-long" if z == z and z < 0 else ""
    cells = [
        (html.escape(y), _f(live_prices.get("y"), ".6g")),
        (html.escape(x), _f(live_prices.get("x"), ".6g")),
        ("alpha", _f(fast.get("alpha"))),
        (f"beta ({html.escape(method.upper())})", _f(fast.get("beta"))),
        ("R²", _f(fast.get("r2"), ".3f")),
        ("z", f"<span class='{zcls} qk-z'>{_f(z, '+.2f')}</span>"),
        ("corr", _f(fast.get("corr"), ".3f")),
        ("half-life", _f(slow.get("half_life_s"), ".0f") + " s"),
        ("ADF p", _f(slow.get("adf_p"), ".3f")),
        ("EG p", _f(slow.get("eg_p"), ".3f")),
        (f"VWAP {html.escape(y)}", _f(fast.get("y_vwap"), ".6g")),
        (f"VWAP {html.escape(x)}", _f(fast.get("x_vwap"), ".6g")),
        ("imbalance Y/X", f"{_f(fast.get('y_imbalance'), '+.2f')} / {_f(fast.get('x_imbalance'), '+.2f')}"),
        (f"bid / ask {html.escape(y)}", y_ba),
        (f"bid / ask {html.escape(x)}", x_ba),
        ("quoted spread Y/X (bps)", f"{y_bps} / {x_bps}"),
        ("vol regime Y/X", f"{_f(slow.get('y_regime'))} / {_f(slow.get('x_regime'))}"),
        ("bars", f"{bars:,}" + (f" ({filtered:,} filtered)" if filtered else "")),
    ]
    split = 10  # two rows, so the strip fits the page
    tables = []
    for part in (cells[:split], cells[split:]):
        head = "".join(f"<th>{k}</th>" for k, _ in part)
        body = "".join(f"<td>{v}</td>" for _, v in part)
        tables.append(f"<table class='qk-strip'><tr>{head}</tr><tr>{body}</tr></table>")
    return "".join(tables)


def ingest_problem(heartbeat: Mapping[str, Any]) -> str | None:
    """The reason an ingest heartbeat reports an error state, or ``None`` when it reports none.

    An error state is ``state`` ``"error"`` (receiving but storing nothing), ``"store_full"``, or
    ``restart_required``; the reason is the heartbeat's ``error``, else its ``last_error``, else the state.
    """
    state = str(heartbeat.get("state") or "")
    if state not in ("error", "store_full") and not heartbeat.get("restart_required") and not heartbeat.get("error"):
        return None
    return str(heartbeat.get("error") or heartbeat.get("last_error") or state or "error")


def render_ingest_problem(reason: str) -> str:
    """The red line shown while the ingest reports an error state (escaped)."""
    return f"<span class='qk-err qk-ingest-error'>ingest error: {html.escape(reason)}</span>"


def render_status(info: Mapping[str, Any]) -> str:
    """The feed-status panel.

    Args:
        info: ``state`` (publisher state), ``feed_state``, ``heartbeat`` (bool: an ingest
            heartbeat is fresh), ``ticks_per_s``, ``ingest_tps``, ``ingest_lag_ms``, ``last_tick_ms``,
            ``tick_age_s``, ``send_lag_ms``, ``rejected``, ``gaps``, ``gaps_unfilled``, ``reconnects``,
            ``ingest_error``, ``ingest_problem`` (an error state of the heartbeat: shown first, in
            red), ``update_ms``, ``read_ms``, ``publishes``, ``errors``, ``last_error``, ``browser_age_s``.
    """
    last_ms = info.get("last_tick_ms")
    if last_ms is not None and last_ms >= 0:
        ts = pd.Timestamp(int(last_ms), unit="ms", tz="UTC")
        stamp = ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
        last = f"<span class='qk-last-tick' data-ms='{int(last_ms)}'>{stamp}</span> UTC"
    else:
        last = "<span class='qk-last-tick' data-ms=''>none yet</span>"
    feed = str(info.get("feed_state") or "unknown")
    problem = info.get("ingest_problem")
    fcls = "qk-err" if problem else "qk-ok" if feed == "connected" else "qk-warn" if feed in ("reconnecting", "connecting") else ""
    src = "ingest heartbeat" if info.get("heartbeat") else "store only (no ingest heartbeat)"
    rows = [("ingest", render_ingest_problem(str(problem)))] if problem else []
    rows += [
        ("publisher", html.escape(str(info.get("state", "")))),
        ("feed", f"<span class='{fcls} qk-feed-state'>{html.escape(feed)}</span> <small>({src})</small>"),
        ("ticks/s (pair)", _f(info.get("ticks_per_s"), ",.1f")
         + (f" <small>(ingest: {_f(info.get('ingest_tps'), ',.0f')} ticks/s, tick→store "
            f"{_f(info.get('ingest_lag_ms'), ',.0f')} ms)</small>" if info.get("heartbeat") else "")),
        ("last tick", last),
        ("last tick age", _f(info.get("tick_age_s"), ",.1f") + " s"),
        ("tick→screen lag", _f(info.get("send_lag_ms"), ",.0f") + " ms <small>(until sent by the kernel)</small>"),
        ("rejected / gaps", f"{_f(info.get('rejected'), ',.0f')} / {_f(info.get('gaps'), ',.0f')}"
         + (f" ({_f(info.get('gaps_unfilled'), ',.0f')} unfilled)" if info.get("gaps_unfilled") else "")),
        ("reconnects", _f(info.get("reconnects"), ",.0f")),
        ("update cost", _f(info.get("update_ms"), ".1f") + " ms + store read " + _f(info.get("read_ms"), ".1f") + " ms"),
        ("publishes", _f(info.get("publishes"), ",.0f")),
        ("browser heartbeat", "none yet" if info.get("browser_age_s") is None
         else _f(info.get("browser_age_s"), ".0f") + " s ago"),
    ]
    if info.get("ingest_error") and info.get("ingest_error") != problem:
        rows.append(("ingest error", f"<span class='qk-warn'>{html.escape(str(info['ingest_error']))}</span>"))
    if info.get("errors"):
        rows.append(("errors", f"<span class='qk-err qk-error'>{int(info['errors'])}: "
                                f"{html.escape(str(info.get('last_error') or ''))}</span>"))
    return "<table>" + "".join(f"<tr><th>{k}</th><td style='text-align:left'>{v}</td></tr>" for k, v in rows) + "</table>"


def render_alerts(alerts: Sequence[Alert], active: Mapping[str, str], *, limit: int = 12) -> str:
    """The alert panel: active rules, then the newest alerts first."""
    act = ", ".join(f"{html.escape(k)} ({html.escape(v or '-')})" for k, v in active.items()) or "none"
    rows = []
    for a in list(alerts)[::-1][:limit]:
        cls = "qk-long" if a.direction == LONG_SPREAD else "qk-short" if a.direction == SHORT_SPREAD else "qk-warn"
        rows.append(
            f"<tr class='qk-alert'><td>{a.time.strftime('%m-%d %H:%M:%S')}</td><td>{html.escape(a.rule)}</td>"
            f"<td class='{cls}'>{html.escape(a.direction or '-')}</td>"
            f"<td style='text-align:left'>{html.escape(a.message)}</td></tr>"
        )
    table = "<table><tr><th>time (UTC)</th><th>rule</th><th>direction</th><th>message</th></tr>" + "".join(rows) + "</table>"
    return f"<div>active: {act} &middot; {len(alerts)} in history</div>" + (table if rows else "<i>no alerts yet</i>")
