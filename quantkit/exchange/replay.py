"""Replay recorded trades through the local exchange: raw WebSocket captures and Binance trades CSVs.

Files are read with :mod:`quantkit.datafiles` (``sniff``, ``read_capture``,
``read_trades_csv``); every kept trade is replayed exactly (id, price, quantity,
trade time, event time, side). Several files of one symbol are joined (duplicate
ids dropped); symbols are merged in trade-time order. Captured ``@aggTrade``
events are not replayed: the exchange derives aggregates from the trades.

Pacing follows exchange time ``T`` divided by ``speed`` (``float("inf")``: as
fast as the exchange's clients read). With ``loop=True`` the recording repeats
forever; each pass shifts trade ids by the symbol's id span (ids continue without
a gap) and times by the recording's length plus ``loop_gap_ms``, so ids and
times keep increasing.

Order book: a capture with a REST depth snapshot and ``@depth`` diffs (the hftbacktest
captures' ``*_20240808`` files have one) serves its own book
(:class:`~quantkit.exchange.book.RecordedBook`): REST ``depth``, the ``depth`` streams,
``bookTicker`` and the book tickers are the recording's, with its update ids. Other replays
(trades CSVs, captures without a snapshot) get the model book of
:mod:`quantkit.exchange.book`.

Resuming: with ``after_ids`` (symbol -> last trade id a client already holds) the
replay skips every trade at or below it; a looped replay starts in the pass that
holds the next id, so ids and times continue right after what the client holds.

Message decimals: spot messages always carry 8 decimals; for futures the
decimals are read from the file's own text (``"61800.30"`` -> 2), so replayed
frames match the recording byte for byte. Tick and step sizes shown by
exchangeInfo are inferred from the data (the smallest power of ten that
represents every price / quantity).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from pathlib import Path
from typing import AsyncIterator, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from quantkit.datafiles import CapturedBook, ReadResult, read_capture, read_capture_book, read_trades_csv, sniff
from quantkit.datafiles._io import open_binary
from quantkit.errors import DataFileError, SourceError
from quantkit.exchange._columns import TradeColumns
from quantkit.exchange._pacing import Clock, Pacer, Sleep, check_speed
from quantkit.exchange.book import RecordedBook
from quantkit.exchange.source import SymbolSpec
from quantkit.schema import Trade

__all__ = ["ReplaySource"]

log = logging.getLogger("quantkit.exchange")

_CAPTURE_TRADE_RE = re.compile(rb'"s"\s*:\s*"([A-Za-z0-9_]+)".*?"p"\s*:\s*"([0-9.]+)"\s*,\s*"q"\s*:\s*"([0-9.]+)"')
_SNIFF_LINES = 200_000


def _expand(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise SourceError("paths=[]: expected at least one capture or trades CSV file")
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.is_file():
                    try:
                        kind = sniff(child)
                    except DataFileError:
                        log.info("replay: skipping %s (not a data file)", child)
                        continue
                    if kind in ("capture", "trades_csv"):
                        out.append(child)
        elif p.is_file():
            out.append(p)
        else:
            raise SourceError(f"path={os.fspath(item)!r}: no such file or directory")
    if not out:
        raise SourceError(f"paths={[os.fspath(i) for i in items]!r}: no capture or trades CSV file found")
    return out


def _head_lines(path: Path, limit: int) -> Iterator[bytes]:
    """The first ``limit`` lines of a plain, gzip or zip file (bytes); a damaged file's up to where it broke."""
    with open_binary(path) as stream:
        for i, line in enumerate(stream):
            if i >= limit:
                return
            yield line


def _text_decimals(path: Path, kind: str) -> dict[str | None, tuple[int, int]]:
    """Decimals of price and quantity as written in the file, per symbol (``None``: the file's only symbol)."""
    found: dict[str | None, tuple[int, int]] = {}
    for line in _head_lines(path, _SNIFF_LINES):
        if kind == "capture":
            if b'"trade"' not in line and b'"aggTrade"' not in line:
                continue
            m = _CAPTURE_TRADE_RE.search(line)
            if not m:
                continue
            key: str | None = m.group(1).decode().upper()
            p, q = m.group(2), m.group(3)
        else:
            fields = line.split(b",")
            if len(fields) < 6 or not fields[0].strip().isdigit():
                continue
            key, p, q = None, fields[1].strip(), fields[2].strip()
        pd_ = len(p.split(b".", 1)[1]) if b"." in p else 0
        qd = len(q.split(b".", 1)[1]) if b"." in q else 0
        old = found.get(key, (0, 0))
        found[key] = (max(old[0], pd_), max(old[1], qd))
    return found


