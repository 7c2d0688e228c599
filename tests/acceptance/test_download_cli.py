"""`quantkit download` in fresh processes against a local server in the archive layout."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from quantkit.store import TickStore

from _support.archive_data import ArchiveBuilder, archive_path
from _support.archive_server import ArchiveServer


def _quantkit(args: list[str], tmp_path: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QUANTKIT_DATA_DIR=str(tmp_path / "home"), QUANTKIT_ARCTIC_URI=f"lmdb://{tmp_path / 'arctic'}")
    return subprocess.run(
        [sys.executable, "-m", "quantkit", *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def test_download_command_imports_verifies_refuses_and_is_idempotent(
    tmp_path: Path, shared_data: Path, timeout_unit: float
) -> None:
    """Two symbols of USD-M trades and a month of funding: exact rows, a refused checksum (exit 1), a second run stores nothing."""
    with ArchiveServer() as archive:
        build = ArchiveBuilder(archive, shared_data)
        btc = pd.concat([build.trades("um", "BTCUSDT", dt.date(2024, 9, d), rows=4000) for d in (1, 2)])
        eth = pd.concat([build.trades("um", "ETHUSDT", dt.date(2024, 9, d), rows=4000) for d in (1, 2)])
        fund = build.funding("BTCUSDT", "2024-08")
        common = ["--base-url", archive.url, "--jobs", "2", "-q"]

        first = _quantkit(["download", "BTCUSDT,ETHUSDT", "--market", "um", "--kind", "trades",
                           "--start", "2024-09-01", "--end", "2024-09-03", *common], tmp_path, 120 * timeout_unit)  # fmt: skip
        assert first.returncode == 0, first.stdout + first.stderr
        assert "Downloaded 4 file(s)" in first.stdout and "4 fetched" in first.stdout
        assert f"Imported {len(btc) + len(eth):,} rows: {len(btc) + len(eth):,} stored" in first.stdout

        funding = _quantkit(["download", "BTCUSDT", "--market", "um", "--kind", "fundingRate",
                             "--start", "2024-08-01", "--end", "2024-09-01", *common], tmp_path, 120 * timeout_unit)  # fmt: skip
        assert funding.returncode == 0, funding.stdout + funding.stderr

        again = _quantkit(["download", "BTCUSDT,ETHUSDT", "--market", "um", "--kind", "trades",
                           "--start", "2024-09-01", "--end", "2024-09-03", *common], tmp_path, 120 * timeout_unit)  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        assert "4 already verified" in again.stdout and "0 stored" in again.stdout
        assert "4 file(s) already imported into this store" in again.stdout
        assert "0.0 MB received" in again.stdout

        archive.add(archive_path("um", "daily", "trades", "BTCUSDT", "2024-09-03"), b"PK\x03\x04 not what the checksum says",
                    checksum="f" * 64)  # fmt: skip
        refused = _quantkit(["download", "BTCUSDT", "--market", "um", "--kind", "trades",
                             "--start", "2024-09-03", "--end", "2024-09-04", *common], tmp_path, 120 * timeout_unit)  # fmt: skip
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "REFUSED" in refused.stdout and "sha256 mismatch" in refused.stdout

    usage = _quantkit(["download", "BTCUSDT", "--market", "spot", "--kind", "fundingRate",
                       "--start", "2024-08-01", "--end", "2024-09-01"], tmp_path, 60 * timeout_unit)  # fmt: skip
    assert usage.returncode == 2 and usage.stderr.strip().splitlines()[-1].startswith("quantkit download: error:")
    assert "Traceback" not in usage.stderr

    store = TickStore(f"lmdb://{tmp_path / 'arctic'}")
    for sym, exp in (("BTCUSDT_PERP", btc), ("ETHUSDT_PERP", eth)):
        got = store.ticks(sym)
        assert np.array_equal(got["trade_id"].to_numpy(), exp["trade_id"].to_numpy())
        assert np.array_equal(got.index.asi8, exp["time_ns"].to_numpy())
        assert np.array_equal(got["price"].to_numpy(), exp["price"].to_numpy())
    f = store.funding("BTCUSDT_PERP")
    assert np.array_equal(f["funding_rate"].to_numpy(), fund["funding_rate"].to_numpy())
    assert (tmp_path / "home" / "archive" / archive_path("um", "daily", "trades", "ETHUSDT", "2024-09-02")).is_file()
