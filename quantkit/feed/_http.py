"""A minimal HTTP/1.1 GET over asyncio streams, for the REST backfill (private).

Why not ``urllib``: it blocks, so it would need a thread per request, and a
thread cannot be cancelled when the feed stops. This coroutine never blocks the
event loop, is cancelled cleanly (the socket is closed) and needs no new
dependency. It does exactly what the backfill needs and nothing more: one GET
per connection (``Connection: close``), ``http://`` and ``https://`` (TLS with
the system's default verification), bodies by ``Content-Length``, ``chunked``
or until EOF, bounded sizes. No proxies, no redirects, no compression.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

__all__ = ["HttpError", "HttpResponse", "http_get"]

_MAX_LINE = 65_536
_MAX_HEADERS = 128


class HttpError(Exception):
    """The server's answer is not a well-formed HTTP/1.x response (or is too large)."""


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP response.

    Attributes:
        status: the status code.
        headers: header values by lower-case name (the last one wins).
        body: the body bytes (de-chunked).
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


async def http_get(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    max_body: int = 16 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpResponse:
    """GET ``url`` and return the whole response.

    Args:
        url: ``http://host[:port]/path?query`` or ``https://...``.
        headers: extra request headers (values must not contain CR/LF).
        timeout: seconds for the whole exchange (connect, send, read).
        max_body: largest body accepted, bytes.
        ssl_context: TLS context for ``https://`` (default: ``ssl.create_default_context()``).

    Returns:
        The response (any status).

    Raises:
        ValueError: ``url`` is not an absolute http(s) URL, or a header value has CR/LF.
        HttpError: the response is malformed or too large.
        OSError: connection refused/reset, DNS or TLS failure.
        TimeoutError: ``timeout`` elapsed.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url={url!r}: expected an absolute http:// or https:// URL")
    tls = parts.scheme == "https"
    host = parts.hostname
    port = parts.port or (443 if tls else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc.rpartition('@')[2]}",
        "User-Agent: quantkit-feed",
        "Accept: application/json",
        "Accept-Encoding: identity",
        "Connection: close",
    ]
    for name, value in (headers or {}).items():
        if any(c in name + value for c in "\r\n"):
            raise ValueError(f"header {name!r}: CR/LF not allowed")
        lines.append(f"{name}: {value}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    context = (ssl_context or ssl.create_default_context()) if tls else None
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname=host if tls else None, limit=_MAX_LINE
        )
        try:
            writer.write(request)
            await writer.drain()
            return await _read_response(reader, max_body)
        finally:
            writer.close()


async def _readline(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        raise HttpError(f"connection closed mid-line after {len(exc.partial)} bytes") from None
    except asyncio.LimitOverrunError:
        raise HttpError(f"header line longer than {_MAX_LINE} bytes") from None


async def _read_response(reader: asyncio.StreamReader, max_body: int) -> HttpResponse:
    status_line = (await _readline(reader)).decode("latin-1").rstrip("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit() or len(code) != 3:
        raise HttpError(f"bad status line {status_line[:80]!r}")
    status = int(code)
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS + 1):
        line = (await _readline(reader)).decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise HttpError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    else:
        raise HttpError(f"more than {_MAX_HEADERS} headers")
    if status in (204, 304) or 100 <= status < 200:
        return HttpResponse(status, headers, b"")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader, max_body)
    elif "content-length" in headers:
        raw = headers["content-length"]
        if not raw.isdigit():
            raise HttpError(f"bad Content-Length {raw[:40]!r}")
        size = int(raw)
        if size > max_body:
            raise HttpError(f"body of {size} bytes is larger than {max_body}")
        try:
            body = await reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise HttpError(f"body cut after {len(exc.partial)} of {size} bytes") from None
    else:
        body = await reader.read(max_body + 1)
        while len(body) <= max_body:
            more = await reader.read(max_body + 1 - len(body))
            if not more:
                break
            body += more
        if len(body) > max_body:
            raise HttpError(f"body larger than {max_body} bytes")
    return HttpResponse(status, headers, body)


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = (await _readline(reader)).split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise HttpError(f"bad chunk size {line[:40]!r}") from None
        if size < 0:
            raise HttpError(f"bad chunk size {line[:40]!r}")
        if size == 0:
            while (await _readline(reader)).strip():  # trailers
                pass
            return b"".join(parts)
        total += size
        if total > max_body:
            raise HttpError(f"chunked body larger than {max_body} bytes")
        try:
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        except asyncio.IncompleteReadError:
            raise HttpError("connection closed inside a chunk") from None
