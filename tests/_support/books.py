"""The standard local order-book recipe against an exchange (REST snapshot + @depth diffs)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from quantkit.exchange import LocalExchange


async def build_book(
    ex: LocalExchange, market: str, stream: str, symbol: str = "SYNAUSDT", idle_s: float = 3.0, limit: int = 1000,
    start: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The standard local-book recipe: buffer the diff stream, take a REST snapshot, apply, compare at rest.

    Returns the book built (side -> {price text: qty text}), the final REST snapshot in the same
    shape, and the number of diff events applied; ``start`` (a dict) receives the first snapshot.
    """
    prefix = "/api/v3" if market == "spot" else "/fapi/v1"
    loop = asyncio.get_running_loop()

    def snapshot() -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(f"{ex.url}{prefix}/depth?symbol={symbol}&limit={limit}", timeout=10) as r:
            return json.loads(r.read())

    async with websockets.connect(f"{ex.ws_url}/ws/{symbol.lower()}@{stream}") as ws:
        first = json.loads(await ws.recv())
        snap = await loop.run_in_executor(None, snapshot)
        if start is not None:
            start.update(snap)
        book = {side: {p: q for p, q in snap[side]} for side in ("bids", "asks")}
        last = snap["lastUpdateId"]
        prev_u: int | None = None
        applied = 0
        pending = [first]
        while True:
            if pending:
                event = pending.pop()
            else:
                try:
                    event = json.loads(await asyncio.wait_for(ws.recv(), idle_s))
                except asyncio.TimeoutError:
                    break  # the source is done and the book is at rest
            if event["u"] <= last:
                continue
            if prev_u is None:
                assert event["U"] <= last + 1 <= event["u"]
            else:
                assert event["U"] == prev_u + 1
                if market == "futures":
                    assert event["pu"] == prev_u
            prev_u = event["u"]
            for side, key in (("bids", "b"), ("asks", "a")):
                for p, q in event[key]:
                    if float(q) == 0:
                        book[side].pop(p, None)
                    else:
                        book[side][p] = q
            applied += 1
        final = await loop.run_in_executor(None, snapshot)
    assert final["lastUpdateId"] == prev_u
    return book, {side: {p: q for p, q in final[side]} for side in ("bids", "asks")}, applied
