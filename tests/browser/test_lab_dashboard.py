"""The README's main command in a real browser: `quantkit up` -> JupyterLab -> Run All -> a live dashboard.

Headless Debian chromium driven by Python playwright (no `playwright install`). Screenshots are kept in
``tests/artifacts/`` (``lab_dashboard_1.png``, ``lab_dashboard_2.png``, ``lab_warm_start.png``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Page, sync_playwright

from _support.waiting import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
TOKEN = "qkbrowser"


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read()


def _shutdown(proc: subprocess.Popen[bytes], port: int, timeout: float) -> int | None:
    """Shut the kernels down through the REST API (fast, no orphans), then stop `quantkit up`."""
    base = f"http://127.0.0.1:{port}"
    try:
        for k in json.loads(_get(f"{base}/api/kernels?token={TOKEN}")):
            req = urllib.request.Request(f"{base}/api/kernels/{k['id']}?token={TOKEN}", method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()
    except OSError:
        pass
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


_PROMPTS = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.innerText)"


def _run_all(page: Page, wait_ms: float) -> None:
    """Menu Run > Run All Cells until every code cell has run.

    Requests sent while the kernel connection is still settling are dropped by JupyterLab
    (the cells fall back to ``[ ]``); then the menu is used again. A "Select Kernel" dialog
    (shown when the session has no kernel yet) is accepted.
    """
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=wait_ms)
    deadline = time.monotonic() + wait_ms / 1000
    while time.monotonic() < deadline:
        if not page.locator(".jp-Dialog").count():
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        clicked = time.monotonic()
        while time.monotonic() < deadline:
            dialog = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            if dialog.count():  # "Select Kernel" when the session had no kernel yet: accept python3
                dialog.first.click()
            prompts = page.evaluate(_PROMPTS)
            if prompts and all(re.fullmatch(r"\[\d+\]:?", p.strip()) for p in prompts):
                return
            if time.monotonic() - clicked > 5 and not any("*" in p for p in prompts):
                break  # nothing running or queued: the request was dropped
            page.wait_for_timeout(250)
    raise AssertionError(f"Run All Cells did not run the notebook: {page.evaluate(_PROMPTS)}")


@contextmanager
def _lab_on_the_dashboard(tmp_path: Path, repo_root: Path, timeout_unit: float, *up_args: str) -> Iterator[Page]:
    """`quantkit up` on the store in ``tmp_path`` (QUANTKIT_DATA_DIR), chromium on the live dashboard, Run All.

    Yields the page once every cell ran; afterwards the kernels and `quantkit up` are stopped, the exit code
    must be 0 and the repository's notebook must be untouched.
    """
    notebook = repo_root / "notebooks" / "live_dashboard.ipynb"
    digest = hashlib.sha256(notebook.read_bytes()).hexdigest()
    settings = tmp_path / "lab-settings"
    (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True, exist_ok=True)
    # never autosave the repository's notebook while the test runs it
    (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    port = free_port()
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    env.pop("QUANTKIT_ARCTIC_URI", None)
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantkit", "up", "--no-browser", "--port", str(port), "--token", TOKEN, *up_args],
        env=env, cwd=repo_root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/lab/tree/notebooks/live_dashboard.ipynb?reset&token={TOKEN}"
        deadline = time.monotonic() + 60 * timeout_unit
        while True:
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            try:
                _get(f"http://127.0.0.1:{port}/api/status?token={TOKEN}")
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            try:
                wait_ms = 90_000 * timeout_unit
                page.goto(url, wait_until="domcontentloaded", timeout=wait_ms)
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=wait_ms)
                _run_all(page, wait_ms)
                yield page
            except Exception:
                page.screenshot(path=str(repo_root / "tests" / "artifacts" / "lab_dashboard_failure.png"))
                raise
            finally:
                browser.close()
    finally:
        code = _shutdown(proc, port, 30 * timeout_unit)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == digest  # the repository's notebook is untouched


def test_up_shows_a_live_dashboard_in_jupyterlab(tmp_path: Path, repo_root: Path, artifacts_dir: Path,
                                                 timeout_unit: float) -> None:
    """Run All in JupyterLab draws non-empty charts, and the shown last-tick time advances between two screenshots."""
    wait_ms = 90_000 * timeout_unit
    with _lab_on_the_dashboard(tmp_path, repo_root, timeout_unit, "--speed", "20") as page:
        page.wait_for_function(
            "() => { const e = document.querySelector('.qk-last-tick'); return e && /^[0-9]{13}$/.test(e.dataset.ms); }",
            timeout=wait_ms,
        )
        # non-empty charts: at least the prices, volume, spread and z-score lines are drawn
        page.wait_for_function(
            "() => [...document.querySelectorAll('.qk-live .bqplot path.line')]"
            ".filter(p => (p.getAttribute('d') || '').length > 200).length >= 4",
            timeout=wait_ms,
        )
        page.locator(".qk-live").first.scroll_into_view_if_needed()
        first_ms = int(page.locator(".qk-last-tick").first.get_attribute("data-ms"))
        first_text = page.locator(".qk-last-tick").first.inner_text()
        page.screenshot(path=str(artifacts_dir / "lab_dashboard_1.png"))
        page.wait_for_timeout(3000)
        page.wait_for_function(
            f"() => Number(document.querySelector('.qk-last-tick').dataset.ms) > {first_ms}", timeout=wait_ms
        )
        second_ms = int(page.locator(".qk-last-tick").first.get_attribute("data-ms"))
        second_text = page.locator(".qk-last-tick").first.inner_text()
        page.screenshot(path=str(artifacts_dir / "lab_dashboard_2.png"))
        assert second_ms > first_ms and second_text != first_text
        drawn = page.evaluate(
            "() => [...document.querySelectorAll('.qk-live .bqplot path.line')]"
            ".map(p => (p.getAttribute('d') || '').length)"
        )
        assert sum(1 for d in drawn if d > 200) >= 4, drawn
        status = page.locator(".qk-status").first.inner_text()
        assert "streaming" in status
        # the page's heartbeat (the pause-when-closed seam) reaches the kernel
        page.wait_for_function(
            "() => /browser heartbeat\\s+[0-9]+ s ago/.test(document.querySelector('.qk-status').innerText)",
            timeout=wait_ms,
        )


# points of the longest line of each live figure, by the figure's title (bqplot draws `M x,y L x,y ...`)
_POINTS_BY_TITLE = """() => [...document.querySelectorAll('.qk-live .bqplot')].map(fig => {
    const title = (fig.querySelector('.mainheading') || {}).textContent || '';
    const counts = [...fig.querySelectorAll('path.line')].map(p => {
        const d = p.getAttribute('d') || '';
        return d.startsWith('M') ? (d.match(/L/g) || []).length + 1 : 0;
    });
    return [title.trim(), Math.max(0, ...counts)];
})"""
_PANELS = ("prices", "spread", "z-score", "return correlation", "hedge ratio")


def _points(page: Page) -> dict[str, int]:
    """Points drawn per panel (titles such as 'spread (OLS) with mean ± 2 sd' keyed by their first words)."""
    out: dict[str, int] = {}
    for title, n in page.evaluate(_POINTS_BY_TITLE):
        key = next((k for k in _PANELS if title.startswith(k)), title)
        out[key] = max(out.get(key, 0), int(n))
    return out


def test_up_draws_every_panel_at_the_first_render(tmp_path: Path, repo_root: Path, artifacts_dir: Path,
                                                  timeout_unit: float) -> None:
    """Fresh store, `quantkit up` as the README says (real time, default history): spread, z-score and hedge ratio
    have hundreds of points at the dashboard's first render, not after the two minutes a 120-bar window needs."""
    wait_ms = 90_000 * timeout_unit
    with _lab_on_the_dashboard(tmp_path, repo_root, timeout_unit) as page:
        # the first publish with data: the price line has points
        page.wait_for_function(f"() => ({_POINTS_BY_TITLE})().some(([t, n]) => t.startsWith('prices') && n > 1)",
                               timeout=wait_ms)
        first = _points(page)
        page.locator(".qk-live").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "lab_warm_start.png"), full_page=True)
        # 10 minutes of 1 s bars: the hedge needs 120 bars, the z-score 120 more; without the warm start
        # (speed 1) the z-score would have no point for two minutes after the first bar
        assert first["spread"] >= 300 and first["hedge ratio"] >= 300 and first["z-score"] >= 200, first
        assert first["return correlation"] >= 300, first
        status = page.locator(".qk-status").first.inner_text()
        assert "ingest error" not in status
        # the default pair is the synthetic market's cointegrated pair (every symbol was stored before the page ran)
        assert "SYNAUSDT" in page.locator(".qk-live").first.inner_text() and "SYNBUSDT" in status + page.locator(
            ".qk-live").first.inner_text()


