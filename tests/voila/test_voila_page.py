"""The read-only dashboard served by Voila, in a real browser (headless Debian chromium + Python playwright).

One Voila server for the module, on ``notebooks/voila_dashboard.ipynb`` with the repository's
``jupyter_config/`` (short viewer and culler timeouts), reading a live LMDB store that the
local exchange and an ingest thread feed. Screenshots are kept in ``tests/artifacts/``
(``voila_grid.png``, ``voila_full_1.png``, ``voila_full_2.png``, ``voila_rejected.png``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from voila_helpers import (
    CULL_IDLE_S,
    CULL_INTERVAL_S,
    VIEWER_TIMEOUT_S,
    KernelChannel,
    VoilaServer,
    page_kernel_id,
    wait_until,
)

DRAWN = ("() => [...document.querySelectorAll('.qk-live .bqplot path.line')]"
         ".filter(p => (p.getAttribute('d') || '').length > 200).length >= 4")  # fmt: skip
LAST_MS = "() => Number((document.querySelector('.qk-last-tick') || {dataset: {}}).dataset.ms || 0)"


def _repo_digest(repo: Path) -> dict[str, str]:
    files = [*sorted((repo / "jupyter_config").rglob("*")), repo / "notebooks" / "voila_dashboard.ipynb"]
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


@pytest.fixture(scope="module")
def server(live_store: Any, repo_root: Path, tmp_path_factory: pytest.TempPathFactory,
           timeout_unit: float) -> Iterator[VoilaServer]:
    """Voila on the repository's read-only notebook (module scope); the repository is left untouched."""
    before = _repo_digest(repo_root)
    logs = tmp_path_factory.mktemp("voila-logs")
    env = {"QUANTKIT_ARCTIC_URI": live_store.uri, "QUANTKIT_DATA_DIR": str(live_store.data_dir),
           "QUANTKIT_VIEWER_TIMEOUT": str(VIEWER_TIMEOUT_S), "JUPYTER_RUNTIME_DIR": str(logs / "runtime")}  # fmt: skip
    srv = VoilaServer(repo_root, repo_root / "notebooks" / "voila_dashboard.ipynb", env, logs / "voila.log")
    try:
        srv.wait_ready(60 * timeout_unit)
        yield srv
    finally:
        srv.stop()
    assert _repo_digest(repo_root) == before, "serving must not write into the repository"


def _open(browser: Any, srv: VoilaServer, timeout_unit: float) -> Any:
    page = browser.new_page(viewport={"width": 1500, "height": 1250})
    # Voila's own tab-close beacon is refused today (voila#1458); block it so only the lease can reclaim kernels
    page.route("**/voila/api/shutdown/**", lambda route: route.abort())
    page.goto(srv.url, wait_until="domcontentloaded", timeout=120_000 * timeout_unit)
    page.wait_for_selector(".qk-tile-z", timeout=120_000 * timeout_unit)
    return page


def test_page_renders_charts_that_advance_with_the_feed(server: VoilaServer, browser: Any, live_store: Any,
                                                        artifacts_dir: Path, timeout_unit: float) -> None:
    """The grid shows every pair's z-score, one click opens the full view, its charts draw and its last tick advances."""
    page = _open(browser, server, timeout_unit)
    try:
        wait_ms = 60_000 * timeout_unit
        page.wait_for_function("() => document.querySelectorAll('.qk-tile-z').length >= 6", timeout=wait_ms)
        page.wait_for_function("() => document.querySelectorAll('svg.qk-spark polyline').length >= 1", timeout=wait_ms)
        page.screenshot(path=str(artifacts_dir / "voila_grid.png"))
        tiles = page.locator(".qk-tile").all_inner_texts()
        assert any("SYNAUSDT / SYNBUSDT" in t and re.search(r"z [+-]\d", t) for t in tiles), tiles

        page.locator(".qk-tile", has_text="SYNAUSDT / SYNBUSDT").get_by_role("button").click()
        page.wait_for_function(DRAWN, timeout=wait_ms)
        page.wait_for_function(f"() => ({LAST_MS})() > 0", timeout=wait_ms)
        first = page.evaluate(LAST_MS)
        page.screenshot(path=str(artifacts_dir / "voila_full_1.png"))
        page.wait_for_function(f"() => ({LAST_MS})() > {first}", timeout=wait_ms)
        page.screenshot(path=str(artifacts_dir / "voila_full_2.png"))
        status = page.locator(".qk-status").first.inner_text()
        assert "streaming" in status and "SYNAUSDT" in page.locator(".qk-live").first.inner_text()

        # the browser heartbeat reaches the kernel (the page's clock was started by the lease)
        page.wait_for_function(
            "() => /browser heartbeat\\s+[0-9] s ago/.test(document.querySelector('.qk-status').innerText)",
            timeout=wait_ms,
        )
        # strip_sources: no code cell text anywhere in the page
        html = page.content()
        for source in ("ReadOnlyDashboard(", "from quantkit", "import ", "layout = "):
            assert source not in page.inner_text("body")
        assert "ReadOnlyDashboard" not in html and "from quantkit" not in html
        # the viewer sees no write controls
        assert page.get_by_role("button", name="Export CSV").count() == 0 or not page.get_by_role(
            "button", name="Export CSV").first.is_visible()
    finally:
        page.close()


