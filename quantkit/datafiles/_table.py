"""Private: parse a comma-separated table into typed numpy columns, with per-line rejection.

Fast path: pandas' C parser with explicit dtypes (floats with ``float_precision="round_trip"``, so every
value equals Python's ``float(text)`` exactly). Any tokenising or conversion error (a short or long row,
a non-number, a blank line) makes the whole file go through the slow path: a Python loop over the lines
that keeps good rows and reports the bad ones with their 1-based line number. Value checks (positive
prices, plausible times, ...) are done afterwards, vectorised, by the callers on either path's output.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from quantkit.datafiles._io import open_binary, open_text
from quantkit.datafiles.result import RejectedRow
from quantkit.errors import DataFileError

__all__ = ["Column", "Table", "parse_table", "reject_where"]

log = logging.getLogger("quantkit.datafiles")

_TRUE = frozenset({"True", "true", "TRUE"})
_FALSE = frozenset({"False", "false", "FALSE"})
_DTYPES = {"int": "int64", "float": "float64", "bool": "bool", "str": "object"}
_REASONS = {"int": "bad_int", "float": "bad_number", "bool": "bad_bool", "str": "bad_time"}


@dataclass(frozen=True)
class Column:
    """One input column: ``kind`` is ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"skip"`` (not converted)."""

    name: str
    kind: str


@dataclass
class Table:
    """Parsed columns (equal-length numpy arrays), the 1-based line of each row, and parse-level rejects."""

    columns: dict[str, np.ndarray]
    lines: np.ndarray
    rejected: list[RejectedRow]
    n_lines: int
    skipped: int
    slow: bool


def _convert_int(s: str) -> int:
    v = int(s)
    if not -(2**63) <= v < 2**63:
        raise ValueError(s)
    return v


def _convert_float(s: str) -> float:
    return float(s)


def _convert_bool(s: str) -> bool:
    s = s.strip()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(s)


def _convert_str(s: str) -> str:
    return s


_CONVERTERS: dict[str, Callable[[str], object]] = {
    "int": _convert_int,
    "float": _convert_float,
    "bool": _convert_bool,
    "str": _convert_str,
}


def _fast(path: str, cols: Sequence[Column], header: bool) -> Table:
    names = [c.name for c in cols]
    dtype = {c.name: _DTYPES[c.kind] for c in cols if c.kind != "skip"}
    with open_binary(path) as fh:
        df = pd.read_csv(
            fh,
            header=None,
            skiprows=1 if header else 0,
            names=names,
            dtype=dtype,
            float_precision="round_trip",
            true_values=sorted(_TRUE),
            false_values=sorted(_FALSE),
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            on_bad_lines="error",
            engine="c",
            low_memory=False,
        )
    out: dict[str, np.ndarray] = {}
    for c in cols:
        if c.kind == "skip":
            continue
        arr = df[c.name].to_numpy()
        if arr.dtype != np.dtype(_DTYPES[c.kind]):
            raise ValueError(f"column {c.name} parsed as {arr.dtype}")
        # A short row leaves NaN in trailing float/str columns without any parser error: NaN is
        # rare in good files, so let the slow path tell a missing field from a "nan" text.
        if c.kind == "float" and np.isnan(arr).any():
            raise ValueError(f"column {c.name} has missing values")
        if c.kind == "str" and pd.isna(arr).any():
            raise ValueError(f"column {c.name} has missing values")
        out[c.name] = arr
    n = len(df)
    offset = 2 if header else 1
    lines = np.arange(offset, offset + n, dtype=np.int64)
    return Table(out, lines, [], n + (1 if header else 0), 0, slow=False)


def _slow(path: str, cols: Sequence[Column], header: bool) -> Table:
    n_fields = len(cols)
    kept: list[list[object]] = [[] for _ in cols]
    lines: list[int] = []
    rejected: list[RejectedRow] = []
    convs = [(_CONVERTERS.get(c.kind), c.kind) for c in cols]
    lineno = 0
    skipped = 0
    with open_text(path) as fh:
        for raw in fh:
            lineno += 1
            if header and lineno == 1:
                continue
            text = raw.strip()
            if not text:
                skipped += 1
                continue
            parts = text.split(",")
            if len(parts) != n_fields:
                rejected.append(RejectedRow(path, lineno, "field_count"))
                continue
            values: list[object] = []
            bad = None
            for part, (conv, kind) in zip(parts, convs):
                if conv is None:
                    values.append(None)
                    continue
                try:
                    values.append(conv(part))
                except (ValueError, OverflowError):
                    bad = _REASONS[kind]
                    break
            if bad is not None:
                rejected.append(RejectedRow(path, lineno, bad))
                continue
            for store, v in zip(kept, values):
                store.append(v)
            lines.append(lineno)
    out: dict[str, np.ndarray] = {}
    for c, vals in zip(cols, kept):
        if c.kind == "skip":
            continue
        if c.kind == "int":
            out[c.name] = np.array(vals, dtype=np.int64)
        elif c.kind == "float":
            out[c.name] = np.array(vals, dtype=np.float64)
        elif c.kind == "bool":
            out[c.name] = np.array(vals, dtype=bool)
        else:
            out[c.name] = np.array(vals, dtype=object)
    return Table(out, np.array(lines, dtype=np.int64), rejected, lineno, skipped, slow=True)


def parse_table(path: str | os.PathLike[str], cols: Sequence[Column], *, header: bool) -> Table:
    """Parse ``path`` as a comma-separated table with the given columns.

    Args:
        path: plain, gzip or zip file.
        cols: the expected columns, in file order (every row must have exactly these many fields).
        header: whether line 1 is a header (it is skipped, never validated).

    Returns:
        A :class:`Table`; rows that could not be tokenised or converted are in ``rejected``.

    Raises:
        DataFileError: the file cannot be opened or decompressed.
    """
    spath = os.fspath(path)
    try:
        return _fast(spath, cols, header)
    except pd.errors.EmptyDataError:
        return Table({c.name: np.array([], dtype=_DTYPES[c.kind]) for c in cols if c.kind != "skip"},
                     np.array([], dtype=np.int64), [], 1 if header else 0, 0, slow=False)
    except DataFileError:
        raise
    except (ValueError, OverflowError, TypeError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        log.debug("%s: fast parse failed (%s); locating bad lines", spath, exc)
    except (OSError, EOFError) as exc:
        raise DataFileError(spath, f"cannot read: {exc}") from exc
    try:
        return _slow(spath, cols, header)
    except (OSError, EOFError) as exc:
        raise DataFileError(spath, f"cannot read: {exc}") from exc


def reject_where(
    path: str,
    lines: np.ndarray,
    checks: Sequence[tuple[np.ndarray, str]],
) -> tuple[np.ndarray, list[RejectedRow]]:
    """Vectorised validation: the first failing check names the reason of a row.

    Args:
        path: file name for the rejected rows.
        lines: 1-based line of each row.
        checks: ``(bad_mask, reason)`` pairs in priority order.

    Returns:
        ``(keep_mask, rejected_rows)``.
    """
    n = len(lines)
    code = np.zeros(n, dtype=np.int16)
    for k, (mask, _reason) in enumerate(checks, start=1):
        sel = mask & (code == 0)
        if sel.any():
            code[sel] = k
    bad = np.flatnonzero(code)
    rejected = [RejectedRow(path, int(lines[i]), checks[int(code[i]) - 1][1]) for i in bad]
    return code == 0, rejected
