"""Reader for candle (OHLCV) CSV files: ``timestamp,open,high,low,close,volume`` and Binance klines."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from quantkit.datafiles._io import MAX_MS, MIN_MS, US_THRESHOLD, first_lines, guess_interval, guess_market, guess_symbol
from quantkit.datafiles._table import Column, parse_table, reject_where
from quantkit.datafiles.result import ReadResult, RejectedRow
from quantkit.errors import DataFileError

__all__ = ["CANDLE_COLUMNS", "interval_to_timedelta", "read_candles_csv", "timedelta_to_interval"]

#: Columns every candle frame has (float64). Klines add ``quote_volume``, ``trades``, ``taker_buy_volume``.
CANDLE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

_TIME_NAMES = ("timestamp", "open_time", "opentime", "time", "date", "datetime", "start", "start_time", "starttime")
_ALIASES = {
    "open": "open",
    "o": "open",
    "high": "high",
    "h": "high",
    "low": "low",
    "l": "low",
    "close": "close",
    "c": "close",
    "volume": "volume",
    "v": "volume",
    "quote_volume": "quote_volume",
    "quote_asset_volume": "quote_volume",
    "turnover": "quote_volume",
    "count": "trades",
    "trades": "trades",
    "number_of_trades": "trades",
    "taker_buy_volume": "taker_buy_volume",
    "taker_buy_base_asset_volume": "taker_buy_volume",
}
_KLINES = (
    "time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "_close_time",
    "quote_volume",
    "trades",
    "taker_buy_volume",
    "_taker_buy_quote",
    "_ignore",
)
_UNITS = (("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000))


def interval_to_timedelta(interval: str) -> pd.Timedelta:
    """``"1m"``/``"5m"``/``"1h"``/``"1d"``/``"30s"`` (also pandas aliases like ``"5min"``) as a Timedelta.

    Raises:
        ValueError: the interval is not understood (the message names it).
    """
    s = str(interval).strip()
    if s and s[-1] in "smhdw" and s[:-1].isdigit():
        n, u = int(s[:-1]), s[-1]
        td = pd.Timedelta({"s": "1s", "m": "1min", "h": "1h", "d": "1D", "w": "7D"}[u]) * n
    else:
        try:
            with warnings.catch_warnings():  # deprecated aliases ("u", "T") warn; they are still read
                warnings.simplefilter("ignore", FutureWarning)
                td = pd.Timedelta(pd.tseries.frequencies.to_offset(s))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            raise ValueError(f"interval {interval!r} is not understood; use e.g. '1s', '1m', '5m', '1h', '1d'") from None
    if td <= pd.Timedelta(0):
        raise ValueError(f"interval {interval!r} must be positive")
    return td


def timedelta_to_interval(td: pd.Timedelta | int) -> str:
    """The shortest ``"<n><unit>"`` spelling of a duration (``"1m"``, ``"4h"``, ``"1d"``; ns otherwise)."""
    ns = int(pd.Timedelta(td).value)
    for unit, size in _UNITS:
        if ns % size == 0 and ns > 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _layout(path: str, lines: list[str]) -> tuple[list[Column], bool]:
    first = [f.strip() for f in lines[0].split(",")]
    header = not first[0].replace(".", "").lstrip("-").isdigit() and not _looks_like_time(first[0])
    if header:
        names = [f.lower().strip('"') for f in first]
        tcol = next((i for i, n in enumerate(names) if n in _TIME_NAMES), None)
        if tcol is None:
            raise DataFileError(path, f"no timestamp column in candle header {lines[0][:120]!r}", line=1)
        sample = lines[1].split(",")[tcol].strip() if len(lines) > 1 and len(lines[1].split(",")) > tcol else ""
        cols: list[Column] = []
        seen: set[str] = set()
        for i, n in enumerate(names):
            if i == tcol:
                cols.append(Column("time", "int" if sample.isdigit() else "str"))
                continue
            canon = _ALIASES.get(n)
            if canon is None or canon in seen:
                cols.append(Column(f"_skip{i}", "skip"))
                continue
            seen.add(canon)
            cols.append(Column(canon, "int" if canon == "trades" else "float"))
        missing = [c for c in CANDLE_COLUMNS if c not in seen]
        if missing:
            raise DataFileError(path, f"candle header lacks {', '.join(missing)}: {lines[0][:120]!r}", line=1)
        return cols, True
    if len(first) == 12 and first[0].isdigit():
        return [
            Column(n, "skip" if n.startswith("_") else ("int" if n in ("time", "trades") else "float")) for n in _KLINES
        ], False
    if len(first) == 6:
        return [Column("time", "int" if first[0].isdigit() else "str")] + [
            Column(n, "float") for n in CANDLE_COLUMNS
        ], False
    raise DataFileError(path, f"unknown candle CSV layout ({len(first)} fields): {lines[0][:120]!r}", line=1)


def _looks_like_time(s: str) -> bool:
    return len(s) >= 10 and s[:4].isdigit() and s[4] == "-"


def _times_to_ns(raw: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(ns int64, bad mask) from ISO strings or integer ms/µs."""
    if kind == "str":
        parsed = pd.to_datetime(pd.Series(raw, dtype=object), utc=True, format="ISO8601", errors="coerce")
        ns = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        bad = parsed.isna().to_numpy()
    else:
        us = raw >= US_THRESHOLD
        ms = np.where(us, raw // 1000, raw)
        bad = (ms < MIN_MS) | (ms > MAX_MS)
        safe = np.where(bad, MIN_MS, raw)
        ns = np.where(us & ~bad, safe * 1000, safe * 1_000_000)
    lo, hi = MIN_MS * 1_000_000, MAX_MS * 1_000_000
    bad = bad | (ns < lo) | (ns > hi)
    return np.where(bad, lo, ns), bad


def read_candles_csv(
    path: str | os.PathLike[str], *, symbol: str | None = None, interval: str | None = None
) -> ReadResult:
    """Read an OHLCV candle CSV (plain, gzip or zip).

    Layouts (detected from the first line):

    * with a header: a time column (``timestamp``/``open_time``/...) and ``open, high, low,
      close, volume`` (e.g. the Bybit files ``2025-05-30 16:39:00+00:00,104217.5,...``);
      ISO timestamps with an offset, or epoch ms/µs; extra known columns (``turnover``,
      ``count``, ...) are kept, unknown ones ignored;
    * data.binance.vision klines: 12 columns ``open_time, open, high, low, close, volume,
      close_time, quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore``
      (with or without header), open time in ms or µs.

    A row is kept only when it has every column of its layout, each well formed: a kline cut inside
    a trailing column (10 or 11 fields) is rejected as ``field_count``, never completed. Bad rows
    (non-numbers, prices <= 0, negative volume, ``high < low``, open/close outside ``[low, high]``,
    unparsable or implausible times, an open time repeated with other values: ``conflict``) are
    rejected with their 1-based line; the good rows are kept; exact repeats are counted in
    :attr:`ReadResult.duplicates`. The last candle of a download may still have
    been open (partial): that cannot be seen from the file and is kept.

    Args:
        path: the file.
        symbol: the symbol to report; ``None`` guesses it from the file name (``BTCUSDT_1m.csv.gz``).
        interval: candle length (``"1m"``, ``"5m"``, ``"1h"``...); ``None`` takes it from the file
            name, else the most common spacing between rows.

    Returns:
        A :class:`ReadResult` of kind ``"candles"``: UTC index (open time, increasing, unique),
        float64 ``open, high, low, close, volume`` (+ ``quote_volume``, ``trades`` int64,
        ``taker_buy_volume`` when present).

    Raises:
        DataFileError: the file cannot be read or is not a candle CSV.
        ValueError: ``interval`` is not understood.

    Examples:
        >>> r = read_candles_csv("1m/BTCUSDT_1m.csv.gz")  # doctest: +SKIP
        >>> len(r.frame), r.symbol, r.interval  # doctest: +SKIP
        (43200, 'BTCUSDT', '1m')
    """
    spath = os.fspath(path)
    sym = symbol.upper() if symbol else guess_symbol(spath)
    if interval is not None:
        interval = timedelta_to_interval(interval_to_timedelta(interval))
    head = first_lines(spath, 2)
    if not head:
        frame = pd.DataFrame(
            {c: np.array([], dtype=np.float64) for c in CANDLE_COLUMNS},
            index=pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time"),
        )
        return ReadResult(frame, [], sym, guess_market(spath), "candles", interval=interval, path=spath)
    cols, header = _layout(spath, head)
    table = parse_table(spath, cols, header=header)
    c = table.columns
    tkind = next(col.kind for col in cols if col.name == "time")
    ns, bad_time = _times_to_ns(c["time"], tkind)
    o, h, lo, cl, v = (c[k] for k in CANDLE_COLUMNS)
    with np.errstate(invalid="ignore"):
        prices_finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(cl)
        checks: list[tuple[np.ndarray, str]] = [
            (bad_time, "bad_time"),
            (~prices_finite | ~np.isfinite(v), "bad_number"),
        ]
        for extra in ("quote_volume", "taker_buy_volume"):
            if extra in c:
                checks.append((~np.isfinite(c[extra]), "bad_number"))
        checks += [
            ((o <= 0) | (h <= 0) | (lo <= 0) | (cl <= 0), "non_positive"),
            (h < lo, "high_below_low"),
            ((o < lo) | (o > h) | (cl < lo) | (cl > h), "outside_range"),
            (v < 0, "negative_volume"),
        ]
        for extra in ("quote_volume", "taker_buy_volume", "trades"):
            if extra in c:
                checks.append((c[extra] < 0, "negative_volume"))
    keep, rejected = reject_where(spath, table.lines, checks)
    idx = np.flatnonzero(keep)
    t = ns[idx]
    value_cols = [k for k in (*CANDLE_COLUMNS, "quote_volume", "trades", "taker_buy_volume") if k in c]
    duplicates = 0
    if len(t) > 1 and not bool(np.all(t[1:] > t[:-1])):
        order = np.argsort(t, kind="stable")
        idx, t = idx[order], t[order]
        rep = np.zeros(len(t), dtype=bool)
        rep[1:] = t[1:] == t[:-1]
        if rep.any():  # an exact repeat is a duplicate; other values at the same open time: a conflict
            first = np.maximum.accumulate(np.where(rep, 0, np.arange(len(t))))
            a, b = idx[rep], idx[first[rep]]
            same = np.ones(len(a), dtype=bool)
            for k in value_cols:
                same &= c[k][a] == c[k][b]
            duplicates = int(same.sum())
            rejected.extend(RejectedRow(spath, int(table.lines[i]), "conflict") for i in a[~same])
            idx, t = idx[~rep], t[~rep]
    data = {k: c[k][idx] for k in value_cols}
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(t.astype("datetime64[ns]"), name="time").tz_localize("UTC"))
    if interval is None:
        interval = guess_interval(spath)
    if interval is None and len(t) > 1:
        diffs = np.diff(t)
        vals, counts = np.unique(diffs, return_counts=True)
        interval = timedelta_to_interval(int(vals[np.argmax(counts)]))
    rejected = sorted(table.rejected + rejected, key=lambda r: r.line)
    return ReadResult(
        frame,
        rejected,
        sym,
        guess_market(spath),
        "candles",
        interval=interval,
        path=spath,
        lines=table.n_lines,
        skipped=table.skipped,
        duplicates=duplicates,
        damage=table.damage,
        row_lines=table.lines[idx],
    )
