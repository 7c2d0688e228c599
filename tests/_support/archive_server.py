"""A local HTTP server in the layout of Binance's public archive, with scripted faults (tests only).

Serves ``{path: bytes}`` on 127.0.0.1:<ephemeral> from a thread, with ``Range`` support, and can:
drop the connection in the middle of a file, answer 503 a few times, or 404 (any path it does not
hold). Every request is logged as ``(path, range header or None, status)``.

Also builds archive files: :func:`zip_csv` zips CSV text under its archive name, and
:meth:`ArchiveServer.add` publishes a zip with its ``.CHECKSUM`` (or a wrong one).
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ArchiveServer", "zip_csv"]


def zip_csv(csv_name: str, text: str) -> bytes:
    """A zip holding one CSV member, as the archive's files do."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(csv_name, text)
    return buf.getvalue()


class ArchiveServer:
    """The archive layout over real HTTP on 127.0.0.1, port 0.

    Attributes:
        files: path (no leading slash) -> body.
        drop_after: path -> bytes to send before closing the connection, once per entry.
        fail_times: path -> how many more requests answer 503.
        log: ``(path, range, status)`` per request, in arrival order.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}
        self.fail_times: dict[str, int] = {}
        self.log: list[tuple[str, str | None, int]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.lstrip("/").split("?", 1)[0]
                rng = self.headers.get("Range")
                with server._lock:
                    body = server.files.get(path)
                    fail = server.fail_times.get(path, 0)
                    if fail:
                        server.fail_times[path] = fail - 1
                    drop = server.drop_after.pop(path, None) if body is not None and not fail else None
                if fail:
                    self._answer(path, rng, 503, b"busy")
                    return
                if body is None:
                    self._answer(path, rng, 404, b"<Error><Code>NoSuchKey</Code></Error>")
                    return
                status, start = 200, 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m:
                    start = int(m.group(1))
                    if start >= len(body):
                        self._answer(path, rng, 416, b"")
                        return
                    status = 206
                part = body[start:]
                server._record(path, rng, status)
                self.send_response(status)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(part)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                if drop is not None:
                    self.wfile.write(part[:drop])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

            def _answer(self, path: str, rng: str | None, status: int, body: bytes) -> None:
                server._record(path, rng, status)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="archive-server", daemon=True)

    def _record(self, path: str, rng: str | None, status: int) -> None:
        with self._lock:
            self.log.append((path, rng, status))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, path: str, body: bytes, *, checksum: str | None = None) -> None:
        """Publish ``body`` at ``path`` with its ``.CHECKSUM`` (``checksum`` overrides the sha256 hex)."""
        name = path.rsplit("/", 1)[-1]
        digest = checksum if checksum is not None else hashlib.sha256(body).hexdigest()
        with self._lock:
            self.files[path] = body
            self.files[path + ".CHECKSUM"] = f"{digest}  {name}\n".encode()

    def requests(self, suffix: str = ".zip") -> list[tuple[str, str | None, int]]:
        """Logged requests whose path ends with ``suffix``."""
        with self._lock:
            return [r for r in self.log if r[0].endswith(suffix)]

    def start(self) -> "ArchiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> "ArchiveServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
