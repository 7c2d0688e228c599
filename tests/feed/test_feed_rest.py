"""The backfill's Sans-I/O REST layer (targets, pages, Retry-After, weight budget) and its HTTP/1.1 GET.

The HTTP tests run a tiny asyncio server of their own on 127.0.0.1 port 0 that
answers with canned bytes (chunked, no length, malformed, 429 + Retry-After).
"""

from __future__ import annotations

import asyncio
from email.utils import formatdate
from typing import Any

import orjson
import pytest

from quantkit.errors import ConfigError
from quantkit.feed import BackfillOptions, RestError, WeightBudget, backfill_target, parse_page, parse_retry_after
from quantkit.feed._http import HttpError, http_get
from quantkit.schema import Trade


class FakeClock:
    """A settable wall clock, seconds since the epoch."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_backfill_targets() -> None:
    """Targets follow Binance: historicalTrades for @trade, aggTrades for @aggTrade, fromId inclusive, limit <= 1000."""
    assert backfill_target("/api/v3", "trade", "BTCUSDT", 42) == "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=42&limit=1000"
    assert backfill_target("/fapi/v1", "aggTrade", "ETHUSDT", 7, 5) == "/fapi/v1/aggTrades?symbol=ETHUSDT&fromId=7&limit=5"
    for kwargs in ({"stream": "depth"}, {"from_id": -1}, {"limit": 1001}, {"limit": 0}):
        args: dict[str, Any] = {"prefix": "/api/v3", "stream": "trade", "symbol": "X", "from_id": 1, **kwargs}
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            backfill_target(**args)


def test_parse_pages_of_both_endpoints() -> None:
    """historicalTrades and aggTrades rows become Trades like the live parser's (quote = price * qty, E = T)."""
    trades = parse_page(
        b'[{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012","time":1499865549590,'
        b'"isBuyerMaker":true,"isBestMatch":true},{"id":28458,"price":"4.5","qty":"1","quoteQty":"4.5",'
        b'"time":1499865549591,"isBuyerMaker":false}]',
        "BNBBTC",
        "trade",
    )
    assert trades[0] == Trade("BNBBTC", 28457, 4.000001, 12.0, 4.000001 * 12.0, 1499865549590, 1499865549590, True)
    assert type(trades[0]) is Trade and trades[1].trade_id == 28458 and not trades[1].is_buyer_maker
    aggs = parse_page(b'[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true}]',
                      "BNBBTC", "aggTrade")
    assert aggs == [Trade("BNBBTC", 26129, 0.01633102, 4.70443515, 0.01633102 * 4.70443515, 1498793709153, 1498793709153, True)]
    assert parse_page(b"[]", "X", "trade") == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>busy</html>", "bad_body"),
        (b'{"code":-1121,"msg":"Invalid symbol."}', "error_body"),
        (b'{"oops":1}', "bad_body"),
        (b"[1]", "bad_body"),
        (b'[{"id":1,"price":"1","qty":"1","time":1}]', "bad_body"),  # no isBuyerMaker
        (b'[{"id":"1","price":"1","qty":"1","time":1,"isBuyerMaker":true}]', "bad_body"),
        (b'[{"id":1,"price":1.5,"qty":"1","time":1,"isBuyerMaker":true}]', "bad_body"),
        (b'[{"id":1,"price":"NaN","qty":"1","time":1,"isBuyerMaker":true}]', "bad_body"),
        (b'[{"id":1,"price":"0","qty":"1","time":1,"isBuyerMaker":true}]', "bad_body"),
        (b'[{"id":1,"price":"1","qty":"1","time":-5,"isBuyerMaker":true}]', "bad_body"),
        (b'[{"id":9223372036854775808,"price":"1","qty":"1","time":1,"isBuyerMaker":true}]', "bad_body"),
        (b'[{"id":1,"price":"1","qty":"1","time":9223372036855,"isBuyerMaker":true}]', "bad_body"),
        (b'[{"id":2,"price":"1","qty":"1","time":1,"isBuyerMaker":true},'
         b'{"id":2,"price":"1","qty":"1","time":1,"isBuyerMaker":true}]', "bad_body"),
    ],
)
def test_bad_pages_raise_rest_error(body: bytes, problem: str) -> None:
    """Anything but a list of valid rows with increasing ids raises RestError with its kind."""
    with pytest.raises(RestError) as info:
        parse_page(body, "BTCUSDT", "trade")
    assert info.value.problem == problem
    if problem == "error_body":
        assert info.value.code == -1121


def test_retry_after_forms() -> None:
    """Retry-After is delta-seconds or an HTTP date; garbage and negatives are ignored."""
    now = 1_700_000_000.0
    assert parse_retry_after("5", now) == 5.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30.0)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    for bad in (None, "", "soon", "-3", "nan", "inf"):
        assert parse_retry_after(bad, now) is None


