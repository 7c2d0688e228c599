"""The ingest writer's batches: accepted trades as columns, grouped by symbol without a per-trade loop.

The feed thread hands the writer each trade by extending one flat list with its
:data:`FIELDS` fields (``fields.extend(trade)``): one C call per trade that allocates nothing and
leaves nothing for the cycle collector to track (``Ingestor._sink`` says why that matters). The
writer takes everything queued with one slice, turns each field's strided slice into a column of
a :data:`TRADE_COLUMNS` array (:func:`split_fields`), splits it by symbol (factorized codes and
array masks), and keeps each symbol's unwritten trades as :class:`PendingTicks`: the
columns the store append takes, the ids and times the writer's counters need, with no Python work
per trade after the hand-over.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from quantkit.schema import TRADE_RECORD, records_to_frame

__all__ = ["FIELDS", "TRADE_COLUMNS", "PendingTicks", "last_ids", "split_fields"]

#: Fields per trade in the flat hand-over list (those of :class:`~quantkit.schema.Trade`, in its order).
_NAMES: tuple[str, ...] = TRADE_RECORD.names or ()
FIELDS = len(_NAMES)
#: :data:`~quantkit.schema.TRADE_RECORD` without its symbol (the key a symbol's trades are kept under):
#: all numbers, so an array of it is allocated without touching each row (an object field is filled
#: with ``None`` row by row: 0.27 us per trade, most of the writer's column work).
TRADE_COLUMNS = np.dtype([(name, TRADE_RECORD[name]) for name in _NAMES[1:]])
_COLUMNS = tuple(enumerate(_NAMES))[1:]  # (offset in a trade, name) of every column


def split_fields(fields: Sequence[object]) -> dict[str, np.ndarray]:
    """Turn a flat run of trades' fields into :data:`TRADE_COLUMNS` arrays, one per symbol.

    Args:
        fields: trades in arrival order (any symbols), each as its :data:`FIELDS` fields in
            :class:`~quantkit.schema.Trade` order, concatenated (``fields.extend(trade)`` per trade).

    Returns:
        symbol -> its trades' other fields as a record array, in the order given; empty when
        ``fields`` is.

    Raises:
        ValueError: ``len(fields)`` is not a multiple of :data:`FIELDS`.
    """
    n, rest = divmod(len(fields), FIELDS)
    if rest:
        raise ValueError(f"{len(fields)} fields: not whole trades of {FIELDS} fields")
    if not n:
        return {}
    records = np.empty(n, dtype=TRADE_COLUMNS)
    for offset, name in _COLUMNS:
        records[name] = fields[offset::FIELDS]  # one strided slice and one C conversion per column
    symbols = np.array(fields[0::FIELDS], dtype=object)
    codes, names = pd.factorize(symbols)  # one hashing pass in C
    if len(names) == 1:
        return {names[0]: records}
    return {name: records[codes == k] for k, name in enumerate(names.tolist())}


def last_ids(fields: Sequence[object]) -> dict[str, int]:
    """Highest trade id per symbol in a flat run of trades' fields (see :func:`split_fields`)."""
    top: dict[str, int] = {}
    symbol: Any
    trade_id: Any
    for symbol, trade_id in zip(fields[0::FIELDS], fields[1::FIELDS]):
        if trade_id > top.get(symbol, -1):
            top[symbol] = trade_id
    return top


class PendingTicks:
    """One symbol's accepted but not yet written trades (record arrays, in delivery order).

    ``len()`` is the number of trades (so an empty one is falsy); :attr:`last_id` the id of the last
    one. Kept until the store acknowledged the append, so a failed write is retried with the same rows.
    """

    __slots__ = ("_parts", "_n")

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, records: np.ndarray) -> None:
        """Append trades (a :data:`TRADE_COLUMNS` array) after those held."""
        if len(records):
            self._parts.append(records)
            self._n += len(records)

    @property
    def last_id(self) -> int:
        """Trade id of the last trade held, ``-1`` when empty."""
        return int(self._parts[-1]["trade_id"][-1]) if self._parts else -1

    def records(self) -> np.ndarray:
        """All trades held, as one record array (joined once, then kept joined)."""
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0] if self._parts else np.empty(0, dtype=TRADE_COLUMNS)

    def frame(self) -> "pd.DataFrame":
        """The trades held as a tick frame (:func:`~quantkit.schema.records_to_frame`)."""
        return records_to_frame(self.records())

    def clear(self) -> None:
        """Forget the trades held (after the store acknowledged them)."""
        self._parts = []
        self._n = 0
