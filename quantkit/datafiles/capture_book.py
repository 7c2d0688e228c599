"""Reader for the order book in raw WebSocket captures: REST depth snapshots and ``@depth`` diffs.

The same capture files as :func:`~quantkit.datafiles.read_capture` (``<recv_ns> <JSON>`` per
line): where that reader keeps the trades, this one keeps what a local order book is built from,
the REST ``depth`` snapshot line (``{"lastUpdateId":..,"bids":[..],"asks":[..]}``, no symbol: it
belongs to the file's depth stream) and the ``depthUpdate`` events with their sequencing (``U``,
``u`` and, on USD-M, ``pu``). ``@bookTicker`` lines are skipped: the best bid and ask are the
book's.

Prices and quantities are floats (the file's decimal strings); a level with quantity 0 leaves the
book. Malformed lines are counted in :attr:`CapturedBook.rejected`, never raised.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

import numpy as np
import orjson

from quantkit.datafiles._io import open_binary, stream_damage
from quantkit.datafiles.capture import line_json
from quantkit.errors import DataFileError

__all__ = ["CapturedBook", "DepthDiff", "read_capture_book"]

Levels = np.ndarray  # float64, shape (n, 2): price, quantity


@dataclass(frozen=True)
class DepthDiff:
    """One recorded ``depthUpdate`` event.

    Attributes:
        event_time: ``E``, ms since the epoch (UTC).
        first_id: ``U``, first update id in the event.
        last_id: ``u``, last update id in the event.
        prev_id: ``pu`` (USD-M: the previous event's ``u``), ``None`` on spot.
        bids: changed bid levels, (price, quantity) rows; quantity 0 removes the level.
        asks: changed ask levels.
    """

    event_time: int
    first_id: int
    last_id: int
    prev_id: int | None
    bids: Levels
    asks: Levels


@dataclass
class CapturedBook:
    """The recorded book of one symbol: a snapshot and the diffs after it, in update-id order.

    Attributes:
        symbol: upper-case symbol.
        market: ``"futures"`` when the diffs carry ``pu``, else ``"spot"``.
        snapshot_id: ``lastUpdateId`` of the REST snapshot; ``None`` when no file had one
            (the book cannot be built then).
        bids, asks: the snapshot's levels.
        diffs: ``depthUpdate`` events sorted by ``u``, duplicates dropped.
        rejected: malformed depth or snapshot lines.
        paths: files read.
    """

    symbol: str
    market: str = "spot"
    snapshot_id: int | None = None
    bids: Levels = field(default_factory=lambda: np.empty((0, 2)))
    asks: Levels = field(default_factory=lambda: np.empty((0, 2)))
    diffs: list[DepthDiff] = field(default_factory=list)
    rejected: int = 0
    paths: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """True when a book can be built: a snapshot and at least one diff after it."""
        return self.snapshot_id is not None and any(d.last_id > self.snapshot_id for d in self.diffs)

    def merge(self, other: "CapturedBook") -> None:
        """Add another file's recording of the same symbol (the earliest snapshot wins)."""
        if other.snapshot_id is not None and (self.snapshot_id is None or other.snapshot_id < self.snapshot_id):
            self.snapshot_id, self.bids, self.asks = other.snapshot_id, other.bids, other.asks
        seen = {d.last_id for d in self.diffs}
        self.diffs.extend(d for d in other.diffs if d.last_id not in seen)
        self.diffs.sort(key=lambda d: d.last_id)
        if other.market == "futures":
            self.market = "futures"
        self.rejected += other.rejected
        self.paths.extend(other.paths)


def _levels(rows: object) -> Levels:
    if type(rows) is not list:
        raise ValueError("levels: not a list")
    out = np.array(rows, dtype=np.float64).reshape(-1, 2) if rows else np.empty((0, 2))  # decimal strings
    if not np.isfinite(out).all() or (out < 0).any():
        raise ValueError("levels: bad number")
    return out


def read_capture_book(path: str | os.PathLike[str]) -> dict[str, CapturedBook]:
    """Read the book recording of a raw capture file (see the module docstring).

    Args:
        path: the capture file (gzip or plain).

    Returns:
        upper-case symbol -> its :class:`CapturedBook`; empty when the file has no depth events.
        A snapshot line is given to the file's only depth symbol (dropped, and counted as
        rejected, when the file has none or several).

    Raises:
        DataFileError: the file cannot be opened, or its compressed data is unreadable from the start.
    """
    spath = os.fspath(path)
    books: dict[str, CapturedBook] = {}
    snapshots: list[tuple[int, Levels, Levels]] = []
    bad = 0
    lineno = 0
    try:
        with open_binary(spath) as fh:
            for line in fh:
                lineno += 1
                depth = b"depthUpdate" in line
                if not depth and b"lastUpdateId" not in line:  # trades, bookTicker, blank
                    continue
                try:
                    msg = orjson.loads(line_json(line))
                    data = msg.get("data", msg)
                    if depth:
                        sym = str(data["s"]).upper()
                        pu = data.get("pu")
                        diff = DepthDiff(
                            int(data["E"]), int(data["U"]), int(data["u"]), None if pu is None else int(pu),
                            _levels(data["b"]), _levels(data["a"]),
                        )
                        book = books.get(sym)
                        if book is None:
                            book = books[sym] = CapturedBook(sym, paths=[spath])
                        if pu is not None:
                            book.market = "futures"
                        book.diffs.append(diff)
                    else:
                        snapshots.append((int(data["lastUpdateId"]), _levels(data["bids"]), _levels(data["asks"])))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                    bad += 1
            stream_damage(fh)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(spath, f"cannot read capture: {exc}", line=lineno + 1) from exc
    if snapshots:
        if len(books) == 1:
            book = next(iter(books.values()))
            sid, bids, asks = min(snapshots, key=lambda s: s[0])
            book.snapshot_id, book.bids, book.asks = sid, bids, asks
        else:
            bad += len(snapshots)
    for book in books.values():
        book.diffs.sort(key=lambda d: d.last_id)
    if books:
        next(iter(books.values())).rejected += bad
    return books

