"""Helpers of the read-only (Voila) dashboard tests (imported by the tests and conftest.py of this folder).

* ``VoilaServer``: a real Voila process on 127.0.0.1 (port picked here), with
  ``JUPYTER_CONFIG_PATH=<repo>/jupyter_config`` and short culler timeouts, started in its own
  session and stopped with :func:`quantkit.dashboard.serve.stop_voila` (SIGKILL fallback,
  orphaned kernels ended).
* ``KernelChannel``: a raw client of a page's kernel websocket (what any viewer's browser can do).
* ``wait_until``, ``free_port``, ``page_kernel_id``, and the short test timeouts.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1

from _support.waiting import free_port, wait_until  # noqa: F401  (re-exported to the voila tests)

from quantkit.dashboard.serve import V1_PROTOCOL as V1
from quantkit.dashboard.serve import kernel_pids, stop_voila

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
SYMBOLS = ("SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT")
#: Short timeouts for the tests: lease 3 s, culler 2 s idle checked every 1 s.
VIEWER_TIMEOUT_S = 3
CULL_IDLE_S = 2
CULL_INTERVAL_S = 1


class VoilaServer:
    """A real Voila server on one notebook, configured by ``<repo>/jupyter_config``."""

    def __init__(self, repo: Path, notebook: Path, env: dict[str, str], log_path: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        full_env = dict(os.environ)
        full_env.pop("JUPYTER_TOKEN", None)
        full_env.update(env)
        full_env["JUPYTER_CONFIG_PATH"] = str(repo / "jupyter_config")
        cmd = [
            sys.executable, "-m", "voila", notebook.name, "--no-browser", "--Voila.ip=127.0.0.1",
            f"--port={self.port}", "--Voila.port_retries=0",
            f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
            f"--MappingKernelManager.cull_interval={CULL_INTERVAL_S}", *extra,
        ]  # fmt: skip
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=full_env, cwd=notebook.parent, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def wait_ready(self, timeout: float) -> None:
        """Wait until the server answers (raises with its log if it exits or times out)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.log()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, f"Voila did not start:\n{self.log()}"
                time.sleep(0.2)

    def kernels(self) -> list[int]:
        """PIDs of the kernels this server started that are still running."""
        return kernel_pids(self.proc.pid)

    def kernel_pid(self, kernel_id: str) -> int | None:
        """The PID of the kernel with this id (from its connection file name), if it runs."""
        for pid in self.kernels():
            try:
                if kernel_id.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            except OSError:
                continue
        return None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_voila(self.proc, grace_s=3.0)
        self._log.close()


def page_kernel_id(page: Any) -> str:
    """The kernel id Voila wrote into the page's config."""
    cfg = json.loads(page.locator("#jupyter-config-data").text_content())
    return str(cfg["kernelId"])


class KernelChannel:
    """A raw client of a kernel's websocket (``/api/kernels/<id>/channels``): what any viewer's browser can do.

    Speaks the v1 binary protocol (``v1.kernel.websocket.jupyter.org``) like Voila's page;
    ``legacy=True`` offers no subprotocol (the old JSON protocol).
    """

    def __init__(self, port: int, kernel_id: str, *, legacy: bool = False) -> None:
        from websockets.sync.client import connect

        self.session = uuid.uuid4().hex
        self.legacy = legacy
        url = f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?session_id={self.session}"
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(url, origin=f"http://127.0.0.1:{port}", max_size=None,
                                                    open_timeout=30, subprotocols=None if legacy else [V1]))  # fmt: skip

    def send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        """Send one message; returns its id."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "session": self.session, "username": "viewer",
                  "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
        msg = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        if self.legacy:
            self.ws.send(json.dumps({**msg, "channel": channel, "buffers": []}))
        else:
            self.ws.send(serialize_msg_to_ws_v1(msg, channel, pack=lambda o: json.dumps(o).encode()))
        return msg_id

    def send_raw(self, frame: bytes | str) -> None:
        """Send a frame as is."""
        self.ws.send(frame)

    def recv(self, timeout: float) -> dict[str, Any] | None:
        """The next message (decoded), or None after ``timeout`` seconds."""
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        if isinstance(raw, str):
            return dict(json.loads(raw))
        if self.legacy:
            return {"msg_type": "<binary>", "parent_header": {}}
        channel, parts = deserialize_msg_from_ws_v1(raw)
        header, parent, metadata, content = (json.loads(p) for p in parts[:4])
        return {"channel": channel, "header": header, "msg_type": header.get("msg_type"), "parent_header": parent,
                "metadata": metadata, "content": content}  # fmt: skip

    def replies(self, parent_id: str, timeout: float, until: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Messages whose parent is ``parent_id``, received within ``timeout`` s (or until ``until(msg)``)."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.recv(left)
            if msg is None:
                break
            if msg.get("parent_header", {}).get("msg_id") == parent_id:
                out.append(msg)
                if until is not None and until(msg):
                    break
        return out

    def close(self) -> None:
        self._stack.close()


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.read().decode("utf-8", "replace")
