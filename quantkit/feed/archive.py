"""Binance's public data archive (``data.binance.vision``): file layout and verified, resumable downloads.

Layout, as the archive serves it::

    data/<spot|futures/um>/<daily|monthly>/<kind>/<SYMBOL>/[<interval>/]<SYMBOL>-<kind or interval>-<YYYY-MM[-DD]>.zip

and next to each zip a ``.zip.CHECKSUM`` file holding ``<sha256 hex>  <file name>``. Daily files
appear the day after, a month's file early in the next month; ``fundingRate`` is monthly only.

:func:`plan_files` turns a date range into files (monthly for whole months, daily for the rest);
:class:`ArchiveClient` fetches them into a local mirror of that layout:

* every zip is verified against its checksum; a mismatch is fetched once more (checksum too) and
  then refused; a zip that matches its checksum but fails its own CRC check (the archive's copy is
  damaged) is refused too; only verified files get their final name;
* a verified file already in the mirror is never fetched again; a partial one (``.part``) is
  resumed with an HTTP ``Range`` request;
* timeouts, dropped connections, 429 and 5xx are retried with capped exponential backoff;
  a 404 is a missing file (not published yet, or a symbol that did not trade then).

Thread-safe: one ``httpx.Client`` (connection reuse) serves all workers.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import logging
import os
import threading
import zipfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import httpx

from quantkit._files import atomic_write_text
from quantkit.feed.backoff import Backoff

__all__ = [
    "ARCHIVE_URL",
    "FETCH_STATUSES",
    "KINDS",
    "KLINE_INTERVALS",
    "MARKETS",
    "ArchiveClient",
    "ArchiveFile",
    "FetchResult",
    "parse_checksum",
    "plan_files",
    "sha256_file",
    "zip_damage",
]

log = logging.getLogger("quantkit.feed")

#: The public archive.
ARCHIVE_URL = "https://data.binance.vision"
#: Markets: ``spot`` and ``um`` (USD-M futures), with their path in the archive.
MARKETS: dict[str, str] = {"spot": "spot", "um": "futures/um"}
#: Kinds of file, with the markets that have them.
KINDS: dict[str, tuple[str, ...]] = {
    "trades": ("spot", "um"),
    "aggTrades": ("spot", "um"),
    "klines": ("spot", "um"),
    "fundingRate": ("um",),
}
#: Kline intervals of the archive that quantkit stores (``1s`` is spot only; ``1mo`` is not stored).
KLINE_INTERVALS: tuple[str, ...] = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
)  # fmt: skip
#: What :attr:`FetchResult.status` can be.
FETCH_STATUSES: tuple[str, ...] = ("fetched", "cached", "missing", "refused")

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveFile:
    """One zip of the archive.

    Attributes:
        market: ``"spot"`` or ``"um"``.
        kind: ``"trades"``, ``"aggTrades"``, ``"klines"`` or ``"fundingRate"``.
        symbol: the exchange symbol, upper-case (``"BTCUSDT"``).
        period: ``"daily"`` or ``"monthly"``.
        date: ``"YYYY-MM-DD"`` (daily) or ``"YYYY-MM"`` (monthly).
        interval: kline interval (``"1m"``), ``None`` for other kinds.
    """

    market: str
    kind: str
    symbol: str
    period: str
    date: str
    interval: str | None = None

    @property
    def name(self) -> str:
        """File name, e.g. ``BTCUSDT-1m-2024-01-01.zip``."""
        label = self.interval if self.kind == "klines" else self.kind
        return f"{self.symbol}-{label}-{self.date}.zip"

    @property
    def path(self) -> str:
        """Path below the archive root, e.g. ``data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip``."""
        parts = ["data", MARKETS[self.market], self.period, self.kind, self.symbol]
        if self.kind == "klines":
            parts.append(str(self.interval))
        return "/".join(parts + [self.name])

    @property
    def first_day(self) -> dt.date:
        """The first day the file covers."""
        y, m, *d = (int(x) for x in self.date.split("-"))
        return dt.date(y, m, d[0] if d else 1)


@dataclass(frozen=True)
class FetchResult:
    """What :meth:`ArchiveClient.fetch` did with one file.

    Attributes:
        file: the file.
        status: ``"fetched"`` (downloaded and verified), ``"cached"`` (verified copy already in the
            mirror), ``"missing"`` (404) or ``"refused"`` (checksum mismatch twice, or the network
            failed after every retry).
        path: the verified local zip (``None`` unless fetched or cached).
        bytes: bytes received over the network for this file (resumed parts count once).
        reason: why it is missing or refused, else ``None``.
        attempts: HTTP requests made for the zip.
        sha256: the verified file's sha256 (hex), ``None`` unless fetched or cached.
    """

    file: ArchiveFile
    status: str
    path: Path | None = None
    bytes: int = 0
    reason: str | None = None
    attempts: int = 0
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        """True when a verified local copy exists."""
        return self.status in ("fetched", "cached")


def _month_end(y: int, m: int) -> dt.date:
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def plan_files(
    symbols: Sequence[str],
    market: str,
    kind: str,
    start: dt.date,
    end: dt.date,
    *,
    interval: str | None = None,
    monthly: bool = True,
) -> list[ArchiveFile]:
    """The archive files covering the days ``start`` .. ``end`` (both inclusive).

    Whole calendar months inside the range use the monthly file (unless ``monthly=False``), the
    remaining days daily files. ``fundingRate`` exists monthly only: every month the range touches.

    Args:
        symbols: exchange symbols (``"BTCUSDT"``), upper-cased here.
        market: ``"spot"`` or ``"um"``.
        kind: one of :data:`KINDS`.
        start: first day (UTC).
        end: last day (UTC), inclusive.
        interval: kline interval (required for ``klines``, see :data:`KLINE_INTERVALS`).
        monthly: use monthly files for whole months (default); ``False``: daily files only.

    Returns:
        Files ordered by symbol, then time.

    Raises:
        ValueError: unknown market, kind or interval, a kind the market lacks, or ``start > end``.
    """
    if market not in MARKETS:
        raise ValueError(f"market={market!r}: expected one of {', '.join(MARKETS)}")
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(KINDS)}")
    if market not in KINDS[kind]:
        raise ValueError(f"kind={kind!r} exists for market {' / '.join(KINDS[kind])} only, not {market!r}")
    if kind == "klines":
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"interval={interval!r}: expected one of {', '.join(KLINE_INTERVALS)}")
        if interval == "1s" and market != "spot":
            raise ValueError("interval='1s' klines exist for spot only")
    else:
        interval = None
    if start > end:
        raise ValueError(f"start={start.isoformat()} is after end={end.isoformat()}")
    spans: list[tuple[str, str]] = []  # (period, date label)
    day = start
    while day <= end:
        month_end = _month_end(day.year, day.month)
        if kind == "fundingRate" or (monthly and day.day == 1 and month_end <= end):
            spans.append(("monthly", f"{day.year:04d}-{day.month:02d}"))
            day = month_end + dt.timedelta(days=1)
        else:
            spans.append(("daily", day.isoformat()))
            day += dt.timedelta(days=1)
    return [
        ArchiveFile(market, kind, sym.strip().upper(), period, label, interval)
        for sym in symbols
        for period, label in spans
    ]


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def zip_damage(path: str | os.PathLike[str]) -> str | None:
    """``None`` when ``path`` is a readable zip whose members all pass their CRC check, else what is wrong.

    Reads (decompresses) every member once.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            if not zf.infolist():
                return "the zip holds no file"
            bad = zf.testzip()
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if bad is None else f"bad CRC-32 in {bad}"


