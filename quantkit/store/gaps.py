"""The gap record: a run of missing trade ids of one symbol, as the store keeps it (no I/O).

Whoever finds a hole builds a :class:`GapRecord` and hands it to
:meth:`quantkit.store.TickStore.record_gap`: the ingest builds one from each gap
outcome the feed reports, an import could build one from a file's id jumps. The
store reads them back with :meth:`~quantkit.store.TickStore.gaps`. The row a gap is stored as
(:func:`gap_row`) and the frame :meth:`~quantkit.store.TickStore.gaps` returns (:func:`gaps_frame`)
are built here; :mod:`quantkit.store.records` reads and writes the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantkit.store._frames import TimeLike, to_utc

__all__ = ["GapRecord", "gap_row", "gaps_frame", "to_gap_record"]


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


def to_gap_record(
    symbol: GapRecord | str,
    from_id: int | None = None,
    to_id: int | None = None,
    *,
    first_missing_time: TimeLike | int = None,
    next_trade_time: TimeLike | int = None,
    detected_at: TimeLike | int = None,
    filled: bool = False,
    reason: str | None = None,
) -> GapRecord:
    """A :class:`GapRecord` from one, or from its fields (times as anything :func:`pandas.Timestamp`
    reads, or integer epoch milliseconds); see :meth:`quantkit.store.TickStore.record_gap`.

    Raises:
        ValueError: missing or inconsistent ids, bad times.
        TypeError: ``symbol`` is neither a string nor a GapRecord.
    """

    def _ms(v: Any, name: str) -> int | None:
        if v is None:
            return None
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v)
        ts = to_utc(v, name)
        return None if ts is None else int(ts.value // 1_000_000)

    if isinstance(symbol, GapRecord):
        return symbol
    if isinstance(symbol, str):
        if from_id is None or to_id is None:
            raise ValueError(f"gap ids from_id={from_id!r} to_id={to_id!r}: need from_id <= to_id")
        return GapRecord(symbol, from_id, to_id, _ms(first_missing_time, "first_missing_time"),
                         _ms(next_trade_time, "next_trade_time"), _ms(detected_at, "detected_at"),
                         bool(filled), reason)
    raise TypeError(f"record_gap: expected a symbol or a GapRecord, got {type(symbol).__name__}")


def gap_row(gap: GapRecord, symbol: str) -> pd.DataFrame:
    """The stored row of ``gap`` (``symbol``: its checked name), indexed by ``detected_at`` (now if unknown)."""
    from_id, to_id = int(gap.from_id), int(gap.to_id)
    first_ms = -1 if gap.first_missing_time is None else int(gap.first_missing_time)
    next_ms = -1 if gap.next_trade_time is None else int(gap.next_trade_time)
    det_ms = -1 if gap.detected_at is None else int(gap.detected_at)
    det = pd.Timestamp.now(tz="UTC") if det_ms < 0 else pd.Timestamp(det_ms, unit="ms", tz="UTC")
    return pd.DataFrame(
        {
            "symbol": [symbol],
            "from_id": np.array([from_id], dtype=np.int64),
            "to_id": np.array([to_id], dtype=np.int64),
            "missing": np.array([to_id - from_id + 1], dtype=np.int64),
            "first_missing_ms": np.array([first_ms], dtype=np.int64),
            "next_trade_ms": np.array([next_ms], dtype=np.int64),
            "filled": np.array([bool(gap.filled)], dtype=bool),
            "reason": [str(gap.reason) if gap.reason is not None else ""],
        },
        index=pd.DatetimeIndex([det], name="detected_at").as_unit("ns"),
    )


def gaps_frame(tables: list[pd.DataFrame], symbol: str | None = None) -> pd.DataFrame:
    """Stored gap rows (of several tables) as :meth:`quantkit.store.TickStore.gaps` returns them, oldest first.

    Args:
        tables: stored gap tables (rows of :func:`gap_row`); empty ones are skipped.
        symbol: keep only this (checked) symbol's rows; ``None``: all.
    """
    tables = [t for t in tables if len(t) and "symbol" in t.columns]
    raw = pd.concat(tables).sort_index(kind="stable") if tables else pd.DataFrame()
    out = pd.DataFrame(
        {
            "symbol": pd.Series([], dtype=object),
            "from_id": pd.Series([], dtype="int64"),
            "to_id": pd.Series([], dtype="int64"),
            "missing": pd.Series([], dtype="int64"),
            "first_missing_time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "next_trade_time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "filled": pd.Series([], dtype=bool),
            "reason": pd.Series([], dtype=object),
        },
        index=pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="detected_at"),
    )
    if raw.empty or "symbol" not in raw.columns:
        return out
    out = raw[["symbol", "from_id", "to_id", "missing"]].copy()
    for col, src in (("first_missing_time", "first_missing_ms"), ("next_trade_time", "next_trade_ms")):
        ms = raw[src] if src in raw.columns else pd.Series(-1, index=raw.index)
        out[col] = pd.to_datetime(ms.where(ms >= 0), unit="ms", utc=True)
    out["filled"] = raw["filled"].astype(bool) if "filled" in raw.columns else False
    out["reason"] = raw["reason"].fillna("").astype(str) if "reason" in raw.columns else ""
    out.index = out.index.rename("detected_at")
    if symbol is not None:
        out = out[out["symbol"] == symbol]
    return out