def _stored_counts(data_dir: Path) -> dict[str, int]:
    """Ticks stored per symbol in the main job's store under ``data_dir``."""
    from quantkit.store import TickStore

    store = TickStore(f"lmdb://{data_dir}/arctic", create=False)
    try:
        table = store.symbols()
        return {str(s): int(n) for s, n in zip(table["symbol"], table["count"])}
    finally:
        store.close()


def test_the_second_run_on_one_store_is_live(tmp_path: Path, repo_root: Path, artifacts_dir: Path,
                                             timeout_unit: float) -> None:
    """The main job run a second time on its store stores new ticks and its dashboard is live (the second day)."""
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path))
    env.pop("QUANTKIT_ARCTIC_URI", None)
    log = tmp_path / "first.log"
    with log.open("wb") as out:
        first = subprocess.Popen([sys.executable, "-m", "quantkit", "up", "--no-lab"], env=env,
                                 cwd=repo_root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90 * timeout_unit
    while b"warm start done" not in log.read_bytes():
        assert first.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    time.sleep(3)  # a few live ticks after the warm start
    os.killpg(first.pid, signal.SIGTERM)
    assert first.wait(60 * timeout_unit) == 0, log.read_text()[-3000:]
    before = _stored_counts(tmp_path)
    assert before and all(n > 0 for n in before.values()), before

    wait_ms = 90_000 * timeout_unit
    with _lab_on_the_dashboard(tmp_path, repo_root, timeout_unit) as page:
        page.wait_for_function(
            "() => { const e = document.querySelector('.qk-last-tick'); return e && /^[0-9]{13}$/.test(e.dataset.ms); }",
            timeout=wait_ms,
        )
        first_ms = int(page.locator(".qk-last-tick").first.get_attribute("data-ms"))
        page.wait_for_function(
            f"() => Number(document.querySelector('.qk-last-tick').dataset.ms) > {first_ms}", timeout=wait_ms
        )
        page.locator(".qk-live").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "lab_second_run.png"), full_page=True)
        status = page.locator(".qk-status").first.inner_text()
        assert "streaming" in status and "ingest error" not in status, status
        drawn = _points(page)
        assert drawn["spread"] >= 100 and drawn["z-score"] >= 1, drawn
    after = _stored_counts(tmp_path)
    assert set(after) == set(before) and all(after[s] > before[s] for s in before), (before, after)
