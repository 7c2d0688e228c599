"""Private: parse a comma-separated table into typed numpy columns, with per-line rejection.

Two paths, one outcome. The **slow path** is the definition: a Python loop over the lines that keeps a
row only when it has exactly the format's number of fields and every typed field converts, and
reports any other line with its 1-based number. The **fast path** (pandas' C parser with explicit
dtypes, floats with ``float_precision="round_trip"`` so every value equals Python's ``float(text)``)
is used only when it provably gives the same rows: every line is checked to hold exactly the
format's number of fields (commas counted on the raw bytes, so a row cut inside a trailing column is
never completed with NaN or a cut number), there is no lone ``\r``, NUL byte or blank line, and no
typed column came out missing. Anything else sends the whole file to the slow path. The slow path
accepts every spelling the C parser accepts, with the same value (surrounding blanks, ``+1``,
``1.0`` in an integer column, ``1``/``0``/any-case ``true`` in a boolean column), so a line's fate
never depends on the other lines of the file (``tests/datafiles/test_datafiles_paths.py`` checks
this with random truncations and corruptions).

A damaged compressed file (cut short, corrupt) is read up to its last complete line;
:attr:`Table.damage` says where it broke. Value checks (positive prices, plausible times, ...) are
done afterwards, vectorised, by the callers on either path's output.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import warnings
from dataclasses import dataclass
from typing import IO, Callable, Sequence

import numpy as np
import pandas as pd

from quantkit.datafiles._io import open_binary, stream_damage
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
    damage: str | None = None


def _convert_int(s: str) -> int:
    """An integer as the C parser reads it: blanks around, a sign, or an integral float text (``1.0``, ``1e3``)."""
    try:
        v = int(s)
    except ValueError:
        f = float(s)
        if not (math.isfinite(f) and f == int(f)) or "_" in s:
            raise ValueError(s) from None
        v = int(f)
    if not -(2**63) <= v < 2**63:
        raise ValueError(s)
    return v


def _convert_float(s: str) -> float:
    return float(s)


def _convert_bool(s: str) -> bool:
    """``True``/``False`` in any letter case, or a number equal to 1 or 0 (as the C parser reads them)."""
    t = s.strip().lower()
    if t == "true":
        return True
    if t == "false":
        return False
    f = float(t)  # ValueError for anything else
    if f == 1.0:
        return True
    if f == 0.0:
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


class _FieldCheck(io.RawIOBase):
    """Pass bytes through while checking that every line has exactly ``n_fields`` comma-separated fields.

    Vectorised on each chunk (numpy over the raw bytes). ``ok`` turns False on a line with another
    field count, a blank line, a lone ``\r`` or a NUL byte: then only the slow path can tell which
    lines are good.
    """

    def __init__(self, inner: IO[bytes], n_fields: int, header: bool) -> None:
        self._inner = inner
        self._want = n_fields - 1
        self._skip_first = header
        self._commas = 0  # commas in the line being read
        self._chars = 0  # bytes in the line being read
        self._cr = False  # the previous chunk ended with \r
        self.ok = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        view = memoryview(buffer)
        chunk = self._inner.read(len(view))
        if not chunk:
            if self._chars and not self._line_ok(self._commas):
                self.ok = False
            self._chars = 0
            return 0
        n = len(chunk)
        view[:n] = chunk
        if self.ok:
            self._check(chunk)
        return n

    def _line_ok(self, commas: int) -> bool:
        if self._skip_first:
            self._skip_first = False
            return True
        return commas == self._want

    def _check(self, chunk: bytes) -> None:
        if chunk.find(b"\x00") >= 0:
            self.ok = False
            return
        b = np.frombuffer(chunk, dtype=np.uint8)
        if self._cr and b[0] != 10:
            self.ok = False
            return
        if chunk.find(b"\r") >= 0:  # only CRLF line ends are allowed (a lone CR splits lines differently)
            cr = np.flatnonzero(b == 13)
            inner = cr[cr < len(b) - 1]
            if (b[inner + 1] != 10).any():
                self.ok = False
                return
        self._cr = chunk.endswith(b"\r")
        nl = np.flatnonzero(b == 10)
        commas = np.flatnonzero(b == 44)
        if not len(nl):
            self._commas += len(commas)
            self._chars += len(b)
            return
        before = np.searchsorted(commas, nl)  # commas before each newline
        per_line = np.diff(before, prepend=0)
        per_line[0] += self._commas
        lengths = np.diff(nl, prepend=-1) - 1  # bytes before each newline, excluding it
        lengths[0] += self._chars
        lengths = lengths - (b[np.maximum(nl - 1, 0)] == 13)  # a CRLF ending is not content
        if self._skip_first:
            self._skip_first = False
            per_line, lengths = per_line[1:], lengths[1:]
        if (per_line != self._want).any() or (lengths <= 0).any():
            self.ok = False
            return
        self._commas = len(commas) - int(before[-1])
        self._chars = len(b) - int(nl[-1]) - 1


def _read_csv(check: _FieldCheck, names: list[str], dtype: dict[str, str], header: bool) -> pd.DataFrame:
    return pd.read_csv(
        io.BufferedReader(check, buffer_size=1 << 20),
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


def _fast(path: str, cols: Sequence[Column], header: bool) -> Table:
    names = [c.name for c in cols]
    dtype = {c.name: _DTYPES[c.kind] for c in cols if c.kind != "skip"}
    with open_binary(path) as fh:
        check = _FieldCheck(fh, len(cols), header)
        with warnings.catch_warnings():  # a failed cast inside the C parser warns before it raises
            warnings.simplefilter("ignore", RuntimeWarning)
            df = _read_csv(check, names, dtype, header)
        damage = stream_damage(fh)
    if not check.ok:
        raise ValueError("a line has another number of fields than the format")
    out: dict[str, np.ndarray] = {}
    for c in cols:
        if c.kind == "skip":
            continue
        arr = df[c.name].to_numpy()
        if arr.dtype != np.dtype(_DTYPES[c.kind]):
            raise ValueError(f"column {c.name} parsed as {arr.dtype}")
        # NaN: a "nan"/"NA" text or an empty field; the slow path names the line and the reason.
        if c.kind == "float" and np.isnan(arr).any():
            raise ValueError(f"column {c.name} has missing values")
        if c.kind == "str" and pd.isna(arr).any():
            raise ValueError(f"column {c.name} has missing values")
        out[c.name] = arr
    n = len(df)
    offset = 2 if header else 1
    lines = np.arange(offset, offset + n, dtype=np.int64)
    return Table(out, lines, [], n + (1 if header else 0), 0, slow=False, damage=damage)


def _slow(path: str, cols: Sequence[Column], header: bool) -> Table:
    n_fields = len(cols)
    kept: list[list[object]] = [[] for _ in cols]
    lines: list[int] = []
    rejected: list[RejectedRow] = []
    convs = [(_CONVERTERS.get(c.kind), c.kind) for c in cols]
    lineno = 0
    skipped = 0
    with open_binary(path) as bfh:
        fh = io.TextIOWrapper(bfh, encoding="utf-8-sig", errors="replace")
        for raw in fh:
            lineno += 1
            if header and lineno == 1:
                continue
            text = raw.rstrip("\n")
            if not text.strip():
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
        damage = stream_damage(bfh)
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
    return Table(out, np.array(lines, dtype=np.int64), rejected, lineno, skipped, slow=True, damage=damage)


def parse_table(path: str | os.PathLike[str], cols: Sequence[Column], *, header: bool) -> Table:
    """Parse ``path`` as a comma-separated table with the given columns.

    Args:
        path: plain, gzip or zip file.
        cols: the expected columns, in file order (every row must have exactly these many fields).
        header: whether line 1 is a header (it is skipped, never validated).

    Returns:
        A :class:`Table`; rows that could not be tokenised or converted are in ``rejected``; a
        compressed file damaged part-way is read up to its last complete line (``damage`` says where).

    Raises:
        DataFileError: the file cannot be opened, or its compressed data is unreadable from the start.
    """
    spath = os.fspath(path)
    try:
        return _fast(spath, cols, header)
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
