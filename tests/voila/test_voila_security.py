"""What a viewer can never get from the Voila server, and when the server refuses to start.

Real processes: Voila with the repository's ``jupyter_config/``, ``quantkit.dashboard.serve.serve``
supervising Voila, and a headless chromium for the page of a notebook that raises. The
screenshot ``tests/artifacts/voila_error_page.png`` is kept.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
from voila_helpers import VoilaServer, free_port, wait_until

from quantkit.config import StoreConfig
from quantkit.dashboard.serve import ServeOptions, kernel_pids, serve


def _failing_copy(repo: Path, folder: Path) -> Path:
    nb = nbformat.read(repo / "notebooks" / "voila_dashboard.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import logging\nlogging.getLogger('quantkit.dashboard').warning('qk-canary-log')\n"
        "raise RuntimeError('qk-canary-detail')"))  # fmt: skip
    path = folder / "voila_dashboard.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_raising_notebook_shows_no_code_and_no_traceback(static_store: Any, repo_root: Path, tmp_path: Path,
                                                           browser: Any, artifacts_dir: Path,
                                                           timeout_unit: float) -> None:
    """When a cell raises, the page shows neither the cell's code nor the traceback, and logs go to the server log."""
    notebook = _failing_copy(repo_root, tmp_path)
    env = {"QUANTKIT_ARCTIC_URI": static_store.uri, "QUANTKIT_DATA_DIR": str(tmp_path),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}  # fmt: skip
    srv = VoilaServer(repo_root, notebook, env, tmp_path / "voila.log")
    try:
        srv.wait_ready(60 * timeout_unit)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(srv.url, wait_until="domcontentloaded", timeout=120_000 * timeout_unit)
            page.wait_for_selector(".qk-tile", state="attached", timeout=120_000 * timeout_unit)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(artifacts_dir / "voila_error_page.png"))
            text = page.inner_text("body")
            html = page.content()
        finally:
            page.close()
        for leak in ("Traceback", "RuntimeError", "qk-canary-detail", "qk-canary-log", "raise ", "ReadOnlyDashboard(",
                     "logging.getLogger", "File \""):  # fmt: skip
            assert leak not in text, leak
            assert leak not in html, leak
        assert "qk-canary-log" in srv.log()  # the kernel's log went to the server's terminal instead
    finally:
        srv.stop()


def test_plain_voila_refuses_to_listen_beyond_loopback_without_a_token(repo_root: Path, tmp_path: Path,
                                                                      timeout_unit: float) -> None:
    """`voila` with the repo's config and --Voila.ip=0.0.0.0 but no token exits non-zero with one line, never listening."""
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(repo_root / "jupyter_config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))  # fmt: skip
    env.pop("JUPYTER_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "voila", "voila_dashboard.ipynb", "--no-browser", "--Voila.ip=0.0.0.0", f"--port={port}"],
        cwd=repo_root / "notebooks", env=env, capture_output=True, text=True, timeout=120 * timeout_unit,
    )  # fmt: skip
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "refusing" in line]
    assert len(errors) == 1 and errors[0].startswith("quantkit: ip='0.0.0.0'"), done.stderr
    assert "Traceback" not in done.stderr and "running at" not in done.stderr
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_serve_supervises_voila_with_a_token_and_ends_every_kernel(static_store: Any, tmp_path: Path,
                                                                  monkeypatch: Any, timeout_unit: float) -> None:
    """serve() runs Voila with the token from the environment (not the command line) and stops it and its kernels."""
    monkeypatch.setenv("QUANTKIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "rt"))
    token = "qk-token-5f1e2d"
    opts = ServeOptions(port=0, token=token, store=StoreConfig(uri=static_store.uri))
    ready: list[str] = []
    stop = threading.Event()
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(serve(opts, on_ready=ready.append, stop=stop)), daemon=True)
    worker.start()
    try:
        assert wait_until(lambda: bool(ready), 90 * timeout_unit)
        url = ready[0]
        base = url.split("?", 1)[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"?token={token}")
        voila = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_voila(p, base)]
        assert len(voila) == 1
        pid = int(voila[0].name)
        cmdline = (voila[0] / "cmdline").read_bytes().decode(errors="replace")
        assert token not in cmdline  # the token travels in the environment, not on the command line
        status, body = _get(base)
        assert status in (401, 403) or "password or token" in body.lower(), (status, body[:300])
        assert kernel_pids(pid) == []  # no token: no page and no kernel
        status, html = _get(url)
        assert status == 200 and "qk-" in html and "ReadOnlyDashboard" not in html
        assert wait_until(lambda: len(kernel_pids(pid)) == 1, 30 * timeout_unit)
        kernel = kernel_pids(pid)[0]
        assert b"JUPYTER_TOKEN" not in Path(f"/proc/{kernel}/environ").read_bytes()  # viewers' kernels never see it
    finally:
        stop.set()
        worker.join(60 * timeout_unit)
    assert codes == [0]
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
    assert not Path(f"/proc/{kernel}").exists() or _zombie(kernel)


def _is_voila(proc: Path, base: str) -> bool:
    try:
        cmd = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    port = base.rstrip("/").rsplit(":", 1)[1]
    return b"voila" in cmd and f"--port={port}".encode() in cmd


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
