"""The fast (pandas C) and slow (line by line) parser paths accept and reject exactly the same rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.datafiles import _table, read_candles_csv, read_trades_csv
from quantkit.datafiles.result import ReadResult

SPOT_ROWS = [
    "3735683277,61837.63000000,0.00081000,50.08848030,1723161255342,True,True",
    "3735683278,61837.62000000,0.01500000,927.56430000,1723161255342,False,True",
    "3735683279,61837.62000000,0.00010000,6.18376200,1723161255343,True,True",
    "3735683280,61837.61000000,0.20000000,12367.52200000,1723161255391,True,True",
]
KLINE_ROWS = [
    "1723161240000,61840.1,61850.0,61830.2,61845.5,12.5,1723161299999,773010.5,120,6.25,386505.2,0",
    "1723161300000,61845.5,61860.0,61844.0,61850.0,10.0,1723161359999,618500.0,99,473415.8,300000.1,0",
    "1723161360000,61850.0,61855.0,61840.0,61841.0,8.5,1723161419999,525748.5,80,4.0,247364.0,0",
]
BYBIT_ROWS = [
    "timestamp,open,high,low,close,volume",
    "2025-05-30 16:39:00+00:00,104217.5,104250.0,104200.1,104240.0,12.345",
    "2025-05-30 16:40:00+00:00,104240.0,104260.0,104230.0,104255.5,3.2",
    "2025-05-30 16:41:00+00:00,104255.5,104255.5,104201.0,104210.0,7.0",
]
LAYOUTS = {"spot": (SPOT_ROWS, read_trades_csv), "kline": (KLINE_ROWS, read_candles_csv), "bybit": (BYBIT_ROWS, read_candles_csv)}
NOISE = [",", ".", " ", "\t", "\r", "\n", "-", "+", "e", "E", "nan", "inf", "NA", "True", "true", "1", "0", "1.0", "x", "_", '"', "\x00", "\ufeff", "١"]


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, str]:
    """A small valid file of one layout with random cuts, deletions, insertions and repeated lines."""
    layout = draw(st.sampled_from(sorted(LAYOUTS)))
    lines = list(LAYOUTS[layout][0])
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["cut", "delete", "insert", "repeat", "replace_field"]))
        line = lines[i]
        if op == "cut":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        elif op == "delete" and line:
            a = draw(st.integers(0, len(line) - 1))
            lines[i] = line[:a] + line[a + draw(st.integers(1, 3)) :]
        elif op == "insert":
            a = draw(st.integers(0, len(line)))
            lines[i] = line[:a] + draw(st.sampled_from(NOISE)) + line[a:]
        elif op == "repeat":
            lines.insert(i + 1, line)
        else:
            fields = line.split(",")
            j = draw(st.integers(0, len(fields) - 1))
            fields[j] = draw(st.sampled_from(NOISE + ["", "1e3", " 5 ", "+2", "TRUE", "False", "-0"]))
            lines[i] = ",".join(fields)
    end = draw(st.sampled_from(["\n", "", "\r\n"]))
    sep = "\r\n" if end == "\r\n" else "\n"
    return layout, sep.join(lines) + end


def _same(a: ReadResult, b: ReadResult) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.rejected == b.rejected
    assert (a.duplicates, a.lines, a.skipped, a.damage) == (b.duplicates, b.lines, b.skipped, b.damage)
    assert a.row_lines is not None and b.row_lines is not None
    np.testing.assert_array_equal(a.row_lines, b.row_lines)


def _slow_only(path: str, cols: object, header: bool) -> _table.Table:
    raise ValueError("forced slow path")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=damaged())
def test_fast_and_slow_paths_give_identical_outcomes(case: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random truncations and corruptions: the reader's outcome is the same whichever parser path runs."""
    layout, text = case
    reader = LAYOUTS[layout][1]
    name = "BTCUSDT-trades-x.csv" if layout == "spot" else "BTCUSDT_1m.csv"
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    try:
        either = reader(path)
    except ValueError as exc:  # the first line no longer looks like the layout: both paths refuse the file
        with monkeypatch.context() as m:
            m.setattr(_table, "_fast", _slow_only)
            with pytest.raises(type(exc)):
                reader(path)
        return
    with monkeypatch.context() as m:
        m.setattr(_table, "_fast", _slow_only)
        slow = reader(path)
    _same(either, slow)


def test_kline_cut_inside_taker_buy_volume_is_rejected_on_both_paths(tmp_path: Path) -> None:
    """A kline row cut inside taker_buy_volume (10 or 11 fields) is rejected whatever else the file holds."""
    for cut in ("473415", "473415.8,300000"):
        rows = list(KLINE_ROWS)
        rows[1] = rows[1].split(",473415.8")[0] + "," + cut
        path = tmp_path / "BTCUSDT-1m-2024-08-08.csv"
        path.write_text("\n".join(rows) + "\n")
        r = read_candles_csv(path)
        assert [(x.line, x.reason) for x in r.rejected] == [(2, "field_count")]
        assert 473415.0 not in r.frame["taker_buy_volume"].tolist() and len(r.frame) == 2


def test_gzip_cut_in_half_gives_its_readable_rows_and_says_where(tmp_path: Path, shared_data: Path) -> None:
    """A .gz cut in half yields the rows before the break (no cut row) and names the line it broke after."""
    src = shared_data / "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv/spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
    full = read_trades_csv(src)
    data = src.read_bytes()
    cut = tmp_path / "spot_BTCUSDT-trades-cut.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    r = read_trades_csv(cut)
    assert r.damage is not None and "after line" in r.damage
    n = len(r.frame)
    assert 0 < n < len(full.frame) and f"after line {n}" in r.damage
    pd.testing.assert_frame_equal(r.frame, full.frame.iloc[:n])


def test_gzip_of_a_damaged_kline_file_is_checked_like_a_plain_one(tmp_path: Path) -> None:
    """The field-count check runs on decompressed bytes too (gzip input, cut row in the middle)."""
    rows = list(KLINE_ROWS)
    rows[1] = rows[1][: rows[1].index(",473415.8") + 7]
    path = tmp_path / "BTCUSDT-1m-2024-08-08.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    r = read_candles_csv(path)
    assert [(x.line, x.reason) for x in r.rejected] == [(2, "field_count")]
