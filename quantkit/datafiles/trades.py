"""Reader for data.binance.vision *trades* CSV files (spot and USD-M/COIN-M futures)."""

from __future__ import annotations

import os
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from quantkit.datafiles._io import MAX_MS, MIN_MS, US_THRESHOLD, first_lines, guess_market, guess_symbol
from quantkit.datafiles._table import Column, parse_table, reject_where
from quantkit.datafiles.result import ReadResult, RejectedRow
from quantkit.errors import DataFileError
from quantkit.schema import empty_ticks

__all__ = ["TickRows", "read_tick_table", "read_trades_csv", "tick_frame_from_arrays"]

_HEADER_NAMES = {
    "id": "trade_id",
    "trade_id": "trade_id",
    "price": "price",
    "qty": "qty",
    "quantity": "qty",
    "quote_qty": "quote_qty",
    "quoteqty": "quote_qty",
    "time": "time",
    "transact_time": "time",
    "is_buyer_maker": "is_buyer_maker",
    "isbuyermaker": "is_buyer_maker",
}
_KINDS = {"trade_id": "int", "price": "float", "qty": "float", "quote_qty": "float", "time": "int", "is_buyer_maker": "bool"}
_SPOT = ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
_FUTURES = ("trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
_BOOLS = {"true", "false"}


def _layout(path: str, first: str) -> tuple[list[Column], bool, str | None]:
    """Columns, header flag and market implied by the first non-blank line."""
    fields = [f.strip() for f in first.split(",")]
    if fields and not fields[0].lstrip("-").isdigit():
        names = [f.lower() for f in fields]
        if any(n in ("agg_trade_id", "first_trade_id", "last_trade_id") for n in names):
            raise DataFileError(path, "aggTrades CSV files are not supported; use trades files", line=1)
        canon = [_HEADER_NAMES.get(n, "") for n in names]
        missing = [n for n in ("trade_id", "price", "qty", "time", "is_buyer_maker") if n not in canon]
        if missing:
            raise DataFileError(path, f"not a trades CSV header (missing {', '.join(missing)}): {first[:120]!r}", line=1)
        cols = [Column(c, _KINDS[c]) if c else Column(f"_skip{i}", "skip") for i, c in enumerate(canon)]
        return cols, True, "futures"
    if len(fields) == 7 and fields[5].lower() in _BOOLS:
        return [Column(n, _KINDS.get(n, "skip")) for n in _SPOT], False, "spot"
    if len(fields) == 6 and fields[5].lower() in _BOOLS:
        return [Column(n, _KINDS[n]) for n in _FUTURES], False, "futures"
    raise DataFileError(path, f"unknown trades CSV layout ({len(fields)} fields): {first[:120]!r}", line=1)


def _time_to_ns(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ns, ms, bad_mask) from integer epoch times in ms, or µs where >= 1e14."""
    us = t >= US_THRESHOLD
    ms = np.where(us, t // 1000, t)
    bad = (ms < MIN_MS) | (ms > MAX_MS)
    safe = np.where(bad, MIN_MS, t)  # rejected rows get a harmless value (no overflow)
    ns = np.where(us & ~bad, safe * 1000, safe * 1_000_000)
    return ns, ms, bad


class TickRows(NamedTuple):
    """What :func:`tick_frame_from_arrays` returns."""

    frame: pd.DataFrame
    rejected: list[RejectedRow]
    duplicates: int
    row_lines: np.ndarray


def tick_frame_from_arrays(
    path: str,
    lines: np.ndarray,
    trade_id: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    quote_qty: np.ndarray | None,
    time_raw: np.ndarray,
    is_buyer_maker: np.ndarray,
    event_time: np.ndarray | None = None,
) -> TickRows:
    """Validate raw trade columns and build the tick frame (sorted by id, unique ids).

    Shared by the CSV, aggTrades and capture readers. A trade id repeated in the input is kept once:
    an exact repeat (same :data:`quantkit.schema.TRADE_IDENTITY` values and time) counts as a
    duplicate, a repeat with other values is rejected as ``conflict`` (the first row is kept).

    Args:
        path: file name used in rejected rows.
        lines: 1-based line of each row.
        trade_id: int64 ids.
        price: float64 prices.
        qty: float64 quantities.
        quote_qty: float64 quote quantities, or ``None`` to compute ``price * qty``.
        time_raw: int64 trade times, ms (µs where >= 1e14).
        is_buyer_maker: bool.
        event_time: int64 event times in ms, or ``None`` to use the trade time.

    Returns:
        :class:`TickRows`: the frame as documented in :class:`ReadResult`, rejected rows in line
        order, the count of exact repeats, and the line of each frame row.
    """
    ns, ms, bad_time = _time_to_ns(time_raw)
    with np.errstate(invalid="ignore"):
        checks: list[tuple[np.ndarray, str]] = [
            (trade_id < 0, "bad_int"),
            (~np.isfinite(price), "bad_number"),
            (~np.isfinite(qty), "bad_number"),
            (price <= 0, "non_positive"),
            (qty <= 0, "non_positive"),
        ]
        if quote_qty is not None:
            checks += [(~np.isfinite(quote_qty), "bad_number"), (quote_qty < 0, "non_positive")]
        checks.append((bad_time, "bad_time"))
        if event_time is not None:
            checks.append(((event_time < MIN_MS) | (event_time > MAX_MS), "bad_time"))
    keep, rejected = reject_where(path, lines, checks)
    idx = np.flatnonzero(keep)
    ids = trade_id[idx]
    duplicates = 0
    if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
        order = np.argsort(ids, kind="stable")
        idx = idx[order]
        ids = ids[order]
        rep = np.zeros(len(ids), dtype=bool)
        rep[1:] = ids[1:] == ids[:-1]
        if rep.any():
            # compare each repeat with the first row of its id (the row kept)
            first = np.maximum.accumulate(np.where(rep, 0, np.arange(len(ids))))
            a, b = idx[rep], idx[first[rep]]
            same = (price[a] == price[b]) & (qty[a] == qty[b]) & (is_buyer_maker[a] == is_buyer_maker[b]) & (ns[a] == ns[b])
            duplicates = int(same.sum())
            rejected.extend(RejectedRow(path, int(lines[i]), "conflict") for i in a[~same])
            rejected.sort(key=lambda r: r.line)
            idx = idx[~rep]
            ids = ids[~rep]
    price_k = price[idx]
    qty_k = qty[idx]
    frame = pd.DataFrame(
        {
            "trade_id": ids.astype(np.int64, copy=False),
            "price": price_k,
            "qty": qty_k,
            "quote_qty": quote_qty[idx] if quote_qty is not None else price_k * qty_k,
            "is_buyer_maker": is_buyer_maker[idx].astype(bool, copy=False),
            "event_time": (event_time[idx] if event_time is not None else ms[idx]).astype(np.int64, copy=False),
        },
        index=pd.DatetimeIndex(ns[idx].astype("datetime64[ns]"), name="time").tz_localize("UTC"),
    )
    return TickRows(frame, rejected, duplicates, np.asarray(lines, dtype=np.int64)[idx])


def read_trades_csv(path: str | os.PathLike[str], *, symbol: str | None = None) -> ReadResult:
    """Read a data.binance.vision trades CSV (plain, gzip or zip).

    Layouts (detected from the first line):

    * spot, no header, 7 columns ``id,price,qty,quote_qty,time,is_buyer_maker,is_best_match``
      with ``True``/``False``;
    * futures (USD-M/COIN-M), header ``id,price,qty,quote_qty,time,is_buyer_maker`` with
      ``true``/``false`` (older futures files without the header are accepted too).

    ``time`` is epoch milliseconds, or microseconds when >= 1e14 (converted, sub-ms kept in the
    index). Prices and quantities equal Python's ``float(text)`` exactly.

    A row is kept only when it has every column of its layout, each well formed. Bad rows (wrong
    field count, non-numbers, prices/quantities <= 0, implausible times, an id repeated with other
    values: ``conflict``) are reported in :attr:`ReadResult.rejected` with their 1-based line and
    the good rows are kept; exact repeats are counted in :attr:`ReadResult.duplicates`. Blank lines
    are skipped silently. A damaged compressed file is read up to where it broke
    (:attr:`ReadResult.damage`).

    Args:
        path: the file.
        symbol: the symbol to report; ``None`` guesses it from the file name
            (``spot_BTCUSDT-trades-...``, ``BTCUSDT-trades-2024-01-01.zip``).

    Returns:
        A :class:`ReadResult` of kind ``"trades"``, sorted by ``trade_id``.

    Raises:
        DataFileError: the file cannot be read or its layout is not a trades CSV.

    Examples:
        >>> r = read_trades_csv("spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz")  # doctest: +SKIP
        >>> len(r.frame), r.symbol, r.market, r.rejected  # doctest: +SKIP
        (19904, 'BTCUSDT', 'spot', [])
    """
    return read_tick_table(path, symbol, _layout, id_column="trade_id", stream="trade")


def read_tick_table(
    path: str | os.PathLike[str],
    symbol: str | None,
    layout: Callable[[str, str], tuple[list[Column], bool, str | None]],
    *,
    id_column: str,
    stream: str,
) -> ReadResult:
    """Read a CSV of ticks (trades or aggTrades) whose columns ``layout`` finds from the first line.

    The one reading path of both trade formats: the same field checks, rejections by line, duplicates and
    damage report. ``layout(path, first_line)`` returns ``(columns, has_header, market or None)``; the
    columns must include ``id_column``, ``price``, ``qty``, ``time``, ``is_buyer_maker`` and may include
    ``quote_qty``. The market guessed from the file name wins over the layout's.

    Args:
        path: the file.
        symbol: the symbol to report; ``None`` guesses it from the file name.
        layout: the format's layout detector.
        id_column: the column holding the tick id (``"trade_id"`` or ``"agg_id"``).
        stream: the stream name reported in the result (``"trade"`` or ``"aggTrade"``).
    """
    spath = os.fspath(path)
    head = first_lines(spath, 1)
    market = guess_market(spath)
    sym = symbol.upper() if symbol else guess_symbol(spath)
    if not head:
        frame = empty_ticks()
        frame["event_time"] = np.array([], dtype=np.int64)
        return ReadResult(frame, [], sym, market, "trades", stream=stream, path=spath)
    cols, header, layout_market = layout(spath, head[0])
    table = parse_table(spath, cols, header=header)
    c = table.columns
    rows = tick_frame_from_arrays(
        spath, table.lines, c[id_column], c["price"], c["qty"], c.get("quote_qty"), c["time"], c["is_buyer_maker"]
    )
    rejected = sorted(table.rejected + rows.rejected, key=lambda r: r.line)
    return ReadResult(
        rows.frame,
        rejected,
        sym,
        market or layout_market,
        "trades",
        stream=stream,
        path=spath,
        lines=table.n_lines,
        skipped=table.skipped,
        duplicates=rows.duplicates,
        damage=table.damage,
        row_lines=rows.row_lines,
    )
