"""Bad input, fuzzed: trades and candle CSVs with hypothesis-corrupted rows through the readers and import_files.

Never a crash; every corrupted row is reported with its 1-based line; every good row is kept, and
stored exactly once.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.datafiles import read_candles_csv, read_trades_csv
from quantkit.store import TickStore, import_files

T0 = 1_723_075_200_000  # 2024-08-08 00:00 UTC, ms

Row = list[str]


def _trade_row(i: int, futures: bool) -> Row:
    price, qty = 100.0 + i * 0.01, 0.01 + (i % 7) * 0.001
    row = [str(1000 + i), f"{price:.8f}", f"{qty:.8f}", f"{price * qty:.8f}", str(T0 + i * 37),
           "true" if futures and i % 2 else ("True" if i % 2 else ("false" if futures else "False"))]
    return row if futures else row + ["True"]


#: Corruptions of one trades row; each must get the row rejected (and nothing else).
TRADE_CORRUPTIONS: dict[str, Callable[[Row], str]] = {
    "id_text": lambda r: ",".join(["abc"] + r[1:]),
    "id_empty": lambda r: ",".join([""] + r[1:]),
    "id_negative": lambda r: ",".join(["-" + r[0]] + r[1:]),
    "id_float": lambda r: ",".join([r[0] + ".5"] + r[1:]),
    "price_text": lambda r: ",".join(r[:1] + ["1.2.3"] + r[2:]),
    "price_negative": lambda r: ",".join(r[:1] + ["-5.0"] + r[2:]),
    "price_zero": lambda r: ",".join(r[:1] + ["0"] + r[2:]),
    "qty_nan": lambda r: ",".join(r[:2] + ["nan"] + r[3:]),
    "qty_inf": lambda r: ",".join(r[:2] + ["inf"] + r[3:]),
    "time_text": lambda r: ",".join(r[:4] + ["soon"] + r[5:]),
    "time_negative": lambda r: ",".join(r[:4] + ["-1"] + r[5:]),
    "time_huge": lambda r: ",".join(r[:4] + ["99999999999999999999"] + r[5:]),
    "time_1970": lambda r: ",".join(r[:4] + ["1"] + r[5:]),
    "bool_bad": lambda r: ",".join(r[:5] + ["maybe"] + r[6:]),
    "too_few": lambda r: ",".join(r[:-2]),
    "too_many": lambda r: ",".join(r + ["x"]),
    "truncated": lambda r: ",".join(r)[: len(",".join(r)) // 2],
    "semicolons": lambda r: ";".join(r),
    "quoted": lambda r: ",".join(f'"{x}"' for x in r),
    "garbage": lambda r: "x\x00\x07 ¿qué? \u2603",
    "non_utf8": lambda r: "\udcff\udcfe" + ",".join(r),  # surrogateescape: raw bytes 0xff 0xfe
}


def _write(path: Path, lines: list[str], compress: bool) -> None:
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    path.write_bytes(gzip.compress(data) if compress else data)


corruption_plan = st.tuples(
    st.integers(min_value=3, max_value=60),  # rows
    st.lists(st.tuples(st.integers(min_value=1, max_value=59), st.sampled_from(sorted(TRADE_CORRUPTIONS))),
             max_size=15),
    st.booleans(),  # futures layout (header, 6 columns) or spot (headerless, 7)
    st.booleans(),  # gzip
    st.lists(st.integers(min_value=1, max_value=59), max_size=3),  # rows repeating an earlier row's id
)


def _make_trades_file(directory: Path, plan: tuple[int, list[tuple[int, str]], bool, bool, list[int]]) -> tuple[Path, set[int], set[int]]:
    """A trades CSV with corrupted rows; returns (path, corrupted 1-based lines, ids of good rows)."""
    n, corruptions, futures, compress, dups = plan
    header = ["id,price,qty,quote_qty,time,is_buyer_maker"] if futures else []
    bad = {i: kind for i, kind in corruptions if i < n}
    repeat = {i for i in dups if i < n and i not in bad}
    lines, bad_lines, good_ids = list(header), set(), set()
    for i in range(n):
        row = _trade_row(i, futures)
        lineno = len(lines) + 1
        if i in bad:
            lines.append(TRADE_CORRUPTIONS[bad[i]](row))
            bad_lines.add(lineno)
        elif i in repeat:  # same id as row 0 (always good: corruptions start at row 1): a duplicate
            lines.append(",".join([_trade_row(0, futures)[0]] + row[1:]))
            bad_lines.add(lineno)
        else:
            lines.append(",".join(row))
            good_ids.add(1000 + i)
    name = ("um_" if futures else "spot_") + "FUZZUSDT-trades-2024-08-08.csv" + (".gz" if compress else "")
    path = directory / name
    _write(path, lines, compress)
    return path, bad_lines, good_ids


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=corruption_plan)
def test_trades_reader_rejects_exactly_the_corrupted_lines(plan: tuple) -> None:
    """read_trades_csv never raises on bad rows: it rejects exactly the corrupted lines and keeps every good row."""
    with tempfile.TemporaryDirectory() as d:
        path, bad_lines, good_ids = _make_trades_file(Path(d), plan)
        result = read_trades_csv(path)
    assert {r.line for r in result.rejected} == bad_lines
    assert all(r.reason for r in result.rejected) and all(str(r.path) == str(path) for r in result.rejected)
    assert set(result.frame["trade_id"].tolist()) == good_ids
    assert result.frame["trade_id"].is_monotonic_increasing and result.frame["trade_id"].is_unique


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=corruption_plan)
def test_import_files_stores_good_rows_once_and_reports_every_bad_line(plan: tuple) -> None:
    """import_files: no crash, a report naming every bad line, the good rows stored once (twice imported: no change)."""
    with tempfile.TemporaryDirectory() as d:
        path, bad_lines, good_ids = _make_trades_file(Path(d), plan)
        store = TickStore(f"lmdb://{Path(d) / 'db'}", maintenance=None)
        first = import_files(store, [path], progress=False)
        second = import_files(store, [path], progress=False)
        name = "FUZZUSDT_PERP" if path.name.startswith("um_") else "FUZZUSDT"  # USD-M files: the perpetual's name
        stored = store.ticks(name)["trade_id"].tolist() if good_ids else []
    assert first.ok and second.ok, (first, second)
    assert {r.line for r in first.rejected} == bad_lines and {r.line for r in second.rejected} == bad_lines
    assert first.stored == len(good_ids) and second.stored == 0
    assert stored == sorted(good_ids)


def _candle_row(i: int) -> list[str]:
    o = 100.0 + i
    return [f"2025-05-30 16:{i:02d}:00+00:00", f"{o:.1f}", f"{o + 2:.1f}", f"{o - 1:.1f}", f"{o + 1:.1f}", f"{10 + i}.0"]


CANDLE_CORRUPTIONS: dict[str, Callable[[list[str]], str]] = {
    "time_text": lambda r: ",".join(["yesterday"] + r[1:]),
    "time_empty": lambda r: ",".join([""] + r[1:]),
    "open_text": lambda r: ",".join(r[:1] + ["x"] + r[2:]),
    "high_below_low": lambda r: ",".join(r[:2] + [r[3], r[2]] + r[4:]),
    "close_outside": lambda r: ",".join(r[:4] + ["1000000.0"] + r[5:]),
    "negative_volume": lambda r: ",".join(r[:5] + ["-3"]),
    "zero_price": lambda r: ",".join(r[:1] + ["0", "0", "0", "0"] + r[5:]),
    "nan_price": lambda r: ",".join(r[:3] + ["nan"] + r[4:]),
    "too_few": lambda r: ",".join(r[:4]),
    "too_many": lambda r: ",".join(r + ["1", "2"]),
    "garbage": lambda r: "\u2603\u2603,,,,,",
    "repeated_time": lambda r: ",".join([_candle_row(0)[0]] + r[1:]),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=3, max_value=59),
    corruptions=st.lists(st.tuples(st.integers(min_value=1, max_value=58), st.sampled_from(sorted(CANDLE_CORRUPTIONS))), max_size=12),
)
def test_candles_reader_rejects_exactly_the_corrupted_lines(n: int, corruptions: list[tuple[int, str]]) -> None:
    """read_candles_csv rejects exactly the corrupted lines (header is line 1) and keeps every good candle."""
    bad = {i: kind for i, kind in corruptions if i < n}
    lines = ["timestamp,open,high,low,close,volume"]
    bad_lines, good = set(), []
    for i in range(n):
        row = _candle_row(i)
        if i in bad:
            lines.append(CANDLE_CORRUPTIONS[bad[i]](row))
            bad_lines.add(len(lines))
        else:
            lines.append(",".join(row))
            good.append(float(row[1]))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "FUZZUSDT_1m.csv"
        _write(path, lines, compress=False)
        result = read_candles_csv(path)
    assert {r.line for r in result.rejected} == bad_lines
    np.testing.assert_array_equal(result.frame["open"].to_numpy(), np.array(good))
