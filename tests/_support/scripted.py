"""A tiny scripted Binance-like WebSocket server for ingest tests: sends given frames, then idles."""

from __future__ import annotations

import asyncio
import threading
from typing import Sequence

from websockets.asyncio.server import ServerConnection, serve

__all__ = ["ScriptedServer", "spot_trade"]


def spot_trade(symbol: str, trade_id: int, price: str, qty: str, t_ms: int, maker: bool = False) -> str:
    """A combined-stream spot @trade frame exactly as Binance sends it."""
    m = "true" if maker else "false"
    return (
        f'{{"stream":"{symbol.lower()}@trade","data":{{"e":"trade","E":{t_ms + 1},"s":"{symbol}","t":{trade_id},'
        f'"p":"{price}","q":"{qty}","T":{t_ms},"m":{m},"M":true}}}}'
    )


class ScriptedServer:
    """Serve ``frames`` (str or bytes) to every connection on 127.0.0.1:<ephemeral>, in a thread."""

    def __init__(self, frames: Sequence[str | bytes]) -> None:
        self.frames = list(frames)
        self.port = 0
        self.connections = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        for frame in self.frames:
            await ws.send(frame)
        await ws.wait_closed()

    def _main(self) -> None:
        async def run() -> None:
            self._stop = asyncio.Event()
            async with serve(self._handler, "127.0.0.1", 0) as server:
                self.port = next(iter(server.sockets)).getsockname()[1]
                self._ready.set()
                await self._stop.wait()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(run())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
