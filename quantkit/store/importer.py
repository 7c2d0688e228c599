"""Import data files (trades CSV, raw captures, candle CSVs) into a :class:`TickStore`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Union

import numpy as np
from tqdm.auto import tqdm

from quantkit.datafiles import (
    ReadResult,
    RejectedRow,
    read_aggtrades_csv,
    read_candles_csv,
    read_capture,
    read_funding_csv,
    read_trades_csv,
    sniff,
)
from quantkit.datafiles._io import first_lines
from quantkit.errors import DataFileError, QuantkitError
from quantkit.store.results import AppendResult
from quantkit.symbols import check_symbol, stored_name
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
        kind: one of :data:`quantkit.datafiles.FILE_KINDS`, or ``"error"`` when unreadable.
        symbols: store symbols written (candles as ``"SYMBOL (1m candles)"``, funding as
            ``"SYMBOL (funding)"``).
        rows: good rows read.
        stored: rows stored.
        duplicates: rows already in the store (or repeated).
        out_of_order: tick rows that could not be placed (see :class:`AppendResult`).
        rejected: bad rows and conflicts (details in :attr:`ImportReport.rejected`).
        error: why the file could not be imported at all, else ``None``.
        conflicts: rows refused because they differ from what the store holds for their key (a
            trade id, a candle open time); included in ``rejected``.
        damage: where a damaged compressed file broke (its readable part is imported), else ``None``.
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
    conflicts: int = 0
    damage: str | None = None

    @property
    def complete(self) -> bool:
        """True when the file was read to its end and every row was stored or already stored."""
        return self.error is None and self.damage is None and not self.rejected and not self.out_of_order


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

    @property
    def complete(self) -> bool:
        """True when every file was read to its end and every row was stored or already stored."""
        return all(f.complete for f in self.files)

    @property
    def conflicts(self) -> int:
        """Rows refused because the store holds other values for their key, all files."""
        return sum(f.conflicts for f in self.files)

    def __str__(self) -> str:
        lines = [
            f"Imported {len(self.files)} file(s): {self.rows:,} rows read, {self.stored:,} stored, "
            f"{self.duplicates:,} duplicates, {len(self.rejected):,} rejected"
            + (f" ({self.conflicts:,} conflicts with stored data)" if self.conflicts else "")
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
            if f.damage is not None:
                lines.append(f"  DAMAGED {f.path}: {f.damage}")
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
        if kind in ("trades_csv", "aggtrades_csv") and first:
            row = first[1] if not first[0][:1].isdigit() and len(first) > 1 else first[0]
            t = int(row.split(",")[4 if kind == "trades_csv" else 5])
            return t // 1000 if t >= 10**14 else t
    except (ValueError, IndexError, DataFileError):
        pass
    return 0


def _store_ticks(store: TickStore, symbol: str, result: ReadResult, replace: bool = False) -> AppendResult:
    total = AppendResult(0, 0)
    frame = result.frame
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        total = total + store.insert_ticks(symbol, chunk, market=result.market, replace=replace)
    if total.stored:
        store.maintain(symbol)  # compact, and build the 1-minute bar cache for the imported history
    return total


def import_files(
    store: TickStore,
    paths: PathLike | Iterable[PathLike],
    *,
    symbol: str | None = None,
    progress: bool = True,
    replace: bool = False,
) -> ImportReport:
    """Import trades/aggTrades CSVs, raw captures, candle CSVs and funding-rate CSVs into ``store``.

    Each file's layout is detected (:func:`quantkit.datafiles.sniff`); directories are searched
    recursively and files in them that are not data files (README, licences) are skipped, while a
    file named explicitly that is not a data file is reported as failed. Tick files are imported oldest first; ticks go through
    :meth:`TickStore.insert_ticks`, so ids already stored are skipped (importing the same file twice
    stores nothing) and older files can be imported after newer ones. Candles go through
    :meth:`TickStore.write_candles` and funding rates through :meth:`TickStore.write_funding`;
    aggTrades files go to ``"<symbol>@aggTrade"`` (aggregate ids are not trade ids). The market of tick files (spot/futures) is recorded per symbol.
    A futures file (USD-M: an ``um_``/``usdm_`` name or the futures layout) is stored under its
    perpetual's name by :mod:`quantkit.symbols` (``BTCUSDT`` -> ``BTCUSDT_PERP``, COIN-M ``BTCUSD_PERP``
    unchanged), so a coin's spot and perpetual files land side by side; ticks of the other market
    than a symbol's recorded one are refused with a hint, because their trade ids are unrelated. Bad rows are reported, good rows are stored; a file that cannot
    be read at all is reported in :attr:`ImportReport.errors` and the others are still imported.

    Concurrency: the import is a writer; do not import into a symbol that a live ingest is writing.

    Args:
        store: the target store.
        paths: files and/or directories.
        symbol: store everything under this symbol (captures' aggTrade streams become
            ``"<symbol>@aggTrade"``); ``None`` takes each file's own symbol (file name or data).
        progress: show a tqdm progress bar (bytes of input files).
        replace: let rows that differ from the stored row of their key (trade id, candle open time)
            replace it. Default: such rows are refused as ``conflict`` and reported with file and line.

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
    with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="import", disable=not progress or not todo, leave=True) as bar:
        for p in todo:
            kind = kinds[p]
            try:
                fr = _import_one(store, p, kind, symbol, report, replace)
            except (DataFileError, ValueError) as exc:
                fr = FileReport(p, "error", error=str(exc))
            except QuantkitError as exc:  # store failures: report and go on
                fr = FileReport(p, "error", error=f"{type(exc).__name__}: {exc}")
            report.files.append(fr)
            bar.update(os.path.getsize(p))
            bar.set_postfix(stored=f"{report.stored:,}", rejected=f"{len(report.rejected):,}", refresh=False)
    log.debug("import: %s", str(report).splitlines()[0])  # the caller prints the report (once)
    return report


