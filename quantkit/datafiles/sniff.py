"""Tell which reader a file needs, from its first lines."""

from __future__ import annotations

import os
import re

from quantkit.datafiles._io import first_lines
from quantkit.errors import DataFileError

__all__ = ["FILE_KINDS", "sniff"]

#: What :func:`sniff` returns.
FILE_KINDS: tuple[str, ...] = ("trades_csv", "aggtrades_csv", "capture", "candles_csv", "funding_csv")

_CAPTURE_RE = re.compile(r"^\d+\s+\{")
_BOOLS = {"true", "false"}
_AGG_NAMES = {"agg_trade_id", "first_trade_id", "last_trade_id"}
_FUNDING_NAMES = {"last_funding_rate", "funding_rate", "fundingrate"}
_CANDLE_TIME_NAMES = {"timestamp", "open_time", "opentime", "date", "datetime", "start", "start_time", "starttime"}


def sniff(path: str | os.PathLike[str]) -> str:
    """The kind of data file at ``path``: one of :data:`FILE_KINDS`.

    Looks at the first non-blank lines only (gzip/zip are decompressed on the fly):

    * ``<digits> {json...`` or a JSON object line -> ``"capture"``;
    * a header with ``agg_trade_id``/``first_trade_id``, 8 numeric fields whose 7th is
      ``true``/``false`` (spot) or 7 whose 6th is a number and 7th a boolean (futures)
      -> ``"aggtrades_csv"``;
    * a header with ``price`` and ``is_buyer_maker``, or 6/7 numeric fields whose 6th is
      ``true``/``false`` -> ``"trades_csv"``;
    * a header with a funding-rate column (``last_funding_rate``, ``fundingRate``) -> ``"funding_csv"``;
    * a header with a time column and ``open,high,low,close`` (or ``volume``), 12 numeric fields
      (Binance klines) or 6 fields starting with an ISO time -> ``"candles_csv"``.

    Raises:
        DataFileError: the file cannot be read, is empty, or matches none of these.

    Examples:
        >>> sniff("derived_trades_csv/um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz")  # doctest: +SKIP
        'trades_csv'
    """
    spath = os.fspath(path)
    lines = first_lines(spath, 3)
    if not lines:
        raise DataFileError(spath, "empty file")
    first = lines[0]
    if _CAPTURE_RE.match(first) or first.startswith("{"):
        return "capture"
    fields = [f.strip().strip('"').lower() for f in first.split(",")]
    if len(fields) >= 2 and set(fields) & _FUNDING_NAMES:
        return "funding_csv"
    if len(fields) >= 5:
        numeric0 = fields[0].isdigit()
        if set(fields) & _AGG_NAMES:
            return "aggtrades_csv"
        if numeric0 and len(fields) == 8 and fields[6] in _BOOLS:
            return "aggtrades_csv"
        if numeric0 and len(fields) == 7 and fields[5].isdigit() and fields[6] in _BOOLS:
            return "aggtrades_csv"
        if "price" in fields and "is_buyer_maker" in fields:
            return "trades_csv"
        if {"open", "high", "low", "close"} <= set(fields) and (set(fields) & (_CANDLE_TIME_NAMES | {"time"})):
            return "candles_csv"
        if numeric0 and len(fields) in (6, 7) and fields[5] in _BOOLS:
            return "trades_csv"
        if numeric0 and len(fields) == 12:
            return "candles_csv"
        if len(fields) == 6 and len(fields[0]) >= 10 and fields[0][:4].isdigit() and fields[0][4] == "-":
            return "candles_csv"
    raise DataFileError(spath, f"unknown data file layout: {first[:120]!r}", line=1)
