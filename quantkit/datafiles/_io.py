"""Private helpers: open plain/gzip/zip files by their magic bytes, guess symbol/market/interval from names."""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
import zlib
from contextlib import contextmanager
from typing import IO, Iterator

from quantkit.errors import DataFileError
from quantkit.symbols import is_symbol

__all__ = [
    "GuardedReader",
    "MAX_MS",
    "MIN_MS",
    "US_THRESHOLD",
    "first_lines",
    "guess_interval",
    "guess_market",
    "guess_symbol",
    "open_binary",
    "open_text",
    "stream_damage",
]

#: Plausible epoch-millisecond range for market data: 2009-01-01 .. 2100-01-01 (UTC).
MIN_MS = 1_230_768_000_000
MAX_MS = 4_102_444_800_000
#: Integer times at or above this are microseconds (data.binance.vision switched spot files to µs in 2025).
US_THRESHOLD = 100_000_000_000_000

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


class _Guard(io.RawIOBase):
    """Complete lines of a decompressing stream; a damaged stream ends cleanly at its last complete line."""

    def __init__(self, inner: "IO[bytes] | gzip.GzipFile", what: str) -> None:
        self._inner = inner
        self._what = what
        self._held = b""  # bytes after the last newline read so far (a line not yet complete)
        self._out = b""  # complete lines not yet handed out
        self._eof = False
        self.lines = 0
        self.damage: str | None = None
        self._read1 = getattr(inner, "read1", inner.read)

    def readable(self) -> bool:
        return True

    def _fill(self, size: int) -> None:
        while not self._out and not self._eof:
            try:  # read1: one decompression step, so nothing decompressed is lost when the next one fails
                chunk = self._read1(max(size, 1 << 16))
            except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as exc:
                cut = f"; the cut line {self.lines + 1} is dropped" if self._held.strip() else ""
                self.damage = f"{self._what} data damaged after line {self.lines} ({exc}){cut}"
                self._held = b""
                self._eof = True
                return
            if not chunk:
                self._out, self._held, self._eof = self._held, b"", True
                return
            data = self._held + chunk
            cut_at = data.rfind(b"\n") + 1
            self._out, self._held = data[:cut_at], data[cut_at:]
            self.lines += self._out.count(b"\n")

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        view = memoryview(buffer)
        self._fill(len(view))
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


class GuardedReader(io.BufferedReader):
    """A buffered reader over a decompressing stream that never raises for damaged data.

    When the compressed data is cut short or corrupt, reading ends at the last complete line (a
    partly decompressed line is dropped, never handed out cut) and :attr:`damage` says where.
    """

    def __init__(self, inner: "IO[bytes] | gzip.GzipFile", what: str) -> None:
        self._guard = _Guard(inner, what)
        super().__init__(self._guard, buffer_size=1 << 20)

    @property
    def damage(self) -> str | None:
        """``None`` while the data is intact, else what broke and after which line."""
        return self._guard.damage


def stream_damage(fh: object) -> str | None:
    """Where the compressed stream ``fh`` (from :func:`open_binary`) broke, or ``None``."""
    return fh.damage if isinstance(fh, GuardedReader) else None


