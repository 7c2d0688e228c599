"""REST on the exchange's WebSocket port: trades, aggTrades, exchangeInfo, Binance errors and weight headers."""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from quantkit.exchange import LocalExchange, SyntheticMarket

START_MS = 1_723_161_600_000
DURATION_S = 240.0
NOW_S = 1_800_000_000.0  # fixed wall clock: one weight minute for the whole module


@pytest.fixture(scope="module")
def served() -> tuple[LocalExchange, dict[str, pd.DataFrame]]:
    """A finished max-speed synthetic exchange (no subscriber needed) and the generator's own frames."""
    market = SyntheticMarket(seed=9, speed=float("inf"), start_ms=START_MS, duration_s=DURATION_S)
    frames = market.generate(DURATION_S, start_ms=START_MS)
    ex = LocalExchange(market, ping_interval=None, pause_without_subscribers=False, clock=lambda: NOW_S).start()
    assert ex.done.wait(30)
    yield ex, frames
    ex.stop()


def _aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Independent aggregation: consecutive ids with the same ms, side and price."""
    ids = frame["trade_id"].to_numpy()
    t = frame.index.asi8 // 1_000_000
    m = frame["is_buyer_maker"].to_numpy()
    p = frame["price"].to_numpy()
    new = np.ones(len(frame), dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (m[1:] != m[:-1]) | (p[1:] != p[:-1]) | (ids[1:] != ids[:-1] + 1)
    g = np.cumsum(new) - 1
    df = pd.DataFrame({"g": g, "id": ids, "t": t, "m": m, "p": p, "q": frame["qty"].to_numpy()})
    out = df.groupby("g").agg(f=("id", "first"), l=("id", "last"), T=("t", "first"), m=("m", "first"),
                              p=("p", "first"), q=("q", "sum"))
    return out.reset_index(drop=True)


def test_historical_trades_rows_and_paging(served, rest) -> None:
    """historicalTrades: newest 500 by default; fromId pages forward inclusively; rows in Binance's spot shape."""
    ex, frames = served
    f = frames["SYNAUSDT"]
    status, rows, headers = rest(f"{ex.url}/api/v3/historicalTrades?symbol=SYNAUSDT")
    assert status == 200 and len(rows) == 500 and rows[-1]["id"] == f["trade_id"].iloc[-1]
    assert headers["Content-Type"].startswith("application/json")
    first = int(f["trade_id"].iloc[10])
    _, page, _ = rest(f"{ex.url}/api/v3/historicalTrades?symbol=SYNAUSDT&fromId={first}&limit=3")
    row = f.iloc[10]
    assert [r["id"] for r in page] == [first, first + 1, first + 2]
    assert list(page[0]) == ["id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"]
    assert page[0]["price"] == f"{row['price']:.8f}" and page[0]["qty"] == f"{row['qty']:.8f}"
    assert float(page[0]["quoteQty"]) == pytest.approx(row["price"] * row["qty"], rel=1e-12)
    assert page[0]["time"] == f.index[10].value // 1_000_000 and page[0]["isBuyerMaker"] == bool(row["is_buyer_maker"])
    _, recent, _ = rest(f"{ex.url}/api/v3/trades?symbol=SYNAUSDT&limit=7")
    assert [r["id"] for r in recent] == f["trade_id"].iloc[-7:].tolist()


def test_agg_trades_by_id_and_time(served, rest) -> None:
    """aggTrades equal an independent aggregation of the generator's trades, by fromId, startTime and endTime."""
    ex, frames = served
    agg = _aggregate(frames["SYNBUSDT"])
    _, rows, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNBUSDT&limit=1000&fromId=0")
    first_a = rows[0]["a"]
    assert len(rows) == 1000 and [r["a"] for r in rows] == list(range(first_a, first_a + 1000))
    assert [(r["f"], r["l"], r["T"], r["m"]) for r in rows] == [
        (int(a.f), int(a.l), int(a.T), bool(a.m)) for a in agg.iloc[:1000].itertuples()
    ]
    assert [r["q"] for r in rows] == [f"{q:.8f}" for q in agg["q"].iloc[:1000]]
    assert list(rows[0]) == ["a", "p", "q", "f", "l", "T", "m", "M"]
    _, recent, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNBUSDT")
    assert len(recent) == 500 and recent[-1]["l"] == agg["l"].iloc[-1]
    k = 2345
    t0 = int(agg["T"].iloc[k])
    _, by_time, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNBUSDT&startTime={t0}&limit=5")
    expected = agg.index[agg["T"] >= t0][:5]
    assert [r["a"] - first_a for r in by_time] == expected.tolist()
    t1 = t0 + 3000
    _, window, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNBUSDT&startTime={t0}&endTime={t1}&limit=1000")
    inside = agg.index[(agg["T"] >= t0) & (agg["T"] <= t1)]
    assert [r["a"] - first_a for r in window] == inside.tolist()
    _, before, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNBUSDT&endTime={t1}&limit=4")
    assert [r["a"] - first_a for r in before] == agg.index[agg["T"] <= t1][-4:].tolist()
    _, page, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNBUSDT&fromId={first_a + 77}&limit=2")
    assert [r["a"] for r in page] == [first_a + 77, first_a + 78]


