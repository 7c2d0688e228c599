"""Request-weight limits as Binance enforces them: per IP and market, per calendar minute.

Every REST reply carries ``X-MBX-USED-WEIGHT-1M`` (the IP's weight in the
current minute, this request included). A request that takes the minute above
the limit (spot 6,000, USD-M and COIN-M 2,400 by default) is answered ``429``
with ``Retry-After`` (seconds until the minute ends) and Binance's body::

    {"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE.
     Please use WebSocket Streams for live updates to avoid polling the API."}

A client that sends again before that ``Retry-After`` has passed ignores it: its
IP is banned (``418``, ``Retry-After`` = the ban in seconds, body ``Way too much
request weight used; IP banned until <ms>...``) for 2 minutes, doubled for each
further ban of that IP, at most 3 days, as Binance scales bans for repeat
offenders. Rejected requests count their weight too, as on Binance.

Switch it off with ``LocalExchange(rate_limits=False)`` (``quantkit exchange
--no-rate-limits``) for benchmarks; the header is still sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import orjson

__all__ = ["BAN_MAX_S", "BAN_MIN_S", "DEFAULT_LIMITS", "RateLimiter", "WeightCheck"]

#: ``REQUEST_WEIGHT`` per minute and IP, by market.
DEFAULT_LIMITS: dict[str, int] = {"spot": 6000, "futures": 2400, "delivery": 2400}
#: First ban, seconds.
BAN_MIN_S = 120.0
#: Longest ban, seconds (3 days).
BAN_MAX_S = 3 * 86_400.0


@dataclass(frozen=True)
class WeightCheck:
    """The verdict on one request.

    Attributes:
        used: weight used in the current minute (for ``X-MBX-USED-WEIGHT-1M``).
        status: 200 to serve it, 429 or 418 to refuse it.
        body: the error body when refused.
        retry_after: seconds for ``Retry-After`` when refused.
    """

    used: int
    status: int = 200
    body: bytes = b""
    retry_after: int = 0


@dataclass
class _Ip:
    minute: int = -1
    used: int = 0
    backoff_until: float = 0.0
    banned_until: float = 0.0
    bans: int = 0


class RateLimiter:
    """Per-IP, per-market weight accounting (see the module docstring).

    Args:
        clock: wall clock, seconds since the epoch.
        limits: weight per minute by market (default :data:`DEFAULT_LIMITS`).
        enabled: ``False`` counts and reports weight but never refuses.
    """

    def __init__(
        self, clock: Callable[[], float], limits: Mapping[str, int] | None = None, *, enabled: bool = True
    ) -> None:
        self._clock = clock
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        for market, limit in self.limits.items():
            if not isinstance(limit, int) or limit < 1:
                raise ValueError(f"limits[{market!r}]={limit!r}: expected an integer >= 1")
        self.enabled = bool(enabled)
        self._ips: dict[tuple[str, str], _Ip] = {}
        self.refused = {429: 0, 418: 0}

    def check(self, ip: str, market: str, weight: int) -> WeightCheck:
        """Charge ``weight`` to ``ip`` on ``market`` and say whether the request may be served."""
        now = self._clock()
        state = self._ips.get((ip, market))
        if state is None:
            state = self._ips[(ip, market)] = _Ip()
        minute = int(now // 60)
        if minute != state.minute:
            state.minute = minute
            state.used = 0
        state.used += weight
        if not self.enabled:
            return WeightCheck(state.used)
        limit = self.limits.get(market, DEFAULT_LIMITS["spot"])
        if now < state.banned_until:
            return self._banned(state, now)
        if now < state.backoff_until:
            state.bans += 1
            ban = min(BAN_MIN_S * 2 ** (state.bans - 1), BAN_MAX_S)
            state.banned_until = now + ban
            state.backoff_until = 0.0
            return self._banned(state, now)
        if state.used > limit:
            retry = max(1, math.ceil((minute + 1) * 60 - now))
            state.backoff_until = now + retry
            self.refused[429] += 1
            msg = (
                f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
                "Please use WebSocket Streams for live updates to avoid polling the API."
            )
            return WeightCheck(state.used, 429, orjson.dumps({"code": -1003, "msg": msg}), retry)
        return WeightCheck(state.used)

    def _banned(self, state: _Ip, now: float) -> WeightCheck:
        self.refused[418] += 1
        until_ms = int(state.banned_until * 1000)
        msg = (
            f"Way too much request weight used; IP banned until {until_ms}. "
            "Please use WebSocket Streams for live updates to avoid bans."
        )
        retry = max(1, math.ceil(state.banned_until - now))
        return WeightCheck(state.used, 418, orjson.dumps({"code": -1003, "msg": msg}), retry)