@contextmanager
def open_binary(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open ``path`` for binary reading, transparently decompressing gzip and single-member zip.

    The format is chosen from the first bytes, not the extension.

    Raises:
        DataFileError: the file cannot be opened, or a zip holds no file.
    """
    spath = os.fspath(path)
    try:
        raw = open(spath, "rb")
    except OSError as exc:
        raise DataFileError(spath, f"cannot open: {exc.strerror or exc}") from exc
    try:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield GuardedReader(gz, "gzip")
        elif magic == _ZIP_MAGIC:
            try:
                with zipfile.ZipFile(raw) as zf:
                    members = [m for m in zf.infolist() if not m.is_dir()]
                    if not members:
                        raise DataFileError(spath, "zip archive holds no file")
                    csvs = [m for m in members if m.filename.lower().endswith(".csv")]
                    with zf.open((csvs or members)[0]) as member:
                        yield GuardedReader(member, "zip")
            except (zipfile.BadZipFile, zlib.error) as exc:  # damaged archive (also a bad CRC at its end)
                raise DataFileError(spath, f"damaged zip archive: {exc}") from exc
        else:
            yield raw
    finally:
        raw.close()


@contextmanager
def open_text(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Like :func:`open_binary` but decoded as UTF-8 (undecodable bytes replaced), universal newlines."""
    with open_binary(path) as fh:
        yield io.TextIOWrapper(fh, encoding="utf-8", errors="replace")


def first_lines(path: str | os.PathLike[str], n: int = 5, *, max_bytes: int = 1 << 16) -> list[str]:
    """The first ``n`` non-blank lines of a file (decompressed), stripped of line endings.

    Raises:
        DataFileError: the file cannot be opened or is corrupt (e.g. a truncated gzip header).
    """
    out: list[str] = []
    spath = os.fspath(path)
    try:
        with open_text(spath) as fh:
            read = 0
            for line in fh:
                read += len(line)
                s = line.strip()
                if s:
                    out.append(s)
                if len(out) >= n or read > max_bytes:
                    break
            damage = stream_damage(getattr(fh, "buffer", None))
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFileError(spath, f"cannot read: {exc}") from exc
    if damage is not None and not out:  # nothing readable at all: unreadable, not empty
        raise DataFileError(spath, f"cannot read: {damage}")
    return out


_PREFIX_RE = re.compile(r"^(spot|um|usdm|cm|futures|linear)_", re.IGNORECASE)
_SYMBOL_RE = re.compile(r"^([A-Za-z0-9]+(?:_PERP)?)(?=[-_.]|$)", re.IGNORECASE)
_INTERVAL_RE = re.compile(r"(?:^|[-_])(\d+)(s|m|h|d|w)(?=[-_.]|$)", re.IGNORECASE)
_NOT_SYMBOLS = {"trades", "aggtrades", "klines", "data", "candles", "ticks"}


def guess_symbol(path: str | os.PathLike[str]) -> str | None:
    """Upper-case symbol from a file name, or ``None``.

    Examples:
        >>> guess_symbol("spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz")
        'BTCUSDT'
        >>> guess_symbol("/x/ETHUSDT_1m.csv.gz")
        'ETHUSDT'
        >>> guess_symbol("BTCUSD_PERP-trades-2024-01-01.zip")
        'BTCUSD_PERP'
    """
    name = os.path.basename(os.fspath(path))
    name = _PREFIX_RE.sub("", name)
    m = _SYMBOL_RE.match(name)
    if not m:
        return None
    sym = m.group(1).upper()
    if sym.lower() in _NOT_SYMBOLS or sym.isdigit() or len(sym) < 3 or not any(c.isalpha() for c in sym) or not is_symbol(sym):
        return None
    return sym


def guess_market(path: str | os.PathLike[str]) -> str | None:
    """``"spot"`` or ``"futures"`` from a file-name prefix (``spot_``, ``um_``, ``usdm_``, ``cm_``), else ``None``."""
    name = os.path.basename(os.fspath(path)).lower()
    m = _PREFIX_RE.match(name)
    if not m:
        return None
    return "spot" if m.group(1) == "spot" else "futures"


def guess_interval(path: str | os.PathLike[str]) -> str | None:
    """Candle interval such as ``"1m"`` or ``"4h"`` from a file name, else ``None``.

    Binance's month suffix ``1mo`` is not matched; ``"1M"`` style is read as minutes.
    """
    name = os.path.basename(os.fspath(path))
    m = _INTERVAL_RE.search(name)
    if not m:
        return None
    return f"{int(m.group(1))}{m.group(2).lower()}"
