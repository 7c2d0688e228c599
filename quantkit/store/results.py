"""Small value objects returned or taken by :class:`quantkit.store.TickStore`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AppendResult", "MaintenancePolicy", "MaintenanceReport"]


@dataclass(frozen=True)
class AppendResult:
    """What a write stored.

    Attributes:
        stored: rows written.
        duplicates: rows not written because their key (trade id for ticks, open time for
            identical candles) is already stored or repeats within the batch.
        out_of_order: tick rows not written because they cannot be placed after the stored
            data: a new trade id whose time is earlier than the last stored tick (``append_ticks``
            keeps id order and time order identical).
        version: the ArcticDB version written, ``None`` if nothing was written.
        conflicts: keys of rows refused because their key is stored with other values (trade ids for
            ticks, open times in ns for candles); written only with ``replace=True``.
    """

    stored: int
    duplicates: int
    out_of_order: int = 0
    version: int | None = None
    conflicts: tuple[int, ...] = ()

    def __add__(self, other: "AppendResult") -> "AppendResult":
        return AppendResult(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.out_of_order + other.out_of_order,
            other.version if other.version is not None else self.version,
            self.conflicts + other.conflicts,
        )

    def __str__(self) -> str:
        extra = f", {self.out_of_order} out of order" if self.out_of_order else ""
        extra += f", {len(self.conflicts)} conflicts refused" if self.conflicts else ""
        return f"{self.stored} stored, {self.duplicates} duplicates{extra}"


@dataclass(frozen=True)
class MaintenancePolicy:
    """When and how a writer keeps a symbol fast to read.

    Each append creates an ArcticDB version with one small data segment, and each version's index
    key lists every segment: without maintenance, tail reads slow down (many tiny segments) and
    index storage grows quadratically (see ``benchmarks/store.py`` and the store notes).
    One maintenance pass of a symbol does, in this order:

    1. ``prune_previous_versions``: delete every version but the latest. The data segments freed are
       the small ones that the *previous* pass compacted away (still referenced only by versions
       older than that pass), so the segments that readers fetch for recent data are never deleted
       under them; only index keys of superseded versions go. A reader that resolved a version a
       moment before can still hit ``KeyNotFound``: readers retry (see :class:`TickStore`). Pruning
       writes one ArcticDB ``TOMBSTONE_ALL``, so its cost stays flat as history grows; deleting
       selected versions instead (``delete(versions=...)``/``list_versions``) walks the whole version
       chain and was measured to grow ~20 ms per 1,000 past appends.
    2. ``compact_data``: merge the appended segments into ~100k-row segments. Only the fragmented tail
       is rewritten (tens of ms on local LMDB), not the whole symbol.
    3. (in :meth:`TickStore.maintain`) extend the symbol's 1-minute bar cache over completed minutes.

    Measured in ``benchmarks/store.py`` (500,000 ticks in 1,005 appends, 2 busy CPUs): no maintenance
    left 1,005 segments, 23 MB of index keys and a 239 ms full-history 1-minute resample; a pass every
    200 appends (this default) left 10 segments, 0.02 MB of index keys, a 37 ms resample, for 0.67 s of
    maintenance in total; a pass after every append cost 46 s of maintenance (6x the write time).

    What is *not* bounded: ArcticDB keeps one ~0.6 kB ``VERSION`` key per append forever. Its private
    version-map compaction shrinks that but makes every later read slower in proportion to the history
    (measured: ~+10 ms per read after 10,000 appends), so quantkit does not use it. Fewer, larger
    appends are the lever (e.g. a 1 s ingest flush = ~54 MB per symbol per day).

    Attributes:
        interval: run maintenance when this many seconds have passed since the last run (checked on
            each append); ``None`` disables the time trigger.
        every_appends: run maintenance after this many appends since the last run (bounds the
            quadratic index growth between runs); ``None`` disables the count trigger.
        auto: when True, ``append_ticks`` runs maintenance itself when due (inline, in the writer's
            thread, typically 30-100 ms on LMDB); when False the writer calls :meth:`TickStore.maintain`.
    """

    interval: float | None = 60.0
    every_appends: int | None = 200
    auto: bool = True

    def __post_init__(self) -> None:
        if self.interval is not None and not self.interval > 0:
            raise ValueError(f"interval={self.interval!r}: must be > 0 seconds or None")
        if self.every_appends is not None and self.every_appends < 1:
            raise ValueError(f"every_appends={self.every_appends!r}: must be >= 1 or None")


@dataclass(frozen=True)
class MaintenanceReport:
    """What one maintenance pass did.

    Attributes:
        symbol: the symbol.
        compacted: whether ``compact_data`` rewrote segments.
        pruned: whether superseded versions were deleted.
        segments: row slices of the latest version after the pass (``-1`` if unknown).
        seconds: wall time of the pass.
        cached_bars: 1-minute bars added to the bar cache.
    """

    symbol: str
    compacted: bool
    pruned: bool
    segments: int
    seconds: float
    cached_bars: int = 0
