"""What the store holds against what an exchange published: where to continue, and what is missing.

* :func:`stored_positions`: the last stored trade id, time and price per symbol, so a local
  market restarted on a store continues after it (ids, time and price level) instead of
  starting its ids again (which the store would drop as duplicates) and its prices from
  their defaults (a jump that reads as a spread break).
* :func:`missing_trades`: per symbol, how many of the trade ids an exchange published
  (``first_ids``..``last_ids``, ``counts`` trades) the store does not hold. Measured in
  the store, never assumed from the feed's counters.

Both take the exchange's names and its ``market``, and read the store under the symbol
grammar's stored names (:func:`quantkit.symbols.stored_name`: a USD-M ``BTCUSDT`` is
stored as ``BTCUSDT_PERP``), as the ingest stores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, NamedTuple, Sequence

import numpy as np

from quantkit.symbols import stored_name

if TYPE_CHECKING:
    from quantkit.store import TickStore

__all__ = ["StoredPosition", "missing_trades", "stored_positions"]


class StoredPosition(NamedTuple):
    """Where a symbol's stored ticks end: what a restarted local market continues after."""

    last_id: int
    """Last stored trade id."""
    last_ms: int
    """Its trade time, epoch milliseconds."""
    last_price: float
    """Its price."""


def stored_positions(store: "TickStore", symbols: Sequence[str], *, market: str = "spot") -> dict[str, StoredPosition]:
    """Last stored trade id, time (epoch ms) and price per exchange symbol; symbols without ticks are left out.

    Args:
        store: the store.
        symbols: exchange symbols of ``market`` (the keys of the result).
        market: ``"spot"`` (default) or ``"futures"`` (read under the ``_PERP`` stored names).
    """
    out: dict[str, StoredPosition] = {}
    for sym in symbols:
        name = stored_name(sym, market)
        last = store.last_trade_id(name)
        if last is None:
            continue
        tail = store.tail(name, 1, columns=["trade_id", "price"])
        if len(tail):
            out[sym] = StoredPosition(int(last), int(tail.index[-1].value // 1_000_000), float(tail["price"].iloc[-1]))
        else:
            out[sym] = StoredPosition(int(last), 0, float("nan"))
    return out


def missing_trades(
    store: "TickStore",
    first_ids: Mapping[str, int],
    last_ids: Mapping[str, int],
    counts: Mapping[str, int],
    *,
    market: str = "spot",
) -> dict[str, int]:
    """Trades published but not stored, per stored name (only symbols missing some are listed).

    Args:
        store: the store.
        first_ids: first trade id published per exchange symbol.
        last_ids: last trade id published per exchange symbol.
        counts: trades published per exchange symbol (ids ``first..last``, possibly with holes the source had).
        market: the exchange's market, ``"spot"`` (default) or ``"futures"``: the result is keyed by the
            stored names (``BTCUSDT_PERP`` for a USD-M ``BTCUSDT``).

    Reads at most the last ``count + 1000`` ticks of each symbol.
    """
    out: dict[str, int] = {}
    for sym, n in counts.items():
        if n <= 0 or sym not in first_ids or sym not in last_ids:
            continue
        name = stored_name(sym, market)
        if store.last_trade_id(name) is None:
            out[name] = int(n)
            continue
        ids = store.tail(name, int(n) + 1000, columns=["trade_id"])["trade_id"].to_numpy()
        held = np.unique(ids[(ids >= first_ids[sym]) & (ids <= last_ids[sym])])
        if len(held) < n:
            out[name] = int(n) - len(held)
    return out
