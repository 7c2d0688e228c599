"""A real client driven past Binance's weight limit sees 429, then 418 when it keeps going, as on Binance."""

from __future__ import annotations

import ccxt
import pytest
from binance import Client
from binance.exceptions import BinanceAPIException

from quantkit.exchange import LocalExchange, SyntheticMarket


def test_python_binance_past_the_spot_limit_gets_429_then_418() -> None:
    """6,000 weight a minute (historicalTrades weighs 25): the 241st call is 429, the next one a 418 ban."""
    now = [1_800_000_000.0]  # a minute boundary; the clock stands still, so every call is in one minute
    with LocalExchange(SyntheticMarket(seed=5, speed=10.0), ping_interval=None, clock=lambda: now[0]) as ex:
        client = Client(None, None, ping=False)
        client.API_URL = ex.url + "/api"
        for _ in range(240):
            client.get_historical_trades(symbol="SYNAUSDT", limit=1)
        assert client.response is not None and client.response.headers["X-MBX-USED-WEIGHT-1M"] == "6000"
        with pytest.raises(BinanceAPIException) as err:
            client.get_historical_trades(symbol="SYNAUSDT", limit=1)
        assert err.value.status_code == 429 and err.value.code == -1003
        assert err.value.message.startswith("Too much request weight used; current limit is 6000 request weight")
        assert err.value.response.headers["Retry-After"] == "60"
        with pytest.raises(BinanceAPIException) as err:
            client.get_server_time()
        assert err.value.status_code == 418 and err.value.code == -1003
        assert err.value.message.startswith("Way too much request weight used; IP banned until ")
        assert int(err.value.response.headers["Retry-After"]) == 120


def test_ccxt_maps_the_refusals_to_its_rate_limit_errors() -> None:
    """USD-M's 2,400 a minute: ccxt (its own throttle off) raises DDoSProtection with Binance's 429, then 418 message."""
    now = [1_800_000_000.0]
    with LocalExchange(SyntheticMarket(seed=5, speed=10.0, market="futures"), ping_interval=None, clock=lambda: now[0]) as ex:
        client = ccxt.binance({"enableRateLimit": False})
        client.urls["api"]["fapiPublic"] = ex.url + "/fapi/v1"
        for _ in range(120):  # aggTrades weighs 20 on USD-M
            client.fapiPublicGetAggTrades({"symbol": "SYNAUSDT", "limit": 1})
        with pytest.raises(ccxt.DDoSProtection) as err:
            client.fapiPublicGetAggTrades({"symbol": "SYNAUSDT", "limit": 1})
        assert "429" in str(err.value) and "current limit is 2400 request weight per 1 MINUTE" in str(err.value)
        with pytest.raises(ccxt.DDoSProtection) as err:
            client.fapiPublicGetTime()
        assert "418" in str(err.value) and "IP banned until" in str(err.value)
