"""The catalogue: what the store holds (tick and candle symbols), and deleting a symbol.

The public documentation is on :meth:`quantkit.store.TickStore.symbols`,
:meth:`~quantkit.store.TickStore.has_symbol` and :meth:`~quantkit.store.TickStore.delete_symbol`.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd
from arcticdb.exceptions import ArcticException

from quantkit.errors import StoreError, SymbolNotFoundError
from quantkit.store._frames import CANDLE_PREFIX, RESERVED_PREFIX, check_symbol
from quantkit.store._handle import StoreHandle
from quantkit.store.barcache import BAR_CACHE_PREFIX
from quantkit.store.candles import Candles
from quantkit.store.records import Records

__all__ = ["Catalogue"]


class Catalogue:
    """Lists and deletes symbols through a :class:`~quantkit.store._handle.StoreHandle`.

    Args:
        handle: the store's plumbing.
        records: where each tick symbol's market is recorded.
        candles: the stored candles.
    """

    def __init__(self, handle: StoreHandle, records: Records, candles: Candles) -> None:
        self._h = handle
        self._records = records
        self._candles = candles

    def symbols(self) -> pd.DataFrame:
        """One row per (symbol, kind, interval) (see :meth:`quantkit.store.TickStore.symbols`)."""
        h = self._h
        h.check_open()
        try:
            names = sorted(h.lib.list_symbols())
        except ArcticException as exc:
            raise StoreError(f"cannot list symbols: {exc}") from exc
        entries: list[tuple[str, str, str | None, str]] = []
        for n in names:
            if not n.startswith(RESERVED_PREFIX):
                entries.append((n, "ticks", None, n))
            elif n.startswith(CANDLE_PREFIX):
                sym, _, label = n[len(CANDLE_PREFIX) :].rpartition(".")
                entries.append((sym, "candles", label, n))
        rows: list[dict[str, Any]] = []
        if entries:
            descs = h.retry("", "catalogue", lambda: h.lib.get_description_batch([e[3] for e in entries]))
            for (sym, kind, label, asym), d in zip(entries, descs):
                if not hasattr(d, "row_count"):
                    # A DataError: the symbol was deleted meanwhile, or (measured: 1 in ~36,000 reads while
                    # the writer prunes) its description raced the writer's maintenance: ask again.
                    if not h.exists(asym):
                        continue
                    try:
                        d = h.retry(sym, asym, functools.partial(h.lib.get_description, asym))
                    except SymbolNotFoundError:
                        continue
                first, last = d.date_range
                rows.append(
                    {"symbol": sym, "kind": kind, "interval": label, "first": first, "last": last, "count": int(d.row_count)}
                )
        markets = self._records.markets(names)
        for row in rows:
            row["market"] = markets.get(row["symbol"]) if row["kind"] == "ticks" else None
        out = pd.DataFrame(rows, columns=["symbol", "kind", "interval", "market", "first", "last", "count"])
        for c in ("first", "last"):
            out[c] = pd.to_datetime(out[c], utc=True)
        out["count"] = out["count"].astype("int64")
        return out.sort_values(["symbol", "kind", "interval"], kind="stable", na_position="first").reset_index(drop=True)

    def has_symbol(self, symbol: str) -> bool:
        """Whether ``symbol`` has ticks or candles in the store."""
        sym = check_symbol(symbol)
        return self._h.exists(sym) or bool(self._candles.intervals(sym))

    def delete_symbol(self, symbol: str, *, candles: bool = True) -> None:
        """Delete the ticks, bar cache and (``candles``) candles of ``symbol``."""
        h = self._h
        sym = check_symbol(symbol)
        targets = [sym, BAR_CACHE_PREFIX + sym]
        targets += [f"{CANDLE_PREFIX}{sym}.{lab}" for lab in self._candles.intervals(sym)] if candles else []
        for asym in targets:
            if not h.exists(asym):
                continue
            with h.state(asym).lock:
                h.write(asym, lambda: h.lib.delete(asym))
            h.backend.forget(h.library, asym)
