"""The local exchange: Binance's spot / USD-M trade streams and REST market data on 127.0.0.1.

One port serves WebSocket streams (``/ws/<stream>``, ``/stream?streams=a/b``, live
``SUBSCRIBE``...) and REST (``/api/v3/aggTrades``, ``historicalTrades``, ``trades``,
``exchangeInfo`` and their ``/fapi/v1`` twins), with Binance's byte shapes and error
messages. Trades come from a :class:`MarketSource`:

* :class:`SyntheticMarket`: a seeded market with a known cointegrated pair
  (ground truth in ``.truth``, a pure ``generate()`` for analytics tests);
* :class:`ReplaySource`: recorded captures and trades CSVs, paced or at max speed.

Modules: ``protocol`` and ``rest`` (sans-I/O: bytes and replies), ``history``
(bounded trade memory, aggregate ids), ``synthetic``, ``replay``, ``source``
(the protocol, symbol specs), ``policy`` (fault-injection hooks), ``server``
(:class:`LocalExchange`), ``runner`` (:func:`run_exchange` for the CLI).

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
