"""The data model every layer agrees on: one trade, and frames of trades and bars.

Times:
    * A :class:`Trade` carries exchange times as **integer milliseconds since the
      Unix epoch, UTC** (Binance's default unit).
    * Frames carry a ``DatetimeIndex`` named ``"time"``, **UTC-aware**,
      nanosecond resolution. quantkit never returns naive timestamps.

Tick frame columns (:data:`TICK_COLUMNS`, in this order and with these dtypes):

============== ======= ==========================================================
column         dtype   meaning
============== ======= ==========================================================
trade_id       int64   exchange trade id (``t`` for @trade, ``a`` for @aggTrade)
price          float64 price in quote currency
qty            float64 quantity in base currency
quote_qty      float64 price x qty in quote currency (exchange's, else computed)
is_buyer_maker bool    True when the buyer was the maker, i.e. the taker **sold**
============== ======= ==========================================================

Several trades routinely share one millisecond (one taker order filling against
several makers), so the time index is **not unique**: identity is ``trade_id``.

Bar frame columns (:data:`BAR_COLUMNS`): ``open, high, low, close`` (float64,
quote currency), ``volume`` (base qty), ``quote_volume``, ``vwap``
(quote_volume / volume), ``trades`` (int64 count), ``taker_buy_volume`` (base
qty bought by takers). The bar index is the bar **open** time (left-closed,
left-labelled). Bars with no trades are absent unless a caller asks otherwise.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "BAR_COLUMNS",
    "BAR_DTYPES",
    "TICK_COLUMNS",
    "TICK_DTYPES",
    "TRADE_IDENTITY",
    "MAX_TIME_MS",
    "MAX_TRADE_ID",
    "TRADE_RECORD",
    "Trade",
    "empty_bars",
    "empty_ticks",
    "ms_to_index",
    "records_to_frame",
    "trades_to_frame",
]


class Trade(NamedTuple):
    """One trade as parsed from an exchange message.

    Attributes:
        symbol: upper-case exchange symbol, e.g. ``"BTCUSDT"``.
        trade_id: exchange trade id (aggregate id for @aggTrade).
        price: price in quote currency, > 0.
        qty: quantity in base currency, > 0.
        quote_qty: price x qty in quote currency.
        trade_time: trade time ``T``, integer ms since the epoch (UTC).
        event_time: event time ``E``, integer ms since the epoch (UTC).
        is_buyer_maker: ``m``; True means the taker sold.
    """

    symbol: str
    trade_id: int
    price: float
    qty: float
    quote_qty: float
    trade_time: int
    event_time: int
    is_buyer_maker: bool


TICK_COLUMNS: tuple[str, ...] = ("trade_id", "price", "qty", "quote_qty", "is_buyer_maker")
#: What makes two rows with one trade id the same trade: these columns and the trade time to the
#: millisecond (``quote_qty`` is derived, and files state it with different rounding). Rows with one id
#: that differ here are a conflict, never a silent replacement (:mod:`quantkit.store.importer`).
TRADE_IDENTITY: tuple[str, ...] = ("price", "qty", "is_buyer_maker")
TICK_DTYPES: dict[str, str] = {
    "trade_id": "int64",
    "price": "float64",
    "qty": "float64",
    "quote_qty": "float64",
    "is_buyer_maker": "bool",
}

#: Largest trade id kept: the store's ``trade_id`` column is int64.
MAX_TRADE_ID = 2**63 - 1
#: Largest trade time kept, ms since the epoch (2262-04-11): the store's index is int64 nanoseconds.
MAX_TIME_MS = (2**63 - 1) // 1_000_000

#: :class:`Trade` as a numpy structured dtype (same fields, same order): ``np.array(trades, dtype=TRADE_RECORD)``
#: turns a list of trades into columns in one C loop (:func:`trades_to_frame` uses it; the ingest's writer uses
#: its fields after the symbol, ``quantkit.ingest._batch.TRADE_COLUMNS``).
TRADE_RECORD = np.dtype([
    ("symbol", object),
    ("trade_id", "int64"),
    ("price", "float64"),
    ("qty", "float64"),
    ("quote_qty", "float64"),
    ("trade_time", "int64"),
    ("event_time", "int64"),
    ("is_buyer_maker", "bool"),
])

BAR_COLUMNS: tuple[str, ...] = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "vwap",
    "trades",
    "taker_buy_volume",
)
BAR_DTYPES: dict[str, str] = {
    "open": "float64",
    "high": "float64",
    "low": "float64",
    "close": "float64",
    "volume": "float64",
    "quote_volume": "float64",
    "vwap": "float64",
    "trades": "int64",
    "taker_buy_volume": "float64",
}


def ms_to_index(ms: np.ndarray | Iterable[int]) -> pd.DatetimeIndex:
    """Convert integer epoch milliseconds to a UTC-aware ``DatetimeIndex`` named ``time``."""
    arr = np.asarray(ms, dtype="int64")
    return pd.DatetimeIndex(arr.astype("datetime64[ms]").astype("datetime64[ns]"), name="time").tz_localize("UTC")


def empty_ticks() -> pd.DataFrame:
    """An empty tick frame with the right columns, dtypes and index."""
    idx = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time")
    return pd.DataFrame({c: pd.Series([], dtype=TICK_DTYPES[c]) for c in TICK_COLUMNS}, index=idx)


def empty_bars() -> pd.DataFrame:
    """An empty bar frame with the right columns, dtypes and index."""
    idx = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time")
    return pd.DataFrame({c: pd.Series([], dtype=BAR_DTYPES[c]) for c in BAR_COLUMNS}, index=idx)


def trades_to_frame(trades: Iterable[Trade]) -> pd.DataFrame:
    """Build a tick frame (see module docstring) from trades, in the given order.

    The symbol is not a column: a tick frame holds one symbol.
    """
    rows = list(trades)
    if not rows:
        return empty_ticks()
    return records_to_frame(np.array(rows, dtype=TRADE_RECORD))


def records_to_frame(records: np.ndarray) -> pd.DataFrame:
    """Build a tick frame from a :data:`TRADE_RECORD` array (one symbol), in the given order.

    Only the tick columns and ``trade_time`` are read, so a record array without the symbol field
    (the ingest writer's) works the same.
    """
    if not len(records):
        return empty_ticks()
    return pd.DataFrame(
        {c: records[c] for c in TICK_COLUMNS},
        index=ms_to_index(records["trade_time"]),
    )
