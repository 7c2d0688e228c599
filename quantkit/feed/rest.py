"""Binance REST backfill, Sans-I/O: request targets, page parsing, rate-limit bookkeeping.

Endpoints (``{rest_url}{rest_prefix}/...``, ``limit`` up to 1000, ``fromId`` inclusive):

=============== ======================= ============ ============= =====================================
stream          endpoint                weight spot  weight USD-M  id in the rows
=============== ======================= ============ ============= =====================================
``@trade``      ``historicalTrades``    25           20            ``id`` (trade id, as ``t``)
``@aggTrade``   ``aggTrades``           4            20            ``a`` (aggregate id, as ``a``)
=============== ======================= ============ ============= =====================================

Rows become :class:`~quantkit.schema.Trade` exactly as the live parser builds
them (``price``/``qty`` parsed from the decimal strings, ``quote_qty = price * qty``),
except that REST has no event time: a backfilled trade has ``event_time == trade_time``.

Rate limits (Binance spot ``rest-api.md``, ``enums.md``): every response carries
``X-MBX-USED-WEIGHT-1M``, the IP's weight used in the current minute (limit 6000
spot, 2400 USD-M). :class:`WeightBudget` keeps the backfill below a share of it,
and holds every request after a ``429`` (``Retry-After`` seconds) or a ``418``
(IP ban; ``Retry-After`` or two minutes).

Nothing here does I/O; :mod:`quantkit.feed.backfill` does.
"""

from __future__ import annotations

import email.utils
import math
from typing import Any, Callable

import orjson

from quantkit.errors import FeedError
from quantkit.schema import MAX_TIME_MS, MAX_TRADE_ID, Trade

__all__ = [
    "BACKFILL_ENDPOINTS",
    "BAN_DEFAULT_S",
    "MAX_PAGE",
    "REST_WEIGHTS",
    "RestError",
    "WEIGHT_LIMITS",
    "WeightBudget",
    "backfill_target",
    "parse_page",
    "parse_retry_after",
]

#: REST endpoint per stream kind.
BACKFILL_ENDPOINTS: dict[str, str] = {"trade": "historicalTrades", "aggTrade": "aggTrades"}

#: Request weight per (market, stream kind).
REST_WEIGHTS: dict[tuple[str, str], int] = {
    ("spot", "trade"): 25,
    ("spot", "aggTrade"): 4,
    ("futures", "trade"): 20,
    ("futures", "aggTrade"): 20,
}

#: Binance's ``REQUEST_WEIGHT`` per minute per IP.
WEIGHT_LIMITS: dict[str, int] = {"spot": 6000, "futures": 2400}

#: Most rows one page may hold (Binance's maximum ``limit``).
MAX_PAGE = 1000

#: Seconds to stay away after a 418 without ``Retry-After`` (Binance bans for 2 min at least).
BAN_DEFAULT_S = 120.0

_INF = math.inf


class RestError(FeedError):
    """A REST answer the backfill cannot use.

    Attributes:
        problem: short machine-readable kind: ``"bad_body"`` or ``"error_body"``
            (a Binance ``{"code","msg"}`` body).
        code: the Binance error code of an error body, else ``None``.
    """

    def __init__(self, problem: str, detail: str, code: int | None = None) -> None:
        self.problem = problem
        self.code = code
        super().__init__(f"{problem}: {detail}")


def backfill_target(prefix: str, stream: str, symbol: str, from_id: int, limit: int = MAX_PAGE) -> str:
    """The request target (path and query) of one backfill page.

    Args:
        prefix: REST path prefix, ``"/api/v3"`` or ``"/fapi/v1"`` (``FeedConfig.rest_prefix``).
        stream: ``"trade"`` or ``"aggTrade"``.
        symbol: upper-case symbol.
        from_id: first id wanted (inclusive).
        limit: rows, 1..1000.

    Raises:
        ValueError: a bad stream, id or limit (named in the message).
    """
    endpoint = BACKFILL_ENDPOINTS.get(stream)
    if endpoint is None:
        raise ValueError(f"stream={stream!r}: expected 'trade' or 'aggTrade'")
    if from_id < 0:
        raise ValueError(f"from_id={from_id!r}: must be >= 0")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit={limit!r}: must be within 1..{MAX_PAGE}")
    return f"{prefix}/{endpoint}?symbol={symbol}&fromId={from_id}&limit={limit}"


