"""Stored candles, and the merge of time-keyed tables that candles and funding rates share.

Candles of one symbol and interval are one ArcticDB symbol ``_qk.candles.<SYMBOL>.<interval>``
(:data:`CANDLE_PREFIX`). :func:`merge_by_time` merges rows keyed by their (unique) index time into a
stored table: identical rows are duplicates, new times are added, rows with other values replace
the stored ones or are refused as conflicts. :meth:`Candles.bars` resamples candles up to bars for
symbols without ticks. The public documentation is on :class:`quantkit.store.TickStore`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from arcticdb.exceptions import ArcticException

from quantkit.errors import StoreError, SymbolNotFoundError
from quantkit.schema import empty_bars
from quantkit.store._bars import candle_bars, finish_bars
from quantkit.store._frames import CANDLE_PREFIX, TimeLike, check_symbol, normalise_interval, time_range, validate_candles
from quantkit.store._handle import StoreHandle
from quantkit.store.results import AppendResult

__all__ = ["CANDLE_PREFIX", "Candles", "merge_by_time"]


def merge_by_time(h: StoreHandle, sym: str, asym: str, df: pd.DataFrame, *, replace: bool = True) -> AppendResult:
    """Merge rows keyed by their (unique) index time into ``asym``: identical rows are duplicates,
    new times are added, stored rows with other values are replaced (``replace``) or refused as
    conflicts (candles, funding).

    Args:
        h: the store's plumbing.
        sym: the user's name of the table (for errors).
        asym: the ArcticDB symbol.
        df: validated rows, sorted by unique time, float-comparable columns.
        replace: let rows with other values replace stored ones (else: refused, listed in ``conflicts``).
    """
    with h.state(asym).lock:
        if df.empty:
            return AppendResult(0, 0)
        if not h.exists(asym):
            vi = h.write(asym, lambda: h.lib.write(asym, df))
            return AppendResult(len(df), 0, 0, int(vi.version))
        t0, t1 = df.index[0], df.index[-1]
        existing = h.retry(sym, asym, lambda: h.lib.read(asym, date_range=(t0, t1)).data)
        common = df.index.intersection(existing.index)
        same = np.zeros(len(df), dtype=bool)
        if len(common):
            pos = df.index.get_indexer(common)
            a = df.loc[common].to_numpy(dtype=np.float64)
            b = existing.loc[common, list(df.columns)].to_numpy(dtype=np.float64)
            eq = ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)
            same[pos[eq]] = True
            if not replace and not eq.all():
                refused = common[~eq]
                conflicts = tuple(int(v) for v in refused.asi8)
                keep = ~df.index.isin(refused)
                df, same = df[keep], same[keep]
                return merge_by_time(h, sym, asym, df, replace=True) + AppendResult(0, 0, conflicts=conflicts)
        changed = df[~same]
        dups = int(same.sum())
        if changed.empty:
            return AppendResult(0, dups)
        last = h.retry(sym, asym, lambda: h.lib.tail(asym, 1).data)
        if len(last) and changed.index[0] > last.index[-1]:
            vi = h.write(asym, lambda: h.lib.append(asym, changed))
        else:
            keep_old = existing[~existing.index.isin(df.index)]
            merged = pd.concat([keep_old, df]).sort_index(kind="stable")
            vi = h.write(asym, lambda: h.lib.update(asym, merged, date_range=(t0, t1), prune_previous_versions=True))
        return AppendResult(len(changed), dups, 0, int(vi.version))


class Candles:
    """Writes and reads stored candles through a :class:`~quantkit.store._handle.StoreHandle`.

    Args:
        handle: the store's plumbing.
    """

    def __init__(self, handle: StoreHandle) -> None:
        self._h = handle

    def intervals(self, sym: str) -> dict[str, pd.Timedelta]:
        """Stored candle intervals of ``sym``: label -> length, finest first."""
        h = self._h
        h.check_open()
        prefix = f"{CANDLE_PREFIX}{sym}."
        try:
            names = h.lib.list_symbols(regex="^" + re.escape(prefix))
        except ArcticException as exc:
            raise StoreError(f"cannot list candle symbols: {exc}") from exc
        out: dict[str, pd.Timedelta] = {}
        for n in names:
            label = n[len(prefix) :]
            try:
                out[label] = normalise_interval(label)[1]
            except ValueError:
                continue
        return dict(sorted(out.items(), key=lambda kv: kv[1]))

    def bars(
        self,
        sym: str,
        freq: str,
        td: pd.Timedelta,
        intervals: dict[str, pd.Timedelta],
        rng: tuple[pd.Timestamp | None, pd.Timestamp | None] | None,
    ) -> pd.DataFrame:
        """Bars of length ``td`` resampled from the coarsest stored interval that divides it.

        Raises:
            ValueError: no stored interval divides ``freq``.
        """
        h = self._h
        usable = [label for label, size in intervals.items() if td.value % size.value == 0]
        if not usable:
            raise ValueError(
                f"freq {freq!r}: {sym} has candles of {', '.join(intervals)} only; "
                "bars must be a whole multiple of a stored interval"
            )
        label = usable[-1]  # coarsest that divides freq: fewest rows to read
        asym = f"{CANDLE_PREFIX}{sym}.{label}"
        candles = h.retry(sym, asym, lambda: h.lib.read(asym, date_range=rng).data)
        if td == intervals[label]:
            raw = candles.copy()
            with np.errstate(invalid="ignore", divide="ignore"):
                tp = (raw["high"] + raw["low"] + raw["close"]) / 3.0
                raw["vwap"] = np.where(
                    raw["quote_volume"].notna() & (raw["volume"] > 0), raw["quote_volume"] / raw["volume"], tp
                )
            return finish_bars(raw) if len(raw) else empty_bars()
        return candle_bars(candles, int(td.value))

    def write(self, symbol: str, interval: str, frame: pd.DataFrame, *, replace: bool = False) -> AppendResult:
        """Store candles of one interval (see :meth:`quantkit.store.TickStore.write_candles`)."""
        sym = check_symbol(symbol)
        label, _td = normalise_interval(interval)
        df = validate_candles(frame)
        return merge_by_time(self._h, sym, f"{CANDLE_PREFIX}{sym}.{label}", df, replace=replace)

    def read(
        self, symbol: str, interval: str | None = None, start: TimeLike = None, end: TimeLike = None
    ) -> pd.DataFrame:
        """Stored candles (see :meth:`quantkit.store.TickStore.candles`)."""
        h = self._h
        sym = check_symbol(symbol)
        rng = time_range(start, end)
        intervals = self.intervals(sym)
        if interval is None:
            if not intervals:
                raise SymbolNotFoundError(sym, h.user_symbols)
            label = next(iter(intervals))
        else:
            label = normalise_interval(interval)[0]
        asym = f"{CANDLE_PREFIX}{sym}.{label}"
        return h.retry(sym, asym, lambda: h.lib.read(asym, date_range=rng).data)
