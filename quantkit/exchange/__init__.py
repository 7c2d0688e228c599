"""The local exchange: Binance's spot / USD-M trade streams and REST market data on 127.0.0.1.

One port serves WebSocket streams (``/ws/<stream>``, ``/stream?streams=a/b``, live
``SUBSCRIBE``...: trades, aggregates, klines, tickers, book ticker, depth, USD-M mark
price) and REST (``/api/v3`` trades, aggregates, klines, depth, tickers, ``avgPrice``,
``exchangeInfo`` and their ``/fapi/v1`` twins with ``premiumIndex`` and ``fundingRate``),
with Binance's byte shapes, error messages and request-weight limits, so third-party
Binance clients (ccxt, python-binance) work against it. Trades come from a :class:`MarketSource`:

* :class:`SyntheticMarket`: a seeded market with a known cointegrated pair
  (ground truth in ``.truth``, a pure ``generate()`` for analytics tests);
* :class:`ReplaySource`: recorded captures and trades CSVs, paced or at max speed.

Modules: ``protocol`` and ``rest`` (sans-I/O: bytes and replies), ``history``
(bounded trade memory, aggregate ids), ``klines``, ``tickers``, ``book`` (market data
computed from the trades), ``streams`` (event-stream state), ``limits`` (request
weight), ``synthetic``, ``replay``, ``source`` (the protocol, symbol specs), ``policy``
(fault-injection hooks), ``server`` (:class:`LocalExchange`, with the HTTP front in
``_httpd``), ``runner`` (:func:`run_exchange` for the CLI).

Examples:
    >>> from quantkit.exchange import LocalExchange, SyntheticMarket
    >>> with LocalExchange(SyntheticMarket(seed=7, speed=10.0)) as ex:  # doctest: +SKIP
    ...     print(ex.ws_url + "/stream?streams=synausdt@trade/synbusdt@trade")
"""

from __future__ import annotations

from quantkit.exchange.policy import ConnectionPolicy, PolicyFactory
from quantkit.exchange.replay import ReplaySource
from quantkit.exchange.rest import RestReply
from quantkit.exchange.runner import run_exchange, source_from_spec
from quantkit.exchange.server import LocalExchange
from quantkit.exchange.source import MarketSource, SymbolSpec
from quantkit.exchange.synthetic import SyntheticMarket, SyntheticTruth

__all__ = [
    "ConnectionPolicy",
    "LocalExchange",
    "MarketSource",
    "PolicyFactory",
    "ReplaySource",
    "RestReply",
    "SymbolSpec",
    "SyntheticMarket",
    "SyntheticTruth",
    "run_exchange",
    "source_from_spec",
]
