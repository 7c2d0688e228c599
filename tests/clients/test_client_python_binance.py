"""python-binance against the local exchange, pointed at it by the library's own URL attributes.

REST (``Client``: ``API_URL``, ``FUTURES_URL``, ``MARGIN_API_URL``) and WebSocket
(``BinanceSocketManager``: ``STREAM_URL``, ``FSTREAM_URL``), synthetic and replay,
spot and USD-M: every public market-data call returns data, or the error Binance
gives for it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from binance import AsyncClient, BinanceSocketManager, Client
from binance.exceptions import BinanceAPIException

from quantkit.exchange import LocalExchange


def _client(ex: LocalExchange, api_key: str | None = None) -> Client:
    client = Client(api_key, None, ping=False)
    client.API_URL = ex.url + "/api"
    client.MARGIN_API_URL = ex.url + "/sapi"
    client.FUTURES_URL = ex.url + "/fapi"
    return client


def _wait_for_history(ex: LocalExchange, timeout_unit: float) -> None:
    deadline = time.monotonic() + 30 * timeout_unit
    while ex.published < 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ex.published >= 200


def test_python_binance_rest(venue, timeout_unit) -> None:
    """Spot or USD-M REST market data: time, exchangeInfo, book, trades, klines, tickers, mark price, funding."""
    ex, sym = venue.exchange, venue.symbol
    _wait_for_history(ex, timeout_unit)
    client = _client(ex)
    if venue.market == "spot":
        assert client.get_server_time()["serverTime"] > 0
        assert client.get_system_status() == {"status": 0, "msg": "normal"}
        assert client.get_symbol_info(sym)["symbol"] == sym
        book = client.get_order_book(symbol=sym, limit=10)
        assert len(book["bids"]) == 10 and float(book["bids"][0][0]) < float(book["asks"][0][0])
        assert len(client.get_recent_trades(symbol=sym, limit=5)) == 5
        assert len(client.get_historical_trades(symbol=sym, limit=5)) == 5
        aggs = client.get_aggregate_trades(symbol=sym, limit=5)
        assert len(aggs) == 5 and list(aggs[0]) == ["a", "p", "q", "f", "l", "T", "m", "M"]
        klines = client.get_klines(symbol=sym, interval=Client.KLINE_INTERVAL_1MINUTE, limit=3)
        assert klines and len(klines[0]) == 12
        start = klines[0][0]
        hist = client.get_historical_klines(sym, Client.KLINE_INTERVAL_1SECOND, start)
        assert hist and hist[0][0] >= start and all(b[0] - a[0] == 1000 for a, b in zip(hist, hist[1:]))
        assert float(client.get_avg_price(symbol=sym)["price"]) > 0
        assert client.get_ticker(symbol=sym)["symbol"] == sym
        assert float(client.get_symbol_ticker(symbol=sym)["price"]) > 0
        ob = client.get_orderbook_ticker(symbol=sym)
        assert float(ob["bidPrice"]) < float(ob["askPrice"])
        assert any(t["symbol"] == sym for t in client.get_all_tickers())
    else:
        assert client.futures_time()["serverTime"] > 0
        assert sym in [s["symbol"] for s in client.futures_exchange_info()["symbols"]]
        book = client.futures_order_book(symbol=sym, limit=5)
        assert len(book["asks"]) == 5 and book["lastUpdateId"] > 0 and "E" in book
        assert len(client.futures_recent_trades(symbol=sym, limit=5)) == 5
        with pytest.raises(BinanceAPIException) as err:  # USD-M historicalTrades wants an API key, as on Binance
            client.futures_historical_trades(symbol=sym, limit=5)
        assert err.value.status_code == 401 and err.value.code == -2014
        assert len(_client(ex, api_key="any").futures_historical_trades(symbol=sym, limit=5)) == 5
        assert len(client.futures_aggregate_trades(symbol=sym, limit=5)) == 5
        klines = client.futures_klines(symbol=sym, interval="1m", limit=3)
        assert klines and len(klines[0]) == 12
        mark = client.futures_mark_price(symbol=sym)
        assert float(mark["markPrice"]) > 0 and mark["lastFundingRate"] == "0.00010000"
        assert isinstance(client.futures_funding_rate(symbol=sym), list)
        assert client.futures_ticker(symbol=sym)["symbol"] == sym
        assert float(client.futures_symbol_ticker(symbol=sym)["price"]) > 0
        ob = client.futures_orderbook_ticker(symbol=sym)
        assert float(ob["bidPrice"]) < float(ob["askPrice"])
    with pytest.raises(BinanceAPIException) as err:
        client.get_klines(symbol=sym, interval="7m")
    assert err.value.code == -1120  # Binance's "Invalid interval."


def test_python_binance_streams(venue, run_async, timeout_unit) -> None:
    """BinanceSocketManager streams: trades, klines, depth, tickers, book ticker (and mark price on USD-M)."""
    ex, sym = venue.exchange, venue.symbol
    _wait_for_history(ex, timeout_unit)

    async def main() -> dict[str, Any]:
        client = AsyncClient()
        bm = BinanceSocketManager(client)
        bm.STREAM_URL = ex.ws_url + "/"
        bm.FSTREAM_URL = ex.ws_url + "/"
        got: dict[str, Any] = {}
        try:
            if venue.market == "spot":
                sockets = {
                    "trade": bm.trade_socket(sym),
                    "aggTrade": bm.aggtrade_socket(sym),
                    "kline": bm.kline_socket(sym, AsyncClient.KLINE_INTERVAL_1SECOND),
                    "depthUpdate": bm.depth_socket(sym, interval=100),
                    "partial": bm.depth_socket(sym, depth=BinanceSocketManager.WEBSOCKET_DEPTH_5),
                    "24hrTicker": bm.symbol_ticker_socket(sym),
                    "24hrMiniTicker": bm.symbol_miniticker_socket(sym),
                    "bookTicker": bm.symbol_book_ticker_socket(sym),
                }
            else:
                sockets = {
                    "aggTrade": bm.aggtrade_futures_socket(sym),
                    "markPriceUpdate": bm.symbol_mark_price_socket(sym),
                    "depthUpdate": bm.futures_depth_socket(sym, depth="5"),
                    "bookTicker": bm.symbol_ticker_futures_socket(sym),
                    "continuousKline": bm.kline_futures_socket(sym),
                }
            for name, socket in sockets.items():
                async with socket as stream:
                    got[name] = await stream.recv()
        finally:
            await client.close_connection()
        return got

    got = run_async(main(), 60)
    for name, msg in got.items():
        payload = msg.get("data", msg)
        if name == "continuousKline":  # not served here: an error message, not silence
            assert "not served" in str(payload), payload
        elif name == "partial":
            assert len(payload["bids"]) == 5 and payload["lastUpdateId"] > 0
        elif name == "bookTicker" and venue.market == "spot":
            assert payload["s"] == sym and float(payload["b"]) < float(payload["a"])
        else:
            assert payload["e"] == name and payload["s"] == sym, payload
