"""Ask the exchange instead of guessing: its market and symbols, and where a backfill should start.

* :func:`describe_exchange` reads what an exchange at a base URL serves. A local
  quantkit exchange answers :data:`~quantkit.config.LOCAL_STATUS_PATH` (a quantkit
  extension: market, symbols, whether its source is finite and done, the first and
  last trade id and the count published per symbol); any other Binance-protocol
  server is asked ``exchangeInfo`` under both REST prefixes, and the prefix that
  answers tells the market (``/api/v3`` spot, ``/fapi/v1`` USD-M).
* :func:`first_ids_since` turns a start time into the first trade id per symbol
  with ``aggTrades?startTime=...&limit=1`` (its ``f`` field), the same request on
  live Binance and on the local exchange; the ingest backfills from there.

All requests use the feed's non-blocking HTTP GET (:mod:`quantkit.feed._http`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Sequence

import orjson

from quantkit.config import BINANCE_ENDPOINTS, LOCAL_STATUS_PATH, FeedConfig
from quantkit.errors import ConfigError, FeedConnectionError
from quantkit.feed._http import HttpError, http_get

__all__ = ["ExchangeStatus", "describe_exchange", "fetch_exchange_status", "first_ids_since"]


@dataclass(frozen=True)
class ExchangeStatus:
    """What an exchange serves, as it says itself.

    Attributes:
        url: the base URL asked (``http://host:port``).
        market: ``"spot"`` or ``"futures"``.
        symbols: symbols it lists (exchangeInfo order).
        local: True when the quantkit status endpoint answered (a local exchange); then the
            fields below are known, else they are empty/False.
        finite: its source ends (a replay without loop).
        done: the finite source has been published in full.
        published: trades published so far, all symbols.
        first_ids: first trade id published per symbol.
        last_ids: last trade id published per symbol.
        counts: trades published per symbol.
    """

    url: str
    market: str
    symbols: tuple[str, ...]
    local: bool = False
    finite: bool = False
    done: bool = False
    published: int = 0
    first_ids: dict[str, int] = field(default_factory=dict)
    last_ids: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


async def _get_json(url: str, timeout: float) -> tuple[int, Any]:
    """GET ``url``: ``(status, parsed JSON or None)``; connection problems raise :class:`FeedConnectionError`."""
    try:
        resp = await http_get(url, timeout=timeout)
    except (OSError, TimeoutError, HttpError) as exc:
        raise FeedConnectionError(url, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
    try:
        body = orjson.loads(resp.body) if resp.body else None
    except orjson.JSONDecodeError:
        body = None
    return resp.status, body


async def fetch_exchange_status(url: str, *, timeout: float = 5.0) -> ExchangeStatus | None:
    """The local exchange's status (:data:`~quantkit.config.LOCAL_STATUS_PATH`), or ``None`` when the server has none.

    Raises:
        FeedConnectionError: the server cannot be reached.
    """
    base = url.rstrip("/")
    status, doc = await _get_json(base + LOCAL_STATUS_PATH, timeout)
    if status != 200 or not isinstance(doc, dict) or doc.get("market") not in BINANCE_ENDPOINTS:
        return None

    def ints(key: str) -> dict[str, int]:
        raw = doc.get(key)
        return {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    return ExchangeStatus(
        url=base,
        market=str(doc["market"]),
        symbols=tuple(str(s) for s in doc.get("symbols") or ()),
        local=True,
        finite=bool(doc.get("finite")),
        done=bool(doc.get("done")),
        published=int(doc.get("published") or 0),
        first_ids=ints("first_ids"),
        last_ids=ints("last_ids"),
        counts=ints("counts"),
    )


async def _describe(url: str, market: str | None, timeout: float) -> ExchangeStatus:
    status = await fetch_exchange_status(url, timeout=timeout)
    if status is None:  # not a quantkit exchange: the REST prefix that answers exchangeInfo tells the market
        found: dict[str, tuple[str, ...]] = {}
        for m in ("spot", "futures"):
            code, doc = await _get_json(url.rstrip("/") + BINANCE_ENDPOINTS[m][2] + "/exchangeInfo", timeout)
            if code == 200 and isinstance(doc, dict) and isinstance(doc.get("symbols"), list):
                found[m] = tuple(str(s.get("symbol")) for s in doc["symbols"] if isinstance(s, dict) and s.get("symbol"))
        if not found:
            raise FeedConnectionError(url, "no exchangeInfo under /api/v3 or /fapi/v1: not a Binance-protocol exchange")
        chosen = market if market in found else ("spot" if "spot" in found else "futures")
        if market is not None and market not in found:
            raise ConfigError("--market", market, f"the exchange at {url} serves {', '.join(sorted(found))} only")
        return ExchangeStatus(url=url.rstrip("/"), market=chosen, symbols=found[chosen])
    if market is not None and market != status.market:
        raise ConfigError(
            "--market", market, f"the exchange at {url} serves {status.market} ({', '.join(status.symbols)})"
        )
    return status


def describe_exchange(
    url: str, *, market: str | None = None, timeout: float = 5.0, wait: float = 0.0
) -> ExchangeStatus:
    """What the exchange at ``url`` serves (blocking; see the module docstring).

    Args:
        url: base URL, ``http://host:port``.
        market: the market the caller expects, or ``None`` to take the exchange's.
        timeout: seconds per request.
        wait: keep retrying an unreachable exchange this many seconds (an exchange
            started after its client); 0 asks once.

    Raises:
        ConfigError: ``market`` contradicts what the exchange serves.
        FeedConnectionError: the exchange cannot be reached (within ``wait``) or is not Binance-protocol.
    """
    loop = asyncio.new_event_loop()
    try:
        start = loop.time()
        delay = 0.1
        while True:
            try:
                return loop.run_until_complete(_describe(url, market, timeout))
            except FeedConnectionError:
                if loop.time() - start + delay > wait:
                    raise
            loop.run_until_complete(asyncio.sleep(delay))
            delay = min(delay * 2, 1.0)
    finally:
        loop.close()


async def first_ids_since(
    config: FeedConfig, since_ms: int, symbols: Sequence[str] | None = None, *, timeout: float = 10.0
) -> dict[str, int]:
    """The first trade id at or after ``since_ms`` per symbol, from ``aggTrades?startTime=`` (its ``f``).

    Symbols with no trade since then are left out. Errors on one symbol leave it out too
    (the ingest then starts that symbol live).

    Args:
        config: the feed (``rest_url``, ``rest_prefix``, symbols).
        since_ms: start time, epoch ms.
        symbols: subset of ``config.symbols`` (default all).
        timeout: seconds per request.
    """
    out: dict[str, int] = {}
    base = config.rest_url.rstrip("/") + config.rest_prefix
    for sym in symbols if symbols is not None else config.symbols:
        try:
            code, rows = await _get_json(f"{base}/aggTrades?symbol={sym}&startTime={int(since_ms)}&limit=1", timeout)
        except FeedConnectionError:
            continue
        if code == 200 and isinstance(rows, list) and rows and isinstance(rows[0], dict):
            first = rows[0].get("f")
            if isinstance(first, int) and not isinstance(first, bool) and first >= 0:
                out[sym] = first
    return out
