"""HTTP behaviour real clients rely on: keep-alive, 405 for other methods, COIN-M exchangeInfo, weight limits."""

from __future__ import annotations

import http.client
import json

import websockets

from quantkit.exchange import SyntheticMarket


def test_keep_alive_and_methods(start_exchange) -> None:
    """Several requests share one connection; POST gets Binance's error body and 405; /dapi/v1 answers."""
    ex = start_exchange(SyntheticMarket(seed=1, speed=10.0))
    conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=10)
    conn.request("GET", "/api/v3/ping")
    first = conn.getresponse()
    assert first.status == 200 and first.read() == b"{}" and first.getheader("Connection") == "keep-alive"
    sock = conn.sock
    conn.request("GET", "/api/v3/time")
    second = conn.getresponse()
    assert second.status == 200 and "serverTime" in json.loads(second.read())
    assert conn.sock is sock  # the same TCP connection
    conn.request("POST", "/api/v3/order", body=b"symbol=SYNAUSDT&side=BUY", headers={"Content-Type": "application/x-www-form-urlencoded"})
    post = conn.getresponse()
    assert post.status == 405 and post.getheader("Allow") == "GET"
    assert json.loads(post.read()) == {"code": -1000, "msg": "Request method 'POST' not supported."}
    conn.request("DELETE", "/fapi/v1/ping")
    deleted = conn.getresponse()
    assert deleted.status == 405 and deleted.read()
    conn.request("GET", "/dapi/v1/exchangeInfo")
    info = json.loads(conn.getresponse().read())
    assert info["symbols"] == [] and info["rateLimits"][0]["limit"] == 2400
    conn.request("GET", "/api/v3/ping", headers={"Connection": "close"})
    last = conn.getresponse()
    assert last.getheader("Connection") == "close"
    conn.close()


def test_ws_any_path_then_subscribe(start_exchange, run) -> None:
    """ccxt.pro's way: open /ws/<n> (also under /public and /market), then SUBSCRIBE by message."""
    ex = start_exchange(SyntheticMarket(seed=2, speed=10.0))

    async def main(path: str) -> list[dict[str, object]]:
        async with websockets.connect(ex.ws_url + path) as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["synausdt@trade"], "id": 5}))
            return [json.loads(await ws.recv()) for _ in range(2)]

    for path in ("/ws/0", "/public/ws/3", "/market/ws/12"):
        reply, trade = run(main(path))
        assert reply == {"result": None, "id": 5} and trade["e"] == "trade" and trade["s"] == "SYNAUSDT"


def test_weight_limit_429_then_418_ban(start_exchange) -> None:
    """Over the minute's weight: 429 with Retry-After; ignoring it: 418 IP ban with its end; both Binance bodies."""
    now = [1_800_000_000.0]  # a minute boundary
    ex = start_exchange(SyntheticMarket(seed=3, speed=10.0), clock=lambda: now[0], weight_limits={"spot": 10})

    def get(path: str) -> tuple[int, dict[str, object], dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=10)
        conn.request("GET", path)
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read()), {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        return out

    for used in (4, 8):
        status, _, headers = get("/api/v3/aggTrades?symbol=SYNAUSDT&limit=1")  # weight 4
        assert status == 200 and headers["x-mbx-used-weight-1m"] == str(used)
    now[0] += 15.0
    status, body, headers = get("/api/v3/aggTrades?symbol=SYNAUSDT&limit=1")
    assert status == 429 and headers["retry-after"] == "45" and headers["x-mbx-used-weight-1m"] == "12"
    assert body == {"code": -1003, "msg": "Too much request weight used; current limit is 10 request weight per 1 MINUTE. "
                    "Please use WebSocket Streams for live updates to avoid polling the API."}
    now[0] += 1.0  # did not wait the 45 s
    status, body, headers = get("/api/v3/ping")
    until = int((now[0] + 120) * 1000)
    assert status == 418 and headers["retry-after"] == "120"
    assert body == {"code": -1003, "msg": f"Way too much request weight used; IP banned until {until}. "
                    "Please use WebSocket Streams for live updates to avoid bans."}
    now[0] += 60.0  # a new minute, still banned
    assert get("/api/v3/ping")[0] == 418
    assert get("/fapi/v1/ping")[0] == 200  # USD-M counts (and bans) separately
    now[0] += 61.0
    status, _, headers = get("/api/v3/ping")
    assert status == 200 and headers["x-mbx-used-weight-1m"] == "1"
    assert ex.stats()["rest_429"] == 1 and ex.stats()["rest_418"] == 2


def test_rate_limits_off(start_exchange) -> None:
    """rate_limits=False (benchmarks): never refused; the used weight is still reported."""
    ex = start_exchange(SyntheticMarket(seed=3, speed=10.0), weight_limits={"spot": 10}, rate_limits=False)
    conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=10)
    for _ in range(5):
        conn.request("GET", "/api/v3/exchangeInfo")  # weight 20
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    assert resp.getheader("X-MBX-USED-WEIGHT-1M") in ("100", "20", "40", "60", "80")  # a minute may turn meanwhile
    conn.close()
