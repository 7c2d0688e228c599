"""Readers for market-data files: Binance trades CSV, raw WebSocket captures, candle CSVs.

No I/O besides reading the given files. Every reader returns the good rows and reports bad
rows (file, 1-based line, reason) instead of failing; only a file that is unreadable as a
whole raises :class:`quantkit.errors.DataFileError`.

========================== ======================================================================
function                   reads
========================== ======================================================================
:func:`read_trades_csv`    data.binance.vision trades CSV (spot headerless, futures with header)
:func:`read_aggtrades_csv` data.binance.vision aggTrades CSV (one tick per aggregate trade)
:func:`read_funding_csv`   USD-M fundingRate CSV (funding time, rate per interval, mark price)
:func:`read_capture`       ``<recv_ns> <combined-stream JSON>`` lines; @trade/@aggTrade kept
:func:`read_capture_book`  the same lines' order book: REST depth snapshot + @depth diffs
:func:`read_candles_csv`   ``timestamp,open,high,low,close,volume`` CSV and Binance klines
:func:`sniff`              which of the above a file is
========================== ======================================================================

Examples:
    >>> from quantkit.datafiles import sniff, read_trades_csv
    >>> path = "spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
    >>> sniff(path)  # doctest: +SKIP
    'trades_csv'
    >>> read_trades_csv(path).frame.columns.tolist()  # doctest: +SKIP
    ['trade_id', 'price', 'qty', 'quote_qty', 'is_buyer_maker', 'event_time']
"""

from __future__ import annotations

from quantkit.datafiles.aggtrades import read_aggtrades_csv
from quantkit.datafiles.candles import CANDLE_COLUMNS, interval_to_timedelta, read_candles_csv, timedelta_to_interval
from quantkit.datafiles.capture import read_capture
from quantkit.datafiles.capture_book import CapturedBook, DepthDiff, read_capture_book
from quantkit.datafiles.funding import FUNDING_COLUMNS, read_funding_csv
from quantkit.datafiles.result import REJECT_REASONS, ReadResult, RejectedRow
from quantkit.datafiles.sniff import FILE_KINDS, sniff
from quantkit.datafiles.trades import read_trades_csv

__all__ = [
    "CANDLE_COLUMNS",
    "CapturedBook",
    "DepthDiff",
    "FILE_KINDS",
    "FUNDING_COLUMNS",
    "REJECT_REASONS",
    "ReadResult",
    "RejectedRow",
    "interval_to_timedelta",
    "read_aggtrades_csv",
    "read_candles_csv",
    "read_capture",
    "read_capture_book",
    "read_funding_csv",
    "read_trades_csv",
    "sniff",
    "timedelta_to_interval",
]