def _value_decimals(values: np.ndarray, max_decimals: int = 8) -> int:
    """Smallest number of decimals that writes every value exactly (up to float noise)."""
    v = np.unique(values[np.isfinite(values)])
    if len(v) > 200_000:
        v = v[:: len(v) // 200_000 + 1]
    for d in range(max_decimals + 1):
        if np.all(np.abs(np.round(v, d) - v) <= 1e-9 * np.maximum(1.0, np.abs(v))):
            return d
    return max_decimals


def _size_text(decimals: int) -> str:
    return "1" if decimals == 0 else "0." + "0" * (decimals - 1) + "1"


class ReplaySource:
    """Replay files of recorded trades (see the module docstring); a :class:`~quantkit.exchange.MarketSource`.

    Files are read when the source is made, so bad paths fail early.

    Args:
        paths: files or folders (folders: their capture and trades CSV files).
        speed: exchange seconds per wall second; ``float("inf")`` for as fast as consumed.
        loop: repeat forever with shifted ids and times.
        symbols: keep only these symbols (upper case); ``None`` keeps all.
        loop_gap_ms: pause between two passes, exchange ms.
        clock: monotonic clock for pacing, seconds.
        sleep: async sleep for pacing, seconds.
        after_ids: symbol -> last trade id a client already holds: trades at or below it are
            skipped (a looped replay starts in the pass holding the next id). ``None``: replay all.

    Raises:
        SourceError: no usable file, unknown requested symbols, spot and futures mixed,
            a candles file, or a bad parameter.
        DataFileError: a file cannot be read at all.
    """

    def __init__(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        speed: float = 1.0,
        loop: bool = False,
        symbols: Sequence[str] | None = None,
        loop_gap_ms: int = 1000,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        after_ids: Mapping[str, int] | None = None,
    ) -> None:
        self.speed = check_speed(speed)
        self.loop = bool(loop)
        if int(loop_gap_ms) < 1:
            raise SourceError(f"loop_gap_ms={loop_gap_ms!r}: expected an integer >= 1")
        self.loop_gap_ms = int(loop_gap_ms)
        self._clock = clock
        self._sleep = sleep
        files = _expand(paths)
        self.paths: tuple[str, ...] = tuple(os.fspath(f) for f in files)
        results: list[ReadResult] = []
        decimals: dict[str, tuple[int, int]] = {}
        recorded: dict[str, CapturedBook] = {}
        for f in files:
            kind = sniff(f)
            if kind == "capture":
                for sym, rec in read_capture_book(f).items():
                    if sym in recorded:
                        recorded[sym].merge(rec)
                    else:
                        recorded[sym] = rec
                got = read_capture(f)
                file_results = []
                for key, r in got.items():
                    if r.stream == "aggTrade" or key.endswith("@aggTrade"):
                        log.info("replay: %s: skipping %d captured aggTrade events (aggregates are derived)", f, len(r.frame))
                        continue
                    file_results.append(r)
            elif kind == "trades_csv":
                file_results = [read_trades_csv(f)]
            else:
                raise SourceError(f"path={os.fspath(f)!r}: a {kind} file cannot be replayed (trades only)")
            text_dec = _text_decimals(f, kind)
            for r in file_results:
                if r.symbol is None:
                    raise SourceError(f"path={os.fspath(f)!r}: cannot tell the symbol from the file name or data")
                if r.rejected:
                    log.warning("replay: %s: %d rows rejected %s", f, len(r.rejected), r.reject_counts())
                dec = text_dec.get(r.symbol) or text_dec.get(None)
                if dec is not None:
                    old = decimals.get(r.symbol, (0, 0))
                    decimals[r.symbol] = (max(old[0], dec[0]), max(old[1], dec[1]))
                results.append(r)
        markets = {r.market for r in results if r.market is not None}
        if len(markets) > 1:
            raise SourceError(f"paths={list(self.paths)!r}: spot and futures files cannot be replayed together")
        self._market = markets.pop() if markets else "spot"
        by_symbol: dict[str, list[pd.DataFrame]] = {}
        for r in results:
            by_symbol.setdefault(r.symbol or "", []).append(r.frame)
        if symbols is not None:
            wanted = [s.upper() for s in symbols]
            missing = [s for s in wanted if s not in by_symbol]
            if missing:
                raise SourceError(f"symbols={missing!r}: not in the files (found {sorted(by_symbol)})")
            by_symbol = {s: by_symbol[s] for s in wanted}
        self.frames: dict[str, pd.DataFrame] = {}
        for sym in sorted(by_symbol):
            parts = [p for p in by_symbol[sym] if len(p)]
            if not parts:
                continue
            frame = pd.concat(parts) if len(parts) > 1 else parts[0]
            frame = frame[~frame["trade_id"].duplicated(keep="first")]
            frame = frame.iloc[np.argsort(frame["trade_id"].to_numpy(), kind="stable")]
            self.frames[sym] = frame
        if not self.frames:
            raise SourceError(f"paths={list(self.paths)!r}: no trades to replay")
        self._symbols = tuple(self.frames)
        self.specs: dict[str, SymbolSpec] = {}
        for sym, frame in self.frames.items():
            p_dec = _value_decimals(frame["price"].to_numpy())
            book_rec = recorded.get(sym)
            if book_rec is not None and book_rec.usable:  # the book's prices may be finer than the trades'
                p_dec = max(p_dec, _value_decimals(np.concatenate([book_rec.bids[:, 0], book_rec.asks[:, 0]])))
            q_dec = _value_decimals(frame["qty"].to_numpy())
            tp, tq = decimals.get(sym, (p_dec, q_dec))
            self.specs[sym] = SymbolSpec(
                sym,
                tick_size=_size_text(p_dec),
                step_size=_size_text(q_dec),
                price_decimals=max(tp, p_dec),
                qty_decimals=max(tq, q_dec),
            )
        self._timeline = TradeColumns.concat(
            [TradeColumns.from_frame(i, self.frames[s]) for i, s in enumerate(self._symbols)]
        ).time_ordered()
        ids = self._timeline.trade_id
        self._id_span = np.array(
            [int(self.frames[s]["trade_id"].iloc[-1] - self.frames[s]["trade_id"].iloc[0] + 1) for s in self._symbols],
            dtype="int64",
        )
        t = self._timeline.trade_time
        self._period_ms = int(t.max() - t.min()) + self.loop_gap_ms if len(t) else self.loop_gap_ms
        self._base_ids = np.array([int(self.frames[s]["trade_id"].iloc[0]) for s in self._symbols], dtype="int64")
        self._after = np.full(len(self._symbols), -1, dtype="int64")
        self._first_pass = 0
        #: symbol -> the recording's own order book (captures with a depth snapshot and diffs);
        #: the exchange serves these instead of its model book.
        self.books: dict[str, RecordedBook] = {}
        t0 = int(t.min()) if len(t) else 0
        for sym, rec in recorded.items():
            if sym not in self.specs:
                continue
            if not rec.usable:
                log.info("replay: %s: the capture's depth has no snapshot to start from; the book is modelled", sym)
                continue
            self.books[sym] = RecordedBook(self.specs[sym], rec, t0, self._period_ms if self.loop else 0)
            if rec.rejected:
                log.warning("replay: %s: %d malformed depth lines skipped", sym, rec.rejected)
        if after_ids:
            self.continue_after(after_ids)
        log.info(
            "replay source: %d trades of %s (%s) from %d files", len(ids), ", ".join(self._symbols), self._market, len(files)
        )

    # ---------------------------------------------------------------------------------------------- protocol

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols replayed, sorted."""
        return self._symbols

    @property
    def market(self) -> str:
        """``"spot"`` or ``"futures"`` (from the files)."""
        return self._market

    @property
    def trade_count(self) -> int:
        """Trades in one pass over the files."""
        return len(self._timeline)

    def continue_after(
        self,
        after_ids: Mapping[str, int],
        after_time_ms: int | None = None,
        after_prices: Mapping[str, float] | None = None,
    ) -> None:
        """Skip the trades at or below ``after_ids[symbol]`` (ids a client already holds); call before streaming.

        A looped replay starts in the pass that holds the next id of the symbol least far along,
        so its ids and times continue after what the client holds. Unknown symbols are ignored.
        ``after_time_ms`` and ``after_prices`` are accepted for symmetry with :class:`SyntheticMarket`
        and unused: a replay's times and prices are the recording's.
        """
        after = {str(k).upper(): int(v) for k, v in after_ids.items() if str(k).upper() in self.frames}
        self._after = np.array([after.get(s, -1) for s in self._symbols], dtype="int64")
        self._first_pass = 0
        if self.loop and after:
            self._first_pass = max(0, min(
                (int(self._after[i]) + 1 - int(self._base_ids[i])) // int(self._id_span[i])
                for i, s in enumerate(self._symbols) if s in after
            ))

    @property
    def finite(self) -> bool:
        """True unless looping: the replay ends after one pass."""
        return not self.loop

    @property
    def first_ids(self) -> dict[str, int]:
        """The first trade id each symbol streams (after ``after_ids`` and the starting pass)."""
        shifted = self._base_ids + self._id_span * self._first_pass
        out = {}
        for i, s in enumerate(self._symbols):
            first = max(int(shifted[i]), int(self._after[i]) + 1)
            if self.loop or first <= int(self._base_ids[i] + self._id_span[i] - 1):
                out[s] = first
        return out

    def __repr__(self) -> str:
        return (
            f"ReplaySource({len(self.paths)} files, symbols={self._symbols}, market={self._market!r}, "
            f"speed={self.speed}, loop={self.loop})"
        )

    def passes(self) -> Iterator[TradeColumns]:
        """The timeline of each pass (one pass, or forever when looping), ids and times shifted per pass."""
        k = self._first_pass
        skip = bool((self._after >= 0).any())
        while True:
            block = self._timeline if k == 0 else self._timeline.shifted(self._id_span * k, self._period_ms * k)
            if skip:
                keep = block.trade_id > self._after[block.sym]
                if keep.all():
                    skip = False  # every later pass is above the ids already held
                else:
                    block = block.take(keep)
            yield block
            k += 1
            if not self.loop:
                return

    def __aiter__(self) -> AsyncIterator[list[Trade]]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[list[Trade]]:
        pacer = Pacer(self.speed, clock=self._clock, sleep=self._sleep)
        async for batch in pacer.batches(self.passes()):
            yield batch.to_trades(self._symbols)
