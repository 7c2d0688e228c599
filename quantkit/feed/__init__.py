"""The WebSocket feed: Binance-protocol trade streams in, validated :class:`~quantkit.schema.Trade` objects out.

Sans-I/O core (no sockets, no logging):

* :mod:`quantkit.feed.messages`: :func:`parse_message`, :data:`REJECT_REASONS`.
* :mod:`quantkit.feed.gaps`: :class:`Gap`, :class:`GapDetector` (per-symbol trade-id sequence).
* :mod:`quantkit.feed.backoff`: :class:`Backoff` (capped exponential, full jitter).
* :mod:`quantkit.feed.endpoints`: :func:`stream_url`, :func:`stream_names`.
* :mod:`quantkit.feed.rest`: REST backfill requests, page parsing, :class:`WeightBudget`
  (``X-MBX-USED-WEIGHT-1M``, 429/418 holds).

I/O:

* :mod:`quantkit.feed.client`: :class:`FeedClient` (websockets asyncio loop,
  reconnects, rotation, stats) and :class:`FeedStats`.
* :mod:`quantkit.feed.backfill`: :class:`Backfiller` (REST backfill of gaps with
  per-symbol holds), :class:`BackfillOptions`, :class:`BackfillStats`.
* :mod:`quantkit.feed.discovery`: ask the exchange (:func:`describe_exchange`: market,
  symbols, a local exchange's status; :func:`first_ids_since`: a start time as trade ids).

Example::

    from quantkit.config import FeedConfig
    from quantkit.feed import FeedClient

    cfg = FeedConfig.for_source("binance", ["BTCUSDT", "ETHUSDT"])
    client = FeedClient(cfg, sink=print, on_gap=print)   # gaps are backfilled over REST
    await client.run()        # until client.stop(), from any thread
"""

from __future__ import annotations

from quantkit.feed.backfill import BackfillOptions, Backfiller, BackfillStats
from quantkit.feed.backoff import Backoff, RandomSource
from quantkit.feed.client import DROP_REASONS, LOG_INTERVAL, STATES, FeedClient, FeedStats
from quantkit.feed.discovery import ExchangeStatus, describe_exchange, fetch_exchange_status, first_ids_since
from quantkit.feed.endpoints import MAX_STREAMS, stream_names, stream_url
from quantkit.feed.gaps import GAP_REASONS, Gap, GapDetector
from quantkit.feed.messages import EVENT_TYPES, REJECT_REASONS, ControlReply, Quote, ServerShutdown, parse_message
from quantkit.feed.rest import (
    BACKFILL_ENDPOINTS,
    BAN_DEFAULT_S,
    MAX_PAGE,
    REST_WEIGHTS,
    WEIGHT_LIMITS,
    RestError,
    WeightBudget,
    backfill_target,
    parse_page,
    parse_retry_after,
)

__all__ = [
    "BACKFILL_ENDPOINTS",
    "BAN_DEFAULT_S",
    "BackfillOptions",
    "BackfillStats",
    "Backfiller",
    "Backoff",
    "ControlReply",
    "DROP_REASONS",
    "EVENT_TYPES",
    "ExchangeStatus",
    "FeedClient",
    "FeedStats",
    "GAP_REASONS",
    "Gap",
    "GapDetector",
    "LOG_INTERVAL",
    "MAX_PAGE",
    "MAX_STREAMS",
    "Quote",
    "REJECT_REASONS",
    "REST_WEIGHTS",
    "RandomSource",
    "RestError",
    "STATES",
    "ServerShutdown",
    "WEIGHT_LIMITS",
    "WeightBudget",
    "backfill_target",
    "describe_exchange",
    "fetch_exchange_status",
    "first_ids_since",
    "parse_message",
    "parse_page",
    "parse_retry_after",
    "stream_names",
    "stream_url",
]
