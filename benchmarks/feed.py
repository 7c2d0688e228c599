"""Feed ingest throughput: FeedClient vs a bare websockets client doing json.loads, same local stream.

Run:

    python benchmarks/feed.py [--messages 200000] [--rounds 3]

A server *process* pre-renders N Binance combined-stream @trade frames (4 symbols,
contiguous ids, spot shape, ~190 bytes) and writes them, already WebSocket-framed,
straight to the socket after the handshake, so it costs almost nothing per frame and
the client is the bottleneck. Each round runs every client once on a fresh connection,
alternating order; a client's rate = messages / (time of last message - time of first).
The machine is shared, so the summary also gives the median of per-round ratios and the
client process's CPU time per message (``time.process_time``), which other load disturbs less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import struct
import time
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from quantkit.config import FeedConfig
from quantkit.feed import FeedClient
from quantkit.schema import Trade

SYMBOLS = ("SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT")


def render(n: int) -> bytes:
    """N text frames (server->client: unmasked), concatenated."""
    out = bytearray()
    t0 = 1_723_161_255_342
    for i in range(n):
        sym = SYMBOLS[i % 4]
        tid = 3_735_683_259 + i // 4
        payload = orjson.dumps({"stream": f"{sym.lower()}@trade", "data": {
            "e": "trade", "E": t0 + i // 4 + 1, "s": sym, "t": tid, "p": f"{61837.63 + (i % 97) * 0.01:.8f}",
            "q": f"{0.002 + (i % 13) * 0.001:.8f}", "T": t0 + i // 4, "m": bool(i % 2), "M": True}})
        size = len(payload)
        out += b"\x81" + (bytes([size]) if size < 126 else b"\x7e" + struct.pack("!H", size)) + payload
    return bytes(out)


def server_main(n: int, port_q: Any) -> None:
    blob = render(n)

    async def handler(ws: Any) -> None:
        ws.transport.write(blob)  # bypass websockets' per-frame send path
        await ws.wait_closed()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None, max_size=2**20) as server:
            port_q.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


Result = tuple[float, float]  # (messages per wall second, CPU microseconds per message)


async def bare_json(url: str, n: int) -> Result:
    """The reference: websockets defaults, json.loads on every message, nothing else."""
    async with connect(url) as ws:
        json.loads(await ws.recv())
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n - 1):
            json.loads(await ws.recv())
        t1, c1 = time.perf_counter(), time.process_time()
    return (n - 1) / (t1 - t0), (c1 - c0) / (n - 1) * 1e6


async def feed_client(url_base: str, n: int) -> Result:
    cfg = FeedConfig.for_source("local", SYMBOLS, local_url=url_base.replace("ws://", "http://"),
                                ping_interval=None, max_connection_age=None)
    count = 0
    t0 = t1 = c0 = c1 = 0.0
    client: FeedClient

    def sink(trade: Trade) -> None:
        nonlocal count, t0, t1, c0, c1
        count += 1
        if count == 1:
            t0, c0 = time.perf_counter(), time.process_time()
        elif count == n:
            t1, c1 = time.perf_counter(), time.process_time()
            client.stop()

    client = FeedClient(cfg, sink)
    await client.run()
    s = client.stats
    assert s.accepted == n and s.rejected_total == 0 and s.gaps == 0, s
    return (n - 1) / (t1 - t0), (c1 - c0) / (n - 1) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20k messages, 1 round: a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.messages, args.rounds = 20_000, 1
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=server_main, args=(args.messages, q), daemon=True)
    proc.start()
    port = q.get(timeout=120)
    base = f"ws://127.0.0.1:{port}"
    url = f"{base}/stream?streams=" + "/".join(f"{s.lower()}@trade" for s in SYMBOLS)
    names = ("bare json.loads", "FeedClient")
    results: dict[str, list[Result]] = {name: [] for name in names}
    try:
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                res = asyncio.run(bare_json(url, args.messages) if name == names[0] else feed_client(base, args.messages))
                results[name].append(res)
                print(f"round {r + 1}: {name:16s} {res[0]:10,.0f} msg/s  {res[1]:6.2f} CPU us/msg", flush=True)
    finally:
        proc.terminate()
    bare = statistics.median(x[0] for x in results[names[0]])
    ours = statistics.median(x[0] for x in results[names[1]])
    paired = statistics.median(o[0] / b[0] for o, b in zip(results[names[1]], results[names[0]]))
    cpu_b = statistics.median(x[1] for x in results[names[0]])
    cpu_o = statistics.median(x[1] for x in results[names[1]])
    print(f"median msg/s: bare {bare:,.0f}, FeedClient {ours:,.0f}, ratio {ours / bare:.2f}; "
          f"median per-round ratio {paired:.2f} (target >= 0.80)")
    print(f"median CPU us/msg: bare {cpu_b:.2f}, FeedClient {cpu_o:.2f}, throughput ratio by CPU {cpu_b / cpu_o:.2f}")


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        main()