def _refused(result: ReadResult, res: AppendResult, by_id: bool) -> list[RejectedRow]:
    """The rows of ``result`` that the store refused as conflicts, with their file and line."""
    if not res.conflicts:
        return []
    keys = result.frame["trade_id"].to_numpy() if by_id else result.frame.index.asi8
    hit = np.flatnonzero(np.isin(keys, np.array(res.conflicts, dtype=np.int64)))
    lines = result.row_lines if result.row_lines is not None else np.zeros(len(keys), dtype=np.int64)
    return [RejectedRow(result.path, int(lines[i]), "conflict") for i in hit]


def _account(fr: FileReport, report: ImportReport, result: ReadResult, res: AppendResult, by_id: bool) -> None:
    """Add one read-and-store outcome to the file's report and the import's rejected rows."""
    conflicts = _refused(result, res, by_id)
    rejected = sorted(result.rejected + conflicts, key=lambda r: r.line)
    report.rejected.extend(rejected)
    fr.rows += len(result.frame)
    fr.stored += res.stored
    fr.duplicates += res.duplicates + result.duplicates
    fr.out_of_order += res.out_of_order
    fr.rejected += len(rejected)
    fr.conflicts += len(conflicts)
    fr.damage = fr.damage or result.damage


def _stored(name: str | None, market: str | None) -> str | None:
    """The stored name of a file's own symbol: a futures file's goes to the perpetual's name
    (``BTCUSDT`` -> ``BTCUSDT_PERP``, :func:`quantkit.symbols.stored_name`), as ``quantkit download`` stores it."""
    if not name:
        return name
    return stored_name(name, "futures") if market == "futures" else name


def _import_one(
    store: TickStore, path: str, kind: str, symbol: str | None, report: ImportReport, replace: bool = False
) -> FileReport:
    if kind in ("trades_csv", "aggtrades_csv"):
        r = (read_trades_csv if kind == "trades_csv" else read_aggtrades_csv)(path, symbol=symbol)
        target = symbol or _stored(r.symbol, r.market)
        if not target:
            raise DataFileError(path, "cannot tell the symbol from the file name; pass symbol=")
        if r.stream == "aggTrade":
            target = f"{target.partition('@')[0]}@aggTrade"  # aggregate ids are not trade ids
        res = _store_ticks(store, target, r, replace)
        fr = FileReport(path, kind, (check_symbol(target),))
        _account(fr, report, r, res, by_id=True)
        return fr
    if kind == "capture":
        results = read_capture(path)
        fr = FileReport(path, kind)
        syms: list[str] = []
        for key, r in results.items():
            res = AppendResult(0, 0)
            if not r.frame.empty:
                target = (_stored(key, r.market) or key) if symbol is None else (
                    f"{symbol}@aggTrade" if r.stream == "aggTrade" else symbol)
                res = _store_ticks(store, target, r, replace)
                syms.append(target)
            _account(fr, report, r, res, by_id=True)
        fr.symbols = tuple(syms)
        return fr
    if kind == "funding_csv":
        fr_ = read_funding_csv(path, symbol=symbol)
        contract = symbol or fr_.symbol
        if not contract:
            raise DataFileError(path, "cannot tell the contract from the file name; pass symbol=")
        res = store.write_funding(contract, fr_.frame)
        report.rejected.extend(fr_.rejected)
        return FileReport(
            path, kind, (f"{contract.upper()} (funding)",), len(fr_.frame), res.stored, res.duplicates, 0, len(fr_.rejected)
        )
    r = read_candles_csv(path, symbol=symbol)
    target = symbol or _stored(r.symbol, r.market)
    if not target:
        raise DataFileError(path, "cannot tell the symbol from the file name; pass symbol=")
    if not r.interval:
        raise DataFileError(path, "cannot tell the candle interval (name it like BTCUSDT_1m.csv)")
    res = store.write_candles(target, r.interval, r.frame, replace=replace)
    fr = FileReport(path, kind, (f"{target.upper()} ({r.interval} candles)",))
    _account(fr, report, r, res, by_id=False)
    return fr
