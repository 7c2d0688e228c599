"""The tick store: ticks, candles and small metadata tables in ArcticDB.

:class:`TickStore` is a typed facade over one ArcticDB library opened from a URI (embedded
LMDB by default, ``QUANTKIT_ARCTIC_URI`` to override, e.g. ``s3://...``). Writes are batched
appends deduplicated by trade id; reads (:meth:`TickStore.ticks`, :meth:`TickStore.tail`,
:meth:`TickStore.bars`) retry the rare races with the writer's maintenance.
:func:`import_files` loads trades CSVs, raw captures and candle CSVs.

Concurrency in one line: **one writer process per symbol, any number of readers**; readers see
new ticks within the version reload interval (0 s on LMDB, 0.1 s on object stores).

Examples:
    >>> from quantkit.store import TickStore, import_files
    >>> store = TickStore("lmdb:///tmp/quantkit-example")  # doctest: +SKIP
    >>> print(import_files(store, ["/data/spot_BTCUSDT-trades-2024-08-08.csv.gz"], progress=False))  # doctest: +SKIP
    >>> store.bars("BTCUSDT", "1m").tail()  # doctest: +SKIP
"""

from __future__ import annotations

from quantkit.store._backend import DEFAULT_RELOAD_INTERVAL
from quantkit.store._bars import BAR_FIELDS, BarBuilder, bar_ms, bars_to_rows
from quantkit.store._frames import CANDLE_STORE_DTYPES, RESERVED_PREFIX
from quantkit.store.gaps import GapRecord
from quantkit.store.importer import FileReport, ImportReport, import_files
from quantkit.store.results import AppendResult, MaintenancePolicy, MaintenanceReport
from quantkit.store.tickstore import BAR_CACHE_PREFIX, CANDLE_PREFIX, RECORDS_PREFIX, SYMBOL_INFO, TickStore

__all__ = [
    "AppendResult",
    "BAR_CACHE_PREFIX",
    "BAR_FIELDS",
    "CANDLE_PREFIX",
    "CANDLE_STORE_DTYPES",
    "DEFAULT_RELOAD_INTERVAL",
    "BarBuilder",
    "FileReport",
    "GapRecord",
    "ImportReport",
    "MaintenancePolicy",
    "MaintenanceReport",
    "RECORDS_PREFIX",
    "RESERVED_PREFIX",
    "SYMBOL_INFO",
    "TickStore",
    "bar_ms",
    "bars_to_rows",
    "import_files",
]