def test_weight_budget_waits_for_the_next_minute() -> None:
    """Past weight_share of the limit the next request waits for the next minute (+ margin); a new minute resets."""
    clock = FakeClock(6000.0 * 60 + 10.0)  # 10 s into a minute
    budget = WeightBudget(6000, 0.5, clock=clock, margin=1.0)
    assert budget.budget == 3000 and budget.wait_before(25) == 0.0
    budget.spend(25)
    budget.observe("2990")  # the server says the IP used 2990 this minute (other clients too)
    assert budget.used == 2990 and budget.last_header == 2990
    assert budget.wait_before(25) == pytest.approx(51.0)
    assert budget.wait_before(10) == 0.0
    clock.now += 50.5  # next minute
    assert budget.used == 0 and budget.wait_before(25) == 0.0
    budget.observe("garbage")
    assert budget.last_header == 2990


def test_weight_budget_holds_after_429_and_418() -> None:
    """block() holds every request until its end; a shorter later block does not shorten it."""
    clock = FakeClock(1000.0)
    budget = WeightBudget(2400, 1.0, clock=clock)
    budget.block(120.0)
    budget.block(5.0)
    assert budget.wait_before(1) == pytest.approx(120.0) and budget.blocked_until == 1120.0
    clock.now = 1120.0
    assert budget.wait_before(1) == 0.0
    with pytest.raises(ValueError, match="share"):
        WeightBudget(10, 0.0, clock=clock)


@pytest.mark.parametrize(
    ("field", "value"),
    [("limit", 0), ("limit", 1001), ("max_held", 0), ("weight_share", 1.5), ("retries", -1), ("max_wait", 0.0),
     ("retry_max", 0.1), ("api_key", "a\r\nb"), ("weight_limit", 0)],
)
def test_backfill_options_validated(field: str, value: object) -> None:
    """Out-of-range backfill options raise ConfigError naming the field."""
    with pytest.raises(ConfigError, match=field):
        BackfillOptions(**{field: value})  # type: ignore[arg-type]


# --- HTTP/1.1 GET against a tiny server of our own ---------------------------------------------


async def _serve_once(answer: bytes, *, close: bool = True) -> tuple[asyncio.Server, int, list[bytes]]:
    """Serve ``answer`` to each connection after reading its request head; record the heads."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        if not close:
            await reader.read()  # keep the answer unfinished until the client gives up
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], heads


def _get(answer: bytes, **kwargs: Any) -> tuple[Any, list[bytes]]:
    async def main() -> tuple[Any, list[bytes]]:
        server, port, heads = await _serve_once(answer, close=kwargs.pop("close", True))
        async with server:
            try:
                result: Any = await http_get(f"http://127.0.0.1:{port}/api/v3/aggTrades?symbol=X&fromId=1", **kwargs)
            except Exception as exc:  # returned to the test to assert on
                result = exc
        return result, heads

    return asyncio.run(main())


def test_http_get_content_length_and_headers() -> None:
    """A Content-Length body is read exactly; headers are lower-cased; the request is one keep-alive GET."""
    body = orjson.dumps([{"a": 1}])
    resp, heads = _get(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-MBX-USED-WEIGHT-1M: 4\r\n\r\n%s" % (len(body), body),
                       headers={"X-MBX-APIKEY": "k"})
    assert resp.status == 200 and resp.body == body and resp.headers["x-mbx-used-weight-1m"] == "4"
    head = heads[0].decode()
    assert head.startswith("GET /api/v3/aggTrades?symbol=X&fromId=1 HTTP/1.1\r\n")
    assert "Connection: keep-alive" in head and "X-MBX-APIKEY: k" in head


def test_http_get_chunked_and_until_eof() -> None:
    """Chunked bodies are de-chunked (with extensions and trailers); a body without length is read to EOF."""
    chunked = b"HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\nRetry-After: 3\r\n\r\n" \
              b"5;ext=1\r\n[{\"a\"\r\n4\r\n:1}]\r\n0\r\nX-Trailer: y\r\n\r\n"
    resp, _ = _get(chunked)
    assert resp.status == 429 and resp.body == b'[{"a":1}]' and resp.headers["retry-after"] == "3"
    resp, _ = _get(b"HTTP/1.0 500 Internal Server Error\r\nServer: x\r\n\r\nno length here")
    assert resp.status == 500 and resp.body == b"no length here"


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,
        b"HTTP/1.1 200",
    ],
)
def test_http_get_rejects_malformed_responses(answer: bytes) -> None:
    """Malformed or oversized responses raise HttpError, never hang or crash."""
    result, _ = _get(answer, max_body=1000)
    assert isinstance(result, HttpError), result


def test_http_get_times_out_and_refuses_bad_urls() -> None:
    """A server that never finishes its answer hits the timeout; non-http URLs are a ValueError."""
    result, _ = _get(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", close=False, timeout=0.2)
    assert isinstance(result, TimeoutError)
    with pytest.raises(ValueError, match="url"):
        asyncio.run(http_get("ftp://127.0.0.1/x"))
