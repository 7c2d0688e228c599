"""Throughput of the local exchange at max speed into a bare websockets client in another process.

Reports the client's wall msgs/s and the CPU seconds per message in the server and in the client (CPU per
message is what to compare across runs: the wall rate depends on what else the 2 cores are doing).
Then REST: requests/s and server CPU per request for ``depth`` (limit 100) and ``klines`` (1m, 500 rows)
over one keep-alive connection and with a new connection per request (weight limits off).

Usage: python benchmarks/exchange.py [--quick] [--messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing as mp
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_ws_capture_2024-08-08_hftbacktest" / "raw"
CAPTURES = ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz", "spot_ethusdt_20240808.gz", "spot_ethusdt_20240809.gz")


def client(url: str, q: "mp.Queue[tuple[int, float, float]]", n_expected: int) -> None:
    from websockets.asyncio.client import connect

    async def main() -> None:
        async with connect(url, compression=None, max_size=None) as ws:
            n, t0, c0 = 0, 0.0, 0.0
            async for _ in ws:
                if n == 0:
                    t0, c0 = time.perf_counter(), time.process_time()
                n += 1
                if n >= n_expected:
                    break
            q.put((n, n / (time.perf_counter() - t0), (time.process_time() - c0) / n))

    asyncio.run(main())


def run(mode: str, n: int) -> str:
    from quantkit.exchange import LocalExchange, ReplaySource, SyntheticMarket

    if mode == "replay":
        src: object = ReplaySource([SHARED / f for f in CAPTURES], speed=float("inf"), loop=True)
        streams = "btcusdt@trade/ethusdt@trade"
    else:
        src = SyntheticMarket(1, speed=float("inf"))
        streams = "synausdt@trade/synbusdt@trade/syncusdt@trade/syndusdt@trade"
    ctx = mp.get_context("spawn")
    with LocalExchange(src, ping_interval=None) as ex:  # type: ignore[arg-type]
        q: mp.Queue[tuple[int, float, float]] = ctx.Queue()
        p = ctx.Process(target=client, args=(ex.ws_url + "/stream?streams=" + streams, q, n))
        p.start()
        c0, pub0 = time.process_time(), ex.published
        got, rate, client_cpu = q.get()
        p.join()
        server_cpu = (time.process_time() - c0) / max(1, ex.published - pub0)
    return (
        f"{mode:9s}: {got:,} msgs at {rate:>9,.0f} msgs/s; CPU per msg: server {server_cpu * 1e6:.1f} us, "
        f"client {client_cpu * 1e6:.1f} us -> CPU-bound ceiling {1 / max(server_cpu, client_cpu):,.0f} msgs/s on 2 free cores"
    )


def rest(n: int) -> list[str]:
    from quantkit.exchange import LocalExchange, SyntheticMarket

    out = []
    src = SyntheticMarket(1, speed=float("inf"), duration_s=3600.0)
    with LocalExchange(src, ping_interval=None, pause_without_subscribers=False, rate_limits=False) as ex:
        ex.done.wait(600)
        for path in ("/api/v3/depth?symbol=SYNAUSDT&limit=100", "/api/v3/klines?symbol=SYNAUSDT&interval=1m"):
            for keep in (True, False):
                conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=30)
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(n):
                    if not keep:
                        conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=30)
                    conn.request("GET", path, headers={} if keep else {"Connection": "close"})
                    resp = conn.getresponse()
                    resp.read()
                    assert resp.status == 200
                    if not keep:
                        conn.close()
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                conn.close()
                name = path.split("?")[0].rsplit("/", 1)[1]
                out.append(f"REST {name:7s} {'keep-alive' if keep else 'new conn  '}: {n / wall:,.0f} req/s, "
                           f"CPU per request (server + this client, one process) {cpu / n * 1e6:,.0f} us")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--quick", action="store_true", help="30k messages: a smoke run")
    args = ap.parse_args()
    n = 30_000 if args.quick else args.messages
    for mode in ("synthetic", "replay"):
        print(run(mode, n), flush=True)
    for line in rest(300 if args.quick else 2000):
        print(line, flush=True)


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        main()
