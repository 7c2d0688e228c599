"""Ticks of one symbol: deduplicated appends, backfill inserts, reads, and the writer's maintenance.

Each tick symbol is one ArcticDB symbol (its name, e.g. ``BTCUSDT``) in time and trade-id order.
Every write goes through one locked path (:meth:`Ticks._write_batch`): validate the frame, take the
symbol's writer lock, load the writer state (trade-id high-watermark, recorded market) once per
process, check the market, sort by trade id and drop repeated ids; then an append
(:meth:`Ticks.append`) or a merge into history (:meth:`Ticks.insert`) writes, and maintenance runs
when the policy says it is due. The public documentation is on :class:`quantkit.store.TickStore`.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from arcticdb import QueryBuilder

from quantkit.errors import SchemaError, StoreError, SymbolNotFoundError
from quantkit.schema import TICK_COLUMNS, TRADE_IDENTITY
from quantkit.store._backend import SymbolState
from quantkit.store._frames import TimeLike, check_symbol, time_range, validate_ticks
from quantkit.store._handle import StoreHandle
from quantkit.store.barcache import BarCache
from quantkit.store.records import Records
from quantkit.store.results import AppendResult, MaintenancePolicy, MaintenanceReport
from quantkit.symbols import parse_symbol, spot_name, stored_name

__all__ = ["Ticks", "sorted_unique", "tick_columns"]

log = logging.getLogger("quantkit.store")


def tick_columns(columns: Sequence[str] | None) -> list[str] | None:
    """``columns`` as a list of tick column names (one name may be given as a string); ``None`` stays ``None``.

    Raises:
        ValueError: a name is not a tick column.
    """
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    cols = list(columns)
    bad = [c for c in cols if c not in TICK_COLUMNS]
    if bad:
        raise ValueError(f"columns {bad!r} are not tick columns; choose from {list(TICK_COLUMNS)}")
    return cols


def sorted_unique(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``df`` sorted by trade id (stable) with repeated ids dropped (first kept), and the drop count."""
    ids = df["trade_id"].to_numpy()
    if len(ids) < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return df, 0
    order = np.argsort(ids, kind="stable")
    ids_sorted = ids[order]
    keep = np.ones(len(ids), dtype=bool)
    keep[1:] = ids_sorted[1:] != ids_sorted[:-1]
    return df.iloc[order[keep]], int((~keep).sum())


