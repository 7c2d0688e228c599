"""HTTP/1.1 in front of the WebSocket server: REST with keep-alive and any method, upgrades to websockets.

websockets' own handshake answers one GET per connection and drops other
methods unanswered. :func:`front_connection` makes a
:class:`~websockets.asyncio.server.ServerConnection` subclass that reads plain
HTTP requests itself (pipelined, ``Content-Length`` bodies, keep-alive until the
client asks to close or stays idle for ``idle_timeout`` seconds) and hands the
connection to websockets at the first ``Upgrade: websocket`` request, with the
bytes already read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, cast

from websockets.asyncio.server import ServerConnection

__all__ = ["HttpReply", "HttpRequest", "front_connection"]

_MAX_HEAD = 65_536
_MAX_BODY = 1_048_576
_PHRASES = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 413: "Payload Too Large", 418: "I'm a teapot", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
}


@dataclass(frozen=True)
class HttpRequest:
    """One plain HTTP request.

    Attributes:
        method: e.g. ``"GET"``. target: path and query. headers: by lower-case name.
        body: the body bytes. peer: the client's IP address.
    """

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""
    peer: str = ""


@dataclass(frozen=True)
class HttpReply:
    """One HTTP response: status, headers (``Content-Length`` and ``Connection`` are added), body."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    close: bool = False


def _reply_bytes(reply: HttpReply, keep_alive: bool) -> bytes:
    phrase = _PHRASES.get(reply.status, "Unknown")
    lines = [f"HTTP/1.1 {reply.status} {phrase}"]
    lines += [f"{k}: {v}" for k, v in reply.headers]
    lines.append(f"Content-Length: {len(reply.body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body


def front_connection(
    handler: Callable[[HttpRequest], HttpReply], *, idle_timeout: float = 60.0, on_open: Callable[[Any], None]
) -> type[ServerConnection]:
    """A ``ServerConnection`` class for ``serve(create_connection=...)`` that answers plain HTTP with ``handler``.

    Args:
        handler: answers a plain (non-upgrade) request; runs in the event loop.
        idle_timeout: seconds a kept-alive connection may stay idle before it is closed.
        on_open: called with each new front connection (the caller keeps them to close at shutdown).
    """

    class Front(ServerConnection):
        _qk_upgraded = False
        _qk_transport: asyncio.Transport | None = None
        _qk_idle: asyncio.TimerHandle | None = None
        _qk_paused = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._qk_transport = cast(asyncio.Transport, transport)
            self._qk_buf = bytearray()
            self._qk_arm()
            on_open(self)

        def _qk_arm(self) -> None:
            if self._qk_idle is not None:
                self._qk_idle.cancel()
            loop = asyncio.get_running_loop()
            self._qk_idle = loop.call_later(idle_timeout, self.qk_close)

        def qk_close(self) -> None:
            """Close a plain-HTTP connection (no-op once upgraded)."""
            if not self._qk_upgraded and self._qk_transport is not None and not self._qk_transport.is_closing():
                self._qk_transport.close()

        def data_received(self, data: bytes) -> None:
            if self._qk_upgraded:
                super().data_received(data)
                return
            transport = self._qk_transport
            if transport is None or transport.is_closing():
                return
            buf = self._qk_buf
            buf += data
            self._qk_arm()
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > _MAX_HEAD:
                        transport.write(_reply_bytes(HttpReply(431, b""), False))
                        transport.close()
                    return
                head = bytes(buf[:end]).decode("latin-1")
                lines = head.split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    transport.write(_reply_bytes(HttpReply(400, b""), False))
                    transport.close()
                    return
                method, target, version = parts
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                if method == "GET" and "websocket" in headers.get("upgrade", "").lower():
                    self._qk_upgraded = True
                    if self._qk_idle is not None:
                        self._qk_idle.cancel()
                    rest = bytes(buf)
                    buf.clear()
                    super().connection_made(transport)
                    super().data_received(rest)
                    return
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    transport.write(_reply_bytes(HttpReply(411, b""), False))
                    transport.close()
                    return
                raw_len = headers.get("content-length", "0") or "0"
                if not raw_len.isdigit() or int(raw_len) > _MAX_BODY:
                    transport.write(_reply_bytes(HttpReply(413, b""), False))
                    transport.close()
                    return
                size = int(raw_len)
                if len(buf) < end + 4 + size:
                    return
                body = bytes(buf[end + 4 : end + 4 + size])
                del buf[: end + 4 + size]
                conn_hdr = headers.get("connection", "").lower()
                keep = "close" not in conn_hdr and (version == "HTTP/1.1" or "keep-alive" in conn_hdr)
                peer = transport.get_extra_info("peername")
                ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
                try:
                    reply = handler(HttpRequest(method, target, headers, body, ip))
                except Exception:  # noqa: BLE001 - never leave a client without an answer
                    self.logger.error("REST handler failed for %s %s", method, target, exc_info=True)
                    reply = HttpReply(500, b'{"code":-1000,"msg":"An unknown error occurred while processing the request."}',
                                      (("Content-Type", "application/json;charset=UTF-8"),))
                keep = keep and not reply.close
                transport.write(_reply_bytes(reply, keep))
                if not keep:
                    transport.close()
                    return

        def eof_received(self) -> None:
            if self._qk_upgraded:
                super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._qk_idle is not None:
                self._qk_idle.cancel()
            if self._qk_upgraded:
                super().connection_lost(exc)
            elif not self.connection_lost_waiter.done():
                self.connection_lost_waiter.set_result(None)

        def pause_writing(self) -> None:
            if self._qk_upgraded:
                super().pause_writing()
            else:
                self._qk_paused = True

        def resume_writing(self) -> None:
            if self._qk_upgraded:
                super().resume_writing()
            else:
                self._qk_paused = False

    return Front
