"""The feed's HTTP client over httpx: one kept-alive connection for many requests, proxies by argument or environment.

The servers are tiny asyncio servers of our own on 127.0.0.1 port 0: a keep-alive REST
server that counts connections, and a forward proxy that records the absolute-form
request lines it receives.
"""

from __future__ import annotations

import asyncio

import pytest

from quantkit.feed._http import HttpClient, http_get


class _Server:
    """An asyncio TCP server of ours on 127.0.0.1 port 0."""

    server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class KeepAliveServer(_Server):
    """Answers every request of a connection (HTTP/1.1 keep-alive) with a small JSON body and a weight header."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head.split(b"\r\n", 1)[0].decode())
                body = b'{"n":%d}' % len(self.requests)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-MBX-USED-WEIGHT-1M: %d\r\n\r\n%s"
                             % (len(body), 4 * len(self.requests), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class ForwardProxy(_Server):
    """An HTTP forward proxy that answers itself and records the request lines (absolute-form URLs)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.lines.append(head.split(b"\r\n", 1)[0].decode())
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nproxied:)")
        await writer.drain()
        writer.close()


def test_many_requests_share_one_kept_alive_connection() -> None:
    """Ten GETs through one HttpClient open one TCP connection; statuses, bodies and weight headers come back."""

    async def main() -> tuple[int, list[tuple[int, bytes, str]]]:
        server = KeepAliveServer()
        port = await server.start()
        out = []
        async with HttpClient() as client:
            for i in range(10):
                resp = await client.get(f"http://127.0.0.1:{port}/api/v3/aggTrades?symbol=X&fromId={i}", timeout=5.0)
                out.append((resp.status, resp.body, resp.headers["x-mbx-used-weight-1m"]))
        assert server.server is not None
        server.server.close()
        return server.connections, out

    connections, out = asyncio.run(main())
    assert connections == 1
    assert out == [(200, b'{"n":%d}' % (i + 1), str(4 * (i + 1))) for i in range(10)]


def test_proxy_by_argument_and_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy URL given to the client, or HTTP_PROXY in the environment, carries the request (absolute-form)."""

    async def main() -> tuple[list[str], list[bytes]]:
        proxy = ForwardProxy()
        port = await proxy.start()
        bodies = []
        async with HttpClient(proxy=f"http://127.0.0.1:{port}") as client:
            bodies.append((await client.get("http://binance.invalid/api/v3/ping", timeout=5.0)).body)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        bodies.append((await http_get("http://binance.invalid/fapi/v1/time", timeout=5.0)).body)
        assert proxy.server is not None
        proxy.server.close()
        return proxy.lines, bodies

    lines, bodies = asyncio.run(main())
    assert bodies == [b"proxied:)", b"proxied:)"]
    assert lines == ["GET http://binance.invalid/api/v3/ping HTTP/1.1", "GET http://binance.invalid/fapi/v1/time HTTP/1.1"]


def test_refused_connection_is_an_oserror() -> None:
    """Nothing listening: the caller sees an OSError (the backfill counts it as a connection failure)."""

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        await http_get(f"http://127.0.0.1:{port}/api/v3/ping", timeout=5.0)

    with pytest.raises(OSError):
        asyncio.run(main())
