"""The gap record: a run of missing trade ids of one symbol, as the store keeps it.

Whoever finds a hole builds a :class:`GapRecord` and hands it to
:meth:`quantkit.store.TickStore.record_gap`: the ingest builds one from each gap
outcome the feed reports, an import could build one from a file's id jumps. The
store reads them back with :meth:`~quantkit.store.TickStore.gaps`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GapRecord"]


@dataclass(frozen=True, slots=True)
class GapRecord:
    """Trade ids ``from_id..to_id`` (inclusive) of ``symbol`` were missing from the stream.

    Attributes:
        symbol: the symbol (checked and upper-cased by the store).
        from_id: first missing trade id.
        to_id: last missing trade id (>= ``from_id``).
        first_missing_time: earliest possible time of the missing trades, ms since the epoch (UTC);
            ``None``: unknown.
        next_trade_time: time of the trade that revealed the gap, ms (UTC); ``None``: unknown.
        detected_at: when the gap was noticed, ms (UTC); ``None``: when it is recorded.
        filled: True when a backfill recovered every missing id (default False).
        reason: why an unfilled gap stayed unfilled (e.g. the feed's ``"not_served"``); ``None``: none given.

    Raises:
        ValueError: ``to_id < from_id``, or an id or time is not an integer.
    """

    symbol: str
    from_id: int
    to_id: int
    first_missing_time: int | None = None
    next_trade_time: int | None = None
    detected_at: int | None = None
    filled: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        for name in ("from_id", "to_id", "first_missing_time", "next_trade_time", "detected_at"):
            v = getattr(self, name)
            if v is None and name not in ("from_id", "to_id"):
                continue
            if isinstance(v, bool) or not hasattr(v, "__index__"):
                raise ValueError(f"gap {name}={v!r}: expected an integer")
        if self.to_id < self.from_id:
            raise ValueError(f"gap ids from_id={self.from_id!r} to_id={self.to_id!r}: need from_id <= to_id")

    @property
    def missing(self) -> int:
        """Number of missing trade ids."""
        return int(self.to_id) - int(self.from_id) + 1
