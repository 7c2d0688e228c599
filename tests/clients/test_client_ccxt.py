"""ccxt and ccxt.pro against the local exchange, pointed at it by ccxt's own URL overrides.

Every public market-data method ccxt offers for Binance that the exchange serves is
called over REST and WebSocket (synthetic and replay, spot and USD-M) and must
return data; calls Binance refuses are refused with Binance's error.
"""

from __future__ import annotations

import time
from typing import Any

import ccxt
import ccxt.pro
import pytest

from quantkit.exchange import LocalExchange


def point(client: Any, ex: LocalExchange, market: str) -> Any:
    """Point a ccxt binance client at ``ex``: every REST base keeps its path, streams go to ``/ws``.

    ccxt.pro tells spot streams from futures ones by ``/stream`` in the URL (Binance's host is
    ``stream.binance.com``); the exchange ignores path segments after ``/ws`` that are not stream
    names, so ``/ws/stream`` works for spot.
    """
    api = client.urls["api"]
    for key, value in list(api.items()):
        if key == "ws":
            for sub, url in list(value.items()):
                if isinstance(url, str):
                    value[sub] = ex.ws_url + ("/ws/stream" if market == "spot" else "/ws")
        elif isinstance(value, str) and "://" in value:
            api[key] = ex.url + "/" + value.split("://", 1)[1].split("/", 1)[1]
    return client


def _ccxt_symbol(venue_symbol: str, market: str) -> str:
    base = venue_symbol[: -len("USDT")]
    return f"{base}/USDT" if market == "spot" else f"{base}/USDT:USDT"


def _client(venue: Any, pro: bool = False) -> Any:
    cls = ccxt.pro.binance if pro else ccxt.binance
    kind = "spot" if venue.market == "spot" else "swap"
    return point(cls({"options": {"defaultType": kind}, "timeout": 20_000}), venue.exchange, venue.market)


def _wait_for_history(venue: Any, timeout_unit: float) -> None:
    deadline = time.monotonic() + 30 * timeout_unit
    while venue.exchange.published < 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert venue.exchange.published >= 200


def test_ccxt_rest_market_data(venue, timeout_unit) -> None:
    """load_markets (spot, USD-M, COIN-M exchangeInfo) and every public REST market-data call return data."""
    _wait_for_history(venue, timeout_unit)
    client = _client(venue)
    markets = client.load_markets()
    symbol = _ccxt_symbol(venue.symbol, venue.market)
    assert symbol in markets and markets[symbol]["id"] == venue.symbol
    assert client.fetch_time() > 1_500_000_000_000
    assert client.fetch_status()["status"] == "ok"
    ticker = client.fetch_ticker(symbol)
    assert ticker["last"] > 0 and ticker["high"] >= ticker["low"] > 0 and ticker["baseVolume"] > 0
    assert symbol in client.fetch_tickers()
    book = client.fetch_order_book(symbol, limit=100)
    assert len(book["bids"]) == len(book["asks"]) == 100 and book["bids"][0][0] < book["asks"][0][0]
    assert book["nonce"] > 0
    bars = client.fetch_ohlcv(symbol, "1m", limit=5)
    assert bars and all(len(b) == 6 and b[2] >= b[3] for b in bars)
    one_s = client.fetch_ohlcv(symbol, "1s", limit=3) if venue.market == "spot" else None
    assert one_s is None or one_s
    since = bars[0][0]
    assert client.fetch_ohlcv(symbol, "1m", since=since, limit=2)[0][0] == since
    trades = client.fetch_trades(symbol, limit=20)
    assert len(trades) == 20 and all(t["price"] > 0 for t in trades)
    bids_asks = client.fetch_bids_asks([symbol])
    assert bids_asks[symbol]["bid"] < bids_asks[symbol]["ask"]
    assert client.fetch_last_prices([symbol])[symbol]["price"] > 0
    if venue.market == "futures":
        rate = client.fetch_funding_rate(symbol)
        assert rate["fundingRate"] == pytest.approx(0.0001) and rate["markPrice"] > 0
        assert isinstance(client.fetch_funding_rate_history(symbol), list)
        assert client.fetch_mark_price(symbol)["markPrice"] > 0
        for price in ("mark", "index"):
            bars = client.fetch_ohlcv(symbol, "1m", limit=3, params={"price": price})
            assert bars and all(b[2] >= b[3] > 0 for b in bars)


def test_ccxt_pro_watch_methods(venue, run_async, timeout_unit) -> None:
    """ccxt.pro opens /ws/<n> and subscribes by message: trades, OHLCV, order book, ticker, bids/asks."""
    _wait_for_history(venue, timeout_unit)
    symbol = _ccxt_symbol(venue.symbol, venue.market)

    async def main() -> dict[str, Any]:
        client = _client(venue, pro=True)
        got: dict[str, Any] = {}
        try:
            await client.load_markets()
            got["trades"] = await client.watch_trades(symbol)
            got["ohlcv"] = await client.watch_ohlcv(symbol, "1m")
            got["book"] = await client.watch_order_book(symbol)
            got["ticker"] = await client.watch_ticker(symbol)
            got["bids_asks"] = await client.watch_bids_asks([symbol])
            if venue.market == "futures":
                got["mark"] = await client.watch_mark_price(symbol)
        finally:
            await client.close()
        return got

    got = run_async(main(), 60)
    assert got["trades"] and got["trades"][0]["symbol"] == symbol and got["trades"][0]["price"] > 0
    assert got["ohlcv"] and len(got["ohlcv"][-1]) == 6 and got["ohlcv"][-1][2] >= got["ohlcv"][-1][3]
    book = got["book"]
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
    assert got["ticker"]["symbol"] == symbol and got["ticker"]["last"] > 0
    assert got["bids_asks"][symbol]["bid"] < got["bids_asks"][symbol]["ask"]
    if venue.market == "futures":
        assert got["mark"]["markPrice"] > 0
