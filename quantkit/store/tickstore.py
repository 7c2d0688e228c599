"""The tick store: a typed facade over one ArcticDB library.

Layout inside the library (one ArcticDB symbol each):

================================ ==========================================================
ArcticDB symbol                  holds
================================ ==========================================================
``BTCUSDT``                      ticks (schema of :mod:`quantkit.schema`), appended in batches
``_qk.candles.BTCUSDT.1m``       stored candles of one interval (imported candle files)
``_qk.records.gaps__btcusdt``    small metadata tables (gaps per symbol, alerts...), see :meth:`TickStore.write_records`
``_qk.bars1m.BTCUSDT``           1-minute bars of complete minutes, kept by the writer's maintenance
``_qk.funding.BTCUSDT``          funding rates of a USD-M perpetual (:mod:`quantkit.store.funding`)
================================ ==========================================================

Names starting with ``_qk.`` are reserved and hidden by :meth:`TickStore.symbols`.

:class:`TickStore` is the one public facade; each job lives in its own module and the facade
delegates: :mod:`~quantkit.store.ticks` (append, insert, read ticks; the writer's maintenance),
:mod:`~quantkit.store.barcache` (the 1-minute bar cache and the tick bars read through it),
:mod:`~quantkit.store.candles` (candles and the time-keyed merge they share with
:mod:`~quantkit.store.funding`), :mod:`~quantkit.store.records` (record tables: each symbol's market,
gaps, and reads of the legacy shared tables), :mod:`~quantkit.store.catalogue` (list and delete
symbols), all over the shared plumbing of :mod:`quantkit.store._handle` (library, writer locks,
read retry, write guard).

Concurrency (ArcticDB has no transactions and no locks on symbols):

* **One writer per symbol.** Two processes appending to one symbol silently lose appends
  (last writer wins). Threads of one process are serialised per symbol by the store. Different
  symbols may be written by different processes: what a symbol's writer records about it (its
  gaps, its market) goes to tables of that symbol alone (``gaps__<symbol>``,
  ``symbol_info__<symbol>``), so ingest processes sharded by symbol never share a table.
* Readers in any number of processes see a consistent prefix of the data, and new ticks within
  the version reload interval (0 s on LMDB, 0.1 s on object stores; set when the first store of
  the process opens).
* Maintenance (compaction and version pruning, :class:`MaintenancePolicy`) runs in the writer;
  a reader racing it can hit ``KeyNotFound``/``NoDataFound``, which every read here retries.
* Fork: do not use a store across ``fork()``; the child opens its own (``spawn`` is safest).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Callable, Sequence, TypeVar

import pandas as pd

from quantkit.config import StoreConfig
from quantkit.errors import SymbolNotFoundError
from quantkit.store._backend import Backend
from quantkit.store._frames import CANDLE_PREFIX, TimeLike, check_symbol, normalise_interval, time_range
from quantkit.store._handle import StoreHandle
from quantkit.store.barcache import BAR_CACHE_PREFIX, BarCache
from quantkit.store.candles import Candles
from quantkit.store.catalogue import Catalogue
from quantkit.store.funding import Funding
from quantkit.store.gaps import GapRecord, gaps_frame, to_gap_record
from quantkit.store.records import RECORDS_PREFIX, SYMBOL_INFO, Records
from quantkit.store.results import AppendResult, MaintenancePolicy, MaintenanceReport
from quantkit.store.ticks import Ticks

__all__ = ["BAR_CACHE_PREFIX", "CANDLE_PREFIX", "RECORDS_PREFIX", "SYMBOL_INFO", "TickStore"]

_T = TypeVar("_T")


class TickStore:
    """Ticks, candles and small metadata tables in one ArcticDB library.

    Args:
        uri: ArcticDB URI (``lmdb:///path``, ``s3://host:bucket?...``); ``None`` uses ``config``,
            else :meth:`quantkit.config.StoreConfig.from_env` (``QUANTKIT_ARCTIC_URI``, default
            ``lmdb://~/.quantkit/arctic``).
        library: ArcticDB library name (created when missing). Ignored when ``config`` is given.
        config: a :class:`~quantkit.config.StoreConfig` (URI and library).
        maintenance: the writer's compaction/pruning policy; ``None`` disables automatic
            maintenance (call :meth:`maintain` yourself).
        reload_interval: seconds a reader may serve a cached "latest version" before asking storage
            again; ``None``: 0 s for LMDB, 0.1 s for object stores (``DEFAULT_RELOAD_INTERVAL``).
            Process-wide (ArcticDB ``VersionMap.ReloadInterval``) and fixed when the first store of
            the process opens.
        create: create the store (LMDB folder) and library when missing (default). ``False`` for
            readers that must never create one: a missing store or library raises
            :class:`~quantkit.errors.StoreNotFoundError` naming the URI.

    One ``arcticdb.Arctic`` is cached per URI per process, so creating ``TickStore()`` in every
    notebook cell is cheap and never opens an LMDB environment twice.

    Concurrency: one writer process per symbol (see the module docstring); any number of readers.

    Raises:
        ConfigError: the URI or library name is malformed.
        StoreNotFoundError: ``create=False`` and the store or library does not exist.
        StoreError: the store cannot be opened.

    Examples:
        >>> store = TickStore("lmdb:///tmp/quantkit-doc")  # doctest: +SKIP
        >>> from quantkit.schema import Trade, trades_to_frame
        >>> t = Trade("BTCUSDT", 1, 61837.63, 0.02, 1236.75, 1723161255342, 1723161255343, True)
        >>> store.append_ticks("BTCUSDT", trades_to_frame([t]))  # doctest: +SKIP
        AppendResult(stored=1, duplicates=0, out_of_order=0, version=0)
        >>> store.bars("BTCUSDT", "1m").columns.tolist()  # doctest: +SKIP
        ['open', 'high', 'low', 'close', 'volume', 'quote_volume', 'vwap', 'trades', 'taker_buy_volume']
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        library: str = "quantkit",
        config: StoreConfig | None = None,
        maintenance: MaintenancePolicy | None = MaintenancePolicy(),
        reload_interval: float | None = None,
        create: bool = True,
    ) -> None:
        if config is None:
            config = StoreConfig(uri=uri, library=library) if uri is not None else StoreConfig.from_env()
            if uri is None and library != "quantkit":
                config = StoreConfig(uri=config.uri, library=library)
        elif uri is not None and uri != config.uri:
            config = StoreConfig(uri=uri, library=config.library)
        if reload_interval is not None and not reload_interval >= 0:
            raise ValueError(f"reload_interval={reload_interval!r}: must be >= 0 seconds")
        self._config = config
        self._maintenance = maintenance
        self._h = StoreHandle(config, reload_interval=reload_interval, create=create)
        self._backend: Backend = self._h.backend
        # one object per job, all on the one handle (see the module docstring)
        self._records = Records(self._h)
        self._bar_cache = BarCache(self._h)
        self._ticks = Ticks(self._h, self._records, self._bar_cache, maintenance)
        self._candles = Candles(self._h)
        self._funding = Funding(self._h)
        self._catalogue = Catalogue(self._h, self._records, self._candles)

    @classmethod
    def open(
        cls,
        uri: str | None = None,
        *,
        library: str = "quantkit",
        config: StoreConfig | None = None,
        maintenance: MaintenancePolicy | None = MaintenancePolicy(),
        reload_interval: float | None = None,
        create: bool = True,
    ) -> "TickStore":
        """Same as ``TickStore(...)``."""
        return cls(uri, library=library, config=config, maintenance=maintenance, reload_interval=reload_interval,
                   create=create)

    # ------------------------------------------------------------------ properties, lifecycle

    @property
    def uri(self) -> str:
        """The store URI with credentials redacted (safe to print and log)."""
        return self._backend.redacted

    @property
    def library(self) -> str:
        """The ArcticDB library name."""
        return self._config.library

    @property
    def maintenance(self) -> MaintenancePolicy | None:
        """The maintenance policy (``None``: manual :meth:`maintain` only)."""
        return self._maintenance

    @property
    def raw_library(self) -> Any:
        """The underlying ``arcticdb.Library``: an escape hatch that bypasses quantkit's checks."""
        self._h.check_open()
        return self._h.lib

    def close(self) -> None:
        """Stop using this store object. The process-wide ArcticDB handle stays open for other users."""
        self._h.closed = True

    def __enter__(self) -> "TickStore":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TickStore(uri={self.uri!r}, library={self.library!r})"

    # ------------------------------------------------------------------ private hooks (tests, benchmarks)

    def _retry(self, symbol: str, asym: str, fn: Callable[[], _T]) -> _T:
        """Run a read with the store's retry (:meth:`quantkit.store._handle.StoreHandle.retry`)."""
        return self._h.retry(symbol, asym, fn)

    def _segments(self, asym: str) -> int:
        """Row slices of the latest version of ``asym`` (-1 if unavailable)."""
        return self._h.segments(asym)

    # ------------------------------------------------------------------ ticks: writes

    def append_ticks(self, symbol: str, frame: pd.DataFrame, *, market: str | None = None) -> AppendResult:
        """Append a batch of ticks, skipping trade ids that are already stored.

        The batch is sorted by trade id and deduplicated within itself; ids at or below the stored
        high-watermark (the last stored trade id, read once from the stored tail and then cached
        in this process) are counted as duplicates, so a replayed or overlapping batch, or a
        restart, never stores a trade twice. Rows with a new id but a time earlier than an
        earlier-id trade are dropped and counted as ``out_of_order`` (ArcticDB appends must not go
        back in time, and id order = time order keeps the watermark valid). Time is never used
        as a key: many trades share a millisecond.

        Batch the ticks (e.g. every 0.25-1 s): each call writes one ArcticDB version (~3 ms plus
        ~0.6 kB of version history). With the default :class:`MaintenancePolicy` the call
        occasionally also runs :meth:`maintain` (tens of ms).

        Concurrency: **one writer process per symbol**; threads of one process are serialised.

        Args:
            symbol: e.g. ``"BTCUSDT"`` (upper-cased; ``@stream`` suffix kept as is).
            frame: tick frame (:mod:`quantkit.schema`): UTC-aware ``DatetimeIndex`` and columns
                ``trade_id`` (int), ``price``, ``qty``, ``quote_qty`` (float), ``is_buyer_maker``
                (bool). Extra columns (e.g. ``event_time``) are ignored.
            market: ``"spot"`` or ``"futures"``, optional. Recorded with the symbol the first time;
                ticks of the other market are refused afterwards (spot and futures trade ids of one
                symbol are different sequences and must not share a store symbol).

        Returns:
            :class:`AppendResult` with rows stored, duplicates and out-of-order rows skipped.

        Raises:
            SchemaError: wrong columns or dtypes, naive index, non-positive prices, or ``market``
                differs from the one recorded for the symbol...
            StoreFullError: the store has no room (nothing was written).
            StoreError: any other storage failure.
            ValueError: bad symbol.

        Examples:
            >>> store.append_ticks("BTCUSDT", frame)  # doctest: +SKIP
            AppendResult(stored=1000, duplicates=0, out_of_order=0, version=12)
        """
        return self._ticks.append(symbol, frame, market=market)

    def insert_ticks(
        self, symbol: str, frame: pd.DataFrame, *, market: str | None = None, replace: bool = False
    ) -> AppendResult:
        """Store ticks anywhere in history (backfill, importing older files), skipping stored ids.

        Rows above the stored high-watermark are appended as in :meth:`append_ticks`. Rows at or
        below it are merged into the stored data: the stored rows with their ids are read; an id
        stored with the same trade (:data:`quantkit.schema.TRADE_IDENTITY`, time to the ms) is a
        duplicate; an id stored with another trade is a conflict, refused and listed in
        :attr:`AppendResult.conflicts` unless ``replace`` (then the row replaces the stored one);
        new ids are merged in, the time range rewritten with the union (ArcticDB ``update``), sorted
        by time then trade id. Cost grows with the size of the range, so use :meth:`append_ticks`
        for live data.

        Concurrency: one writer per symbol, as for :meth:`append_ticks`.

        Args:
            symbol: the symbol.
            frame: a tick frame (see :meth:`append_ticks`).
            market: ``"spot"``/``"futures"``, checked as in :meth:`append_ticks`.
            replace: let rows that differ from the stored trade of their id replace it (default: refuse).

        Returns:
            :class:`AppendResult`.

        Raises:
            SchemaError, StoreFullError, StoreError, ValueError: as :meth:`append_ticks`.
        """
        return self._ticks.insert(symbol, frame, market=market, replace=replace)

    # ------------------------------------------------------------------ maintenance

    def maintain(self, symbol: str) -> MaintenanceReport:
        """Prune superseded versions, compact the appended segments, extend the 1-minute bar cache.

        See :class:`MaintenancePolicy` for why this order and what it costs. The bar cache
        (``_qk.bars1m.<SYMBOL>``) gets the 1-minute bars of every minute that is complete (a later
        tick is stored), so :meth:`bars` for multiples of a minute reads a few cached rows plus the
        ticks after the cache instead of every tick. Called automatically
        by the writer when a policy with ``auto=True`` is set; safe to call any time from the
        symbol's writer process (never from another process while a writer is active).

        Args:
            symbol: the tick symbol.

        Returns:
            :class:`MaintenanceReport`.

        Raises:
            SymbolNotFoundError: no such tick symbol.
            StoreError: storage failure.
        """
        return self._ticks.maintain(symbol)

    # ------------------------------------------------------------------ ticks: reads

    def ticks(
        self,
        symbol: str,
        start: TimeLike = None,
        end: TimeLike = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Stored ticks of ``symbol`` with time in ``[start, end]`` (both inclusive).

        Args:
            symbol: the symbol.
            start: first time (str, datetime, Timestamp; naive means UTC); ``None``: from the start.
            end: last time, inclusive; ``None``: to the latest tick.
            columns: subset of ``trade_id, price, qty, quote_qty, is_buyer_maker``; ``None``: all.

        Returns:
            Tick frame, UTC index ``time``, in time (and trade id) order.

        Raises:
            SymbolNotFoundError: no ticks for this symbol.
            ValueError: bad symbol, time or column name.

        Examples:
            >>> store.ticks("BTCUSDT", "2024-08-08 23:55", "2024-08-08 23:56", columns=["price"])  # doctest: +SKIP
        """
        return self._ticks.read(symbol, start, end, columns=columns)

    def tail(self, symbol: str, n: int = 1000, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The last ``n`` ticks of ``symbol`` (fewer if the symbol holds fewer).

        Raises:
            SymbolNotFoundError: no ticks for this symbol.
            ValueError: ``n`` < 0 or bad symbol/columns.
        """
        return self._ticks.tail(symbol, n, columns=columns)

    def last_trade_id(self, symbol: str) -> int | None:
        """The highest stored trade id of ``symbol`` (``None`` if the symbol has no ticks)."""
        return self._ticks.last_id(symbol)

    def has_symbol(self, symbol: str) -> bool:
        """Whether ``symbol`` has ticks or candles in the store."""
        return self._catalogue.has_symbol(symbol)

    def bars(self, symbol: str, freq: str = "1m", start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """OHLCV bars of ``symbol``: open, high, low, close, volume, quote_volume, vwap, trades, taker_buy_volume.

        Bars are left-closed and labelled by their open time, aligned to the epoch (``1h`` bars start on
        the hour, ``1d`` at 00:00 UTC). **Intervals without trades produce no bar** (no NaN rows).

        * Tick symbols: computed inside ArcticDB (``QueryBuilder.resample``, faster than reading the ticks
          into pandas, see ``benchmarks/store.py``). For multiples of one minute, the complete minutes
          come from the writer-maintained 1-minute bar cache (see :meth:`maintain`) and only the ticks
          after it are resampled; the result is the same (sums may differ in the last bits of float
          rounding). ``vwap = quote_volume / volume``; ``taker_buy_volume`` = qty of trades whose
          ``is_buyer_maker`` is False.
        * Candle-only symbols: resampled up from the coarsest stored candle interval that divides
          ``freq``. Without quote volume (e.g. Bybit files) ``quote_volume`` is NaN and ``vwap`` is the
          volume-weighted typical price ``(high + low + close) / 3`` of the source candles; ``trades``
          is -1 and ``taker_buy_volume`` NaN when unknown.

        Args:
            symbol: the symbol.
            freq: bar length: ``"1s"``, ``"1m"``, ``"5m"``, ``"15m"``, ``"1h"``, ``"4h"``, ``"1d"`` (or
                pandas spellings such as ``"5min"``).
            start: first bar: rounded **down** to a bar boundary so the first bar is complete.
            end: last tick time included (inclusive); the last bar may still be forming.

        Returns:
            Bar frame (:data:`quantkit.schema.BAR_COLUMNS`), UTC index ``time``.

        Raises:
            SymbolNotFoundError: neither ticks nor candles for this symbol.
            ValueError: bad ``freq`` (or finer than / not a multiple of the stored candles), bad times.

        Examples:
            >>> store.bars("BTCUSDT", "5m", start="2024-08-08 23:55")  # doctest: +SKIP
        """
        sym = check_symbol(symbol)
        _label, td = normalise_interval(freq)
        rng = time_range(start, end)
        if rng is not None and rng[0] is not None:
            s = rng[0]
            rng = (pd.Timestamp(s.value - s.value % td.value, tz="UTC"), rng[1])
        try:
            return self._bar_cache.tick_bars(sym, td, rng)
        except SymbolNotFoundError:
            intervals = self._candles.intervals(sym)
            if not intervals:
                raise
        return self._candles.bars(sym, freq, td, intervals, rng)

    # ------------------------------------------------------------------ candles

    def write_candles(self, symbol: str, interval: str, frame: pd.DataFrame, *, replace: bool = False) -> AppendResult:
        """Store candles of one interval, merging with what is stored.

        Rows whose open time is already stored with identical values are duplicates; new open times
        are added; a row whose open time is stored with different values is a conflict: refused and
        listed in :attr:`AppendResult.conflicts` (open times in ns), unless ``replace`` (then it
        replaces the stored candle, e.g. one that was still open when an earlier file was
        downloaded). Importing the same file twice stores nothing.

        Concurrency: one writer per (symbol, interval).

        Args:
            symbol: the symbol (may also have ticks; bars prefer ticks).
            interval: candle length, e.g. ``"1m"``, ``"5m"``, ``"1h"``.
            frame: UTC index = candle open time; float columns ``open, high, low, close, volume``;
                optional ``quote_volume``, ``taker_buy_volume`` (float, NaN = unknown), ``trades`` (int,
                -1 = unknown).
            replace: let rows with other values replace stored candles (default: refuse them).

        Returns:
            :class:`AppendResult` (``stored`` = new or replaced rows, ``conflicts`` = refused rows).

        Raises:
            SchemaError: the frame does not fit the candle schema.
            ValueError: bad symbol or interval.
            StoreFullError, StoreError: storage failures.
        """
        return self._candles.write(symbol, interval, frame, replace=replace)

    # ------------------------------------------------------------------ funding (USD-M perpetuals)

    def write_funding(self, symbol: str, frame: pd.DataFrame) -> AppendResult:
        """Store funding rates of a perpetual, merging with what is stored (later writes win).

        One table per contract (:mod:`quantkit.store.funding`): ``BTCUSDT_PERP`` and ``BTCUSDT`` name
        the same table. Rows whose funding time is stored with identical values are duplicates, so
        importing the same file twice stores nothing.

        Concurrency: one writer per contract.

        Args:
            symbol: the perpetual (``"BTCUSDT_PERP"``) or its exchange name (``"BTCUSDT"``).
            frame: UTC index = funding time; float ``funding_rate`` (rate per funding interval) and
                optionally ``mark_price`` (NaN = unknown).

        Returns:
            :class:`AppendResult` (``stored`` = new or changed rows).

        Raises:
            SchemaError: the frame does not fit (see :func:`quantkit.store.funding.validate_funding`).
            ValueError: bad symbol.
            StoreFullError, StoreError: storage failures.
        """
        return self._funding.write(symbol, frame)

    def funding(self, symbol: str, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """Stored funding rates of a perpetual, funding time in ``[start, end]``.

        Args:
            symbol: the perpetual (``"BTCUSDT_PERP"``) or its exchange name (``"BTCUSDT"``).
            start: first funding time (inclusive, UTC); ``None``: from the start.
            end: last funding time (inclusive, UTC); ``None``: to the end.

        Returns:
            Frame indexed by UTC funding time (``time``) with float64 columns ``funding_rate`` (rate
            per funding interval; a long pays ``rate * notional``) and ``mark_price`` (NaN when unknown).

        Raises:
            SymbolNotFoundError: no funding stored for the contract.
            ValueError: bad symbol or times.

        Examples:
            >>> store.funding("BTCUSDT_PERP", "2024-01-01", "2024-01-31").head(2)  # doctest: +SKIP
                                       funding_rate  mark_price
            time
            2024-01-01 00:00:00+00:00      0.000374         NaN
            2024-01-01 08:00:00+00:00      0.000265         NaN
        """
        return self._funding.read(symbol, start, end)

    def candles(
        self, symbol: str, interval: str | None = None, start: TimeLike = None, end: TimeLike = None
    ) -> pd.DataFrame:
        """Stored candles of ``symbol`` (open time in ``[start, end]``).

        Args:
            symbol: the symbol.
            interval: stored interval (``"1m"``...); ``None``: the finest stored one.
            start: first open time (inclusive); ``None``: from the start.
            end: last open time (inclusive); ``None``: to the end.

        Returns:
            Frame with columns ``open, high, low, close, volume, quote_volume, trades,
            taker_buy_volume`` (unknown: NaN / -1), UTC index ``time``.

        Raises:
            SymbolNotFoundError: no candles (of that interval) for the symbol.
        """
        return self._candles.read(symbol, interval, start, end)

    # ------------------------------------------------------------------ catalogue

    def symbols(self) -> pd.DataFrame:
        """What the store holds, one row per (symbol, kind, interval).

        Returns:
            DataFrame with columns ``symbol`` (str), ``kind`` (``"ticks"`` or ``"candles"``),
            ``interval`` (candle interval, ``None`` for ticks), ``market`` (``"spot"``/``"futures"`` when
            recorded for a tick symbol, else ``None``), ``first``, ``last`` (UTC times of the
            first/last row), ``count`` (rows). Reserved ``_qk.`` tables (records) are not listed.

        Examples:
            >>> store.symbols()  # doctest: +SKIP
                symbol     kind interval                            first                             last  count
            0  BTCUSDT    ticks     None 2024-08-08 23:54:15.342000+00:00 2024-08-09 00:05:05.800000+00:00  19904
        """
        return self._catalogue.symbols()

    def delete_symbol(self, symbol: str, *, candles: bool = True) -> None:
        """Delete the ticks (and, by default, the candles) of ``symbol``. Irreversible.

        Concurrency: only from the symbol's writer process, with no writer active elsewhere.
        """
        self._catalogue.delete_symbol(symbol, candles=candles)

    # ------------------------------------------------------------------ records (gaps, alerts, ...)

    def write_records(self, name: str, frame: pd.DataFrame) -> AppendResult:
        """Add rows to a small metadata table (gaps, alerts...) stored as ``_qk.records.<name>``.

        Rows are kept in index (time) order; rows earlier than the stored ones or with new columns
        trigger a rewrite of the table, so keep these tables small (thousands of rows).

        Concurrency: one writer per table.

        Args:
            name: table name, lower-case (``"gaps"``, ``"alerts"``).
            frame: UTC-aware ``DatetimeIndex``; columns of numbers, bools, strings or UTC datetimes.

        Returns:
            :class:`AppendResult` (``stored`` = rows added).

        Raises:
            SchemaError: naive or non-datetime index.
            ValueError: bad name.
        """
        return self._records.write(name, frame)

    def read_records(self, name: str, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """Rows of a metadata table with index time in ``[start, end]``; an empty frame if the table is missing."""
        return self._records.read(name, start, end)

    def record_gap(
        self,
        symbol: GapRecord | str,
        from_id: int | None = None,
        to_id: int | None = None,
        *,
        first_missing_time: TimeLike | int = None,
        next_trade_time: TimeLike | int = None,
        detected_at: TimeLike | int = None,
        filled: bool = False,
        reason: str | None = None,
    ) -> None:
        """Record a gap in a symbol's trade ids (``from_id..to_id`` inclusive were missing).

        Takes a :class:`~quantkit.store.gaps.GapRecord` (what the ingest builds from the feed's
        gap outcomes), or the fields (times as anything :func:`pandas.Timestamp` reads, or
        integer epoch milliseconds). Stored in the symbol's own record table ``gaps__<symbol>``
        (see :meth:`write_records`), so each symbol's writer is the only writer of its gap table
        (ingests sharded by symbol can share a library).

        Args:
            symbol: the symbol, or a :class:`~quantkit.store.gaps.GapRecord` (then no other argument).
            from_id: first missing trade id.
            to_id: last missing trade id (>= ``from_id``).
            first_missing_time: earliest possible time of the missing trades, if known.
            next_trade_time: time of the trade that revealed the gap, if known.
            detected_at: when the gap was noticed; ``None``: now.
            filled: whether a backfill recovered every missing id.
            reason: why an unfilled gap stayed unfilled (free text, e.g. the feed's reason code).

        Raises:
            ValueError: missing or inconsistent ids, bad symbol or times.
            TypeError: ``symbol`` is neither a string nor a GapRecord.
        """
        self._records.record_gap(
            to_gap_record(
                symbol, from_id, to_id, first_missing_time=first_missing_time, next_trade_time=next_trade_time,
                detected_at=detected_at, filled=filled, reason=reason,
            )
        )

    def gaps(self, symbol: str | None = None) -> pd.DataFrame:
        """Recorded gaps, oldest first.

        Args:
            symbol: only this symbol's gaps; ``None``: all.

        Returns:
            DataFrame indexed by ``detected_at`` (UTC) with columns ``symbol``, ``from_id``, ``to_id``,
            ``missing`` (count of missing ids), ``first_missing_time`` and ``next_trade_time`` (UTC, NaT
            if unknown), ``filled`` (bool) and ``reason`` (str, ``""`` if none).
        """
        sym = check_symbol(symbol) if symbol is not None else None
        return gaps_frame(self._records.gap_tables(sym), sym)
