"""Feed fuzzer: hostile WebSocket frames and hostile REST answers against a real FeedClient.

Run:

    python benchmarks/fuzz_feed.py [--messages 100000] [--seed 1] [--oversize-every 20000]

A real ``websockets`` server on 127.0.0.1 (port 0) sends ``--messages`` frames drawn
from :data:`CATEGORIES` (random bytes, bit flips, truncations, deep nesting, frames
close to the 1 MiB limit, wrong types, bad numbers, unknown symbols and events,
broken envelopes, control replies, and some valid trades whose ids jump, repeat and
go backwards so that gaps start REST backfills). The same port answers the backfill's
REST requests with hostile HTTP answers (5xx, 429/418 with odd ``Retry-After``,
garbage bodies, wrong types, error bodies, rows out of range or out of order, and
sometimes a valid page). Every ``--oversize-every`` frames one frame over the
client's 1 MiB limit is sent: the client must close that connection (1009) and reconnect.

Checked at the end (exit status 1 if any fails): the client never crashed (no
``run()`` exception, no ERROR log from ``quantkit.feed``); every frame sent before
an oversize one was received; ``received == accepted + rejected + control replies +
server shutdowns + held``; held is 0; the sink's ids are strictly increasing per
symbol; connections == oversize frames + 1.

The tests run a short version through :func:`run_fuzz` (``tests/feed/test_feed_fuzz.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import http
import json
import logging
import random
import string
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from quantkit.config import FeedConfig
from quantkit.feed import BackfillOptions, FeedClient, FeedStats
from quantkit.schema import Trade

__all__ = ["CATEGORIES", "FuzzReport", "hostile_frames", "main", "run_fuzz"]

SYMBOLS = ("BTCUSDT", "ETHUSDT")
MAX_FRAME = 2**20  # the client's websockets max_size
T0 = 1_723_161_255_342

#: Frame categories and their weights.
CATEGORIES: dict[str, int] = {
    "random_bytes": 10,
    "random_text": 8,
    "bit_flip": 10,
    "truncated": 8,
    "deep_nesting": 3,
    "huge": 1,
    "json_scalar": 5,
    "wrong_type": 12,
    "bad_number": 8,
    "missing_field": 6,
    "unknown_symbol": 4,
    "unexpected_event": 5,
    "bad_envelope": 5,
    "control": 5,
    "big_int": 3,
    "odd_unicode": 3,
    "duplicate_keys": 2,
    "valid_trade": 12,
}


class _TradeIds:
    """Per-symbol trade ids that mostly increase, sometimes jump, repeat or go back."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.last = {s: 1_000_000 for s in SYMBOLS}

    def next(self, symbol: str) -> int:
        r = self.rng.random()
        last = self.last[symbol]
        if r < 0.75:
            tid = last + 1
        elif r < 0.85:
            tid = last + self.rng.randint(2, 40)  # a gap: starts a backfill
        elif r < 0.95:
            tid = last - self.rng.randint(0, 5)  # duplicate / out of order
        else:
            tid = last + 1
        self.last[symbol] = max(last, tid)
        return tid


def _trade(rng: random.Random, ids: _TradeIds, *, symbol: str | None = None) -> dict[str, Any]:
    """A trade event; with ``symbol`` given (the base of a broken frame) its id does not advance the sequence,
    so a frame that turns out valid after all is a duplicate rather than a jump far ahead."""
    sym = symbol or rng.choice(SYMBOLS)
    tid = ids.next(sym) if symbol is None else ids.last.get(sym, 1) - rng.randint(0, 3)
    t = T0 + rng.randint(0, 10**6)
    return {"e": "trade", "E": t + 1, "s": sym, "t": tid, "p": f"{rng.uniform(1, 70000):.8f}",
            "q": f"{rng.uniform(1e-5, 5):.8f}", "T": t, "m": rng.random() < 0.5, "M": True}


def _wrap(payload: Any, rng: random.Random) -> bytes:
    if rng.random() < 0.85 and isinstance(payload, dict) and isinstance(payload.get("s"), str):
        return orjson.dumps({"stream": f"{payload['s'].lower()}@trade", "data": payload})
    return orjson.dumps(payload)


def _junk_value(rng: random.Random) -> Any:
    """A JSON value of a wrong type for any trade field (integers are right for ids and times, so none here)."""
    return rng.choice([None, True, False, [], {}, "", "x" * rng.randint(1, 50), 1.5, -2.5e18,
                       [1, 2], {"a": 1}, "12", 1e308, -0.0])


