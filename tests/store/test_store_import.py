"""import_files on real files and corrupted copies: counts, idempotence, rejected rows, markets."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd

from quantkit.datafiles import read_trades_csv
from quantkit.store import TickStore, import_files

CAP = "binance_ws_capture_2024-08-08_hftbacktest"
SPOT_BTC = f"{CAP}/derived_trades_csv/spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz"
UM_BTC = f"{CAP}/derived_trades_csv/um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz"
BYBIT = "bybit_linear_klines_2025-04_2025-07_crypto_backtester"


def test_trades_csv_import_is_idempotent(store: TickStore, shared_data: Path) -> None:
    """Importing the spot CSV stores 19,904 ticks; importing it (or its captures) again stores nothing."""
    first = import_files(store, [shared_data / SPOT_BTC], progress=False)
    assert (first.rows, first.stored, first.duplicates, first.rejected, first.ok) == (19_904, 19_904, 0, [], True)
    again = import_files(store, [shared_data / SPOT_BTC], progress=False)
    assert (again.stored, again.duplicates) == (0, 19_904)
    caps = import_files(store, [shared_data / CAP / "raw/spot_btcusdt_20240808.gz", shared_data / CAP / "raw/spot_btcusdt_20240809.gz"], progress=False)
    assert (caps.stored, caps.duplicates) == (0, 9_757 + 10_147)
    row = store.symbols().set_index("symbol").loc["BTCUSDT"]
    assert (row["kind"], row["market"], row["count"]) == ("ticks", "spot", 19_904)
    assert row["first"] == pd.Timestamp("2024-08-08 23:54:15.342", tz="UTC")
    assert row["last"] == pd.Timestamp("2024-08-09 00:05:05.800", tz="UTC")


def test_captures_imported_newest_first_still_complete(store: TickStore, shared_data: Path) -> None:
    """Importing the later capture first, then the earlier one, yields exactly the CSV's ticks."""
    r1 = import_files(store, [shared_data / CAP / "raw/spot_ethusdt_20240809.gz"], progress=False)
    r2 = import_files(store, [shared_data / CAP / "raw/spot_ethusdt_20240808.gz"], progress=False)
    assert (r1.stored, r2.stored) == (8_409, 6_106)
    csv = read_trades_csv(shared_data / CAP / "derived_trades_csv/spot_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz").frame
    got = store.ticks("ETHUSDT")
    assert got["trade_id"].tolist() == csv["trade_id"].tolist()
    assert (got.index == csv.index).all() and (got["price"].to_numpy() == csv["price"].to_numpy()).all()


def test_futures_file_needs_its_own_symbol(store: TickStore, shared_data: Path) -> None:
    """A USD-M file goes to the perpetual's name (quantkit.symbols); forced onto the spot symbol it fails with a hint."""
    import_files(store, [shared_data / SPOT_BTC], progress=False)
    clash = import_files(store, [shared_data / UM_BTC], symbol="BTCUSDT", progress=False)
    assert not clash.ok and "BTCUSDT_PERP" in (clash.errors[0].error or "") and clash.stored == 0
    ok = import_files(store, [shared_data / UM_BTC], progress=False)
    assert (ok.stored, ok.ok) == (21_313, True) and ok.files[0].symbols == ("BTCUSDT_PERP",)
    markets = store.symbols().set_index("symbol")["market"].to_dict()
    assert markets == {"BTCUSDT": "spot", "BTCUSDT_PERP": "futures"}


def test_corrupted_bybit_candles(store: TickStore, shared_data: Path, tmp_path: Path) -> None:
    """Bad candle rows are reported with file and line, good rows stored, re-import stores nothing."""
    text = gzip.decompress((shared_data / BYBIT / "1m/SOLUSDT_1m.csv.gz").read_bytes()).decode().splitlines()
    rows = text[:501]
    rows[10] = rows[10].replace(",", ";", 1)  # line 11: one field
    parts = rows[200].split(",")
    parts[2] = "-5"  # line 201: high below low and negative
    rows[200] = ",".join(parts)
    rows[300] = rows[300] + ",7"  # line 301: extra field
    path = tmp_path / "SOLUSDT_1m.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    rep = import_files(store, tmp_path, progress=False)
    assert [(r.path, r.line) for r in rep.rejected] == [(str(path), 11), (str(path), 201), (str(path), 301)]
    assert (rep.stored, rep.files[0].kind, rep.files[0].symbols) == (497, "candles_csv", ("SOLUSDT (1m candles)",))
    text_report = str(rep)
    assert "497 stored" in text_report and f"{path}:201: non_positive" in text_report
    again = import_files(store, [path], progress=False)
    assert (again.stored, again.duplicates) == (0, 497)
    row = store.symbols().set_index("symbol").loc["SOLUSDT"]
    assert (row["kind"], row["interval"], row["count"]) == ("candles", "1m", 497)


