"""Reader for raw WebSocket captures: ``<recv_ns> <combined-stream JSON>`` per line (gzip or plain)."""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd

from quantkit.datafiles._io import open_binary, stream_damage
from quantkit.datafiles.result import ReadResult, RejectedRow
from quantkit.datafiles.trades import tick_frame_from_arrays
from quantkit.errors import DataFileError
from quantkit.schema import empty_ticks

__all__ = ["read_capture"]

_STREAM_RE = re.compile(rb'"stream"\s*:\s*"([A-Za-z0-9_]+)@')
_SYMBOL_RE = re.compile(rb'"s"\s*:\s*"([A-Za-z0-9_]+)"')
_AGG = b"aggTrade"


@dataclass
class _Columns:
    lines: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    price: list[float] = field(default_factory=list)
    qty: list[float] = field(default_factory=list)
    time: list[int] = field(default_factory=list)
    event: list[int] = field(default_factory=list)
    maker: list[bool] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    futures: bool | None = None
    symbol: str = ""
    stream: str = "trade"


class _Bad(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _int_field(d: dict[str, object], key: str) -> int:
    v = d.get(key)
    if v is None:
        raise _Bad("missing_field")
    if type(v) is not int:
        raise _Bad("bad_type")
    return v


def _num_field(d: dict[str, object], key: str) -> float:
    v = d.get(key)
    if v is None:
        raise _Bad("missing_field")
    if type(v) is str:
        try:
            x = float(v)
        except ValueError:
            raise _Bad("bad_number") from None
    elif type(v) in (int, float):
        x = float(v)  # type: ignore[arg-type]
    else:
        raise _Bad("bad_type")
    if not np.isfinite(x):
        raise _Bad("bad_number")
    return x


def line_json(line: bytes) -> bytes:
    """The JSON text of a capture line: after the ``<recv_ns> `` prefix, or the whole line without one."""
    sp = line.find(b" ")
    return line if line.lstrip().startswith(b"{") or sp < 0 else line[sp + 1 :]


def _key_guess(line: bytes) -> str | None:
    m = _SYMBOL_RE.search(line) or _STREAM_RE.search(line)
    if not m:
        return None
    sym = m.group(1).decode("ascii").upper()
    return f"{sym}@aggTrade" if _AGG in line else sym


def read_capture(path: str | os.PathLike[str]) -> dict[str, ReadResult]:
    """Read the trade events of a raw capture file.

    Each line is ``<local receive time, ns> <JSON>``, the JSON being a Binance combined-stream
    message ``{"stream": "btcusdt@trade", "data": {...}}`` (a bare event object, or a line
    without the receive-time prefix, is accepted too). Only ``trade`` and ``aggTrade``
    events are kept; other lines (depth, bookTicker, REST snapshots) are skipped cheaply
    by a substring test before any JSON parsing, and counted in :attr:`ReadResult.skipped`.

    Trade-looking lines that are malformed (bad JSON, missing fields, wrong types, prices or
    quantities that are not positive numbers, implausible times) are rejected with their
    1-based line number. Times: ``T`` (trade time, ms) is the index; ``E`` is ``event_time``.
    ``quote_qty`` is computed as ``price * qty`` (for COIN-M, ``qty`` is in contracts).

    Args:
        path: the capture file (gzip or plain).

    Returns:
        One :class:`ReadResult` per symbol and stream, keyed by upper-case symbol
        (``"BTCUSDT"``) for @trade and ``"BTCUSDT@aggTrade"`` for @aggTrade; frames sorted by
        trade id, duplicate ids rejected as ``duplicate_id``. ``market`` is ``"futures"`` when
        the events carry ``X`` or lack ``M``, else ``"spot"``. Rejected lines whose symbol
        cannot be recognised are attached to the result with the most rows (or to a result
        keyed ``"UNKNOWN"`` when there is none).

    A damaged compressed capture is read up to where it broke; every result carries
    :attr:`ReadResult.damage` (a result keyed ``"UNKNOWN"`` when no trade was readable).

    Raises:
        DataFileError: the file cannot be opened, or its compressed data is unreadable from the start.

    Examples:
        >>> results = read_capture("raw/spot_btcusdt_20240808.gz")  # doctest: +SKIP
        >>> {k: len(r.frame) for k, r in results.items()}  # doctest: +SKIP
        {'BTCUSDT': 9757}
    """
    spath = os.fspath(path)
    groups: dict[str, _Columns] = {}
    orphans: list[RejectedRow] = []
    lineno = 0
    skipped = 0
    damage: str | None = None
    try:
        with open_binary(spath) as fh:
            for line in fh:
                lineno += 1
                if b'rade"' not in line:  # not @trade / @aggTrade: depth, bookTicker, snapshot, blank
                    skipped += 1
                    continue
                try:
                    msg = orjson.loads(line_json(line))
                except orjson.JSONDecodeError:
                    _reject(groups, orphans, spath, lineno, "bad_json", _key_guess(line))
                    continue
                data = msg.get("data", msg) if type(msg) is dict else None
                if type(data) is not dict:
                    _reject(groups, orphans, spath, lineno, "bad_type", _key_guess(line))
                    continue
                event = data.get("e")
                if event != "trade" and event != "aggTrade":
                    skipped += 1
                    continue
                agg = event == "aggTrade"
                sym = data.get("s")
                if type(sym) is not str or not sym:
                    _reject(groups, orphans, spath, lineno, "missing_field" if sym is None else "bad_type", _key_guess(line))
                    continue
                key = f"{sym.upper()}@aggTrade" if agg else sym.upper()
                g = groups.get(key)
                if g is None:
                    g = groups[key] = _Columns(symbol=sym.upper(), stream=event)
                try:
                    tid = _int_field(data, "a" if agg else "t")
                    price = _num_field(data, "p")
                    qty = _num_field(data, "q")
                    ttime = _int_field(data, "T")
                    etime = data.get("E", ttime)
                    if type(etime) is not int:
                        raise _Bad("bad_type")
                    maker = data.get("m")
                    if maker is None:
                        raise _Bad("missing_field")
                    if type(maker) is not bool:
                        raise _Bad("bad_type")
                except _Bad as bad:
                    g.rejected.append(RejectedRow(spath, lineno, bad.reason))
                    continue
                if g.futures is None:
                    g.futures = "X" in data or "M" not in data
                g.lines.append(lineno)
                g.ids.append(tid)
                g.price.append(price)
                g.qty.append(qty)
                g.time.append(ttime)
                g.event.append(etime)
                g.maker.append(maker)
            damage = stream_damage(fh)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(spath, f"cannot read capture: {exc}", line=lineno + 1) from exc
    if orphans:
        if groups:
            target = max(groups.values(), key=lambda g: len(g.ids))
        else:
            target = groups["UNKNOWN"] = _Columns(symbol="UNKNOWN")
        target.rejected.extend(orphans)
    out: dict[str, ReadResult] = {}
    for key in sorted(groups):
        g = groups[key]
        try:
            ids = np.array(g.ids, dtype=np.int64)
            times = np.array(g.time, dtype=np.int64)
            events = np.array(g.event, dtype=np.int64)
        except OverflowError:
            ids, times, events, g = _drop_overflow(g, spath)
        rows = tick_frame_from_arrays(
            spath,
            np.array(g.lines, dtype=np.int64),
            ids,
            np.array(g.price, dtype=np.float64),
            np.array(g.qty, dtype=np.float64),
            None,
            times,
            np.array(g.maker, dtype=bool),
            events,
        )
        rejected = sorted(g.rejected + rows.rejected, key=lambda r: r.line)
        market = None if g.futures is None else ("futures" if g.futures else "spot")
        out[key] = ReadResult(
            rows.frame, rejected, g.symbol, market, "trades", stream=g.stream, path=spath, lines=lineno,
            skipped=skipped, duplicates=rows.duplicates, damage=damage, row_lines=rows.row_lines,
        )  # fmt: skip
    if damage is not None and not out:
        out["UNKNOWN"] = ReadResult(
            empty_capture_frame(), [], None, None, "trades", stream="trade", path=spath, lines=lineno, damage=damage
        )
    return out


def empty_capture_frame() -> pd.DataFrame:
    """An empty tick frame with the readers' ``event_time`` column."""
    frame = empty_ticks()
    frame["event_time"] = np.array([], dtype=np.int64)
    return frame


def _reject(
    groups: dict[str, _Columns], orphans: list[RejectedRow], path: str, line: int, reason: str, key: str | None
) -> None:
    row = RejectedRow(path, line, reason)
    if key is not None:
        g = groups.get(key)
        if g is None:
            sym, _, stream = key.partition("@")
            g = groups[key] = _Columns(symbol=sym, stream=stream or "trade")
        g.rejected.append(row)
    else:
        orphans.append(row)


def _drop_overflow(g: _Columns, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Columns]:
    """Reject rows whose integers do not fit int64 (rare, malformed input)."""
    lim = 2**63
    ok = [abs(a) < lim and abs(b) < lim and abs(c) < lim for a, b, c in zip(g.ids, g.time, g.event)]
    keep = _Columns(symbol=g.symbol, stream=g.stream, futures=g.futures, rejected=list(g.rejected))
    for i, good in enumerate(ok):
        if not good:
            keep.rejected.append(RejectedRow(path, g.lines[i], "bad_int"))
            continue
        keep.lines.append(g.lines[i])
        keep.ids.append(g.ids[i])
        keep.price.append(g.price[i])
        keep.qty.append(g.qty[i])
        keep.time.append(g.time[i])
        keep.event.append(g.event[i])
        keep.maker.append(g.maker[i])
    return (
        np.array(keep.ids, dtype=np.int64),
        np.array(keep.time, dtype=np.int64),
        np.array(keep.event, dtype=np.int64),
        keep,
    )
