"""``quantkit download``: fetch Binance's public archive and import each file as it arrives.

The archive side (layout, checksums, resume, retries) is :mod:`quantkit.feed.archive`; the import
is :func:`quantkit.store.import_files`, the same path and integrity rules as ``quantkit import``
(bad rows reported, ids/times already stored skipped: running the same download twice stores
nothing new). The store keeps a ledger of the files imported into it (archive path and sha256 per
target, ``_qk.records.archive__<target>``), so a second run does not even read them again, unless
their data has been deleted from the store since. Only verified files are imported; a file whose
checksum does not match, or that cannot be read as a whole, is refused and nothing from it is stored.

Klines use the archive's monthly file for every whole month and daily files for the other days;
``trades`` and ``aggTrades`` always use daily files (:data:`TICK_KINDS`): a month of a major pair's
trades is one file of 50-200 million rows, too large to import in one piece on a laptop, while a day
is a few million rows (and a cut-off download loses at most a day's file).

Where the rows go (names of :mod:`quantkit.symbols`):

=================  ============================  ==============================================
kind               spot ``BTCUSDT``              USD-M ``BTCUSDT``
=================  ============================  ==============================================
``trades``         ticks ``BTCUSDT``             ticks ``BTCUSDT_PERP``
``aggTrades``      ticks ``BTCUSDT@aggTrade``    ticks ``BTCUSDT_PERP@aggTrade``
``klines``         candles ``BTCUSDT`` (1m...)   candles ``BTCUSDT_PERP``
``fundingRate``    -                             ``TickStore.funding("BTCUSDT_PERP")``
=================  ============================  ==============================================
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd
from tqdm.auto import tqdm

from quantkit.config import default_data_dir
from quantkit.errors import SymbolNotFoundError
from quantkit.feed.archive import ARCHIVE_URL, ArchiveClient, ArchiveFile, FetchResult, plan_files
from quantkit.store import FileReport, ImportReport, TickStore, import_files
from quantkit.symbols import check_symbol, stored_name

__all__ = ["LEDGER_PREFIX", "TICK_KINDS", "DownloadReport", "FileOutcome", "default_archive_dir", "download", "store_target"]

log = logging.getLogger("quantkit.ingest")

_MAX_SHOWN = 30
#: Record tables of the archive files imported into a store: ``archive__<target>`` (see :class:`_Ledger`).
LEDGER_PREFIX = "archive__"
#: Kinds fetched as daily files even for whole months: a month of a major pair's trades is one file of
#: 50-200 million rows, and the import holds a file in memory (~250 bytes per row at its peak).
TICK_KINDS = frozenset({"trades", "aggTrades"})


def default_archive_dir() -> Path:
    """The local mirror of the archive: ``$QUANTKIT_DATA_DIR/archive`` (``~/.quantkit/archive``)."""
    return default_data_dir() / "archive"


def store_target(file: ArchiveFile) -> str:
    """The store name a file's rows go to (see the module docstring's table)."""
    if file.kind == "fundingRate":
        return file.symbol
    name = stored_name(file.symbol, "spot" if file.market == "spot" else "futures")
    return f"{name}@aggTrade" if file.kind == "aggTrades" else name


@dataclass
class FileOutcome:
    """One archive file: how it was fetched and what its import stored.

    Attributes:
        fetch: the archive client's result (status ``fetched``/``cached``/``missing``/``refused``).
        imported: the import's report of this file, ``None`` when not imported.
        refused: why nothing from this file was stored (checksum, network, unreadable), else ``None``.
        skipped: the same verified file (path and sha256) was imported into this store by an earlier
            run and its data is still there, so it was not read again.
    """

    fetch: FetchResult
    imported: FileReport | None = None
    refused: str | None = None
    skipped: bool = False


@dataclass
class DownloadReport:
    """The outcome of :func:`download`; ``str(report)`` is the summary the CLI prints.

    Attributes:
        files: one :class:`FileOutcome` per archive file, in plan order (monthly files that were
            missing are followed by their daily files).
        imports: the import reports (rejected rows with file and line are in them).
        seconds: wall time of the whole download and import.
        base_url: the archive.
        imported: whether files were imported (``False`` with ``--no-import``).
    """

    files: list[FileOutcome] = field(default_factory=list)
    imports: ImportReport = field(default_factory=ImportReport)
    seconds: float = 0.0
    base_url: str = ARCHIVE_URL
    imported: bool = True

    def _count(self, status: str) -> int:
        return sum(1 for f in self.files if f.fetch.status == status)

    @property
    def bytes(self) -> int:
        """Bytes received over the network."""
        return sum(f.fetch.bytes for f in self.files)

    @property
    def local_bytes(self) -> int:
        """Size of the verified zips (fetched or already in the mirror)."""
        return sum(f.fetch.path.stat().st_size for f in self.files if f.fetch.path is not None and f.fetch.path.exists())

    @property
    def missing(self) -> list[FileOutcome]:
        """Files the archive does not have (404)."""
        return [f for f in self.files if f.fetch.status == "missing"]

    @property
    def refused(self) -> list[FileOutcome]:
        """Files refused: checksum mismatch, network failure after retries, or unreadable."""
        return [f for f in self.files if f.refused is not None]

    @property
    def skipped(self) -> list[FileOutcome]:
        """Files imported into this store by an earlier run (not read again)."""
        return [f for f in self.files if f.skipped]

    @property
    def rows(self) -> int:
        """Good rows read from the imported files."""
        return self.imports.rows

    @property
    def stored(self) -> int:
        """Rows stored (0 when everything was already in the store)."""
        return self.imports.stored

    @property
    def ok(self) -> bool:
        """True when nothing was refused and at least one file was found."""
        return not self.refused and any(f.fetch.ok for f in self.files)

    def __str__(self) -> str:
        secs = max(self.seconds, 1e-9)
        mb = self.bytes / 1e6
        lines = [
            f"Downloaded {len(self.files)} file(s) from {self.base_url}: {self._count('fetched')} fetched, "
            f"{self._count('cached')} already verified, {self._count('missing')} missing, {len(self.refused)} refused; "
            f"{mb:,.1f} MB received in {self.seconds:,.1f} s ({mb / secs:,.1f} MB/s), "
            f"{self.local_bytes / 1e6:,.1f} MB verified on disk"
        ]
        if self.imported:
            rej = len(self.imports.rejected)
            lines.append(
                f"Imported {self.rows:,} rows: {self.stored:,} stored, {self.imports.duplicates:,} already stored, "
                f"{rej:,} rejected"
                + (f", {self.imports.out_of_order:,} out of order (not stored)" if self.imports.out_of_order else "")
                + f" ({self.rows / secs:,.0f} rows/s overall)"
                + (f"; {len(self.skipped)} file(s) already imported into this store" if self.skipped else "")
            )
            for sym, (rows, stored) in sorted(self._by_symbol().items()):
                lines.append(f"  {sym:<28} {rows:>12,} rows {stored:>12,} stored")
        shown = 0
        for f in self.files:
            if f.fetch.status != "missing" and f.refused is None:
                continue
            shown += 1
            if shown > _MAX_SHOWN:
                continue
            tag = "REFUSED" if f.refused is not None else "missing"
            lines.append(f"  {tag:<8} {f.fetch.file.path}: {f.refused or f.fetch.reason}")
        if shown > _MAX_SHOWN:
            lines.append(f"  ... and {shown - _MAX_SHOWN} more")
        if self.imported and self.imports.rejected:
            lines.append("Rejected rows:")
            lines.extend(f"  {r}" for r in self.imports.rejected[:20])
            if len(self.imports.rejected) > 20:
                lines.append(f"  ... and {len(self.imports.rejected) - 20:,} more")
        return "\n".join(lines)

    def _by_symbol(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for f in self.files:
            if f.imported is None:
                continue
            for sym in f.imported.symbols:
                rows, stored = out.get(sym, (0, 0))
                out[sym] = (rows + f.imported.rows, stored + f.imported.stored)
        return out


class _Ledger:
    """The archive files already imported into a store, kept in the store itself.

    One record table per store target (``archive__<target>``, written only by the download that
    imports into that target): archive path, sha256, rows read and stored. A file is skipped when
    its path and sha256 are recorded and the store still holds data of the file's period under the
    target (a deleted symbol is imported again).
    """

    def __init__(self, store: TickStore) -> None:
        self.store = store
        self._seen: dict[str, set[tuple[str, str]]] = {}
        self._ranges: dict[tuple[str, str | None], tuple[pd.Timestamp, pd.Timestamp]] | None = None

    @staticmethod
    def table(target: str) -> str:
        """Record table name of a target: ``archive__btcusdt_perp``."""
        return (LEDGER_PREFIX + re.sub(r"[^a-z0-9_]", "_", target.lower()))[:64]

    def _recorded(self, target: str) -> set[tuple[str, str]]:
        if target not in self._seen:
            t = self.store.read_records(self.table(target))
            ok = len(t) and {"file", "sha256"} <= set(t.columns)
            self._seen[target] = set(zip(t["file"].astype(str), t["sha256"].astype(str))) if ok else set()
        return self._seen[target]

    def _held(self, file: ArchiveFile, target: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        if file.kind == "fundingRate":
            try:
                f = self.store.funding(target)
            except SymbolNotFoundError:
                return None
            return (f.index[0], f.index[-1]) if len(f) else None
        if self._ranges is None:
            cat = self.store.symbols()
            self._ranges = {
                (str(r.symbol), None if r.kind == "ticks" else str(r.interval)): (r.first, r.last)
                for r in cat.itertuples()
            }
        return self._ranges.get((target, file.interval if file.kind == "klines" else None))

    def imported(self, res: FetchResult, target: str) -> bool:
        """True when this verified file was imported into the store before and its data is still there."""
        if res.sha256 is None or (res.file.path, res.sha256) not in self._recorded(target):
            return False
        held = self._held(res.file, target)
        if held is None:
            return False
        first = pd.Timestamp(res.file.first_day, tz="UTC")
        last = first + (pd.DateOffset(months=1) if res.file.period == "monthly" else pd.Timedelta(days=1))
        return bool(held[0] < last and held[1] >= first)

    def record(self, res: FetchResult, target: str, fr: FileReport) -> None:
        """Note a file imported without error."""
        if res.sha256 is None:
            return
        row = pd.DataFrame(
            {"file": [res.file.path], "sha256": [res.sha256], "rows": [int(fr.rows)], "stored": [int(fr.stored)]},
            index=pd.DatetimeIndex([pd.Timestamp.now(tz="UTC")], name="time"),
        )
        self.store.write_records(self.table(target), row)
        self._recorded(target).add((res.file.path, res.sha256))


def _missing_reason(file: ArchiveFile, today: dt.date) -> str:
    last_day = file.first_day
    if file.period == "monthly":
        nxt = (last_day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last_day = nxt - dt.timedelta(days=1)
        if last_day >= today - dt.timedelta(days=1) or (today - last_day).days <= 7:
            return "not published yet (a month's file appears early in the next month)"
    elif last_day >= today - dt.timedelta(days=1):
        return "not published yet (daily files appear the next day)"
    return "not in the archive (404): the symbol did not trade then, or has another name"


def download(
    symbols: str | Sequence[str],
    *,
    market: str,
    kind: str,
    start: dt.date | str,
    end: dt.date | str,
    interval: str | None = None,
    store: TickStore | None = None,
    dest: str | os.PathLike[str] | None = None,
    base_url: str = ARCHIVE_URL,
    import_: bool = True,
    jobs: int = 4,
    progress: bool = True,
    timeout: float = 30.0,
    retries: int = 5,
    backoff_initial: float = 0.5,
    backoff_max: float = 20.0,
    today: dt.date | None = None,
) -> DownloadReport:
    """Download archive files for a date range and import each verified file as it arrives.

    Args:
        symbols: exchange symbols, ``"BTCUSDT,ETHUSDT"`` or a sequence.
        market: ``"spot"`` or ``"um"`` (USD-M futures).
        kind: ``"trades"``, ``"aggTrades"``, ``"klines"`` or ``"fundingRate"`` (``um`` only).
        start: first day (UTC), a date or ``"YYYY-MM-DD"``.
        end: the day after the last day (UTC), exclusive, like ``--end`` everywhere in quantkit
            (``start="2024-01-01", end="2024-02-01"`` is January).
        interval: kline interval (``"1m"``...), required for ``klines``.
        store: where to import; ``None`` opens the default store (``QUANTKIT_ARCTIC_URI``).
        dest: the local mirror; ``None``: :func:`default_archive_dir`.
        base_url: the archive root (default ``https://data.binance.vision``; a mirror with the same
            layout works).
        import_: ``False`` only downloads and verifies (``--no-import``).
        jobs: parallel downloads (>= 1). Default 4.
        progress: show tqdm bars for files and bytes.
        timeout: seconds without progress before a request is retried.
        retries: attempts per request on timeouts, dropped connections, 429 and 5xx.
        backoff_initial: first retry delay cap, seconds (doubles up to ``backoff_max``).
        backoff_max: largest retry delay cap, seconds.
        today: the current UTC day (only for the "not published yet" hint); ``None``: now.

    Returns:
        A :class:`DownloadReport`; ``print(report)`` shows the summary, ``report.ok`` is False when
        anything was refused or nothing was found.

    Raises:
        ValueError: bad symbols, market, kind, interval, dates or jobs (the message names the value).
        StoreError: the store cannot be opened or written (files already imported stay stored).

    Examples:
        >>> report = download("BTCUSDT,ETHUSDT", market="um", kind="klines", interval="1m",
        ...                   start="2024-01-01", end="2024-02-01")  # doctest: +SKIP
        >>> print(report)  # doctest: +SKIP
    """
    syms = [check_symbol(s) for s in (symbols.split(",") if isinstance(symbols, str) else symbols) if s.strip()]
    if not syms:
        raise ValueError(f"symbols={symbols!r}: name at least one symbol, e.g. BTCUSDT")
    if any("@" in s or "_" in s for s in syms):
        bad = next(s for s in syms if "@" in s or "_" in s)
        raise ValueError(f"symbol {bad!r}: give the exchange's name (e.g. BTCUSDT); --market and --kind choose the rest")
    d0, d_end = _date(start, "start"), _date(end, "end")
    if d_end <= d0:
        raise ValueError(f"end={end!r}: must be after start={start!r} (end is exclusive: the day after the last day)")
    d1 = d_end - dt.timedelta(days=1)  # the planner counts days inclusively
    plan = plan_files(syms, market, kind, d0, d1, interval=interval, monthly=kind not in TICK_KINDS)
    if jobs < 1:
        raise ValueError(f"jobs={jobs!r}: must be >= 1")
    if import_ and store is None:
        store = TickStore()
    ledger = _Ledger(store) if import_ and store is not None else None
    today = today or dt.datetime.now(dt.timezone.utc).date()
    report = DownloadReport(base_url=base_url.rstrip("/"), imported=import_)
    t0 = time.perf_counter()
    lock = threading.Lock()
    with tqdm(total=len(plan), unit="file", desc="files", disable=not progress, position=0) as files_bar, tqdm(
        total=None, unit="B", unit_scale=True, desc="bytes", disable=not progress, position=1
    ) as bytes_bar:

        def on_bytes(n: int) -> None:
            with lock:
                bytes_bar.update(n)

        with ArchiveClient(
            dest if dest is not None else default_archive_dir(),
            base_url=base_url,
            timeout=timeout,
            retries=retries,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            on_bytes=on_bytes if progress else None,
        ) as client:
            todo: list[ArchiveFile] = plan
            while todo:
                fallback: list[ArchiveFile] = []
                for res in client.fetch_all(todo, jobs=jobs):
                    outcome = _handle(res, ledger, report, today)
                    report.files.append(outcome)
                    if res.status == "missing" and res.file.period == "monthly" and res.file.kind != "fundingRate":
                        days = _days_of(res.file, d0, d1)
                        fallback.extend(days)
                        files_bar.total = (files_bar.total or 0) + len(days)
                    files_bar.set_postfix(stored=f"{report.stored:,}", refused=len(report.refused), refresh=False)
                    files_bar.update(1)
                todo = fallback
    report.seconds = time.perf_counter() - t0
    log.debug("download: %s", str(report).splitlines()[0])
    return report


def _days_of(monthly: ArchiveFile, start: dt.date, end: dt.date) -> list[ArchiveFile]:
    """The daily files of a monthly file's days inside ``[start, end]`` (used when the month is not published)."""
    first = monthly.first_day
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    lo, hi = max(first, start), min(last, end)
    return [
        ArchiveFile(monthly.market, monthly.kind, monthly.symbol, "daily", (lo + dt.timedelta(days=i)).isoformat(), monthly.interval)
        for i in range((hi - lo).days + 1)
    ]


