"""Import data files (trades CSV, raw captures, candle CSVs) into a :class:`TickStore`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Union

from tqdm.auto import tqdm

from quantkit.datafiles import ReadResult, RejectedRow, read_candles_csv, read_capture, read_trades_csv, sniff
from quantkit.datafiles._io import first_lines
from quantkit.errors import DataFileError, QuantkitError
from quantkit.store.results import AppendResult
from quantkit.store.tickstore import TickStore

__all__ = ["FileReport", "ImportReport", "import_files"]

log = logging.getLogger("quantkit.store")

PathLike = Union[str, "os.PathLike[str]"]

#: Ticks are written in chunks of this many rows (bounded memory per ArcticDB call, few versions).
CHUNK_ROWS = 500_000
_MAX_SHOWN_REJECTS = 20


@dataclass
class FileReport:
    """What happened to one file.

    Attributes:
        path: the file.
        kind: ``"trades_csv"``, ``"capture"``, ``"candles_csv"``, or ``"error"`` when unreadable.
        symbols: store symbols written (candles as ``"SYMBOL (1m candles)"``).
        rows: good rows read.
        stored: rows stored.
        duplicates: rows already in the store (or repeated).
        out_of_order: tick rows that could not be placed (see :class:`AppendResult`).
        rejected: bad rows (details in :attr:`ImportReport.rejected`).
        error: why the file could not be imported at all, else ``None``.
    """

    path: str
    kind: str
    symbols: tuple[str, ...] = ()
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    rejected: int = 0
    error: str | None = None


@dataclass
class ImportReport:
    """The outcome of :func:`import_files`; ``str(report)`` is a readable summary.

    Attributes:
        files: one :class:`FileReport` per file, in import order.
        rejected: every rejected row (file, 1-based line, reason).
    """

    files: list[FileReport] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Good rows read, all files."""
        return sum(f.rows for f in self.files)

    @property
    def stored(self) -> int:
        """Rows stored, all files."""
        return sum(f.stored for f in self.files)

    @property
    def duplicates(self) -> int:
        """Rows skipped as already stored, all files."""
        return sum(f.duplicates for f in self.files)

    @property
    def out_of_order(self) -> int:
        """Tick rows that could not be placed, all files."""
        return sum(f.out_of_order for f in self.files)

    @property
    def errors(self) -> list[FileReport]:
        """Files that could not be imported at all."""
        return [f for f in self.files if f.error is not None]

    @property
    def ok(self) -> bool:
        """True when every file could be read (rejected rows do not count as failure)."""
        return not self.errors

    def __str__(self) -> str:
        lines = [
            f"Imported {len(self.files)} file(s): {self.rows:,} rows read, {self.stored:,} stored, "
            f"{self.duplicates:,} duplicates, {len(self.rejected):,} rejected"
            + (f", {self.out_of_order:,} out of order" if self.out_of_order else "")
            + (f", {len(self.errors)} file(s) failed" if self.errors else "")
        ]
        for f in self.files:
            name = os.path.basename(f.path)
            if f.error is not None:
                lines.append(f"  FAILED  {name}: {f.error}")
                continue
            syms = ", ".join(f.symbols) or "-"
            lines.append(
                f"  {f.kind:<11} {syms:<24} {f.rows:>10,} read {f.stored:>10,} stored "
                f"{f.duplicates:>10,} dup {f.rejected:>6,} rejected  {name}"
            )
        if self.rejected:
            lines.append("Rejected rows:")
            lines.extend(f"  {r}" for r in self.rejected[:_MAX_SHOWN_REJECTS])
            if len(self.rejected) > _MAX_SHOWN_REJECTS:
                lines.append(f"  ... and {len(self.rejected) - _MAX_SHOWN_REJECTS:,} more")
        return "\n".join(lines)


def _expand(paths: PathLike | Iterable[PathLike]) -> list[tuple[str, bool]]:
    """Files to import as ``(path, explicit)``; ``explicit`` is False for files found in a directory."""
    items: list[PathLike] = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[tuple[str, bool]] = []
    for p in items:
        path = Path(p)
        if path.is_dir():
            out.extend((str(f), False) for f in sorted(path.rglob("*")) if f.is_file() and not f.name.startswith("."))
        else:
            out.append((str(path), True))
    return out


def _order_key(path: str, kind: str) -> int:
    """Earliest time in a file, ms (cheap: first line only), so ticks are imported oldest first."""
    try:
        first = first_lines(path, 2)
        if kind == "capture" and first:
            return int(first[0].split(" ", 1)[0]) // 1_000_000
        if kind == "trades_csv" and first:
            row = first[1] if not first[0][:1].isdigit() and len(first) > 1 else first[0]
            t = int(row.split(",")[4])
            return t // 1000 if t >= 10**14 else t
    except (ValueError, IndexError, DataFileError):
        pass
    return 0


def _store_ticks(store: TickStore, symbol: str, result: ReadResult) -> AppendResult:
    total = AppendResult(0, 0)
    frame = result.frame
    for start in range(0, len(frame), CHUNK_ROWS):
        total = total + store.insert_ticks(symbol, frame.iloc[start : start + CHUNK_ROWS], market=result.market)
    if total.stored:
        store.maintain(symbol)  # compact, and build the 1-minute bar cache for the imported history
    return total


