"""The CLI turns errors into one-line messages and exit codes, never tracebacks."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from quantkit.cli import main
from quantkit.store import TickStore


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantkit", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_unknown_symbol_is_a_one_line_error_with_exit_code_1(tmp_path: Path) -> None:
    """`quantkit bars` on a missing symbol prints one stderr line naming it and exits 1."""
    TickStore(f"lmdb://{tmp_path / 'db'}")  # an existing, empty store
    proc = _run(["bars", "NOPEUSDT", "--store", f"lmdb://{tmp_path / 'db'}"], tmp_path)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "NOPEUSDT" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("argv", "needle", "code"),
    [
        (["ingest", "--source", "kraken", "--store", "lmdb://{tmp}/db"], "kraken", 2),
        (["ingest", "--source", "synthetic", "--rate", "10", "--symbols", "btc-usdt", "--store", "lmdb://{tmp}/db"], "btc-usdt", 2),
        (["exchange", "--source", "replay:/does/not/exist.csv.gz", "--port", "0"], "exist", 1),
        (["exchange", "--source", "replay:", "--port", "0"], "replay", 2),
        (["exchange", "--source", "binance", "--port", "0"], "binance", 2),
    ],
)
def test_bad_sources_and_symbols_exit_non_zero_with_the_value_named(
    argv: list[str], needle: str, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad --source / --symbols values: one stderr line naming the value; 2 when malformed, 1 when unusable."""
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == code
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed flag value is a usage error: exit 2 and one stderr line (no usage block)."""
    assert main(["exchange", "--speed", "-3"]) == 2
    err = capsys.readouterr().err
    assert "must be > 0" in err and len(err.strip().splitlines()) == 1


def test_import_reports_bad_rows_with_file_and_line_and_keeps_good_ones(tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`quantkit import` of a candle CSV with corrupted rows stores the good rows and names the bad lines."""
    src = shared_data / "bybit_linear_klines_2025-04_2025-07_crypto_backtester/5m/SOLUSDT_5m.csv.gz"
    lines = gzip.open(src, "rt").read().splitlines()[:501]
    lines[10] = lines[10].replace(",", ",abc,", 1)  # non-numeric open at line 11
    lines[20] = ",".join(lines[20].split(",")[:3])  # truncated row at line 21
    bad = tmp_path / "SOLUSDT_5m.csv"
    bad.write_text("\n".join(lines) + "\n")
    store = f"lmdb://{tmp_path / 'db'}"
    assert main(["import", str(bad), "--store", store, "-q"]) == 3  # rows refused
    out = capsys.readouterr().out
    assert "SOLUSDT_5m.csv:11" in out and "SOLUSDT_5m.csv:21" in out
    assert main(["symbols", "--store", store]) == 0
    listing = capsys.readouterr().out
    assert "SOLUSDT" in listing and "498" in listing
    assert main(["import", str(bad), "--store", store, "-q"]) == 3  # idempotent (the bad rows are still refused)
    assert main(["symbols", "--store", store]) == 0
    assert "498" in capsys.readouterr().out
