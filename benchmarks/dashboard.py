"""Live dashboard benchmarks: update cost vs a naive refresh, tick-to-screen latency in chromium, kernel memory.

Every figure is measured in this run.

1. update: one day of synthetic ticks for the pair (SYNAUSDT/SYNBUSDT, ~4.5M ticks) in an LMDB store; a
   LiveDashboard (1 s bars, window 300, history 20,000 bars, ``max_points`` 5,000) seeded from the store
   without its last 2 minutes. Then, per update: one more second of ticks is appended (not timed) and one
   publisher cycle is timed: store read of the new ticks -> bars -> O(1) estimators -> alert rules ->
   decimated arrays -> widget messages. Widget messages are serialized exactly as ipykernel does
   (``jupyter_client.Session.serialize``) by a recording comm. Baseline in the same run: the naive refresh,
   which re-reads every tick of the day, resamples to 1 s bars, recomputes rolling OLS / spread / z-score /
   correlation and redraws the same widgets.
2. latency: ``python -m quantkit up --speed 1`` (exchange time = wall time), headless Debian chromium opens
   JupyterLab, runs all cells; a MutationObserver records, for every repaint of the feed-status panel,
   ``Date.now() - data-ms`` of the newest tick shown (browser clock = exchange clock on one machine).
3. memory: ``quantkit ingest --source synthetic --speed S`` in a child process writes ~1,000 ticks/s (all four
   symbols); this process runs the dashboard publisher thread (4 Hz) over the store and samples its RSS.

Usage: python benchmarks/dashboard.py [--only update,latency,memory] [--updates N] [--latency-seconds S]
                                      [--memory-minutes M] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
Y, X = "SYNAUSDT", "SYNBUSDT"
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's helpers (tests/_support)
from _support.waiting import free_port  # noqa: E402
T0_MS = 1_723_000_000_000
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip


# ------------------------------------------------------------------------------------------------ a kernel-like comm
def install_serializing_comm(keep: bool = False) -> dict[str, Any]:
    """Make new widgets send through a comm that serializes like ipykernel; returns counters."""
    import comm
    from comm.base_comm import BaseComm
    from ipykernel.jsonutil import json_clean
    from jupyter_client.session import Session

    session = Session(key=b"")
    stats: dict[str, Any] = {"messages": 0, "bytes": 0}

    class SerializingComm(BaseComm):
        def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any) -> None:
            content = json_clean(dict(data=data or {}, comm_id=self.comm_id, **keys))
            frames = session.serialize(session.msg(msg_type, content, metadata=json_clean(metadata or {})))
            stats["messages"] += 1
            stats["bytes"] += sum(len(f) for f in frames) + sum(memoryview(b).nbytes for b in (buffers or []))

    comm.create_comm = lambda *a, **k: SerializingComm(*a, **k)
    return stats


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a), q)) if a else float("nan")


# ------------------------------------------------------------------------------------------------ 1. update cost
def bench_update(n_updates: int, quick: bool) -> dict[str, Any]:
    from quantkit.analytics import align_pair, rolling_correlation, rolling_ols, spread, zscore
    from quantkit.dashboard import LiveDashboard
    from quantkit.dashboard.live.metrics import render_metrics
    from quantkit.exchange import SyntheticMarket
    from quantkit.store import TickStore

    comm_stats = install_serializing_comm()
    day_s = 3600 if quick else 86_400
    t = time.perf_counter()
    frames = SyntheticMarket(1).generate(day_s, start_ms=T0_MS)
    ticks = {s: frames[s].drop(columns=["event_time"]) for s in (Y, X)}
    gen_s = time.perf_counter() - t
    work = Path(tempfile.mkdtemp(prefix="qk-dash-bench-"))
    store = TickStore(f"lmdb://{work / 'arctic'}", maintenance=None)
    live_from = T0_MS + (day_s - 120) * 1000
    for s, f in ticks.items():
        store.append_ticks(s, f[f.index < pd.Timestamp(live_from, unit="ms", tz="UTC")])
    n_ticks = sum(len(f) for f in ticks.values())

    dash = LiveDashboard(store, y=Y, x=X, bar="1s", window=300, history_bars=20_000, max_points=5_000,
                         status_path=work / "none.json", persist_alerts=False, clock=lambda: live_from / 1000)
    t = time.perf_counter()
    dash.step()
    seed_s = time.perf_counter() - t
    points = len(dash.view.marks["z"].y)

    cycle, compute, read, msgs, nbytes = [], [], [], [], []
    for k in range(n_updates):
        lo = pd.Timestamp(live_from + k * 1000, unit="ms", tz="UTC")
        hi = lo + pd.Timedelta("1s")
        for s, f in ticks.items():
            part = f[(f.index >= lo) & (f.index < hi)]
            if len(part):
                store.append_ticks(s, part)
        m0, b0 = comm_stats["messages"], comm_stats["bytes"]
        t = time.perf_counter()
        dash.step()
        cycle.append((time.perf_counter() - t) * 1000)
        read.append(dash.monitor.source.read_ms)
        compute.append(cycle[-1] - read[-1])
        msgs.append(comm_stats["messages"] - m0)
        nbytes.append(comm_stats["bytes"] - b0)
    assert dash.errors == 0, dash.last_error

    def naive_refresh() -> None:
        """Re-read all ticks, resample, recompute everything, redraw the same widgets."""
        bars = {}
        for s in (Y, X):
            tk = store.ticks(s)
            buy = np.where(tk["is_buyer_maker"].to_numpy(), 0.0, tk["qty"].to_numpy())
            g = tk.assign(buy=buy).resample("1s", label="left", closed="left")
            b = pd.DataFrame({"open": g["price"].first(), "high": g["price"].max(), "low": g["price"].min(),
                              "close": g["price"].last(), "volume": g["qty"].sum(),
                              "quote_volume": g["quote_qty"].sum(), "taker_buy_volume": g["buy"].sum()})
            bars[s] = b.dropna(subset=["close"])
        pair = align_pair(bars[Y]["close"], bars[X]["close"])
        fit = rolling_ols(pair["y"], pair["x"], 300)
        sp = spread(pair["y"], pair["x"], fit["beta"], fit["alpha"])
        z = zscore(sp, 300)
        corr = rolling_correlation(pair["y"], pair["x"], 300)
        tail = slice(-20_000, None)
        series = dash.series()  # same drawing path: decimate the recomputed columns
        tt = pair.index[tail].as_unit("ms").asi8
        from quantkit.analytics.decimation import plan_decimation

        dec = plan_decimation(len(tt), 0, 5_000)
        cols = np.column_stack([pair["y"].to_numpy()[tail], pair["x"].to_numpy()[tail], sp.to_numpy()[tail],
                                z.to_numpy()[tail], corr.to_numpy()[tail], fit["beta"].to_numpy()[tail]])
        td, cd = dec.lines(tt, cols)
        series.update(t=td.astype("datetime64[ms]"), y_close=cd[:, 0], x_close=cd[:, 1], spread=cd[:, 2], z=cd[:, 3],
                      corr=cd[:, 4], beta=cd[:, 5], mean=cd[:, 2], upper=cd[:, 2], lower=cd[:, 2],
                      y_quote_volume=cd[:, 0], x_quote_volume=cd[:, 1])
        dash.view.draw(series, dash.params)
        dash.view.set_html("metrics", render_metrics({"z": float(z.iloc[-1])}, {}, live_prices={}, y=Y, x=X,
                                                     method="ols", bars=len(pair), filtered=0))

    naive = []
    for _ in range(2 if quick else 5):
        t = time.perf_counter()
        naive_refresh()
        naive.append((time.perf_counter() - t) * 1000)
    return {
        "ticks_in_store": n_ticks, "generate_s": gen_s, "seed_s": seed_s, "points_per_line": points,
        "updates": n_updates, "cycle_ms_p50": pct(cycle, 50), "cycle_ms_p95": pct(cycle, 95),
        "compute_ms_p50": pct(compute, 50), "compute_ms_p95": pct(compute, 95), "read_ms_p50": pct(read, 50),
        "messages_per_update": float(np.median(msgs)), "kb_per_update": float(np.median(nbytes)) / 1024,
        "naive_ms_p50": pct(naive, 50), "speedup_vs_cycle": pct(naive, 50) / pct(cycle, 50),
        "speedup_vs_compute": pct(naive, 50) / pct(compute, 50),
    }  # fmt: skip


# ------------------------------------------------------------------------------------------------ 2. latency
def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read()


def _run_all(page: Any, timeout_s: float) -> None:
    import re

    prompts_js = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.innerText)"
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not page.locator(".jp-Dialog").count():
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        clicked = time.monotonic()
        while time.monotonic() < deadline:
            dialog = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            if dialog.count():
                dialog.first.click()
            prompts = page.evaluate(prompts_js)
            if prompts and all(re.fullmatch(r"\[\d+\]:?", p.strip()) for p in prompts):
                return
            if time.monotonic() - clicked > 5 and not any("*" in p for p in prompts):
                break
            page.wait_for_timeout(250)
    shot = ROOT / "benchmarks" / "_work" / "dashboard_latency_failure.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    raise RuntimeError(f"Run All Cells did not run the notebook (screenshot: {shot})")


def bench_latency(seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="qk-dash-lat-"))
    settings = work / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    port, token = free_port(), "qkbench"
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(work), JUPYTER_RUNTIME_DIR=str(work / "rt"),
               JUPYTERLAB_SETTINGS_DIR=str(work / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(work / "ws"))
    env.pop("QUANTKIT_ARCTIC_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantkit", "up", "--no-browser", "--port", str(port), "--token", token, "--speed", "1"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/api/status?token={token}")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("JupyterLab did not start") from None
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/live_dashboard.ipynb?reset&token={token}",
                      wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            _run_all(page, 180)
            page.wait_for_function("() => /^[0-9]{13}$/.test(document.querySelector('.qk-last-tick')?.dataset.ms)",
                                   timeout=180_000)
            page.locator(".qk-live").first.scroll_into_view_if_needed()
            page.evaluate(
                """() => {
                    window.__qkLat = [];
                    const root = document.querySelector('.qk-status');
                    let last = null;
                    new MutationObserver(() => {
                        const e = root.querySelector('.qk-last-tick');
                        if (!e || !e.dataset.ms || e.dataset.ms === last) return;
                        last = e.dataset.ms;
                        window.__qkLat.push(Date.now() - Number(e.dataset.ms));
                    }).observe(root, {subtree: true, childList: true, characterData: true});
                }"""
            )
            page.wait_for_timeout(seconds * 1000)
            lat = page.evaluate("() => window.__qkLat")
            shown = page.locator(".qk-status").first.inner_text()
            browser.close()
        for k in json.loads(_get(f"http://127.0.0.1:{port}/api/kernels?token={token}")):
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/api/kernels/{k['id']}?token={token}", method="DELETE"), timeout=10).close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    upd = [ln for ln in shown.splitlines() if "update cost" in ln or "ticks/s" in ln]
    return {"samples": len(lat), "latency_ms_p50": pct(lat, 50), "latency_ms_p95": pct(lat, 95),
            "latency_ms_max": max(lat) if lat else float("nan"), "status": " | ".join(upd)}


# ------------------------------------------------------------------------------------------------ 3. memory
def rss_split() -> tuple[float, float]:
    """(anonymous RSS, file-backed RSS) of this process in MB, from /proc/self/status.

    File-backed RSS is mostly the LMDB map: pages of the store file this process has read. It grows
    with the store (the ingest keeps adding ticks) and is page cache the kernel can reclaim, not heap.
    """
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("RssAnon", "RssFile")):
                k, v = line.split(":")
                fields[k] = int(v.split()[0]) / 1024
    return fields.get("RssAnon", float("nan")), fields.get("RssFile", float("nan"))


def bench_memory(minutes: float) -> dict[str, Any]:
    import psutil

    from quantkit.dashboard import LiveDashboard
    from quantkit.store import TickStore

    counts = install_serializing_comm()
    work = Path(tempfile.mkdtemp(prefix="qk-dash-mem-"))
    uri = f"lmdb://{work / 'arctic'}"
    speed = 1000.0 / 79.0  # the synthetic market's four symbols trade ~79 ticks/s at 1x
    env = dict(os.environ, QUANTKIT_ARCTIC_URI=uri, QUANTKIT_DATA_DIR=str(work))
    ingest = subprocess.Popen(
        [sys.executable, "-m", "quantkit", "ingest", "--source", "synthetic", "--speed", f"{speed:.3f}",
         "--stats-every", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    me = psutil.Process()
    samples: list[tuple[float, float, int, float, float]] = []
    try:
        store = TickStore(uri)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            syms = store.symbols()
            if len(syms) >= 2 and (syms["count"] > 500).sum() >= 2:
                break
            time.sleep(0.5)
        dash = LiveDashboard(store, y=Y, x=X, bar="1s", window=300, status_path=work / "none.json").start()
        t0 = time.monotonic()
        n0 = int(store.symbols()["count"].sum())
        while time.monotonic() - t0 < minutes * 60:
            time.sleep(5)
            anon, mapped = rss_split()
            samples.append((time.monotonic() - t0, me.memory_info().rss / 2**20, dash.publishes, anon, mapped))
        n1 = int(store.symbols()["count"].sum())
        dash.stop()
        errors, last_error = dash.errors, dash.last_error
    finally:
        os.killpg(ingest.pid, signal.SIGTERM)
        try:
            ingest.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(ingest.pid, signal.SIGKILL)
    elapsed = samples[-1][0]
    warm = [s for s in samples if s[0] >= min(60.0, elapsed * 0.25)]

    def stats(i: int) -> dict[str, float]:
        v = [s[i] for s in warm]
        return {"base": v[0], "end": v[-1], "max": max(v), "growth_pct": 100 * (v[-1] - v[0]) / v[0],
                "max_dev_pct": 100 * max(abs(x - v[0]) for x in v) / v[0]}

    return {"minutes": minutes, "ingest_ticks_per_s": (n1 - n0) / elapsed, "rss": stats(1), "anon": stats(3),
            "mapped": stats(4), "publishes": samples[-1][2], "widget_messages": counts["messages"], "errors": errors,
            "last_error": last_error, "anon_series_mb": [round(s[3], 1) for s in samples],
            "mapped_series_mb": [round(s[4], 1) for s in samples]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="update,latency,memory")
    ap.add_argument("--updates", type=int, default=100, help="timed updates (default 100)")
    ap.add_argument("--latency-seconds", type=float, default=60.0, help="latency sampling time (default 60)")
    ap.add_argument("--memory-minutes", type=float, default=10.0, help="memory run length (default 10)")
    ap.add_argument("--quick", action="store_true", help="one hour of ticks, 30 updates, 20 s latency, 1 min memory")
    args = ap.parse_args()
    if args.quick:
        args.updates, args.latency_seconds, args.memory_minutes = 30, 20.0, 1.0
    only = set(args.only.split(","))
    print(f"# quantkit dashboard benchmarks ({platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()})")
    if "update" in only:
        r = bench_update(args.updates, args.quick)
        print("\n## 1. one dashboard update (2 legs, 1 s bars, window 300) vs the naive refresh")
        print(f"store: {r['ticks_in_store']:,} ticks ({'1 hour' if args.quick else '1 day'}), seed {r['seed_s']:.2f} s, "
              f"{r['points_per_line']:,} points per line, {r['messages_per_update']:.0f} widget messages / "
              f"{r['kb_per_update']:.0f} KiB per update")
        print("| measure | p50 ms | p95 ms |")
        print("|---|---:|---:|")
        print(f"| update without store read (bars -> estimators -> widget messages) | {r['compute_ms_p50']:.2f} | "
              f"{r['compute_ms_p95']:.2f} |")
        print(f"| whole cycle incl. store read of the new ticks | {r['cycle_ms_p50']:.2f} | {r['cycle_ms_p95']:.2f} |")
        print(f"| naive refresh (re-read all ticks, resample, recompute, redraw) | {r['naive_ms_p50']:.0f} | |")
        print(f"speed-up: {r['speedup_vs_cycle']:.0f}x (whole cycle), {r['speedup_vs_compute']:.0f}x (update only); "
              f"targets <= 10 ms median, >= 20x")
    if "latency" in only:
        try:
            r = bench_latency(args.latency_seconds)
        except RuntimeError as exc:  # a Run All dropped by a slow kernel start: measure again once
            print(f"(latency run failed: {exc}; retrying once)")
            r = bench_latency(args.latency_seconds)
        print("\n## 2. tick-to-screen latency, JupyterLab in headless chromium, default publish rate (4 Hz)")
        print("| samples | p50 ms | p95 ms | max ms |")
        print("|---:|---:|---:|---:|")
        print(f"| {r['samples']} | {r['latency_ms_p50']:.0f} | {r['latency_ms_p95']:.0f} | {r['latency_ms_max']:.0f} |")
        print(f"targets: median <= 500 ms, p95 <= 1000 ms; panel: {r['status']}")
    if "memory" in only:
        r = bench_memory(args.memory_minutes)
        print(f"\n## 3. dashboard process memory over {r['minutes']:g} min at {r['ingest_ticks_per_s']:,.0f} ticks/s ingested "
              f"({r['publishes']:,} publishes, {r['widget_messages']:,} widget messages, {r['errors']} errors)")
        print("| memory | after warm-up MB | end MB | max MB | growth | max deviation |")
        print("|---|---:|---:|---:|---:|---:|")
        for key, label in (("anon", "anonymous (heap: Python, numpy, ArcticDB)"), ("mapped", "file-backed (LMDB map)"),
                           ("rss", "total RSS")):
            m = r[key]
            print(f"| {label} | {m['base']:.1f} | {m['end']:.1f} | {m['max']:.1f} | {m['growth_pct']:+.1f} % | "
                  f"{m['max_dev_pct']:.1f} % |")
        print(f"target: within 10 %; anonymous RSS every 5 s (MB): {r['anon_series_mb']}")
        print(f"file-backed RSS every 5 s (MB): {r['mapped_series_mb']}")


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        main()