def parse_checksum(text: str) -> str:
    """The sha256 hex from a ``.CHECKSUM`` file's text (``"<hex>  <name>"``).

    Raises:
        ValueError: no 64-digit hex value first on the line.
    """
    word = text.strip().split()[0].lower() if text.strip() else ""
    if len(word) != 64 or any(c not in "0123456789abcdef" for c in word):
        raise ValueError(f"not a sha256 checksum: {text[:100]!r}")
    return word


class _Missing(Exception):
    """404 from the archive."""


class _GiveUp(Exception):
    """Retries exhausted or a non-retryable answer."""


class ArchiveClient:
    """Fetch archive files into a local mirror, verified and resumable.

    Args:
        dest: the mirror's root folder (the archive's ``data/...`` layout is kept below it).
        base_url: archive root, default :data:`ARCHIVE_URL` (a mirror with the same layout works).
        timeout: seconds without progress (connect, or between reads) before a request is retried.
        retries: attempts per request for timeouts, dropped connections, 429 and 5xx (>= 1).
        backoff_initial: cap of the first retry delay, seconds; it doubles up to ``backoff_max``.
        backoff_max: cap of every retry delay, seconds.
        on_bytes: called with the number of bytes after every chunk received (progress bars);
            called from worker threads.

    Raises:
        ValueError: a bad argument (the message names it).

    Examples:
        >>> files = plan_files(["BTCUSDT"], "um", "klines", dt.date(2024, 1, 1), dt.date(2024, 1, 31), interval="1m")
        >>> [f.path for f in files]
        ['data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip']
        >>> with ArchiveClient("/tmp/archive") as client:  # doctest: +SKIP
        ...     result = client.fetch(files[0])
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        base_url: str = ARCHIVE_URL,
        timeout: float = 30.0,
        retries: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url={base_url!r}: expected an http:// or https:// URL")
        if retries < 1:
            raise ValueError(f"retries={retries!r}: must be >= 1")
        if not timeout > 0:
            raise ValueError(f"timeout={timeout!r}: must be > 0 seconds")
        self.dest = Path(dest)
        self.base_url = base_url.rstrip("/")
        self.retries = int(retries)
        self._backoff = (float(backoff_initial), float(backoff_max))
        Backoff(*self._backoff)  # validates the bounds
        self._on_bytes = on_bytes
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            headers={"User-Agent": "quantkit-download", "Accept-Encoding": "identity"},
        )
        self._closed = threading.Event()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._closed.set()
        self._client.close()

    def __enter__(self) -> "ArchiveClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, file: ArchiveFile) -> str:
        """The file's URL on this archive."""
        return f"{self.base_url}/{file.path}"

    def local_path(self, file: ArchiveFile) -> Path:
        """Where the verified file lives in the mirror."""
        return self.dest / file.path

    # ------------------------------------------------------------------ one file

    def fetch(self, file: ArchiveFile) -> FetchResult:
        """Fetch and verify one file (or find its verified copy in the mirror).

        Never raises for network or archive problems: they become a ``"missing"`` or ``"refused"``
        result with a reason.
        """
        local = self.local_path(file)
        sums = local.with_name(local.name + ".CHECKSUM")
        part = local.with_name(local.name + ".part")
        if local.exists() and sums.exists():
            try:
                digest = sha256_file(local)
                if digest == parse_checksum(sums.read_text()):
                    return FetchResult(file, "cached", local, sha256=digest)
            except (OSError, ValueError):
                pass
            log.info("archive: %s does not match its checksum any more; fetching it again", local)
        for leftover in (local, sums):
            leftover.unlink(missing_ok=True)
        local.parent.mkdir(parents=True, exist_ok=True)
        url = self.url(file)
        received = 0
        attempts = 0
        got = ""
        for round_ in (1, 2):  # a checksum mismatch is fetched once more, then refused
            try:
                text = self._get_text(url + ".CHECKSUM")
                expected = parse_checksum(text)
                n, a = self._get_file(url, part)
                received += n
                attempts += a
            except _Missing as exc:
                return FetchResult(file, "missing", None, received, f"not in the archive ({exc})", attempts)
            except ValueError as exc:
                return FetchResult(file, "refused", None, received, f"bad checksum file: {exc}", attempts)
            except _GiveUp as exc:
                return FetchResult(file, "refused", None, received, str(exc), attempts)
            got = sha256_file(part)
            if got == expected:
                damage = zip_damage(part)
                if damage is not None:  # the archive's own copy is bad: fetching it again would not help
                    part.unlink(missing_ok=True)
                    return FetchResult(file, "refused", None, received, f"damaged zip (its checksum matches): {damage}", attempts)
                os.replace(part, local)
                atomic_write_text(sums, text)
                return FetchResult(file, "fetched", local, received, None, attempts, sha256=got)
            part.unlink(missing_ok=True)
            log.warning("archive: %s: sha256 %s does not match the checksum %s (round %d)", url, got, expected, round_)
        return FetchResult(
            file, "refused", None, received, f"sha256 mismatch twice (got {got[:12]}..., checksum {expected[:12]}...)", attempts
        )

    # ------------------------------------------------------------------ many files

    def fetch_all(self, files: Sequence[ArchiveFile], *, jobs: int = 4) -> Iterator[FetchResult]:
        """Fetch ``files`` with ``jobs`` parallel downloads, yielding results in the order of ``files``.

        Later files keep downloading while the caller handles an earlier result (e.g. imports it).
        When the caller stops iterating early (an exception, Ctrl-C), running downloads are aborted
        (their partial files are kept and resumed next time) and this client is closed for new requests.

        Raises:
            ValueError: ``jobs`` < 1.
        """
        if jobs < 1:
            raise ValueError(f"jobs={jobs!r}: must be >= 1")
        if not files:
            return
        with ThreadPoolExecutor(max_workers=min(jobs, len(files)), thread_name_prefix="quantkit-archive") as pool:
            futures: list[Future[FetchResult]] = [pool.submit(self.fetch, f) for f in files]
            done = False
            try:
                for fut in futures:
                    yield fut.result()
                done = True
            finally:
                if not done:  # the caller stopped (Ctrl-C, an error): abort running downloads, keep their parts
                    self._closed.set()
                    for fut in futures:
                        fut.cancel()

    # ------------------------------------------------------------------ HTTP

    def _sleep(self, backoff: Backoff) -> None:
        delay = backoff.next_delay()
        if self._closed.wait(delay):
            raise _GiveUp("client closed")

    def _get_text(self, url: str) -> str:
        backoff = Backoff(*self._backoff)
        last = ""
        for _ in range(self.retries):
            try:
                r = self._client.get(url)
            except httpx.TransportError as exc:  # timeouts, refused, reset
                last = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code == 404:
                    raise _Missing(f"404 for {url}")
                if r.status_code == 200:
                    return r.text
                last = f"HTTP {r.status_code}"
                if r.status_code != 429 and r.status_code < 500:
                    raise _GiveUp(f"{url}: {last}")
            self._sleep(backoff)
        raise _GiveUp(f"{url}: {last} after {self.retries} attempts")

    def _get_file(self, url: str, part: Path) -> tuple[int, int]:
        """Download ``url`` into ``part``, resuming what is there. Returns (bytes received, requests)."""
        backoff = Backoff(*self._backoff)
        received = 0
        last = ""
        for attempt in range(1, self.retries + 1):
            have = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with self._client.stream("GET", url, headers=headers) as r:
                    if r.status_code == 404:
                        raise _Missing(f"404 for {url}")
                    if r.status_code == 416:  # our part is not a prefix of theirs: start over
                        part.unlink(missing_ok=True)
                        last = "HTTP 416"
                        continue
                    if r.status_code not in (200, 206):
                        last = f"HTTP {r.status_code}"
                        if r.status_code != 429 and r.status_code < 500:
                            raise _GiveUp(f"{url}: {last}")
                    else:
                        mode = "ab" if r.status_code == 206 and have else "wb"
                        if mode == "ab" and not r.headers.get("content-range", "").startswith(f"bytes {have}-"):
                            mode = "wb"  # not the range we asked for
                            if r.status_code == 206:
                                part.unlink(missing_ok=True)
                                last = "unexpected Content-Range"
                                continue
                        with open(part, mode) as fh:
                            for chunk in r.iter_raw():  # as received: a dropped connection keeps every byte so far
                                if self._closed.is_set():
                                    raise _GiveUp(f"{url}: stopped (the partial file is kept for resuming)")
                                fh.write(chunk)
                                received += len(chunk)
                                if self._on_bytes is not None:
                                    self._on_bytes(len(chunk))
                        return received, attempt
            except httpx.TransportError as exc:  # timeouts, dropped connections, refused
                last = f"{type(exc).__name__}: {exc}"
                log.info("archive: %s: %s (attempt %d, %d bytes so far)", url, last, attempt, received)
            self._sleep(backoff)
        raise _GiveUp(f"{url}: {last} after {self.retries} attempts")
