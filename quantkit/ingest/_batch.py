"""The ingest writer's batches: accepted trades as columns, grouped by symbol without a per-trade loop.

The feed thread hands the writer each trade's fields as a plain tuple through a deque (the cheapest
thread-safe hand-over: one C call per trade; ``Ingestor._sink`` says why not the Trade itself). The
writer turns each drained run of trades into one :data:`~quantkit.schema.TRADE_RECORD` array in a
single C loop, splits it by symbol (factorized codes and array masks), and keeps each symbol's
unwritten trades as :class:`PendingTicks`: the columns the store append takes, the ids and times
the writer's counters need, with no Python work per trade after the drain.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from quantkit.schema import TRADE_RECORD, records_to_frame

__all__ = ["PendingTicks", "split_by_symbol"]


def split_by_symbol(trades: Sequence[Sequence[object]]) -> dict[str, np.ndarray]:
    """Turn trades into :data:`~quantkit.schema.TRADE_RECORD` arrays, one per symbol, order kept.

    Args:
        trades: trades in arrival order (any symbols): :class:`~quantkit.schema.Trade` or plain
            tuples of its fields.

    Returns:
        symbol -> its trades as a record array, in the order given; empty when ``trades`` is.
    """
    if not trades:
        return {}
    records = np.array(trades, dtype=TRADE_RECORD)
    first = trades[0][0]
    symbols = records["symbol"]
    if trades[-1][0] == first and (symbols == first).all():
        return {first: records}  # type: ignore[dict-item]
    codes, names = pd.factorize(symbols)  # one hashing pass in C (object == per symbol costs 2x more)
    return {name: records[codes == k] for k, name in enumerate(names.tolist())}


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
        """Append trades (a :data:`~quantkit.schema.TRADE_RECORD` array) after those held."""
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
        return self._parts[0] if self._parts else np.empty(0, dtype=TRADE_RECORD)

    def frame(self) -> "pd.DataFrame":
        """The trades held as a tick frame (:func:`~quantkit.schema.records_to_frame`)."""
        return records_to_frame(self.records())

    def clear(self) -> None:
        """Forget the trades held (after the store acknowledged them)."""
        self._parts = []
        self._n = 0
