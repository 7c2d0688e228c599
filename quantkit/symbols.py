"""The symbol grammar: the one rule for instrument names in every layer of quantkit.

Import, ingest, the store, alerts, the dashboards, reports and the command line all check and
normalise names with this module, so a name the store accepts is a name every page accepts.

Grammar (names are case-insensitive on input and stored upper-case, except the stream suffix)::

    symbol   := base [ "_" contract ] [ "@" stream ]
    base     := 2-30 letters or digits: the exchange's own symbol, e.g. BTCUSDT, ETHUSD
    contract := "PERP"       a perpetual future
              | 6 digits     a dated delivery future (YYMMDD), e.g. BTCUSDT_250627
    stream   := letters      the exchange stream the ticks came from when it is not the trade
                             stream, e.g. "aggTrade" (aggregated trades keep their own ids)

A coin's spot market and its USD-M perpetual live side by side in one store under two names:

======================  ==========================  ==================================================
market                  stored name                 exchange name (what the feed subscribes to)
======================  ==========================  ==================================================
spot                    ``BTCUSDT``                 ``BTCUSDT`` on the spot endpoint
USD-M perpetual         ``BTCUSDT_PERP``            ``BTCUSDT`` on the USD-M futures endpoint
COIN-M perpetual        ``BTCUSD_PERP``             ``BTCUSD_PERP`` (Binance's own name)
USD-M delivery          ``BTCUSDT_250627``          ``BTCUSDT_250627``
======================  ==========================  ==================================================

Binance calls the spot and the USD-M perpetual of a coin both ``BTCUSDT``; their trade ids are
unrelated, so the store keeps them apart and records the market of every tick symbol
(``TickStore.symbols()["market"]``). A plain name holding futures ticks (ingested alone from
USD-M under the exchange's name) stays valid: the recorded market says what it is. The basis
pair of a coin is ``(perpetual_name(spot), spot)``, e.g. ``BTCUSDT_PERP/BTCUSDT``.

A pair is written ``Y/X`` (``ETHUSDT/BTCUSDT``, ``BTCUSDT_PERP/BTCUSDT``); :func:`parse_pair`
also takes ``Y,X`` and a two-item sequence.

Examples:
    >>> check_symbol("btcusdt_perp")
    'BTCUSDT_PERP'
    >>> parse_symbol("BTCUSDT_PERP").exchange_symbol, parse_symbol("BTCUSDT_PERP").market
    ('BTCUSDT', 'futures')
    >>> perpetual_name("BTCUSDT"), spot_name("BTCUSDT_PERP")
    ('BTCUSDT_PERP', 'BTCUSDT')
    >>> parse_pair("ethusdt / btcusdt")
    ('ETHUSDT', 'BTCUSDT')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = [
    "PERP_SUFFIX",
    "SYMBOL_HELP",
    "Symbol",
    "check_symbol",
    "is_symbol",
    "parse_pair",
    "parse_symbol",
    "parse_symbols",
    "perpetual_name",
    "spot_name",
    "stored_name",
]

#: Suffix of a perpetual's stored name.
PERP_SUFFIX = "_PERP"
#: One line describing valid names, used in every error message about a symbol.
SYMBOL_HELP = (
    "letters and digits (2-30), optionally _PERP (perpetual) or _YYMMDD (delivery) and one @stream suffix, "
    "e.g. BTCUSDT, BTCUSDT_PERP, BTCUSD_PERP, BTCUSDT@aggTrade"
)

_SYMBOL_RE = re.compile(r"^([A-Z0-9]{2,30})(?:_(PERP|[0-9]{6}))?(?:@([A-Za-z]{1,30}))?$")


@dataclass(frozen=True)
class Symbol:
    """A parsed symbol name.

    Attributes:
        name: the normalised stored name, e.g. ``"BTCUSDT_PERP"``.
        base: the part before any contract suffix, e.g. ``"BTCUSDT"``.
        contract: ``None`` (spot or unknown), ``"PERP"`` or a ``YYMMDD`` delivery date.
        stream: the stream suffix (``"aggTrade"``) or ``None`` for trades.
    """

    name: str
    base: str
    contract: str | None
    stream: str | None

    @property
    def perpetual(self) -> bool:
        """True for a ``_PERP`` name."""
        return self.contract == "PERP"

    @property
    def market(self) -> str | None:
        """``"futures"`` for a contract name (perpetual or delivery), ``None`` when the name alone does not tell."""
        return "futures" if self.contract is not None else None

    @property
    def exchange_symbol(self) -> str:
        """The name the exchange's futures/spot endpoint uses (USD-M ``BTCUSDT_PERP`` -> ``BTCUSDT``).

        COIN-M perpetuals (a ``USD`` base such as ``BTCUSD_PERP``) keep their suffix: that is Binance's
        own name for them.
        """
        if self.perpetual and not self.base.endswith("USD"):
            return self.base
        return self.name.partition("@")[0]


def parse_symbol(symbol: object) -> Symbol:
    """Parse and normalise one symbol name (see the module docstring for the grammar).

    Args:
        symbol: the name, any case, surrounding blanks ignored.

    Returns:
        The :class:`Symbol`.

    Raises:
        ValueError: not a string or not a valid name; the message names the value and the rule.
    """
    if not isinstance(symbol, str):
        raise ValueError(f"symbol {symbol!r} must be a string such as 'BTCUSDT'")
    s = symbol.strip()
    base_part, at, stream = s.partition("@")
    norm = base_part.upper() + (at + stream if at else "")
    m = _SYMBOL_RE.match(norm)
    if m is None:
        raise ValueError(f"symbol {symbol!r} is not valid: use {SYMBOL_HELP}")
    return Symbol(name=norm, base=m.group(1), contract=m.group(2), stream=m.group(3))


def check_symbol(symbol: object) -> str:
    """The normalised name of ``symbol`` (upper-case; an ``@stream`` suffix keeps its case).

    Raises:
        ValueError: not a valid name (see :func:`parse_symbol`).
    """
    return parse_symbol(symbol).name


def is_symbol(symbol: object) -> bool:
    """True when ``symbol`` is a valid name (no exception)."""
    try:
        parse_symbol(symbol)
    except ValueError:
        return False
    return True


def parse_symbols(raw: str | Sequence[str]) -> tuple[str, ...]:
    """Normalised names from ``"A,B"`` or a sequence, blanks dropped, order and duplicates kept out.

    Raises:
        ValueError: an invalid name.
    """
    items = raw.split(",") if isinstance(raw, str) else [str(r) for r in raw]
    out = [check_symbol(s) for s in items if s.strip()]
    return tuple(dict.fromkeys(out))


def parse_pair(pair: Any) -> tuple[str, str]:
    """``(Y, X)`` from ``"Y/X"``, ``"Y,X"`` or a two-item sequence; names normalised.

    Raises:
        ValueError: not two valid, different names.
    """
    if isinstance(pair, str):
        parts = [p.strip() for p in re.split(r"[/,]", pair)]
    elif isinstance(pair, (tuple, list)):
        parts = [str(p) for p in pair]
    else:
        raise ValueError(f"pair {pair!r}: expected 'Y/X', e.g. 'ETHUSDT/BTCUSDT' or 'BTCUSDT_PERP/BTCUSDT'")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ValueError(f"pair {pair!r}: expected 'Y/X', e.g. 'ETHUSDT/BTCUSDT' or 'BTCUSDT_PERP/BTCUSDT'")
    y, x = check_symbol(parts[0]), check_symbol(parts[1])
    if y == x:
        raise ValueError(f"pair {pair!r}: the two legs must differ")
    return y, x


def perpetual_name(symbol: str) -> str:
    """The stored name of the USD-M perpetual of a spot symbol: ``BTCUSDT`` -> ``BTCUSDT_PERP``.

    A name that is already a perpetual is returned unchanged.
    """
    s = parse_symbol(symbol)
    if s.perpetual:
        return s.name
    if s.contract is not None:
        raise ValueError(f"symbol {symbol!r} is a delivery future; its perpetual is {s.base}{PERP_SUFFIX}")
    return s.base + PERP_SUFFIX + (f"@{s.stream}" if s.stream else "")


def spot_name(symbol: str) -> str:
    """The spot symbol of a USD-M perpetual or delivery name: ``BTCUSDT_PERP`` -> ``BTCUSDT`` (spot names unchanged)."""
    s = parse_symbol(symbol)
    return s.base + (f"@{s.stream}" if s.stream else "")


def stored_name(exchange_symbol: str, market: str) -> str:
    """The stored name for an exchange symbol on a market.

    Args:
        exchange_symbol: the exchange's name, e.g. ``"BTCUSDT"``.
        market: ``"spot"`` (name unchanged) or ``"futures"`` (USD-M: ``_PERP`` added unless the
            name already carries a contract suffix, e.g. COIN-M ``BTCUSD_PERP``).

    Raises:
        ValueError: an invalid name or market.
    """
    s = parse_symbol(exchange_symbol)
    if market == "spot":
        return s.name
    if market == "futures":
        return s.name if s.contract is not None else perpetual_name(s.name)
    raise ValueError(f"market={market!r}: expected 'spot' or 'futures'")
