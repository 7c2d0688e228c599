"""Record tables: small metadata tables (gaps, each tick symbol's market, alerts...) in the store.

Each table is one ArcticDB symbol ``_qk.records.<name>`` (:data:`RECORDS_PREFIX`), written by
:meth:`Records.write` (:meth:`quantkit.store.TickStore.write_records`). What a symbol's writer
records about the symbol goes to tables of that symbol alone, ``<kind>__<symbol slug>``
(:func:`per_symbol_table`: ``gaps__btcusdt``, ``symbol_info__btcusdt``), so ingest processes
sharded by symbol never share a table.

Legacy reads: stores written before per-symbol tables keep one shared table per kind (``gaps``,
``symbol_info``). Those are read, never written: a symbol's market is looked up in its own table
first, then in the shared one (:meth:`Records.market`); :meth:`Records.markets` and
:meth:`Records.gap_tables` read the shared table first and the per-symbol ones after it.
"""

from __future__ import annotations

import re

import pandas as pd
from arcticdb.exceptions import ArcticException

from quantkit.errors import SchemaError, StoreError, StoreFullError
from quantkit.store._frames import RESERVED_PREFIX, TimeLike, check_symbol, time_range
from quantkit.store._handle import StoreHandle
from quantkit.store.gaps import GapRecord, gap_row
from quantkit.store.results import AppendResult

__all__ = ["RECORDS_PREFIX", "SYMBOL_INFO", "Records", "per_symbol_table", "record_symbol"]

#: ArcticDB symbol prefix of record tables: ``_qk.records.<name>``.
RECORDS_PREFIX = RESERVED_PREFIX + "records."
#: Record table of each tick symbol's market (``symbol``, ``market``): the legacy shared table, read
#: only; the market is now recorded per symbol in ``symbol_info__<symbol>`` (one writer per table).
SYMBOL_INFO = "symbol_info"
#: Legacy shared gap table (read only); gaps are now recorded in ``gaps__<symbol>``.
_GAPS = "gaps"
#: Per-symbol record tables: ``<kind>__<symbol slug>`` (written only by the symbol's writer).
_PER_SYMBOL_SEP = "__"
_SLUG_RE = re.compile(r"[^a-z0-9_]")
_RECORD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def per_symbol_table(kind: str, sym: str) -> str:
    """Record table name of ``kind`` (``gaps``, ``symbol_info``) for ``sym``: e.g. ``gaps__btcusdt``."""
    return f"{kind}{_PER_SYMBOL_SEP}{_SLUG_RE.sub('_', sym.lower())}"[:64]


def record_symbol(name: str) -> str:
    """The ArcticDB symbol of record table ``name``.

    Raises:
        ValueError: not a lower-case table name.
    """
    if not isinstance(name, str) or not _RECORD_NAME_RE.match(name):
        raise ValueError(f"record table name {name!r}: use lower-case letters, digits and '_' (e.g. 'gaps')")
    return RECORDS_PREFIX + name