def _widget_states(chan: KernelChannel, timeout: float) -> dict[str, dict[str, Any]]:
    """comm id -> state of every widget of the kernel (comm_info_request, then request_state for all)."""
    info = chan.replies(chan.send("shell", "comm_info_request", {"target_name": "jupyter.widget"}), timeout,
                        until=lambda m: m["msg_type"] == "comm_info_reply")  # fmt: skip
    comms = set(next(m for m in info if m["msg_type"] == "comm_info_reply")["content"]["comms"])
    asked = {chan.send("shell", "comm_msg", {"comm_id": c, "data": {"method": "request_state"}}): c for c in comms}
    states: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(states) < len(comms) and (left := deadline - time.monotonic()) > 0:
        m = chan.recv(left)
        if m is None:
            break
        comm_id = asked.get(m.get("parent_header", {}).get("msg_id"))
        if m.get("msg_type") == "comm_msg" and comm_id and m["content"].get("comm_id") == comm_id:
            if m["content"]["data"].get("method") == "update":
                states[comm_id] = m["content"]["data"]["state"]
    return states


def _find(states: dict[str, dict[str, Any]], model: str, match: Callable[[dict[str, Any]], bool]) -> str:
    found = [c for c, s in states.items() if s.get("_model_name") == model and match(s)]
    assert len(found) == 1, (model, found)
    return found[0]


