"""Non-blocking HTTP GET for the feed's REST calls, over ``httpx`` (private).

:class:`HttpClient` wraps one :class:`httpx.AsyncClient`: connections are kept alive
and reused across requests (one TLS handshake for a whole backfill, not one per page),
proxies come from the standard environment variables (``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, ``NO_PROXY``) or from ``proxy=``, and TLS uses the system's default
verification. A request is bounded in time (``timeout`` for the whole exchange, connect
to last byte) and in size (``max_body``), and is cancelled cleanly with its task.
:func:`http_get` is a one-off GET on a fresh client.

Errors are mapped to the builtin kinds the callers handle: :class:`TimeoutError`,
:class:`OSError` (refused, reset, DNS, TLS, proxy) and :class:`HttpError` (a malformed or
oversized answer). The caller keeps its own rules for statuses (429/418, ``Retry-After``,
request weight): this module returns every status as it came.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

import httpx

__all__ = ["HttpClient", "HttpError", "HttpResponse", "http_get"]

_USER_AGENT = "quantkit-feed"


class HttpError(Exception):
    """The server's answer is not a well-formed HTTP/1.x response (or is too large)."""


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP response.

    Attributes:
        status: the status code.
        headers: header values by lower-case name (the last one wins).
        body: the body bytes (de-chunked, decompressed).
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@functools.lru_cache(maxsize=1)
def _system_tls() -> ssl.SSLContext:
    """The system's TLS verification (its CA store), built once: a context costs milliseconds to load."""
    return ssl.create_default_context()


def _check_request(url: str, headers: Mapping[str, str] | None) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url={url!r}: expected an absolute http:// or https:// URL")
    for name, value in (headers or {}).items():
        if any(c in name + value for c in "\r\n"):
            raise ValueError(f"header {name!r}: CR/LF not allowed")


class HttpClient:
    """GET requests over one ``httpx.AsyncClient`` (keep-alive, connection reuse, proxies).

    Create it and use it in one event loop (the client's connections belong to that loop);
    :meth:`aclose` closes the kept-alive connections.

    Args:
        proxy: proxy URL for every request (``http://host:port``); ``None``: the standard
            proxy environment variables, if set.
        max_body: largest body accepted, bytes (default 16 MiB).
        ssl_context: TLS context for ``https://`` (default: the system's verification).
        max_connections: connections kept per client (default 4).
    """

    def __init__(
        self,
        *,
        proxy: str | None = None,
        max_body: int = 16 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 4,
    ) -> None:
        self.max_body = max_body
        self._client = httpx.AsyncClient(
            proxy=proxy,
            verify=ssl_context if ssl_context is not None else _system_tls(),
            trust_env=True,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
        )

    async def __aenter__(self) -> "HttpClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the kept-alive connections (idempotent)."""
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        max_body: int | None = None,
    ) -> HttpResponse:
        """GET ``url`` and return the whole response (any status).

        Args:
            url: ``http://host[:port]/path?query`` or ``https://...``.
            headers: extra request headers (values must not contain CR/LF).
            timeout: seconds for the whole exchange (connect, send, read).
            max_body: largest body accepted, bytes (default: the client's).

        Raises:
            ValueError: ``url`` is not an absolute http(s) URL, or a header value has CR/LF.
            HttpError: the response is malformed or too large.
            OSError: connection refused/reset, DNS, TLS or proxy failure.
            TimeoutError: ``timeout`` elapsed.
        """
        _check_request(url, headers)
        limit = self.max_body if max_body is None else max_body
        try:
            async with asyncio.timeout(timeout):
                async with self._client.stream("GET", url, headers=dict(headers or {}), timeout=timeout) as resp:
                    declared = resp.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise HttpError(f"body of {declared} bytes is larger than {limit}")
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise HttpError(f"body larger than {limit} bytes")
                        chunks.append(chunk)
                    return HttpResponse(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, b"".join(chunks))
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer from {url} within {timeout:g} s") from None
        except (httpx.ProtocolError, httpx.DecodingError) as exc:
            raise HttpError(f"{type(exc).__name__}: {exc}") from None
        except httpx.TransportError as exc:  # refused, reset, DNS, TLS, proxy
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from None


async def http_get(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    max_body: int = 16 * 1024 * 1024,
    ssl_context: ssl.SSLContext | None = None,
    proxy: str | None = None,
) -> HttpResponse:
    """One GET on a fresh :class:`HttpClient` (for a one-off call; keep a client for several).

    Args and errors as :meth:`HttpClient.get`; ``ssl_context`` and ``proxy`` as :class:`HttpClient`.
    """
    _check_request(url, headers)
    async with HttpClient(proxy=proxy, max_body=max_body, ssl_context=ssl_context, max_connections=1) as client:
        return await client.get(url, headers=headers, timeout=timeout)