def hostile_frames(rng: random.Random, ids: _TradeIds | None = None) -> Iterator[tuple[str, bytes, bool]]:
    """Endless ``(category, payload, as_text)`` frames (see :data:`CATEGORIES`)."""
    ids = ids or _TradeIds(rng)
    names = list(CATEGORIES)
    weights = list(CATEGORIES.values())
    printable = string.printable
    while True:
        cat = rng.choices(names, weights)[0]
        text = True
        if cat == "random_bytes":
            data = rng.randbytes(rng.randint(0, 400))
            text = rng.random() < 0.5  # invalid UTF-8 in text frames too
        elif cat == "random_text":
            data = "".join(rng.choice(printable) if rng.random() < 0.9 else chr(rng.randint(0, 0xD7FF))
                           for _ in range(rng.randint(0, 300))).encode()
        elif cat == "bit_flip":
            buf = bytearray(_wrap(_trade(rng, ids), rng))
            # not inside the id's digits: a flipped id can stay a valid trade that jumps millions of ids
            # ahead, after which every later trade is "out_of_order" and the fuzz stops reaching the backfill
            start = buf.find(b'"t":') + 4
            end = buf.find(b",", start)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(buf))
                if not start <= i < end:
                    buf[i] ^= 1 << rng.randrange(8)
            data = bytes(buf)
            text = rng.random() < 0.7
        elif cat == "truncated":
            full = _wrap(_trade(rng, ids), rng)
            data = full[: rng.randrange(len(full))]
        elif cat == "deep_nesting":
            depth = rng.choice([1025, 5000, 50_000, 100_000])  # every frame stays under 1 MiB
            kind = rng.random()
            if kind < 0.4:
                depth *= 4
                data = b"[" * depth + b"]" * depth
            elif kind < 0.7:
                data = b'{"a":' * depth + b"1" + b"}" * depth
            else:  # nested inside the envelope's data, unterminated
                data = b'{"stream":"btcusdt@trade","data":' + b'{"e":' * depth
        elif cat == "huge":
            size = rng.randint(100_000, MAX_FRAME - 1000)
            kind = rng.random()
            if kind < 0.5:
                payload = _trade(rng, ids, symbol="BTCUSDT")
                payload["p"] = "1" + "0" * (size - 200)  # finite? no: 1e(size) overflows to inf
                data = _wrap(payload, rng)[:MAX_FRAME - 1]
            else:
                data = orjson.dumps({"pad": "x" * size, **_trade(rng, ids, symbol="BTCUSDT")})
        elif cat == "json_scalar":
            data = orjson.dumps(rng.choice([None, True, 0, -1.5, "trade", [], [{"e": "trade"}], 10**18]))
        elif cat == "wrong_type":
            payload = _trade(rng, ids, symbol=rng.choice(SYMBOLS))
            payload[rng.choice(["s", "t", "p", "q", "T", "E", "m", "e"])] = _junk_value(rng)
            data = _wrap(payload, rng)
        elif cat == "bad_number":
            payload = _trade(rng, ids, symbol=rng.choice(SYMBOLS))
            payload[rng.choice(["p", "q"])] = rng.choice(
                ["NaN", "nan", "Infinity", "-Infinity", "inf", "-1", "0", "0.0", "-0", "1e400", "0x10", "", " ",
                 "1_000", "١٢", "1e-400", "--1", "1.2.3", "\u0000"])
            if rng.random() < 0.3:
                payload[rng.choice(["t", "T", "E"])] = -rng.randint(1, 10**6)
            data = _wrap(payload, rng)
        elif cat == "missing_field":
            payload = _trade(rng, ids, symbol=rng.choice(SYMBOLS))
            del payload[rng.choice(["s", "t", "p", "q", "T", "E", "m"])]
            data = _wrap(payload, rng)
        elif cat == "unknown_symbol":
            payload = _trade(rng, ids, symbol=rng.choice(["DOGEUSDT", "btcusdt", "", "BTC USDT", "X" * 300]))
            data = orjson.dumps(payload)
        elif cat == "unexpected_event":
            data = rng.choice([
                b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}}',
                b'{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}',
                b'{"e":"kline","E":1,"s":"BTCUSDT","k":{}}',
                orjson.dumps({**_trade(rng, ids, symbol="BTCUSDT"), "e": "aggTrade", "a": 5}),
                b'{"e":"blockTrade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true}',
            ])
        elif cat == "bad_envelope":
            payload = _trade(rng, ids, symbol=rng.choice(SYMBOLS))
            data = orjson.dumps(rng.choice([
                {"stream": "ethusdt@trade" if payload["s"] == "BTCUSDT" else "btcusdt@trade", "data": payload},
                {"stream": 5, "data": payload},
                {"stream": "btcusdt@trade", "data": [payload]},
                {"stream": "btcusdt@trade", "data": "x"},
                {"data": payload},
                {"stream": "btcusdt@trade", "data": {}},
            ]))
        elif cat == "control":
            data = orjson.dumps(rng.choice([
                {"result": None, "id": rng.randint(0, 10**9)},
                {"result": ["btcusdt@trade"], "id": "abc"},
                {"code": 2, "msg": "Invalid request: too many parameters"},
                {"code": "2", "msg": 5},
                {"result": None},
            ]))
        elif cat == "big_int":
            data = rng.choice([
                b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":18446744073709551617,'
                b'"p":"1","q":"1","T":1,"m":true,"M":true}}',
                b'{"e":"trade","E":1,"s":"BTCUSDT","t":-9223372036854775809,"p":"1","q":"1","T":1,"m":true}',
                b'{"e":"trade","E":1,"s":"BTCUSDT","t":1e3,"p":"1","q":"1","T":1,"m":true}',
                b"1" * rng.randint(20, 5000),
            ])
        elif cat == "odd_unicode":
            data = rng.choice([
                b'{"e":"trade","s":"BTC\\ud800USDT"}',
                b'{"e":"tr\\u0000ade","E":1}',
                b'\xef\xbb\xbf{"result":null,"id":1}',  # BOM
                "{\"e\":\"trade\",\"s\":\"BTCUSDT\u200b\"}".encode(),
                b'{"e":"trade","s":"\xc0\xaf"}',
            ])
        elif cat == "duplicate_keys":
            data = (b'{"stream":"btcusdt@trade","data":{"e":"trade","e":"depthUpdate","E":1,"s":"BTCUSDT",'
                    b'"t":5,"p":"1","q":"1","T":1,"m":true,"M":true}}')
        else:  # valid_trade
            data = _wrap(_trade(rng, ids), rng)
        yield cat, data, text