class Ticks:
    """Writes, reads and maintains tick symbols through a :class:`~quantkit.store._handle.StoreHandle`.

    Args:
        handle: the store's plumbing.
        records: where each symbol's market is recorded.
        bar_cache: the 1-minute bar caches (extended by maintenance, cut by backfills).
        maintenance: the writer's policy; ``None``: only explicit :meth:`maintain` calls.
    """

    def __init__(
        self, handle: StoreHandle, records: Records, bar_cache: BarCache, maintenance: MaintenancePolicy | None
    ) -> None:
        self._h = handle
        self._records = records
        self._bar_cache = bar_cache
        self._maintenance = maintenance

    # ------------------------------------------------------------------ writes

    def append(self, symbol: str, frame: pd.DataFrame, *, market: str | None = None) -> AppendResult:
        """Append ticks above the stored high-watermark (see :meth:`quantkit.store.TickStore.append_ticks`)."""

        def store_new(sym: str, st: SymbolState, df: pd.DataFrame) -> AppendResult:
            ids = df["trade_id"].to_numpy()
            new = ids > st.last_id
            n_old = int(len(ids) - new.sum())
            if n_old:
                df = df[new]
            return AppendResult(0, n_old) + self._append_new(sym, st, df)

        return self._write_batch(symbol, frame, market, store_new)

    def insert(
        self, symbol: str, frame: pd.DataFrame, *, market: str | None = None, replace: bool = False
    ) -> AppendResult:
        """Store ticks anywhere in history (see :meth:`quantkit.store.TickStore.insert_ticks`)."""

        def store_anywhere(sym: str, st: SymbolState, df: pd.DataFrame) -> AppendResult:
            above = df["trade_id"].to_numpy() > st.last_id
            result = AppendResult(0, 0)
            if st.last_version is not None and not bool(above.all()):
                result = result + self._merge_old(sym, st, df[~above], replace)
            return result + self._append_new(sym, st, df[above])

        return self._write_batch(symbol, frame, market, store_anywhere)

    def _write_batch(
        self,
        symbol: str,
        frame: pd.DataFrame,
        market: str | None,
        store: Callable[[str, SymbolState, pd.DataFrame], AppendResult],
    ) -> AppendResult:
        """The one locked path of every tick write.

        Validates ``frame``; under the symbol's lock loads the writer state, checks ``market``, sorts
        by trade id and drops ids repeated in the batch (counted as duplicates); ``store`` writes the
        batch; then maintenance runs if due.
        """
        sym = check_symbol(symbol)
        df = validate_ticks(frame)
        st = self._h.state(sym)
        with st.lock:
            self._h.check_open()
            self.load_state(sym, st)
            self._check_market(sym, st, market)
            df, dup_batch = sorted_unique(df)
            result = AppendResult(0, dup_batch) + store(sym, st, df)
            self._auto_maintain(sym, st)
        return result

    def load_state(self, sym: str, st: SymbolState) -> None:
        """Fill the writer cache from the stored tail and head (first write of this process)."""
        if st.loaded:
            return
        h = self._h
        if h.exists(sym):
            tail = h.retry(sym, sym, lambda: h.lib.tail(sym, 1, columns=["trade_id"]))
            head = h.retry(sym, sym, lambda: h.lib.head(sym, 1, columns=["trade_id"]).data)
            data = tail.data
            st.last_version = int(tail.version)
            if len(data):
                st.last_id = int(data["trade_id"].iloc[-1])
                st.last_time = int(data.index.asi8[-1])
                st.first_id = int(head["trade_id"].iloc[0])
        market = self._records.market(sym)
        if market is not None:
            st.market = market
        st.last_maintain = time.monotonic()
        st.loaded = True

    def _check_market(self, sym: str, st: SymbolState, market: str | None) -> None:
        """Refuse ticks of another market than the symbol's recorded one; record it the first time."""
        if market is None:
            return
        if market not in ("spot", "futures"):
            raise ValueError(f"market={market!r}: expected 'spot' or 'futures'")
        if market == "spot" and parse_symbol(sym).market == "futures":
            raise SchemaError(f"{sym} is a futures name (quantkit.symbols); store spot ticks under {spot_name(sym)}")
        if st.market is None:
            self._records.record_market(sym, market)
            st.market = market
        elif st.market != market:
            hint = (f"store them under {stored_name(sym, 'futures')}" if market == "futures" else
                    f"the perpetual belongs under {stored_name(sym, 'futures')}, the spot market under {spot_name(sym)}")
            raise SchemaError(
                f"{sym} holds {st.market} ticks; these are {market} ticks (different trade ids): {hint} (quantkit.symbols)"
            )

    def _append_new(self, sym: str, st: SymbolState, df: pd.DataFrame) -> AppendResult:
        """Append rows whose ids are all above the watermark, keeping time order (caller holds the lock)."""
        if df.empty:
            return AppendResult(0, 0)
        h = self._h
        t = df.index.asi8
        prev = np.maximum.accumulate(np.concatenate(([st.last_time], t[:-1])))
        late = t < prev
        n_late = int(late.sum())
        if n_late:
            df = df[~late]
            log.warning("%s: %d ticks dropped: time earlier than an earlier trade id", sym, n_late)
        if df.empty:
            return AppendResult(0, 0, n_late)
        if st.last_version is None and not h.exists(sym):
            vi = h.write(sym, lambda: h.lib.write(sym, df))
            st.first_id = int(df["trade_id"].iloc[0])
        else:
            vi = h.write(sym, lambda: h.lib.append(sym, df))
            if st.first_id < 0:
                st.first_id = int(df["trade_id"].iloc[0])
        st.last_id = int(df["trade_id"].iloc[-1])
        st.last_time = int(df.index.asi8[-1])
        st.last_version = int(vi.version)
        st.appends_since_maintain += 1
        return AppendResult(len(df), 0, n_late, int(vi.version))

    def _merge_old(self, sym: str, st: SymbolState, old: pd.DataFrame, replace: bool = False) -> AppendResult:
        """Merge rows at or below the watermark into history (caller holds the lock)."""
        h = self._h
        late = old.index.asi8 > st.last_time  # an old id after the newest tick: would break id/time order
        n_late = int(late.sum())
        if n_late:
            old = old[~late]
            log.warning("%s: %d backfill ticks dropped: time later than the last stored tick", sym, n_late)
        if old.empty:
            return AppendResult(0, 0, n_late)
        # the stored rows with these ids, wherever their time is (a conflicting row may carry another time)
        ids = old["trade_id"].to_numpy()
        q = QueryBuilder()
        q = q[(q["trade_id"] >= int(ids.min())) & (q["trade_id"] <= int(ids.max()))]
        stored = h.retry(sym, sym, lambda: h.lib.read(sym, query_builder=q).data)
        stored = stored[~stored["trade_id"].duplicated()]
        pos = pd.Index(stored["trade_id"].to_numpy()).get_indexer(ids)
        known = np.flatnonzero(pos >= 0)
        eq = np.ones(len(known), dtype=bool)
        for col in TRADE_IDENTITY:
            eq &= old[col].to_numpy()[known] == stored[col].to_numpy()[pos[known]]
        eq &= old.index.asi8[known] // 1_000_000 == stored.index.asi8[pos[known]] // 1_000_000
        differ = known[~eq]
        conflicts = tuple(int(v) for v in ids[differ])
        dups = int(eq.sum())
        write = np.ones(len(old), dtype=bool)
        write[known[eq]] = False
        if not replace:
            write[differ] = False
        fresh = old[write]
        if fresh.empty:
            return AppendResult(0, dups, n_late, conflicts=() if replace else conflicts)
        gone = np.array(conflicts if replace else (), dtype=np.int64)
        span = np.concatenate((fresh.index.asi8, stored.index.asi8[pos[differ]] if replace else np.array([], np.int64)))
        t0, t1 = pd.Timestamp(int(span.min()), tz="UTC"), pd.Timestamp(int(span.max()), tz="UTC")
        existing = h.retry(sym, sym, lambda: h.lib.read(sym, date_range=(t0, t1)).data)
        if len(gone):
            existing = existing[~existing["trade_id"].isin(gone)]
        merged = pd.concat([existing, fresh[existing.columns]])
        order = np.lexsort((merged["trade_id"].to_numpy(), merged.index.asi8))
        merged = merged.iloc[order]
        self._bar_cache.invalidate(sym, int(span.min()))  # first, so readers never mix old bars with new ticks
        vi = h.write(sym, lambda: h.lib.update(sym, merged, date_range=(t0, t1)))
        st.last_version = int(vi.version)
        first = int(fresh["trade_id"].min())
        st.first_id = min(st.first_id, first) if st.first_id >= 0 else first
        st.appends_since_maintain += 1
        return AppendResult(len(fresh), dups, n_late, int(vi.version), () if replace else conflicts)

    # ------------------------------------------------------------------ maintenance

    def _auto_maintain(self, sym: str, st: SymbolState) -> None:
        pol = self._maintenance
        if pol is None or not pol.auto or st.appends_since_maintain == 0:
            return
        due = (pol.every_appends is not None and st.appends_since_maintain >= pol.every_appends) or (
            pol.interval is not None and time.monotonic() - st.last_maintain >= pol.interval
        )
        if not due:
            return
        try:
            self.maintain(sym)
        except StoreError as exc:  # the data is stored; maintenance will be tried again later
            st.last_maintain = time.monotonic()
            st.appends_since_maintain = 0
            log.warning("%s: maintenance failed, will retry later: %s", sym, exc)

    def maintain(self, symbol: str) -> MaintenanceReport:
        """Prune, compact, extend the bar cache (see :meth:`quantkit.store.TickStore.maintain`)."""
        h = self._h
        sym = check_symbol(symbol)
        st = h.state(sym)
        with st.lock:
            t0 = time.perf_counter()
            if not h.exists(sym):
                raise SymbolNotFoundError(sym, h.user_symbols)
            self.load_state(sym, st)
            h.write(sym, lambda: h.lib.prune_previous_versions(sym))
            vi = h.write(sym, lambda: h.lib.compact_data(sym))
            compacted = st.last_version is None or int(vi.version) != st.last_version
            st.last_version = int(vi.version)
            cached = self._bar_cache.update(sym, st)
            st.appends_since_maintain = 0
            st.last_maintain = time.monotonic()
            report = MaintenanceReport(sym, compacted, True, h.segments(sym), time.perf_counter() - t0, cached)
        log.debug("maintained %s: %s", sym, report)
        return report

    # ------------------------------------------------------------------ reads

    def read(
        self, symbol: str, start: TimeLike = None, end: TimeLike = None, *, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Ticks with time in ``[start, end]`` (see :meth:`quantkit.store.TickStore.ticks`)."""
        h = self._h
        sym = check_symbol(symbol)
        cols = tick_columns(columns)
        rng = time_range(start, end)
        return h.retry(sym, sym, lambda: h.lib.read(sym, date_range=rng, columns=cols).data)

    def tail(self, symbol: str, n: int = 1000, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The last ``n`` ticks (see :meth:`quantkit.store.TickStore.tail`)."""
        h = self._h
        sym = check_symbol(symbol)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n={n!r}: must be an integer >= 0")
        cols = tick_columns(columns)
        return h.retry(sym, sym, lambda: h.lib.tail(sym, int(n), columns=cols).data)

    def last_id(self, symbol: str) -> int | None:
        """The highest stored trade id (``None`` if the symbol has no ticks)."""
        h = self._h
        sym = check_symbol(symbol)
        if not h.exists(sym):
            return None
        data = h.retry(sym, sym, lambda: h.lib.tail(sym, 1, columns=["trade_id"]).data)
        return int(data["trade_id"].iloc[-1]) if len(data) else None