class Records:
    """Reads and writes record tables through a :class:`~quantkit.store._handle.StoreHandle`.

    Args:
        handle: the store's plumbing.
    """

    def __init__(self, handle: StoreHandle) -> None:
        self._h = handle

    def write(self, name: str, frame: pd.DataFrame) -> AppendResult:
        """Add rows to table ``name`` (see :meth:`quantkit.store.TickStore.write_records`)."""
        h = self._h
        asym = record_symbol(name)
        if not isinstance(frame, pd.DataFrame):
            raise SchemaError(f"records must be a pandas DataFrame, got {type(frame).__name__}")
        idx = frame.index
        if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
            raise SchemaError("record frames need a UTC-aware DatetimeIndex")
        df = frame.copy()
        df.index = idx.tz_convert("UTC").as_unit("ns").rename(idx.name or "time")
        df = df.sort_index(kind="stable")
        if df.empty:
            return AppendResult(0, 0)
        with h.state(asym).lock:
            if not h.exists(asym):
                vi = h.write(asym, lambda: h.lib.write(asym, df))
                return AppendResult(len(df), 0, 0, int(vi.version))
            last = h.retry(asym, asym, lambda: h.lib.tail(asym, 1).data)
            same_schema = list(last.columns) == list(df.columns) and all(
                last[c].dtype == df[c].dtype for c in df.columns
            )
            if same_schema and (last.empty or df.index[0] >= last.index[-1]):
                try:
                    vi = h.write(asym, lambda: h.lib.append(asym, df, prune_previous_versions=True))
                    return AppendResult(len(df), 0, 0, int(vi.version))
                except StoreFullError:
                    raise
                except StoreError:
                    pass  # schema detail differs: fall back to a rewrite
            old = h.retry(asym, asym, lambda: h.lib.read(asym).data)
            merged = pd.concat([old, df]).sort_index(kind="stable")
            vi = h.write(asym, lambda: h.lib.write(asym, merged, prune_previous_versions=True))
            return AppendResult(len(df), 0, 0, int(vi.version))

    def read(self, name: str, start: TimeLike = None, end: TimeLike = None) -> pd.DataFrame:
        """Rows of table ``name`` with index time in ``[start, end]``; an empty frame if the table is missing."""
        h = self._h
        asym = record_symbol(name)
        rng = time_range(start, end)
        if not h.exists(asym):
            return pd.DataFrame(index=pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time"))
        return h.retry(asym, asym, lambda: h.lib.read(asym, date_range=rng).data)

    def read_tables(self, asyms: list[str]) -> list[pd.DataFrame]:
        """Read whole record tables by ArcticDB symbol (one batch; tables deleted meanwhile are skipped)."""
        if not asyms:
            return []
        lib = self._h.lib
        return self._h.retry("", "record tables", lambda: [it.data for it in lib.read_batch(asyms) if hasattr(it, "data")])

    # ------------------------------------------------------------------ each tick symbol's market

    def market(self, sym: str) -> str | None:
        """The market recorded for tick symbol ``sym``: its own table first, then the legacy shared one."""
        for name in (per_symbol_table(SYMBOL_INFO, sym), SYMBOL_INFO):
            info = self.read(name)
            if len(info) and "symbol" in info.columns:
                mine = info[info["symbol"] == sym]
                if len(mine):
                    return str(mine["market"].iloc[-1])
        return None

    def markets(self, names: list[str]) -> dict[str, str]:
        """Recorded market of every tick symbol; ``names``: the library's ArcticDB symbols (already listed)."""
        prefix = RECORDS_PREFIX + SYMBOL_INFO + _PER_SYMBOL_SEP
        out: dict[str, str] = {}
        for info in [self.read(SYMBOL_INFO)] + self.read_tables([n for n in names if n.startswith(prefix)]):
            if len(info) and "symbol" in info.columns:
                out.update(zip(info["symbol"], info["market"]))
        return out

    def record_market(self, sym: str, market: str) -> None:
        """Record that tick symbol ``sym`` holds ``market`` ticks (in its own table)."""
        row = pd.DataFrame({"symbol": [sym], "market": [market]}, index=pd.DatetimeIndex([pd.Timestamp.now(tz="UTC")], name="time"))
        self.write(per_symbol_table(SYMBOL_INFO, sym), row)

    # ------------------------------------------------------------------ gaps

    def record_gap(self, gap: GapRecord) -> None:
        """Store ``gap`` in its symbol's table ``gaps__<symbol>``.

        Raises:
            ValueError: bad symbol.
        """
        sym = check_symbol(gap.symbol)
        self.write(per_symbol_table(_GAPS, sym), gap_row(gap, sym))

    def gap_tables(self, sym: str | None) -> list[pd.DataFrame]:
        """Stored gap tables: the legacy shared one, then ``sym``'s own (``None``: every symbol's).

        Raises:
            StoreError: the tables cannot be listed.
        """
        if sym is not None:
            return [self.read(_GAPS), self.read(per_symbol_table(_GAPS, sym))]
        h = self._h
        h.check_open()
        try:
            names = h.lib.list_symbols()
        except ArcticException as exc:
            raise StoreError(f"cannot list gap tables: {exc}") from exc
        prefix = RECORDS_PREFIX + _GAPS + _PER_SYMBOL_SEP
        return [self.read(_GAPS)] + self.read_tables(sorted(n for n in names if n.startswith(prefix)))