def _handle(res: FetchResult, ledger: _Ledger | None, report: DownloadReport, today: dt.date) -> FileOutcome:
    if res.status == "missing":
        fallback = " (its days are fetched as daily files)" if res.file.period == "monthly" and res.file.kind != "fundingRate" else ""
        res = FetchResult(res.file, res.status, res.path, res.bytes, _missing_reason(res.file, today) + fallback, res.attempts)
        log.debug("download: %s: %s", res.file.name, res.reason)  # listed in the summary
        return FileOutcome(res)
    if res.status == "refused":
        log.warning("download: %s refused: %s", res.file.name, res.reason)
        return FileOutcome(res, refused=res.reason)
    if ledger is None or res.path is None:
        return FileOutcome(res)
    target = store_target(res.file)
    if ledger.imported(res, target):
        return FileOutcome(res, skipped=True)
    rep = import_files(ledger.store, [res.path], symbol=target, progress=False)
    report.imports.files.extend(rep.files)
    report.imports.rejected.extend(rep.rejected)
    fr = rep.files[0] if rep.files else None
    if fr is not None and fr.error is not None:
        log.warning("download: %s refused: %s", res.file.name, fr.error)
        return FileOutcome(res, fr, refused=f"unreadable: {fr.error}")
    if fr is not None:
        ledger.record(res, target, fr)
    return FileOutcome(res, fr)


def _date(value: dt.date | str, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a day such as 2024-01-31") from None