def parse_page(body: bytes, symbol: str, stream: str) -> list[Trade]:
    """Parse one ``historicalTrades`` / ``aggTrades`` body into trades, ascending by id.

    Args:
        body: the JSON body.
        symbol: the symbol asked for (REST rows do not carry it).
        stream: ``"trade"`` (rows ``id, price, qty, time, isBuyerMaker``) or
            ``"aggTrade"`` (rows ``a, p, q, T, m``).

    Raises:
        RestError: not a JSON list of valid rows with strictly increasing ids
            (``"bad_body"``), or a Binance error body (``"error_body"``).
    """
    try:
        rows = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RestError("bad_body", f"not JSON ({exc})") from None
    if rows.__class__ is not list:
        if rows.__class__ is dict and "code" in rows:
            code = rows.get("code")
            raise RestError("error_body", f"code={code!r} msg={rows.get('msg')!r}",
                            code if code.__class__ is int else None)
        raise RestError("bad_body", f"expected a JSON list, got {type(rows).__name__}")
    if stream == "trade":
        keys = ("id", "price", "qty", "time", "isBuyerMaker")
    elif stream == "aggTrade":
        keys = ("a", "p", "q", "T", "m")
    else:
        raise ValueError(f"stream={stream!r}: expected 'trade' or 'aggTrade'")
    out: list[Trade] = []
    new = tuple.__new__
    last = -1
    for n, row in enumerate(rows):
        if row.__class__ is not dict:
            raise RestError("bad_body", f"row {n} is a {type(row).__name__}, not an object")
        try:
            tid, p, q, tt, m = (row[k] for k in keys)
        except KeyError as exc:
            raise RestError("bad_body", f"row {n} has no {exc.args[0]!r}") from None
        price = _decimal(p, keys[1], n)
        qty = _decimal(q, keys[2], n)
        if tid.__class__ is not int or tt.__class__ is not int or m.__class__ is not bool:
            raise RestError("bad_body", f"row {n}: {keys[0]!r}/{keys[3]!r} must be integers and {keys[4]!r} a bool")
        if not (0 <= tid <= MAX_TRADE_ID and 0 <= tt <= MAX_TIME_MS):
            raise RestError("bad_body", f"row {n}: id {tid} or time {tt} out of range")
        if tid <= last:
            raise RestError("bad_body", f"row {n}: id {tid} does not increase (previous {last})")
        last = tid
        out.append(new(Trade, (symbol, tid, price, qty, price * qty, tt, tt, m)))
    return out


def _decimal(value: Any, key: str, n: int) -> float:
    if value.__class__ is not str:
        raise RestError("bad_body", f"row {n}: {key!r} must be a decimal string, got {type(value).__name__}")
    try:
        x = float(value)
    except ValueError:
        raise RestError("bad_body", f"row {n}: {key!r}={value[:40]!r} is not a number") from None
    if not 0.0 < x < _INF:
        raise RestError("bad_body", f"row {n}: {key!r}={value[:40]!r} must be a finite number > 0")
    return x


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Args:
        value: the header value, or ``None``.
        now: seconds since the epoch (for the HTTP-date form).

    Returns:
        Seconds (>= 0), or ``None`` when absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        return max(when.timestamp() - now, 0.0)
    if seconds != seconds or seconds < 0 or seconds == _INF:
        return None
    return seconds


class WeightBudget:
    """Keep REST weight under a share of Binance's per-minute limit; obey 429/418 holds.

    The server's ``X-MBX-USED-WEIGHT-1M`` (weight used by this IP in the current
    minute, every client included) is the truth; between answers the budget adds
    the weight of the requests it let through. A request that would take the minute
    over ``limit * share`` waits for the next minute (plus ``margin``).

    Args:
        limit: the IP's weight limit per minute (6000 spot, 2400 USD-M).
        share: fraction of ``limit`` the backfill may use, in (0, 1]. Default 0.5,
            leaving room for other clients on the same IP.
        clock: seconds since the epoch (minutes are wall-clock minutes, like Binance's).
        margin: seconds added after a minute boundary, for clock skew. Default 1.

    Raises:
        ValueError: a bad limit or share.
    """

    def __init__(
        self, limit: int, share: float = 0.5, *, clock: Callable[[], float], margin: float = 1.0
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit={limit!r}: must be >= 1")
        if not 0.0 < share <= 1.0:
            raise ValueError(f"share={share!r}: must be within (0, 1]")
        self.limit = int(limit)
        self.budget = max(int(limit * share), 1)
        self._clock = clock
        self._margin = float(margin)
        self._minute = -1
        self._used = 0
        self._blocked_until = 0.0
        self.last_header: int | None = None

    @property
    def used(self) -> int:
        """Weight known to be used in the current minute."""
        return self._used if int(self._clock() // 60) == self._minute else 0

    @property
    def blocked_until(self) -> float:
        """Epoch seconds before which no request may be sent (429/418), 0 if none."""
        return self._blocked_until

    def wait_before(self, weight: int) -> float:
        """Seconds to wait before sending a request of ``weight`` (0: send now)."""
        now = self._clock()
        if now < self._blocked_until:
            return self._blocked_until - now
        minute = int(now // 60)
        used = self._used if minute == self._minute else 0
        if used > 0 and used + weight > self.budget:
            return (minute + 1) * 60.0 - now + self._margin
        return 0.0

    def spend(self, weight: int) -> None:
        """Count a request of ``weight`` being sent now."""
        minute = int(self._clock() // 60)
        if minute != self._minute:
            self._minute = minute
            self._used = 0
        self._used += weight

    def observe(self, used_header: str | None) -> None:
        """Take the server's ``X-MBX-USED-WEIGHT-1M`` from an answer (ignored if absent or bad)."""
        if used_header is None:
            return
        text = used_header.strip()
        if not text.isdigit():
            return
        used = int(text)
        self.last_header = used
        # Requests are sent one at a time, so the header counts every request the budget let through.
        self._minute = int(self._clock() // 60)
        self._used = used

    def block(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (after a 429 or 418); a longer hold already set is kept."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(seconds, 0.0))
