"""What a reader returns: the good rows as a frame, and the rejected rows with file, line and reason."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["REJECT_REASONS", "ReadResult", "RejectedRow"]

#: Reasons a row can be rejected for, as they appear in :attr:`RejectedRow.reason`.
REJECT_REASONS: tuple[str, ...] = (
    "field_count",  # wrong number of comma-separated fields
    "bad_int",  # an integer field (id, time) is not an integer
    "bad_number",  # a decimal field is not a finite number
    "bad_bool",  # a boolean field is not True/False/true/false
    "non_positive",  # price or quantity <= 0 (candles: a price <= 0)
    "bad_time",  # a time outside 2009-01-01 .. 2100-01-01, or an unparsable timestamp
    "duplicate_id",  # (legacy) a trade id seen earlier in the same file
    "duplicate_time",  # a time seen earlier in the same file with other values (funding; the first one is kept)
    "conflict",  # a trade id / candle time seen earlier in the file, or stored, with other values (first kept)
    "bad_json",  # a capture line whose JSON does not parse
    "missing_field",  # a capture trade event without one of its fields
    "bad_type",  # a capture field of the wrong JSON type
    "high_below_low",  # candle high < low
    "outside_range",  # candle open or close outside [low, high]
    "negative_volume",  # candle volume < 0
)


@dataclass(frozen=True)
class RejectedRow:
    """One input row that was not kept.

    Attributes:
        path: the file, as given to the reader.
        line: 1-based line number in the (decompressed) file; a header is line 1.
        reason: one of :data:`REJECT_REASONS`.
    """

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class ReadResult:
    """The rows a reader kept, and the ones it rejected.

    Attributes:
        frame: for ``kind == "trades"`` a tick frame (see :mod:`quantkit.schema`:
            UTC ``DatetimeIndex`` ``time`` and columns ``trade_id, price, qty,
            quote_qty, is_buyer_maker``) plus ``event_time`` (int64 ms; the trade
            time when the file has none), sorted by ``trade_id`` with unique ids.
            For ``kind == "candles"`` a UTC index (candle open time, unique,
            increasing) and float64 columns ``open, high, low, close, volume``,
            plus ``quote_volume`` (float64), ``trades`` (int64) and
            ``taker_buy_volume`` (float64) when the file has them (Binance klines).
            For ``kind == "funding"`` a UTC index (funding time, unique, increasing) and
            float64 columns ``funding_rate`` and ``mark_price`` (NaN = unknown).
        rejected: rejected rows, in line order.
        symbol: upper-case symbol (from the file name or the data), ``None`` if unknown.
        market: ``"spot"`` or ``"futures"``; ``None`` if unknown.
        kind: ``"trades"``, ``"candles"`` or ``"funding"``.
        stream: for trades, ``"trade"`` or ``"aggTrade"`` (ids are aggregate ids);
            ``None`` for candles.
        interval: for candles, the bar length as a pandas-style string such as
            ``"1m"``/``"5m"``/``"1h"`` (from the file name, else the most common
            spacing); ``None`` for trades.
        path: the file that was read.
        lines: lines seen in the file (including header and skipped lines).
        skipped: lines that were not data and were not rejected (blank lines;
            capture lines of other streams such as depth or bookTicker).
        duplicates: rows repeating an earlier row of the file exactly (same key, same values):
            counted, not kept twice, not rejected.
        damage: ``None``, or where a damaged compressed file broke (its rows up to there are read).
        row_lines: the 1-based line of each row of ``frame`` (int64, same order), so that a row refused
            later (e.g. a conflict with stored data) can be reported with its line; ``None`` if unknown.
    """

    frame: pd.DataFrame
    rejected: list[RejectedRow]
    symbol: str | None
    market: str | None
    kind: str
    stream: str | None = None
    interval: str | None = None
    path: str = ""
    lines: int = 0
    skipped: int = 0
    duplicates: int = 0
    damage: str | None = None
    row_lines: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"ReadResult(kind={self.kind!r}, symbol={self.symbol!r}, market={self.market!r}, "
            f"rows={len(self.frame)}, rejected={len(self.rejected)}, path={self.path!r})"
        )

    def reject_counts(self) -> dict[str, int]:
        """Rejected rows counted by reason."""
        out: dict[str, int] = {}
        for r in self.rejected:
            out[r.reason] = out.get(r.reason, 0) + 1
        return out
