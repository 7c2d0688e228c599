"""The per-contract funding-rate table of USD-M perpetuals: names, schema, reads and writes.

:meth:`TickStore.write_funding <quantkit.store.TickStore.write_funding>` stores and
:meth:`TickStore.funding <quantkit.store.TickStore.funding>` reads one ArcticDB symbol per contract,
``_qk.funding.<EXCHANGE SYMBOL>`` (e.g. ``_qk.funding.BTCUSDT``): funding is a property of the
contract, so the perpetual's stored tick name (``BTCUSDT_PERP``) and the exchange's name
(``BTCUSDT``) both find the same table.

Schema: UTC ``DatetimeIndex`` named ``time`` (the funding time, unique, increasing) and float64
columns ``funding_rate`` (the rate per funding interval: a long position pays
``funding_rate * notional`` at that time, a short receives it; negative rates reverse it) and
``mark_price`` (NaN when unknown, as in the public archive's files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantkit.errors import SchemaError, SymbolNotFoundError
from quantkit.store._frames import RESERVED_PREFIX, TimeLike, time_range
from quantkit.store._handle import StoreHandle
from quantkit.store.candles import merge_by_time
from quantkit.store.results import AppendResult
from quantkit.symbols import parse_symbol

__all__ = ["FUNDING_COLUMNS", "FUNDING_PREFIX", "Funding", "empty_funding", "funding_table", "validate_funding"]

#: ArcticDB symbol prefix of funding tables: ``_qk.funding.<EXCHANGE SYMBOL>``.
FUNDING_PREFIX = RESERVED_PREFIX + "funding."
#: Columns of a funding frame, float64.
FUNDING_COLUMNS: tuple[str, ...] = ("funding_rate", "mark_price")


def funding_table(symbol: str) -> tuple[str, str]:
    """``(contract, arctic_symbol)`` for a symbol: ``BTCUSDT_PERP`` and ``BTCUSDT`` -> ``BTCUSDT``.

    Raises:
        ValueError: an invalid symbol name.
    """
    contract = parse_symbol(symbol).exchange_symbol
    return contract, FUNDING_PREFIX + contract


def empty_funding() -> pd.DataFrame:
    """An empty funding frame with the documented index and columns."""
    return pd.DataFrame(
        {c: np.array([], dtype=np.float64) for c in FUNDING_COLUMNS},
        index=pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time"),
    )


def validate_funding(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in the stored funding schema, sorted by time.

    Args:
        frame: UTC-aware ``DatetimeIndex`` (funding times, unique); column ``funding_rate`` (finite
            numbers) and optionally ``mark_price`` (positive or NaN; missing = NaN). Other columns
            are dropped.

    Raises:
        SchemaError: not a frame, naive or non-datetime index, repeated times, missing or
            non-finite ``funding_rate``, a ``mark_price`` <= 0.
    """
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"funding must be a pandas DataFrame, got {type(frame).__name__}")
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise SchemaError("funding frames need a UTC-aware DatetimeIndex (the funding times)")
    if "funding_rate" not in frame.columns:
        raise SchemaError(f"funding frames need a 'funding_rate' column; got {list(frame.columns)}")
    if idx.has_duplicates:
        raise SchemaError("funding frames need unique funding times")
    rate = pd.to_numeric(frame["funding_rate"], errors="coerce").to_numpy(dtype=np.float64)
    if "mark_price" in frame.columns:
        mark = pd.to_numeric(frame["mark_price"], errors="coerce").to_numpy(dtype=np.float64)
    else:
        mark = np.full(len(frame), np.nan)
    if not np.isfinite(rate).all():
        raise SchemaError("funding_rate must be finite numbers")
    if (mark <= 0).any() or np.isinf(mark).any():
        raise SchemaError("mark_price must be > 0 (NaN when unknown)")
    out = pd.DataFrame(
        {"funding_rate": rate, "mark_price": mark},
        index=idx.tz_convert("UTC").as_unit("ns").rename("time"),
    )
    return out.sort_index(kind="stable")


class Funding:
    """Writes and reads funding tables through a :class:`~quantkit.store._handle.StoreHandle`.

    Writes merge by funding time like candles (:func:`quantkit.store.candles.merge_by_time`), later
    writes win. The public documentation is on :meth:`quantkit.store.TickStore.write_funding` and
    :meth:`quantkit.store.TickStore.funding`.

    Args:
        handle: the store's plumbing.
    """

    def __init__(self, handle: StoreHandle) -> None:
        self._h = handle

    def write(self, symbol: str, frame: pd.DataFrame) -> AppendResult:
        """Store funding rates of a perpetual (see :meth:`quantkit.store.TickStore.write_funding`)."""
        contract, asym = funding_table(symbol)
        return merge_by_time(self._h, contract, asym, validate_funding(frame))

    def read(self, symbol: str, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """Stored funding rates of a perpetual (see :meth:`quantkit.store.TickStore.funding`)."""
        h = self._h
        contract, asym = funding_table(symbol)
        rng = time_range(start, end)
        if not h.exists(asym):
            raise SymbolNotFoundError(f"{contract} (funding)", h.user_symbols)
        return h.retry(contract, asym, lambda: h.lib.read(asym, date_range=rng).data)