def import_files(
    store: TickStore,
    paths: PathLike | Iterable[PathLike],
    *,
    symbol: str | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import trades CSVs, raw captures and candle CSVs into ``store``.

    Each file's layout is detected (:func:`quantkit.datafiles.sniff`); directories are searched
    recursively and files in them that are not data files (README, licences) are skipped, while a
    file named explicitly that is not a data file is reported as failed. Tick files are imported oldest first; ticks go through
    :meth:`TickStore.insert_ticks`, so ids already stored are skipped (importing the same file twice
    stores nothing) and older files can be imported after newer ones. Candles go through
    :meth:`TickStore.write_candles`. The market of tick files (spot/futures) is recorded per symbol;
    a futures file whose symbol already holds spot ticks (or the reverse) fails with a hint to pass
    ``symbol=`` (e.g. ``BTCUSDT_PERP``), because their trade ids are unrelated. Bad rows are reported, good rows are stored; a file that cannot
    be read at all is reported in :attr:`ImportReport.errors` and the others are still imported.

    Concurrency: the import is a writer; do not import into a symbol that a live ingest is writing.

    Args:
        store: the target store.
        paths: files and/or directories.
        symbol: store everything under this symbol (captures' aggTrade streams become
            ``"<symbol>@aggTrade"``); ``None`` takes each file's own symbol (file name or data).
        progress: show a tqdm progress bar (bytes of input files).

    Returns:
        An :class:`ImportReport`; ``print(report)`` shows a summary.

    Examples:
        >>> report = import_files(TickStore(), ["spot_BTCUSDT-trades-2024-08-08.csv.gz"])  # doctest: +SKIP
        >>> print(report)  # doctest: +SKIP
        Imported 1 file(s): 19,904 rows read, 19,904 stored, 0 duplicates, 0 rejected
    """
    report = ImportReport()
    kinds: dict[str, str] = {}
    for p, explicit in _expand(paths):
        try:
            kinds[p] = sniff(p)
        except DataFileError as exc:
            if explicit:
                report.files.append(FileReport(p, "error", error=str(exc)))
            else:
                log.debug("import: skipping %s (not a data file: %s)", p, exc)
    todo = sorted(kinds, key=lambda p: (kinds[p] == "candles_csv", _order_key(p, kinds[p]), p))
    total_bytes = sum(os.path.getsize(p) for p in todo)
    with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="import", disable=not progress, leave=True) as bar:
        for p in todo:
            kind = kinds[p]
            try:
                fr = _import_one(store, p, kind, symbol, report)
            except (DataFileError, ValueError) as exc:
                fr = FileReport(p, "error", error=str(exc))
            except QuantkitError as exc:  # store failures: report and go on
                fr = FileReport(p, "error", error=f"{type(exc).__name__}: {exc}")
            report.files.append(fr)
            bar.update(os.path.getsize(p))
            bar.set_postfix(stored=f"{report.stored:,}", rejected=f"{len(report.rejected):,}", refresh=False)
    log.info("import: %s", str(report).splitlines()[0])
    return report


def _import_one(store: TickStore, path: str, kind: str, symbol: str | None, report: ImportReport) -> FileReport:
    if kind == "trades_csv":
        r = read_trades_csv(path, symbol=symbol)
        target = symbol or r.symbol
        if not target:
            raise DataFileError(path, "cannot tell the symbol from the file name; pass symbol=")
        res = _store_ticks(store, target, r)
        report.rejected.extend(r.rejected)
        return FileReport(
            path, kind, (target.upper(),), len(r.frame), res.stored, res.duplicates, res.out_of_order, len(r.rejected)
        )
    if kind == "capture":
        results = read_capture(path)
        fr = FileReport(path, kind)
        syms: list[str] = []
        for key, r in results.items():
            report.rejected.extend(r.rejected)
            fr.rejected += len(r.rejected)
            if r.frame.empty:
                continue
            target = key if symbol is None else (f"{symbol}@aggTrade" if r.stream == "aggTrade" else symbol)
            res = _store_ticks(store, target, r)
            syms.append(target)
            fr.rows += len(r.frame)
            fr.stored += res.stored
            fr.duplicates += res.duplicates
            fr.out_of_order += res.out_of_order
        fr.symbols = tuple(syms)
        return fr
    r = read_candles_csv(path, symbol=symbol)
    target = symbol or r.symbol
    if not target:
        raise DataFileError(path, "cannot tell the symbol from the file name; pass symbol=")
    if not r.interval:
        raise DataFileError(path, "cannot tell the candle interval (name it like BTCUSDT_1m.csv)")
    res = store.write_candles(target, r.interval, r.frame)
    report.rejected.extend(r.rejected)
    return FileReport(
        path,
        kind,
        (f"{target.upper()} ({r.interval} candles)",),
        len(r.frame),
        res.stored,
        res.duplicates,
        0,
        len(r.rejected),
    )
