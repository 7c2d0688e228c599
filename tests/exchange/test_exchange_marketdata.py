"""Market data computed from the trades: klines (REST and stream), tickers, the book and its diff stream."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
import websockets

from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.exchange.klines import INTERVALS, kline_open, next_open

from _support.books import build_book

START_MS = 1_723_161_600_000  # 2024-08-09 00:00:00 UTC, a Friday
DURATION_S = 300.0


@pytest.fixture(scope="module")
def finished() -> Any:
    """A finished max-speed synthetic exchange and the generator's own frames."""
    market = SyntheticMarket(seed=12, speed=float("inf"), start_ms=START_MS, duration_s=DURATION_S)
    frames = market.generate(DURATION_S, start_ms=START_MS)
    # a fixed wall clock: the exchange's clock stays at the last trade (and one weight minute for the module)
    ex = LocalExchange(market, ping_interval=None, pause_without_subscribers=False, clock=lambda: 1_800_000_000.0)
    ex.start()
    assert ex.done.wait(60)
    yield ex, frames
    ex.stop()


def _expected_klines(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Independent OHLCV by pandas resampling (open times in ms as the index)."""
    price, qty = frame["price"], frame["qty"]
    buy = ~frame["is_buyer_maker"]
    out = pd.DataFrame({
        "o": price.resample(rule).first(), "h": price.resample(rule).max(), "l": price.resample(rule).min(),
        "c": price.resample(rule).last(), "v": qty.resample(rule).sum(), "n": price.resample(rule).count(),
        "V": qty[buy].resample(rule).sum().reindex(price.resample(rule).first().index, fill_value=0.0),
    })
    out["c"] = out["c"].ffill()
    for col in ("o", "h", "l"):
        out[col] = out[col].fillna(out["c"])
    out.index = out.index.asi8 // 1_000_000
    return out


def test_rest_klines_match_an_independent_resampling(finished, rest) -> None:
    """/api/v3/klines rows equal OHLCV, volumes and counts resampled independently from the trades."""
    ex, frames = finished
    f = frames["SYNAUSDT"]
    for interval, rule in (("1m", "1min"), ("1s", "1s")):
        status, rows, headers = rest(f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval={interval}&startTime={START_MS}&limit=1000")
        assert status == 200 and headers["X-MBX-USED-WEIGHT-1M"].isdigit()
        exp = _expected_klines(f, rule)
        exp = exp.iloc[: len(rows)]
        assert [r[0] for r in rows] == exp.index.tolist()
        assert len(rows[0]) == 12 and rows[0][11] == "0"
        step = INTERVALS[interval]
        assert all(r[6] == r[0] + step - 1 for r in rows)
        got = np.array([[float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), r[8], float(r[9])] for r in rows])
        np.testing.assert_allclose(got, exp[["o", "h", "l", "c", "v", "n", "V"]].to_numpy(float), rtol=1e-9, atol=1e-8)
    _, fut, _ = rest(f"{ex.url}/fapi/v1/klines?symbol=SYNAUSDT&interval=1m&startTime={START_MS}&limit=2")
    assert fut[0][1] == f"{f['price'].iloc[0]:.2f}"  # futures render the symbol's decimals


def test_rest_klines_window_and_limit_semantics(finished, rest) -> None:
    """startTime inside a kline starts at the next one; endTime only gives the last `limit`; limit caps."""
    ex, _ = finished
    url = f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval=1m"
    _, rows, _ = rest(url + f"&startTime={START_MS + 1}&limit=2")
    assert [r[0] for r in rows] == [START_MS + 60_000, START_MS + 120_000]
    _, rows, _ = rest(url + f"&endTime={START_MS + 150_000}&limit=2")
    assert [r[0] for r in rows] == [START_MS + 60_000, START_MS + 120_000]
    _, rows, _ = rest(url + f"&startTime={START_MS}&endTime={START_MS + 60_000}")
    assert [r[0] for r in rows] == [START_MS, START_MS + 60_000]
    _, rows, _ = rest(url)  # newest: the history's 5 minutes
    assert [r[0] for r in rows] == [START_MS + k * 60_000 for k in range(5)]
    _, rows, _ = rest(f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval=1s&limit=5000")
    assert len(rows) == DURATION_S  # every second of the history (spot would cap limit at 1000)
    _, rows, _ = rest(f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval=1s&limit=100")
    assert len(rows) == 100 and rows[-1][0] == START_MS + (DURATION_S - 1) * 1000
    status, body, _ = rest(f"{ex.url}/fapi/v1/klines?symbol=SYNAUSDT&interval=1m&limit=1501")
    assert (status, body["code"]) == (400, -1130)
    for interval in ("1w", "1M", "3d", "1d"):
        _, rows, _ = rest(f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval={interval}")
        assert len(rows) == 1 and rows[0][0] <= START_MS <= rows[0][6]
    _, (week,), _ = rest(f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval=1w")
    assert pd.Timestamp(week[0], unit="ms").day_name() == "Monday"
    _, (month,), _ = rest(f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval=1M")
    assert pd.Timestamp(month[0], unit="ms") == pd.Timestamp("2024-08-01") and month[6] == pd.Timestamp("2024-09-01").value // 10**6 - 1


def test_interval_arithmetic() -> None:
    """Buckets: epoch multiples, Monday weeks, calendar months (December rolls into January)."""
    t = np.array([START_MS + 123_456])
    assert kline_open("1m", t)[0] == START_MS + 120_000
    assert kline_open("1w", t)[0] == pd.Timestamp("2024-08-05").value // 10**6
    dec = pd.Timestamp("2024-12-15").value // 10**6
    assert next_open("1M", int(kline_open("1M", np.array([dec]))[0])) == pd.Timestamp("2025-01-01").value // 10**6


def test_tickers_and_avg_price(finished, rest) -> None:
    """24h ticker, price ticker, book ticker and avgPrice agree with the trades and the book."""
    ex, frames = finished
    f = frames["SYNAUSDT"]
    _, t, _ = rest(f"{ex.url}/api/v3/ticker/24hr?symbol=SYNAUSDT")
    assert t["lastPrice"] == f"{f['price'].iloc[-1]:.8f}" and t["count"] == len(f)
    assert float(t["volume"]) == pytest.approx(f["qty"].sum()) and t["lastId"] == f["trade_id"].iloc[-1]
    assert float(t["highPrice"]) == f["price"].max() and float(t["openPrice"]) == f["price"].iloc[0]
    _, many, _ = rest(f'{ex.url}/api/v3/ticker/price?symbols=["SYNAUSDT","SYNBUSDT"]')
    assert [p["symbol"] for p in many] == ["SYNAUSDT", "SYNBUSDT"]
    _, bt, _ = rest(f"{ex.url}/api/v3/ticker/bookTicker?symbol=SYNAUSDT")
    last, taker_sold = f["price"].iloc[-1], bool(f["is_buyer_maker"].iloc[-1])
    assert float(bt["bidPrice" if taker_sold else "askPrice"]) == pytest.approx(last)  # trades happen at the touch
    assert float(bt["askPrice"]) - float(bt["bidPrice"]) == pytest.approx(0.01)
    _, avg, _ = rest(f"{ex.url}/api/v3/avgPrice?symbol=SYNAUSDT")
    recent = f[f.index >= f.index[-1] - pd.Timedelta("5min") + pd.Timedelta("1ms")]
    assert avg["mins"] == 5 and float(avg["price"]) == pytest.approx((recent["price"] * recent["qty"]).sum() / recent["qty"].sum())
    _, pi, _ = rest(f"{ex.url}/fapi/v1/premiumIndex?symbol=SYNAUSDT")
    assert pi["lastFundingRate"] == "0.00010000" and pi["nextFundingTime"] % (8 * 3_600_000) == 0


@pytest.mark.parametrize(("market", "stream"), [("spot", "depth"), ("spot", "depth@100ms"), ("futures", "depth@500ms")])
def test_local_book_from_the_diff_stream_equals_the_snapshot(start_exchange, run, market: str, stream: str) -> None:
    """A book built from REST snapshot + @depth diffs (U/u, pu on USD-M) equals the final REST snapshot."""
    ex = start_exchange(SyntheticMarket(seed=4, speed=60.0, duration_s=600, market=market))
    built, final, applied = run(build_book(ex, market, stream), 40)
    assert applied >= 3
    assert built == final and len(final["bids"]) == 1000
    assert max(map(float, built["bids"])) < min(map(float, built["asks"]))


async def _collect(url: str, subscribe: list[str] | None, until: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:
        if subscribe:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": subscribe, "id": 1}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            out.append(msg)
            if until(out):
                break
    return out


def test_kline_stream_updates_then_closes(start_exchange, run, rest) -> None:
    """@kline_1s sends the open kline and a final x:true message equal to the REST kline."""
    ex = start_exchange(SyntheticMarket(seed=6, speed=0.5))
    msgs = run(_collect(ex.ws_url + "/ws/0", ["synausdt@kline_1s"],
                        lambda out: sum(1 for m in out if m.get("k", {}).get("x")) >= 2), 40)
    assert msgs[0] == {"result": None, "id": 1}
    klines = [m for m in msgs[1:] if m.get("e") == "kline"]
    assert any(not m["k"]["x"] for m in klines)
    final = [m["k"] for m in klines if m["k"]["x"]][-1]
    assert final["i"] == "1s" and final["T"] == final["t"] + 999 and klines[-1]["E"] > final["T"]
    _, rows, _ = rest(f"{ex.url}/api/v3/klines?symbol=SYNAUSDT&interval=1s&startTime={final['t']}&limit=1")
    row = rows[0]
    assert [row[0], row[1], row[2], row[3], row[4], row[5], row[8]] == [
        final["t"], final["o"], final["h"], final["l"], final["c"], final["v"], final["n"]]


def test_event_streams_and_unserved_streams(start_exchange, run) -> None:
    """ticker, miniTicker, bookTicker and markPrice stream; an unserved stream gets an error, not silence."""
    ex = start_exchange(SyntheticMarket(seed=8, speed=5.0, market="futures"))
    wanted = {"24hrTicker", "24hrMiniTicker", "bookTicker", "markPriceUpdate"}
    msgs = run(_collect(
        ex.ws_url + "/market/ws/7",
        ["synausdt@ticker", "synausdt@miniTicker", "synausdt@bookTicker", "synausdt@markPrice@1s"],
        lambda out: wanted <= {m.get("e") for m in out},
    ), 40)
    assert wanted <= {m.get("e") for m in msgs}
    refused = run(_collect(ex.ws_url + "/ws", ["synausdt@forceOrder"], lambda out: True), 20)
    assert refused == [{"error": {"code": 2, "msg": "Invalid request: stream synausdt@forceOrder is not served by this exchange"}, "id": 1}]
    on_path = run(_collect(ex.ws_url + "/ws/btcusdt@trade", None, lambda out: True), 20)
    assert on_path[0]["error"]["code"] == 2 and "btcusdt@trade" in on_path[0]["error"]["msg"]
