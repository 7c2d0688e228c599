"""Voila read-only dashboard: 5 concurrent viewers, time to first chart, memory per viewer kernel, reclaim after they leave.

Every figure is measured in this run. Setup: the local exchange (synthetic market, 20x) feeding an ``Ingestor``
that writes four symbols into a temporary LMDB store; ``quantkit.dashboard.serve.serve`` runs Voila on
``notebooks/voila_dashboard.ipynb`` with the repository's ``jupyter_config/`` and its **production defaults**
(viewer lease 15 s, ``cull_idle_timeout`` 60 s, ``cull_interval`` 15 s). Headless Debian chromium (Python
playwright, one browser, one context per viewer) opens the page N times at once.

Per mode (``cold``: a kernel is started per page load; ``pool``: ``--pool N`` pre-started kernels):

1. first chart: seconds from navigation start to the first drawn chart of each viewer (a tile's z-score
   sparkline, ``svg.qk-spark polyline``), and to the first drawn bqplot chart of the pair view (after one click
   on the ``pair view`` tab at first paint). Target: first chart <= 5 s for every viewer.
2. memory: resident set size (``VmRSS``) of each viewer's kernel after 10 s of streaming, and of the Voila server.
   Target <= 250 MB per kernel.
3. reclaim: the viewers close their tabs (``beforeunload`` runs; Voila's beacon is refused, voila#1458); seconds
   until each viewer's kernel process is gone. Target: all within 120 s.

Usage: python benchmarks/voila.py [--viewers 5] [--modes cold,pool] [--quick]
    --quick   2 viewers, cold only (a smoke run; reclaim still waits for the real timeouts)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quantkit.config import FeedConfig, IngestConfig, StoreConfig  # noqa: E402
from quantkit.dashboard.serve import ServeOptions, kernel_pids, serve  # noqa: E402
from quantkit.exchange import LocalExchange, SyntheticMarket  # noqa: E402
from quantkit.ingest import Ingestor  # noqa: E402
from quantkit.store import TickStore  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
SYMBOLS = ("SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT")
FIRST_CHART = "() => document.querySelectorAll('svg.qk-spark polyline').length > 0"
BQPLOT_DRAWN = ("() => [...document.querySelectorAll('.qk-live .bqplot path.line')]"
                ".some(p => (p.getAttribute('d') || '').length > 200)")  # fmt: skip


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def find_server_pid(port: int) -> int:
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"voila" in cmd and f"--port={port}".encode() in cmd:
                return int(d.name)
    raise RuntimeError(f"no Voila process on port {port}")


def pid_of_kernel(server_pid: int, kernel_id: str) -> int | None:
    for pid in kernel_pids(server_pid):
        try:
            if kernel_id.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


async def viewer(browser: Any, url: str, timeout_s: float) -> dict[str, Any]:
    """One viewer: navigate, time the first chart and the first bqplot chart; returns the page and timings."""
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    t0 = time.monotonic()
    await page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
    t_nav = time.monotonic() - t0
    await page.wait_for_function(FIRST_CHART, timeout=timeout_s * 1000)
    t_chart = time.monotonic() - t0
    await page.locator(".lm-TabBar-tab, .p-TabBar-tab").nth(1).click()
    await page.wait_for_function(BQPLOT_DRAWN, timeout=timeout_s * 1000)
    t_bqplot = time.monotonic() - t0
    cfg = json.loads(await page.locator("#jupyter-config-data").text_content() or "{}")
    return {"ctx": ctx, "page": page, "nav": t_nav, "chart": t_chart, "bqplot": t_bqplot, "kernel": cfg["kernelId"]}


async def run_viewers(url: str, n: int, server_pid: int, timeout_s: float, reclaim_limit_s: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            views = await asyncio.gather(*(viewer(browser, url, timeout_s) for _ in range(n)))
            await asyncio.sleep(10.0)  # stream for a while before measuring memory
            pids = {v["kernel"]: pid_of_kernel(server_pid, v["kernel"]) for v in views}
            mem = {k: rss_mb(pid) for k, pid in pids.items() if pid}
            server_mem = rss_mb(server_pid)
            for v in views:  # the viewers leave: tabs close with beforeunload
                await v["page"].close(run_before_unload=True)
            closed = time.monotonic()
            gone: dict[str, float] = {}
            while len(gone) < len(views) and time.monotonic() - closed < reclaim_limit_s:
                for k, pid in pids.items():
                    if k not in gone and (pid is None or not Path(f"/proc/{pid}").exists() or _zombie(pid)):
                        gone[k] = time.monotonic() - closed
                await asyncio.sleep(0.5)
            for v in views:
                await v["ctx"].close()
        finally:
            await browser.close()
    return {"views": views, "mem": mem, "server_mem": server_mem, "gone": gone, "n": n}


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def run_mode(mode: str, uri: str, data_dir: Path, n: int, pool: int) -> dict[str, Any]:
    opts = ServeOptions(port=0, store=StoreConfig(uri=uri), pool_size=pool if mode == "pool" else 0)
    ready: list[str] = []
    stop = threading.Event()
    t = threading.Thread(target=lambda: serve(opts, on_ready=ready.append, stop=stop), daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 120
        while not ready and time.monotonic() < deadline:
            time.sleep(0.2)
        if not ready:
            raise RuntimeError("Voila did not start")
        url = ready[0]
        port = int(url.split(":")[2].split("/")[0])
        server_pid = find_server_pid(port)
        if mode == "pool":  # wait until the pool is warm (its kernels ran the notebook)
            deadline = time.monotonic() + 180
            while len(kernel_pids(server_pid)) < pool and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(20.0)
        result = asyncio.run(run_viewers(url, n, server_pid, timeout_s=180.0, reclaim_limit_s=240.0))
        result["left"] = len(kernel_pids(server_pid))
        return result
    finally:
        stop.set()
        t.join(120)


def report(mode: str, r: dict[str, Any]) -> bool:
    views = r["views"]
    print(f"\n## mode: {mode}  ({r['n']} concurrent viewers)")
    print(f"{'viewer':>6} {'page (s)':>9} {'1st chart (s)':>14} {'bqplot (s)':>11} {'kernel RSS (MB)':>16} {'reclaimed (s)':>14}")
    for i, v in enumerate(views, 1):
        mem = r["mem"].get(v["kernel"], float("nan"))
        gone = r["gone"].get(v["kernel"])
        print(f"{i:>6} {v['nav']:>9.1f} {v['chart']:>14.1f} {v['bqplot']:>11.1f} {mem:>16.0f} "
              f"{(f'{gone:.1f}' if gone is not None else 'NOT'):>14}")  # fmt: skip
    charts = [v["chart"] for v in views]
    mems = list(r["mem"].values())
    gone = list(r["gone"].values())
    ok_chart = max(charts) <= 5.0
    ok_mem = bool(mems) and max(mems) <= 250.0
    ok_gone = len(gone) == len(views) and max(gone) <= 120.0
    print(f"first chart: median {statistics.median(charts):.1f} s, max {max(charts):.1f} s "
          f"(target <= 5 s: {'met' if ok_chart else 'NOT met'})")
    print(f"kernel RSS: median {statistics.median(mems):.0f} MB, max {max(mems):.0f} MB "
          f"(target <= 250 MB: {'met' if ok_mem else 'NOT met'}); Voila server RSS {r['server_mem']:.0f} MB")
    print(f"reclaimed: {len(gone)}/{len(views)} viewer kernels, last after {max(gone) if gone else float('nan'):.1f} s "
          f"(target all <= 120 s: {'met' if ok_gone else 'NOT met'}); kernels left running: {r['left']}"
          + (" (the refilled pool)" if mode == "pool" else ""))
    return ok_chart and ok_mem and ok_gone


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--viewers", type=int, default=5)
    ap.add_argument("--modes", default="cold,pool", help="comma-separated: cold, pool (default both)")
    ap.add_argument("--pool", type=int, default=None, help="pool size in pool mode (default: --viewers)")
    ap.add_argument("--quick", action="store_true", help="2 viewers, cold only")
    args = ap.parse_args()
    n = 2 if args.quick else args.viewers
    modes = ["cold"] if args.quick else [m.strip() for m in args.modes.split(",") if m.strip()]
    pool = args.pool or n
    print("# Voila read-only dashboard benchmark")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f} at start; "
          f"python {platform.python_version()}")  # fmt: skip
    print("defaults: viewer lease 15 s, cull_idle_timeout 60 s, cull_interval 15 s (jupyter_config/voila.json)")
    with tempfile.TemporaryDirectory(prefix="qk-voila-bench-") as tmp:
        data_dir = Path(tmp)
        uri = f"lmdb://{data_dir / 'arctic'}"
        os.environ["QUANTKIT_DATA_DIR"] = str(data_dir)
        os.environ["JUPYTER_RUNTIME_DIR"] = str(data_dir / "runtime")
        exchange = LocalExchange(SyntheticMarket(seed=21, speed=20.0)).start()
        feed = FeedConfig.for_source("local", list(SYMBOLS), local_url=exchange.url)
        ingestor = Ingestor(feed, TickStore(uri), config=IngestConfig(flush_interval=0.25)).start()
        try:
            t0 = time.monotonic()
            while min(int(ingestor.stats.per_symbol.get(s, 0)) for s in SYMBOLS) < 2000 and time.monotonic() - t0 < 120:
                time.sleep(0.5)
            ok = True
            for mode in modes:
                ok = report(mode, run_mode(mode, uri, data_dir, n, pool)) and ok
            print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
        finally:
            ingestor.stop()
            exchange.stop()
    print(f"targets: {'all met' if ok else 'NOT all met'}")
    return 0


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        sys.exit(main())
