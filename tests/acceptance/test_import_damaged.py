"""Damaged files imported with `quantkit import` onto a store holding the good data: nothing stored changes.

Each case runs the `quantkit` command in a fresh process, like a user, and compares the store before and
after. The good data are small slices of the real captures and candles in ../shared/data.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quantkit.store import TickStore

CAP = "binance_ws_capture_2024-08-08_hftbacktest"
SPOT_BTC = f"{CAP}/derived_trades_csv/spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
UM_BTC = f"{CAP}/derived_trades_csv/um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz"
RAW_ETH = f"{CAP}/raw/spot_ethusdt_20240808.gz"
BYBIT_BTC = "bybit_linear_klines_2025-04_2025-07_crypto_backtester/1m/BTCUSDT_1m.csv.gz"
BYBIT_SOL = "bybit_linear_klines_2025-04_2025-07_crypto_backtester/5m/SOLUSDT_5m.csv.gz"


def quantkit(*args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """The `quantkit` console script of this environment, in a fresh process."""
    exe = Path(sys.executable).with_name("quantkit")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "quantkit"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def _gz_lines(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [next(fh).rstrip("\n") for _ in range(n)]


def _klines_from_bybit(lines: list[str]) -> list[str]:
    """Binance klines rows (12 fields) made from Bybit 1m candles: the layout whose trailing columns get cut."""
    out = []
    for ln in lines[1:]:
        t, o, h, lo, c, v = ln.split(",")
        ms = int(pd.Timestamp(t).value // 1_000_000)
        quote = round(float(v) * float(c), 4)
        out.append(f"{ms},{o},{h},{lo},{c},{v},{ms + 59_999},{quote},{len(v) * 37},{round(float(v) / 2, 3)},{round(quote / 2, 4)},0")
    return out


class Good:
    """Paths of the good files and the store that holds them."""

    def __init__(self, root: Path, shared: Path) -> None:
        self.root = root
        self.uri = f"lmdb://{root / 'db'}"
        self.spot = _gz_lines(shared / SPOT_BTC, 400)  # spot BTCUSDT trades, no header
        self.um = _gz_lines(shared / UM_BTC, 201)  # USD-M BTCUSDT trades, header
        self.klines = _klines_from_bybit(_gz_lines(shared / BYBIT_BTC, 121))  # BTCUSDT 1m klines (12 fields)
        self.bybit = _gz_lines(shared / BYBIT_SOL, 101)  # SOLUSDT 5m candles, header, 6 fields
        self.capture = _gz_lines(shared / RAW_ETH, 6000)  # ETHUSDT raw capture lines (trades among depth/bookTicker)
        good = root / "good"
        good.mkdir()
        self.write(good / "spot_BTCUSDT-trades-2024-08-08.csv", self.spot)
        self.write(good / "BTCUSDT-1m-2025-05-30.csv", self.klines)
        self.write(good / "SOLUSDT_5m.csv", self.bybit)
        (good / "spot_ethusdt_20240808.gz").write_bytes(gzip.compress(("\n".join(self.capture) + "\n").encode()))
        self.files = sorted(good.iterdir())

    @staticmethod
    def write(path: Path, lines: list[str]) -> Path:
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
        else:
            path.write_text("\n".join(lines) + "\n")
        return path

    def snapshot(self) -> dict[str, pd.DataFrame]:
        """Everything the store holds, to compare before and after."""
        store = TickStore(self.uri)
        out = {f"ticks {s}": store.ticks(s) for s in ("BTCUSDT", "ETHUSDT")}
        out["candles BTCUSDT 1m"] = store.candles("BTCUSDT", "1m")
        out["candles SOLUSDT 5m"] = store.candles("SOLUSDT", "5m")
        return out


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Good:
    """A store holding the good data, imported through the command (exit 0: everything stored)."""
    g = Good(tmp_path_factory.mktemp("import_damaged"), shared_data)
    proc = quantkit("import", "-q", "--store", g.uri, *map(str, g.files))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = quantkit("import", "-q", "--store", g.uri, *map(str, g.files))
    assert again.returncode == 0 and " 0 stored" in again.stdout, again.stdout + again.stderr
    return g


def _import_damaged(good: Good, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    before = good.snapshot()
    proc = quantkit("import", "-q", "--store", good.uri, *extra, str(path))
    after = good.snapshot()
    for key in before:
        pd.testing.assert_frame_equal(after[key], before[key], obj=key)
    assert "Traceback" not in proc.stderr
    return proc


def _kline_cut(good: Good, tmp: Path, keep: int) -> Path:
    rows = list(good.klines)
    fields = rows[50].split(",")
    rows[50] = ",".join(fields[:9] + [fields[9][:keep]]) if keep < len(fields[9]) else ",".join(fields[:11])
    return good.write(tmp / "BTCUSDT-1m-2025-05-30.csv", rows)


@pytest.mark.parametrize("keep", [3, 99])  # cut inside taker_buy_volume (10 fields), or after it (11 fields)
def test_kline_row_cut_inside_taker_buy_volume(good: Good, tmp_path: Path, keep: int) -> None:
    """A kline row cut short is refused with its file:line (exit 3); the stored candle keeps its value."""
    path = _kline_cut(good, tmp_path, keep)
    proc = _import_damaged(good, path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"{path}:51: field_count" in proc.stdout
    assert str(path) in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_kline_row_with_other_values_is_a_conflict_unless_replace(good: Good, tmp_path: Path) -> None:
    """A candle whose values differ from the stored one is refused as a conflict; --replace is what changes it."""
    rows = list(good.klines)
    f = rows[30].split(",")
    f[5] = str(float(f[5]) + 1.0)  # volume
    path = good.write(tmp_path / "BTCUSDT-1m-2025-05-30.csv", rows[:30] + [",".join(f)] + rows[31:])
    proc = _import_damaged(good, path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"{path}:31: conflict" in proc.stdout and "--replace" in proc.stderr
    copy = Good.__new__(Good)  # replace on a copy of the store, so the shared good store stays good
    copy.uri = f"lmdb://{tmp_path / 'copy'}"
    assert quantkit("import", "-q", "--store", copy.uri, *map(str, good.files)).returncode == 0
    fixed = quantkit("import", "-q", "--replace", "--store", copy.uri, str(path))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert TickStore(copy.uri).candles("BTCUSDT", "1m")["volume"].iloc[30] == float(f[5])


def test_trade_row_with_other_values_is_a_conflict(good: Good, tmp_path: Path) -> None:
    """A stored trade id with another price is refused as a conflict with file:line (exit 3); the trade stays."""
    rows = list(good.spot)
    f = rows[99].split(",")
    f[1] = f"{float(f[1]) + 5:.8f}"
    rows[99] = ",".join(f)
    path = good.write(tmp_path / "spot_BTCUSDT-trades-2024-08-08.csv", rows)
    proc = _import_damaged(good, path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"{path}:100: conflict" in proc.stdout


def test_repeated_rows_are_duplicates_not_rejections(good: Good, tmp_path: Path) -> None:
    """Exact repeats of stored rows are counted as duplicates: nothing refused, exit 0, nothing changed."""
    path = good.write(tmp_path / "spot_BTCUSDT-trades-2024-08-08.csv", good.spot[:50] + good.spot[:50] + good.spot[40:60])
    proc = _import_damaged(good, path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 rejected" in proc.stdout and "120 duplicates" in proc.stdout


def test_repeated_id_with_other_values_in_one_file_is_a_conflict(good: Good, tmp_path: Path) -> None:
    """The same id twice in a file with different values: the second is refused as a conflict (exit 3)."""
    f = good.spot[10].split(",")
    f[2] = "0.5"
    path = good.write(tmp_path / "spot_BTCUSDT-trades-2024-08-08.csv", good.spot[:20] + [",".join(f)])
    proc = _import_damaged(good, path)
    assert proc.returncode == 3 and f"{path}:21: conflict" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["spot_ethusdt_20240808.gz", "spot_BTCUSDT-trades-2024-08-08.csv.gz"])
def test_gz_cut_in_half_stores_its_readable_part_and_says_where(good: Good, tmp_path: Path, name: str) -> None:
    """A .gz cut in half: the readable part is imported (here: already stored), the break is named, exit 3."""
    lines = good.capture if name.endswith("0808.gz") else good.spot
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    proc = _import_damaged(good, path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "damaged after line" in proc.stderr and str(path) in proc.stderr
    fresh = f"lmdb://{tmp_path / 'fresh'}"  # onto an empty store: the readable part is stored
    proc = quantkit("import", "-q", "--store", fresh, str(path))
    assert proc.returncode == 3
    sym = "ETHUSDT" if "eth" in name else "BTCUSDT"
    stored = TickStore(fresh).ticks(sym)
    assert 0 < len(stored) < len(good.snapshot()[f"ticks {sym}"])


def test_bybit_candle_row_cut_short(good: Good, tmp_path: Path) -> None:
    """A Bybit candle row cut inside its volume is refused with file:line (exit 3)."""
    rows = list(good.bybit)
    rows[40] = rows[40][: rows[40].rindex(",")]
    path = good.write(tmp_path / "SOLUSDT_5m.csv", rows)
    proc = _import_damaged(good, path)
    assert proc.returncode == 3 and f"{path}:41: field_count" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("kind", ["missing", "empty", "unreadable", "unrecognised", "futures_onto_spot"])
def test_files_that_cannot_be_imported_exit_1_with_one_line(good: Good, tmp_path: Path, kind: str) -> None:
    """Missing, empty, unreadable (corrupt gzip), unrecognised files and a spot/futures conflict: exit 1, one line."""
    path = tmp_path / "spot_BTCUSDT-trades-2024-08-08.csv.gz"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "unreadable":
        path.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(64))
    elif kind == "unrecognised":
        path = tmp_path / "BTCUSDT-notes.txt"
        path.write_text("these are my notes\nnothing to import\n")
    elif kind == "futures_onto_spot":
        path = good.write(tmp_path / "um_BTCUSDT-trades-2024-08-08.csv", good.um)
    extra = ["--symbol", "BTCUSDT"] if kind == "futures_onto_spot" else []  # USD-M trades into the spot symbol
    proc = _import_damaged(good, path, *extra)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantkit import: error:") and str(path) in lines[0]
    reason = {"missing": "cannot open", "empty": "empty file", "unreadable": "cannot read", "unrecognised": "unknown",
              "futures_onto_spot": "spot ticks"}[kind]  # fmt: skip
    assert reason in lines[0], lines[0]
