"""Reader for data.binance.vision *aggTrades* CSV files (spot and USD-M/COIN-M futures)."""

from __future__ import annotations

import os

from quantkit.datafiles._table import Column
from quantkit.datafiles.result import ReadResult
from quantkit.datafiles.trades import read_tick_table
from quantkit.errors import DataFileError

__all__ = ["AGG_HEADER_NAMES", "read_aggtrades_csv"]

#: Header names of aggTrades files (futures archives have a header; spot archives do not).
AGG_HEADER_NAMES: dict[str, str] = {
    "agg_trade_id": "agg_id",
    "a": "agg_id",
    "price": "price",
    "p": "price",
    "quantity": "qty",
    "qty": "qty",
    "q": "qty",
    "first_trade_id": "_first",
    "f": "_first",
    "last_trade_id": "_last",
    "l": "_last",
    "transact_time": "time",
    "timestamp": "time",
    "t": "time",
    "is_buyer_maker": "is_buyer_maker",
    "m": "is_buyer_maker",
}
_KINDS = {"agg_id": "int", "price": "float", "qty": "float", "time": "int", "is_buyer_maker": "bool"}
_SPOT = ("agg_id", "price", "qty", "_first", "_last", "time", "is_buyer_maker", "_best_match")
_FUTURES = ("agg_id", "price", "qty", "_first", "_last", "time", "is_buyer_maker")
_BOOLS = {"true", "false"}


def _layout(path: str, first: str) -> tuple[list[Column], bool, str | None]:
    """Columns, header flag and market implied by the first non-blank line."""
    fields = [f.strip() for f in first.split(",")]
    if fields and not fields[0].lstrip("-").isdigit():
        canon = [AGG_HEADER_NAMES.get(f.lower(), "") for f in fields]
        missing = [n for n in ("agg_id", "price", "qty", "time", "is_buyer_maker") if n not in canon]
        if missing:
            raise DataFileError(path, f"not an aggTrades CSV header (missing {', '.join(missing)}): {first[:120]!r}", line=1)
        cols = [Column(c, _KINDS.get(c, "skip")) if c else Column(f"_skip{i}", "skip") for i, c in enumerate(canon)]
        return cols, True, "futures"
    if len(fields) == 8 and fields[6].lower() in _BOOLS:
        return [Column(n, _KINDS.get(n, "skip")) for n in _SPOT], False, "spot"
    if len(fields) == 7 and fields[6].lower() in _BOOLS and fields[5].isdigit():
        return [Column(n, _KINDS.get(n, "skip")) for n in _FUTURES], False, "futures"
    raise DataFileError(path, f"unknown aggTrades CSV layout ({len(fields)} fields): {first[:120]!r}", line=1)


def read_aggtrades_csv(path: str | os.PathLike[str], *, symbol: str | None = None) -> ReadResult:
    """Read a data.binance.vision aggTrades CSV (plain, gzip or zip).

    Layouts (detected from the first line):

    * spot, no header, 8 columns ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,
      transact_time,is_buyer_maker,is_best_match`` (``True``/``False``);
    * futures, header ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,
      is_buyer_maker`` (``true``/``false``); older headerless futures files are accepted too.

    Each aggregate trade becomes one tick whose ``trade_id`` is the aggregate id and whose
    ``quote_qty`` is ``price * qty`` (the files carry none). ``transact_time`` is epoch
    milliseconds, or microseconds when >= 1e14 (spot files from 2025 on). Bad rows are rejected
    with their 1-based line, exactly as :func:`~quantkit.datafiles.read_trades_csv` does.

    Args:
        path: the file.
        symbol: the symbol to report; ``None`` guesses it from the file name
            (``BTCUSDT-aggTrades-2024-01-01.zip``).

    Returns:
        A :class:`ReadResult` of kind ``"trades"`` and stream ``"aggTrade"``, sorted by aggregate id.

    Raises:
        DataFileError: the file cannot be read or is not an aggTrades CSV.
    """
    return read_tick_table(path, symbol, _layout, id_column="agg_id", stream="aggTrade")