# --- hostile REST ----------------------------------------------------------------------------------


def _rest_answer(rng: random.Random, path: str) -> Response:
    query = {k: v[-1] for k, v in parse_qs(urlsplit(path).query).items()}
    try:
        from_id = int(query.get("fromId", "0"))
        limit = int(query.get("limit", "500"))
    except ValueError:
        from_id, limit = 0, 500
    headers = [("Content-Type", "application/json")]
    if rng.random() < 0.5:
        headers.append(("X-MBX-USED-WEIGHT-1M", rng.choice(["25", "0", "abc", "-5", "", "1e3", " 30 "])))
    r = rng.random()
    status, body = 200, b"[]"
    if r < 0.25:  # a valid page, maybe with holes
        rows, tid = [], from_id
        for _ in range(rng.randint(0, min(limit, 60))):
            tid += 1 if rng.random() < 0.9 else rng.randint(2, 5)
            rows.append({"id": tid - 1, "price": f"{rng.uniform(1, 70000):.8f}", "qty": "0.01000000", "quoteQty": "1",
                         "time": T0 + tid, "isBuyerMaker": rng.random() < 0.5, "isBestMatch": True})
        body = orjson.dumps(rows)
    elif r < 0.35:
        body = b"[]"
    elif r < 0.45:
        status, body = rng.choice([500, 502, 503, 504]), rng.randbytes(rng.randint(0, 50))
    elif r < 0.50:
        status, body = 429, b'{"code":-1003,"msg":"Too many requests."}'
        if rng.random() < 0.8:
            headers.append(("Retry-After", rng.choice(["0", "0.01", "abc", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"])))
    elif r < 0.53:
        status, body = 418, b'{"code":-1003,"msg":"Way too many requests; IP banned."}'
        headers.append(("Retry-After", rng.choice(["0", "0.01", "0.2"])))  # a long ban would end the REST part
    elif r < 0.63:
        body = rng.randbytes(rng.randint(0, 200))
    elif r < 0.73:
        bad = {"id": _junk_value(rng), "price": _junk_value(rng), "qty": "1", "time": 1, "isBuyerMaker": True}
        body = orjson.dumps([bad])
    elif r < 0.78:
        body = b'{"code":-1121,"msg":"Invalid symbol."}'
    elif r < 0.83:
        status, body = 400, b'{"code":-1121,"msg":"Invalid symbol."}'
    elif r < 0.88:  # ids going backwards
        body = orjson.dumps([{"id": from_id + 5 - i, "price": "1", "qty": "1", "quoteQty": "1", "time": 1,
                              "isBuyerMaker": True} for i in range(3)])
    else:  # valid rows outside the range asked
        base = from_id + rng.choice([-50, 10_000, -from_id])
        body = orjson.dumps([{"id": base + i, "price": "2", "qty": "1", "quoteQty": "2", "time": T0, "isBuyerMaker": False}
                             for i in range(rng.randint(1, 30)) if base + i >= 0])
    headers.append(("Content-Length", str(len(body))))
    headers.append(("Connection", "close"))
    return Response(status, http.HTTPStatus(status).phrase, Headers(headers), body)


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class FuzzReport:
    """What one fuzz run sent and what the client counted."""

    sent: Counter[str] = field(default_factory=Counter)
    oversize: int = 0
    rest_answers: int = 0
    stats: FeedStats | None = None
    delivered: int = 0
    errors_logged: list[str] = field(default_factory=list)
    client_error: BaseException | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def sent_total(self) -> int:
        """Frames sent, oversize ones included."""
        return sum(self.sent.values())


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


async def run_fuzz(
    messages: int,
    *,
    seed: int = 1,
    oversize_every: int | None = 20_000,
    timeout: float = 300.0,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Send ``messages`` hostile frames to a FeedClient and check the invariants (see the module docstring).

    Args:
        messages: frames to send (oversize ones included).
        seed: seed of the frame and REST generators.
        oversize_every: one frame over 1 MiB after this many frames; ``None``: never.
        timeout: seconds to wait for the client to account for everything.
        progress: called with a line of progress now and then (e.g. ``print``).

    Returns:
        The report; ``report.problems`` lists failed checks (empty: all good).
    """
    rng = random.Random(seed)
    rest_rng = random.Random(seed + 1)
    report = FuzzReport()
    frames = hostile_frames(rng)
    remaining = [messages]
    done_sending = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        try:
            while remaining[0] > 0:
                n_sent = report.sent_total
                if oversize_every and n_sent and n_sent % oversize_every == 0 and report.sent["oversize"] < n_sent // oversize_every:
                    remaining[0] -= 1
                    report.sent["oversize"] += 1
                    report.oversize += 1
                    await ws.send(b"[" + b"0," * (MAX_FRAME // 2) + b"0]", text=True)
                    await ws.wait_closed()  # the client must close with 1009
                    return
                cat, data, text = next(frames)
                remaining[0] -= 1
                await ws.send(data, text=text)
                report.sent[cat] += 1
                if progress is not None and report.sent_total % 20_000 == 0:
                    progress(f"  sent {report.sent_total:,} frames")
            done_sending.set()
            await ws.wait_closed()
        except ConnectionClosed:
            report.problems.append(f"server: connection closed while sending (after {report.sent_total} frames)")

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/stream"):
            return None
        report.rest_answers += 1
        return _rest_answer(rest_rng, request.path)

    got: dict[str, list[int]] = {s: [] for s in SYMBOLS}
    bad_trades: list[Trade] = []

    def sink(trade: Trade) -> None:
        got[trade.symbol].append(trade.trade_id)
        if not (trade.price > 0 and trade.qty > 0 and trade.symbol in SYMBOLS):
            bad_trades.append(trade)

    log_errors = _ErrorLog()
    feed_log = logging.getLogger("quantkit.feed")
    feed_log.addHandler(log_errors)
    t0 = time.perf_counter()
    try:
        async with serve(handler, "127.0.0.1", 0, process_request=process_request, compression=None,
                         ping_interval=None, max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            cfg = FeedConfig.for_source("local", SYMBOLS, local_url=f"http://127.0.0.1:{port}",
                                        ping_interval=None, backoff_initial=0.01, backoff_max=0.05)
            opts = BackfillOptions(max_held=2000, retries=2, retry_initial=0.005, retry_max=0.02, max_wait=0.05,
                                   not_served_retries=1, not_served_delay=0.0, weight_limit=10**9, request_timeout=5)
            client = FeedClient(cfg, sink, backfill_options=opts)
            task = asyncio.create_task(client.run())
            deadline = time.monotonic() + timeout

            def settled() -> bool:
                s = client.stats
                return (done_sending.is_set() and s.received >= report.sent_total - report.oversize
                        and s.held == 0 and s.backfill is not None and not s.backfill.active)

            while not settled() and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.05)
            client.stop()
            try:
                await asyncio.wait_for(task, 30)
            except BaseException as exc:  # noqa: BLE001 - reported
                report.client_error = exc
            report.stats = client.stats
    finally:
        feed_log.removeHandler(log_errors)
    report.seconds = time.perf_counter() - t0
    report.errors_logged = log_errors.records
    report.delivered = sum(len(v) for v in got.values())
    s = report.stats
    if report.client_error is not None:
        report.problems.append(f"FeedClient.run() raised {report.client_error!r}")
    if report.errors_logged:
        report.problems.append(f"{len(report.errors_logged)} ERROR log records: {report.errors_logged[:3]}")
    if not done_sending.is_set():
        report.problems.append("the server did not send every frame in time")
    assert s is not None
    expected = report.sent_total - report.oversize
    if s.received != expected:
        report.problems.append(f"received {s.received} != sent {expected} (oversize frames excluded)")
    if s.received != s.accepted + s.rejected_total + s.control_replies + s.server_shutdowns + s.held:
        report.problems.append(f"accounting identity broken: {s}")
    if s.held:
        report.problems.append(f"{s.held} trades still held")
    if s.connections != report.oversize + 1:
        report.problems.append(f"{s.connections} connections for {report.oversize} oversize frames")
    if s.delivered != report.delivered:
        report.problems.append(f"stats.delivered {s.delivered} != sink calls {report.delivered}")
    for sym, ids in got.items():
        if any(a >= b for a, b in zip(ids, ids[1:])):
            report.problems.append(f"{sym}: sink ids not strictly increasing")
    if bad_trades:
        report.problems.append(f"{len(bad_trades)} invalid trades reached the sink, e.g. {bad_trades[0]}")
    return report


def format_report(report: FuzzReport) -> str:
    """A readable summary: frames per category, client counts per reason, backfill counters."""
    s = report.stats
    assert s is not None
    lines = [f"sent {report.sent_total:,} frames in {report.seconds:.1f} s "
             f"({report.sent_total / max(report.seconds, 1e-9):,.0f}/s), {report.oversize} oversize, "
             f"{report.rest_answers:,} hostile REST answers"]
    lines.append("frames sent per category:")
    lines += [f"  {k:18s} {v:8,d}" for k, v in sorted(report.sent.items(), key=lambda kv: -kv[1])]
    lines.append(f"client: received {s.received:,}, accepted {s.accepted:,}, control replies {s.control_replies:,}, "
                 f"server shutdowns {s.server_shutdowns}, held {s.held}, connections {s.connections}")
    lines.append("rejected per reason:")
    lines += [f"  {k:18s} {v:8,d}" for k, v in sorted(s.rejected.items(), key=lambda kv: -kv[1]) if v]
    b = s.backfill
    if b is not None:
        lines.append(f"backfill: {b.requests:,} requests, {b.trades:,} trades, gaps filled {b.gaps_filled:,}, "
                     f"unfilled {b.gaps_unfilled:,} ({b.missing_unfilled:,} ids), retries {b.retries:,}, "
                     f"rate-limit waits {b.rate_limit_waits:,}, held max {b.held_max:,}, sink errors {b.sink_errors}")
        lines.append("backfill errors: " + json.dumps(dict(sorted(b.errors.items()))))
    reasons = Counter(g.reason or "filled" for g in s.recent_gaps)
    lines.append(f"last {len(s.recent_gaps)} gap records by outcome: {dict(reasons)}")
    identity = s.accepted + s.rejected_total + s.control_replies + s.server_shutdowns + s.held
    lines.append(f"identity: received {s.received:,} == accepted + rejected + control + shutdowns + held = {identity:,}")
    lines.append("OK: no crash, every frame accounted for" if not report.problems else "PROBLEMS:\n  " + "\n  ".join(report.problems))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--oversize-every", type=int, default=20_000, help="0 disables oversize frames")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    report = asyncio.run(run_fuzz(args.messages, seed=args.seed, oversize_every=args.oversize_every or None,
                                  progress=lambda line: print(line, flush=True)))
    print(format_report(report))
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    from _load import LoadWatch  # benchmarks/_load.py: the load at start and end; "loaded" above 1

    with LoadWatch():
        main()