def test_futures_prefix_renders_futures_shapes(served, rest) -> None:
    """/fapi/v1 serves the same history in USD-M shapes: no M, no isBestMatch, the symbol's decimals."""
    ex, frames = served
    _, aggs, _ = rest(f"{ex.url}/fapi/v1/aggTrades?symbol=SYNAUSDT&limit=2")
    assert list(aggs[0]) == ["a", "p", "q", "f", "l", "T", "m"] and len(aggs[0]["p"].split(".")[1]) == 2
    status, body, _ = rest(f"{ex.url}/fapi/v1/historicalTrades?symbol=SYNAUSDT&limit=2")
    assert (status, body) == (401, {"code": -2014, "msg": "API-key format invalid."})  # USD-M asks for a key
    _, trades, _ = rest(f"{ex.url}/fapi/v1/historicalTrades?symbol=SYNAUSDT&limit=2", {"X-MBX-APIKEY": "any"})
    assert list(trades[0]) == ["id", "price", "qty", "quoteQty", "time", "isBuyerMaker"]
    assert trades[-1]["id"] == frames["SYNAUSDT"]["trade_id"].iloc[-1]


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/api/v3/aggTrades", 400, {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}),
        ("/api/v3/aggTrades?symbol=BTCUSDT", 400, {"code": -1121, "msg": "Invalid symbol."}),
        ("/api/v3/historicalTrades?symbol=synausdt", 400, {"code": -1121, "msg": "Invalid symbol."}),
        ("/api/v3/aggTrades?symbol=SYNAUSDT&fromId=abc", 400,
         {"code": -1100, "msg": "Illegal characters found in parameter 'fromId'; legal range is '^[0-9]{1,20}$'."}),
        ("/api/v3/trades?symbol=SYNAUSDT&limit=0", 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}),
        ("/fapi/v1/aggTrades?symbol=SYNAUSDT&limit=1001", 400,
         {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}),
        ("/fapi/v1/aggTrades?symbol=SYNAUSDT&startTime=0&endTime=3600001", 400,
         {"code": -1127, "msg": "More than 1 hours between startTime and endTime."}),
        ("/api/v3/exchangeInfo?symbol=NOPE", 400, {"code": -1121, "msg": "Invalid symbol."}),
        ("/api/v3/userDataStream", 404, {"code": -1000, "msg": "Not found."}),
        ("/api/v3/klines?symbol=SYNAUSDT", 400,
         {"code": -1102, "msg": "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."}),
        ("/api/v3/klines?symbol=SYNAUSDT&interval=2m", 400, {"code": -1120, "msg": "Invalid interval."}),
        ("/fapi/v1/klines?symbol=SYNAUSDT&interval=1s", 400, {"code": -1120, "msg": "Invalid interval."}),
        ("/fapi/v1/depth?symbol=SYNAUSDT&limit=7", 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}),
        ("/nowhere", 404, {"code": -1000, "msg": "Not found."}),
    ],
)
def test_errors(served, rest, path: str, status: int, body: dict[str, object]) -> None:
    """Bad requests get Binance's error bodies and statuses."""
    ex, _ = served
    got_status, got_body, _ = rest(ex.url + path)
    assert (got_status, got_body) == (status, body)


def test_spot_limit_is_capped_at_1000(served, rest) -> None:
    """Spot answers limit above 1000 with 1000 rows (futures rejects it)."""
    ex, _ = served
    _, rows, _ = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNCUSDT&fromId=0&limit=5000")
    assert len(rows) == 1000


def test_used_weight_header_counts_per_minute(served, rest) -> None:
    """X-MBX-USED-WEIGHT-1M grows by each endpoint's weight within the minute."""
    ex, _ = served
    _, _, h1 = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNAUSDT&limit=1")
    _, _, h2 = rest(f"{ex.url}/api/v3/aggTrades?symbol=SYNAUSDT&limit=1")
    _, _, h3 = rest(f"{ex.url}/api/v3/historicalTrades?symbol=SYNAUSDT&limit=1")
    used = [int(h["X-MBX-USED-WEIGHT-1M"]) for h in (h1, h2, h3)]
    assert used[1] - used[0] == 4 and used[2] - used[1] == 25


def test_exchange_info(served, rest) -> None:
    """exchangeInfo lists the served symbols with tickSize/stepSize filters; symbol and symbols filter it."""
    ex, _ = served
    _, info, _ = rest(f"{ex.url}/api/v3/exchangeInfo")
    # the exchange's clock is the served trades' time (the market finished at START_MS + DURATION_S)
    last_ms = int(ex.histories["SYNAUSDT"].last_time or 0)
    assert info["timezone"] == "UTC" and START_MS + DURATION_S * 1000 - 1000 <= info["serverTime"] <= START_MS + DURATION_S * 1000
    assert info["serverTime"] >= last_ms
    assert [s["symbol"] for s in info["symbols"]] == ["SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT"]
    b = info["symbols"][1]
    filters = {f["filterType"]: f for f in b["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000" and filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert (b["baseAsset"], b["quoteAsset"], b["status"]) == ("SYNB", "USDT", "TRADING")
    _, one, _ = rest(f"{ex.url}/api/v3/exchangeInfo?symbol=SYNCUSDT")
    assert [s["symbol"] for s in one["symbols"]] == ["SYNCUSDT"]
    wanted = quote(json.dumps(["SYNDUSDT", "SYNAUSDT"], separators=(",", ":")))
    _, two, _ = rest(f"{ex.url}/api/v3/exchangeInfo?symbols={wanted}")
    assert [s["symbol"] for s in two["symbols"]] == ["SYNDUSDT", "SYNAUSDT"]
    _, fut, _ = rest(f"{ex.url}/fapi/v1/exchangeInfo")
    a = fut["symbols"][0]
    assert (a["pricePrecision"], a["quantityPrecision"], a["contractType"]) == (2, 4, "PERPETUAL")
    assert {f["filterType"]: f for f in a["filters"]}["PRICE_FILTER"]["tickSize"] == "0.01"