def test_candle_reimport_refuses_a_changed_bar_unless_replace(store: TickStore, shared_data: Path, tmp_path: Path) -> None:
    """A later file with a changed candle is refused as a conflict (file:line) unless replace=True; unchanged rows are duplicates."""
    src = gzip.decompress((shared_data / BYBIT / "5m/XRPUSDT_5m.csv.gz").read_bytes()).decode().splitlines()
    early = tmp_path / "early" / "XRPUSDT_5m.csv"
    early.parent.mkdir()
    early.write_text("\n".join(src[:101]) + "\n")
    fields = src[100].split(",")
    fields[5] = str(float(fields[5]) + 1000.0)  # the last candle of the early file, now with more volume
    late = tmp_path / "late" / "XRPUSDT_5m.csv"
    late.parent.mkdir()
    late.write_text("\n".join(src[:100] + [",".join(fields)] + src[101:151]) + "\n")
    assert import_files(store, [early], progress=False).stored == 100
    before = store.candles("XRPUSDT", "5m")
    rep = import_files(store, [late], progress=False)
    assert (rep.stored, rep.duplicates, rep.conflicts) == (50, 99, 1) and not rep.complete
    assert [(r.path, r.line, r.reason) for r in rep.rejected] == [(str(late), 101, "conflict")]
    candles = store.candles("XRPUSDT", "5m")
    assert len(candles) == 150
    pd.testing.assert_frame_equal(candles.iloc[:100], before)  # the stored candle is unchanged
    rep = import_files(store, [late], progress=False, replace=True)
    assert (rep.stored, rep.duplicates, rep.conflicts) == (1, 149, 0) and rep.complete
    assert store.candles("XRPUSDT", "5m")["volume"].iloc[99] == float(fields[5])


def test_directory_import_skips_non_data_files(store: TickStore, shared_data: Path, tmp_path: Path) -> None:
    """Files in a directory that are not data files are skipped; an explicit one is reported as failed."""
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(shared_data / CAP / "raw/cm_ethusd_perp_20240808.gz", d)
    (d / "README.md").write_text("# notes\n")
    rep = import_files(store, d, progress=False)
    assert rep.ok and len(rep.files) == 1 and rep.stored == 1_732
    assert store.symbols()["symbol"].tolist() == ["ETHUSD_PERP"]
    bad = import_files(store, [d / "README.md"], progress=False)
    assert not bad.ok and "FAILED" in str(bad)


def test_trade_conflicts_are_refused_with_file_and_line_unless_replace(store: TickStore, shared_data: Path, tmp_path: Path) -> None:
    """A stored trade id with another price or time is a conflict (file:line), the stored trade kept; replace=True swaps it."""
    lines = gzip.decompress((shared_data / SPOT_BTC).read_bytes()).decode().splitlines()[:300]
    good = tmp_path / "spot_BTCUSDT-trades-2024-08-08.csv"
    good.write_text("\n".join(lines) + "\n")
    assert import_files(store, [good], progress=False).complete
    before = store.ticks("BTCUSDT")
    rows = [ln.split(",") for ln in lines]
    rows[9][1] = f"{float(rows[9][1]) + 1:.8f}"  # line 10: another price
    rows[19][4] = str(int(rows[19][4]) + 5)  # line 20: another time (same order)
    bad = tmp_path / "again" / "spot_BTCUSDT-trades-2024-08-08.csv"
    bad.parent.mkdir()
    bad.write_text("\n".join(",".join(r) for r in rows) + "\n")
    rep = import_files(store, [bad], progress=False)
    assert (rep.stored, rep.duplicates, rep.conflicts) == (0, 298, 2) and not rep.complete
    assert [(r.line, r.reason) for r in rep.rejected] == [(10, "conflict"), (20, "conflict")]
    pd.testing.assert_frame_equal(store.ticks("BTCUSDT"), before)
    rep = import_files(store, [bad], progress=False, replace=True)
    assert (rep.stored, rep.conflicts) == (2, 0) and rep.complete
    after = store.ticks("BTCUSDT")
    assert len(after) == 300 and after["trade_id"].is_unique
    by_id = after.reset_index().set_index("trade_id")
    assert by_id.loc[int(rows[9][0]), "price"] == float(rows[9][1])
    assert int(by_id.loc[int(rows[19][0]), "time"].value // 1_000_000) == int(rows[19][4])
