"""What the local exchange serves: the :class:`MarketSource` protocol and per-symbol :class:`SymbolSpec`.

A source is an async iterable of ``list[Trade]`` batches in exchange-time order,
already paced (a speed factor of ``1.0`` is real time, ``float("inf")`` is as
fast as the consumer takes them). The exchange iterates it **once** and fans the
trades out to every subscribed connection, and keeps them for REST.

Two sources ship with quantkit: :class:`quantkit.exchange.SyntheticMarket` and
:class:`quantkit.exchange.ReplaySource`. Any object with the attributes below
works; the optional ``specs`` (tick/step sizes and decimals per symbol) and
``speed`` attributes are used when present.

Batches should hold whole milliseconds per symbol: the exchange closes an
aggregate trade (``@aggTrade``, REST ``aggTrades``) at the end of each batch.

A source that ends (a replay without ``loop``, a synthetic market with a
``duration_s``) says so with a true ``finite`` attribute (:func:`source_finite`):
the exchange then holds it until its first subscriber, so nothing is published unseen.

Resuming: both sources take ``after_ids`` (symbol -> last trade id a client already
holds) and continue after them, as a real exchange's ids continue while a client is
away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import AsyncIterator, Mapping, Protocol, runtime_checkable

from quantkit.errors import SourceError
from quantkit.schema import Trade
from quantkit.symbols import check_symbol, is_symbol

__all__ = [
    "MARKETS",
    "MarketSource",
    "SymbolSpec",
    "decimals_of",
    "source_finite",
    "source_specs",
    "source_speed",
    "split_symbol",
]

#: Markets a source can speak: Binance spot or USD-M futures.
MARKETS: tuple[str, ...] = ("spot", "futures")

_QUOTES = ("FDUSD", "USDT", "USDC", "TUSD", "BUSD", "DAI", "USD", "EUR", "TRY", "BRL", "BTC", "ETH", "BNB")


@runtime_checkable
class MarketSource(Protocol):
    """A paced stream of trade batches (see the module docstring).

    Attributes:
        symbols: upper-case symbols the source publishes, e.g. ``("BTCUSDT",)``.
        market: ``"spot"`` or ``"futures"``; selects the JSON shapes served.
    """

    @property
    def symbols(self) -> tuple[str, ...]: ...

    @property
    def market(self) -> str: ...

    def __aiter__(self) -> AsyncIterator[list[Trade]]: ...


def decimals_of(text: str) -> int:
    """Number of decimals written in a decimal string: ``"0.010"`` -> 3, ``"1"`` -> 0."""
    return len(text.split(".", 1)[1]) if "." in text else 0


def split_symbol(symbol: str) -> tuple[str, str]:
    """Guess ``(base, quote)`` assets from a symbol: ``"BTCUSDT"`` -> ``("BTC", "USDT")``."""
    for q in _QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return symbol[: -len(q)], q
    return symbol, ""


@dataclass(frozen=True)
class SymbolSpec:
    """Trading rules of one symbol, as exchangeInfo shows them and as messages render them.

    Attributes:
        symbol: upper-case symbol.
        tick_size: price increment as a decimal string, e.g. ``"0.01"``.
        step_size: quantity increment as a decimal string, e.g. ``"0.00001"``.
        price_decimals: decimals of prices in futures messages (``"61800.30"`` -> 2).
            Spot messages always use 8.
        qty_decimals: decimals of quantities in futures messages (``"0.006"`` -> 3).
        base_asset: e.g. ``"BTC"``.
        quote_asset: e.g. ``"USDT"``.
    """

    symbol: str
    tick_size: str = "0.01"
    step_size: str = "0.00001"
    price_decimals: int = -1
    qty_decimals: int = -1
    base_asset: str = ""
    quote_asset: str = ""

    def __post_init__(self) -> None:
        if not is_symbol(self.symbol) or check_symbol(self.symbol) != self.symbol or "@" in self.symbol:
            raise SourceError(f"symbol={self.symbol!r}: expected an upper-case exchange symbol such as BTCUSDT")
        for name in ("tick_size", "step_size"):
            raw = getattr(self, name)
            try:
                value = Decimal(raw)
            except (InvalidOperation, TypeError):
                raise SourceError(f"{name}={raw!r}: expected a decimal string such as '0.01'") from None
            if not value > 0:
                raise SourceError(f"{name}={raw!r}: must be > 0")
        if self.price_decimals < 0:
            object.__setattr__(self, "price_decimals", decimals_of(self.tick_size))
        if self.qty_decimals < 0:
            object.__setattr__(self, "qty_decimals", decimals_of(self.step_size))
        if not (0 <= self.price_decimals <= 8 and 0 <= self.qty_decimals <= 8):
            raise SourceError(
                f"price_decimals={self.price_decimals}, qty_decimals={self.qty_decimals}: must be within 0..8"
            )
        if not self.base_asset and not self.quote_asset:
            base, quote = split_symbol(self.symbol)
            object.__setattr__(self, "base_asset", base)
            object.__setattr__(self, "quote_asset", quote)

    @property
    def tick(self) -> float:
        """Tick size as a float."""
        return float(self.tick_size)

    @property
    def step(self) -> float:
        """Step size as a float."""
        return float(self.step_size)


def source_specs(source: MarketSource) -> dict[str, SymbolSpec]:
    """The source's ``specs`` when it has them, else defaults (tick 0.01, step 0.00001) per symbol."""
    given: Mapping[str, SymbolSpec] = getattr(source, "specs", None) or {}
    return {s: given.get(s) or SymbolSpec(s) for s in source.symbols}


def source_finite(source: MarketSource) -> bool:
    """Whether the source ends by itself (its ``finite`` attribute; False when it has none)."""
    return bool(getattr(source, "finite", False))


def source_speed(source: MarketSource) -> float:
    """The source's ``speed`` attribute (1.0 when it has none); ``inf`` means as fast as possible."""
    speed = getattr(source, "speed", 1.0)
    try:
        value = float(speed)
    except (TypeError, ValueError):
        return 1.0
    return value if value > 0 and not math.isnan(value) else 1.0
