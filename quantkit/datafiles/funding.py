"""Reader for USD-M *fundingRate* CSV files (data.binance.vision archives and REST exports)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from quantkit.datafiles._io import MAX_MS, MIN_MS, US_THRESHOLD, first_lines, guess_symbol
from quantkit.datafiles._table import Column, parse_table, reject_where
from quantkit.datafiles.result import ReadResult, RejectedRow
from quantkit.errors import DataFileError

__all__ = ["FUNDING_COLUMNS", "FUNDING_HEADER_NAMES", "read_funding_csv"]

#: Columns of a funding frame (float64): rate per funding interval, mark price (NaN = unknown).
FUNDING_COLUMNS: tuple[str, ...] = ("funding_rate", "mark_price")

#: Header names understood, mapped to ``time`` / ``funding_rate`` / ``mark_price``.
FUNDING_HEADER_NAMES: dict[str, str] = {
    "calc_time": "time",
    "funding_time": "time",
    "fundingtime": "time",
    "time": "time",
    "last_funding_rate": "funding_rate",
    "funding_rate": "funding_rate",
    "fundingrate": "funding_rate",
    "mark_price": "mark_price",
    "markprice": "mark_price",
}


def read_funding_csv(path: str | os.PathLike[str], *, symbol: str | None = None) -> ReadResult:
    """Read a funding-rate CSV (plain, gzip or zip).

    Layouts (a header is required):

    * data.binance.vision ``fundingRate`` archives: ``calc_time,funding_interval_hours,last_funding_rate``
      (no mark price: ``mark_price`` is NaN);
    * REST-style exports: ``fundingTime,fundingRate[,markPrice]`` (any order, extra columns ignored).

    Times are epoch milliseconds (microseconds when >= 1e14). Rows with an unparsable or
    implausible time, a non-finite rate, a mark price <= 0 or a repeated funding time are rejected
    with their 1-based line; the good rows are kept.

    Args:
        path: the file.
        symbol: the contract to report; ``None`` guesses it from the file name
            (``BTCUSDT-fundingRate-2024-01.zip``).

    Returns:
        A :class:`ReadResult` of kind ``"funding"``: UTC index ``time`` (funding time, increasing,
        unique) and float64 columns ``funding_rate`` (rate per funding interval, e.g. 0.0001 = 0.01 %)
        and ``mark_price`` (NaN when the file has none).

    Raises:
        DataFileError: the file cannot be read or has no funding header.
    """
    spath = os.fspath(path)
    sym = symbol.upper() if symbol else guess_symbol(spath)
    head = first_lines(spath, 1)
    empty = pd.DataFrame(
        {c: np.array([], dtype=np.float64) for c in FUNDING_COLUMNS},
        index=pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time"),
    )
    if not head:
        return ReadResult(empty, [], sym, "futures", "funding", path=spath)
    names = [f.strip().strip('"').lower() for f in head[0].split(",")]
    canon = [FUNDING_HEADER_NAMES.get(n, "") for n in names]
    if "time" not in canon or "funding_rate" not in canon:
        raise DataFileError(spath, f"not a funding-rate CSV header: {head[0][:120]!r}", line=1)
    seen: set[str] = set()
    cols: list[Column] = []
    for i, name in enumerate(canon):
        if not name or name in seen:
            cols.append(Column(f"_skip{i}", "skip"))
            continue
        seen.add(name)
        cols.append(Column(name, "int" if name == "time" else "float"))
    table = parse_table(spath, cols, header=True)
    c = table.columns
    raw = c["time"]
    rate = c["funding_rate"]
    mark = c.get("mark_price", np.full(len(raw), np.nan))
    us = raw >= US_THRESHOLD
    ms = np.where(us, raw // 1000, raw)
    bad_time = (ms < MIN_MS) | (ms > MAX_MS)
    safe = np.where(bad_time, MIN_MS, raw)
    ns = np.where(us & ~bad_time, safe * 1000, safe * 1_000_000)
    with np.errstate(invalid="ignore"):
        checks: list[tuple[np.ndarray, str]] = [
            (bad_time, "bad_time"),
            (~np.isfinite(rate), "bad_number"),
            (np.isinf(mark), "bad_number"),
            (mark <= 0, "non_positive"),
        ]
    keep, rejected = reject_where(spath, table.lines, checks)
    idx = np.flatnonzero(keep)
    t = ns[idx]
    if len(t) > 1 and not bool(np.all(t[1:] > t[:-1])):
        order = np.argsort(t, kind="stable")
        idx, t = idx[order], t[order]
        dup = np.zeros(len(t), dtype=bool)
        dup[1:] = t[1:] == t[:-1]
        if dup.any():
            rejected.extend(RejectedRow(spath, int(table.lines[i]), "duplicate_time") for i in idx[dup])
            idx, t = idx[~dup], t[~dup]
    frame = pd.DataFrame(
        {"funding_rate": rate[idx].astype(np.float64), "mark_price": np.asarray(mark, dtype=np.float64)[idx]},
        index=pd.DatetimeIndex(t.astype("datetime64[ns]"), name="time").tz_localize("UTC"),
    )
    rejected = sorted(table.rejected + rejected, key=lambda r: r.line)
    return ReadResult(
        frame, rejected, sym, "futures", "funding", path=spath, lines=table.n_lines, skipped=table.skipped
    )