def test_a_viewer_cannot_execute_code_and_bad_widget_messages_are_ignored(
    server: VoilaServer, browser: Any, live_store: Any, tmp_path: Path, artifacts_dir: Path,
    timeout_unit: float,
) -> None:
    """A raw execute_request on the page's kernel websocket runs nothing; absurd control values are ignored and shown."""
    page = _open(browser, server, timeout_unit)
    kernel_id = page_kernel_id(page)
    # hostile framing first: a legacy-protocol client is closed, a frame claiming 2**60 parts is dropped
    legacy = KernelChannel(server.port, kernel_id, legacy=True)
    with pytest.raises(ConnectionClosed):
        while True:
            legacy.ws.recv(timeout=10 * timeout_unit)
    legacy.close()
    page.locator(".qk-readonly .p-TabBar-tab, .qk-readonly .lm-TabBar-tab").nth(1).click()  # builds the full view
    page.wait_for_selector(".qk-live .qk-status", timeout=60_000 * timeout_unit)
    chan = KernelChannel(server.port, kernel_id)
    try:
        chan.send_raw((2**60).to_bytes(8, "little") + b"\xff" * 64)
        target = tmp_path / "pwned.txt"
        code = f"open({str(target)!r}, 'w').write('x')"
        exec_id = chan.send("shell", "execute_request", {"code": code, "silent": False, "store_history": True,
                                                          "user_expressions": {}, "allow_stdin": False})  # fmt: skip
        info_id = chan.send("shell", "kernel_info_request", {})
        replies = chan.replies(info_id, 30 * timeout_unit, until=lambda m: m["msg_type"] == "kernel_info_reply")
        assert any(m["msg_type"] == "kernel_info_reply" for m in replies)  # the channel works ...
        assert chan.replies(exec_id, 2 * timeout_unit) == []  # ... but the execute_request never ran
        assert not target.exists()
        assert "execute_request" in server.log() and "not allowed" in server.log()

        states = _widget_states(chan, 20 * timeout_unit)
        window = _find(states, "BoundedIntTextModel", lambda s: s.get("value") == 120)
        bar = _find(states, "ToggleButtonsModel", lambda s: list(s.get("_options_labels", ())) == ["1s", "1m", "5m"])
        method = _find(states, "DropdownModel", lambda s: "Kalman" in s.get("_options_labels", ()))
        status = _find(states, "HTMLModel", lambda s: "qk-status" in s.get("_dom_classes", ()))
        export = _find(states, "ButtonModel", lambda s: "Export" in str(s.get("description")))
        secret_state = json.dumps(states)
        assert "lmdb://" not in secret_state and live_store.uri not in secret_state  # no store URI in widget state

        def update(comm_id: str, state: dict[str, Any]) -> None:
            chan.send("shell", "comm_msg", {"comm_id": comm_id,
                                            "data": {"method": "update", "state": state, "buffer_paths": []}})

        update(window, {"value": 10**12})  # clamped by the widget, then refused (beyond the history)
        update(bar, {"index": 99})  # not a choice
        update(method, {"index": 2})  # not a view control
        update(status, {"value": "<b id='qk-pwned'>pwned</b>"})  # an output panel
        chan.send("shell", "comm_msg", {"comm_id": export, "data": {"method": "custom", "content": {"event": "click"}}})

        wait_ms = 30_000 * timeout_unit
        page.wait_for_function("() => /rejected window=/.test(document.querySelector('.qk-status').innerText)",
                               timeout=wait_ms)  # fmt: skip
        page.wait_for_function("() => /ignored/.test(document.querySelector('.qk-notice').innerText)", timeout=wait_ms)
        page.screenshot(path=str(artifacts_dir / "voila_rejected.png"))
        assert page.locator("#qk-pwned").count() == 0
        # the refused bar index was echoed to the page by ipywidgets; the guard showed the real value again
        page.wait_for_function(
            "() => [...document.querySelectorAll('.qk-live button.mod-active')].some(b => b.innerText.trim() == '1s')",
            timeout=wait_ms,
        )
        assert page.locator(".qk-live input[type=number]").first.input_value() == "120"
        # still streaming after all that, and nothing was exported
        first = page.evaluate(LAST_MS)
        page.wait_for_function(f"() => ({LAST_MS})() > {first}", timeout=wait_ms)
        assert not (live_store.data_dir / "exports").exists()
    finally:
        chan.close()
        page.close()


def _kernel_model(srv: VoilaServer, kernel_id: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/api/kernels/{kernel_id}", timeout=10) as r:
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def test_closing_the_tab_reclaims_the_viewers_kernel(server: VoilaServer, browser: Any, timeout_unit: float) -> None:
    """While the tab is open the kernel stays (and streams); after the tab closes it is culled within the timeouts."""
    reclaim_s = VIEWER_TIMEOUT_S + CULL_IDLE_S + CULL_INTERVAL_S
    # the earlier tests' pages are closed: their kernels go the same way
    assert wait_until(lambda: not server.kernels(), reclaim_s + 30 * timeout_unit), server.kernels()
    page = _open(browser, server, timeout_unit)
    kernel_id = page_kernel_id(page)
    pid = server.kernel_pid(kernel_id)
    assert pid is not None and server.kernels() == [pid]
    # an open tab keeps its kernel beyond the whole reclaim time, and keeps it busy with updates
    time.sleep(1.5 * reclaim_s)
    model = _kernel_model(server, kernel_id)
    assert model is not None and model["connections"] >= 1
    first = page.evaluate(LAST_MS)
    # switch to the full view and check it still streams (the lease never expired)
    page.locator(".qk-readonly .p-TabBar-tab, .qk-readonly .lm-TabBar-tab").nth(1).click()
    page.wait_for_function(f"() => ({LAST_MS})() > {first}", timeout=30_000 * timeout_unit)

    page.close(run_before_unload=True)  # a real tab close (Voila's shutdown beacon is blocked: see _open)
    closed = time.monotonic()
    gone = lambda: server.kernel_pid(kernel_id) is None and _kernel_model(server, kernel_id) is None  # noqa: E731
    assert wait_until(gone, reclaim_s + 30 * timeout_unit), server.log()[-3000:]
    took = time.monotonic() - closed
    assert server.kernels() == []
    assert f"Culling 'idle' kernel 'python3' ({kernel_id})" in server.log()
    print(f"kernel reclaimed {took:.1f} s after the tab closed (lease {VIEWER_TIMEOUT_S} s + idle {CULL_IDLE_S} s "
          f"+ interval {CULL_INTERVAL_S} s)")
