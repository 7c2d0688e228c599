"""quantkit download against a local server in the archive layout: exact rows, checksums, faults, resume, idempotence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantkit.feed.archive import ArchiveFile, plan_files
from quantkit.ingest.download import DownloadReport, download
from quantkit.store import TickStore

from _support.archive_data import ArchiveBuilder, archive_path
from _support.archive_server import ArchiveServer, zip_csv

D = dt.date


def _run(archive: ArchiveServer, store: TickStore, tmp_path: Path, symbols: str, **kw: Any) -> DownloadReport:
    kw.setdefault("jobs", 3)
    return download(
        symbols, store=store, dest=tmp_path / "mirror", base_url=archive.url, progress=False,
        backoff_initial=0.01, backoff_max=0.05, timeout=10.0, today=D(2025, 6, 1), **kw,
    )  # fmt: skip


def _ticks_equal(store: TickStore, symbol: str, expected: pd.DataFrame) -> None:
    got = store.ticks(symbol)
    exp = expected.sort_values("trade_id").reset_index(drop=True)
    assert len(got) == len(exp)
    assert np.array_equal(got["trade_id"].to_numpy(), exp["trade_id"].to_numpy())
    assert np.array_equal(got.index.asi8, exp["time_ns"].to_numpy())
    assert np.array_equal(got["price"].to_numpy(), exp["price"].to_numpy())
    assert np.array_equal(got["qty"].to_numpy(), exp["qty"].to_numpy())
    assert np.array_equal(got["is_buyer_maker"].to_numpy(), exp["is_buyer_maker"].to_numpy())


def test_plan_uses_monthly_files_for_whole_months_and_daily_files_for_the_rest() -> None:
    """A range from mid-December to early February: December's days, January's month file, February's days."""
    files = plan_files(["btcusdt"], "spot", "klines", D(2024, 12, 30), D(2025, 2, 2), interval="1m")
    assert [(f.period, f.date) for f in files] == [
        ("daily", "2024-12-30"), ("daily", "2024-12-31"), ("monthly", "2025-01"), ("daily", "2025-02-01"), ("daily", "2025-02-02"),
    ]  # fmt: skip
    assert files[2].path == archive_path("spot", "monthly", "klines", "BTCUSDT", "2025-01", "1m")
    assert files[2].path == "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01.zip"
    um = plan_files(["ETHUSDT"], "um", "aggTrades", D(2024, 2, 29), D(2024, 2, 29))
    assert um[0].path == "data/futures/um/daily/aggTrades/ETHUSDT/ETHUSDT-aggTrades-2024-02-29.zip"
    funding = plan_files(["BTCUSDT"], "um", "fundingRate", D(2024, 1, 15), D(2024, 2, 3))
    assert [f.path for f in funding] == [
        "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip",
        "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-02.zip",
    ]
    with pytest.raises(ValueError, match="fundingRate"):
        plan_files(["BTCUSDT"], "spot", "fundingRate", D(2024, 1, 1), D(2024, 1, 1))
    with pytest.raises(ValueError, match="after"):
        plan_files(["BTCUSDT"], "spot", "trades", D(2024, 1, 2), D(2024, 1, 1))


def test_every_kind_is_stored_exactly_and_a_second_run_fetches_and_stores_nothing(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """Trades (spot ms then µs, um ms), aggTrades, klines and fundingRate: the store holds exactly the served rows."""
    spot = pd.concat([build.trades("spot", "BTCUSDT", D(2024, 12, 31)),  # ms
                      build.trades("spot", "BTCUSDT", D(2025, 1, 1)),  # µs from here on
                      build.trades("spot", "BTCUSDT", D(2025, 1, 2))])  # fmt: skip
    um = pd.concat([build.trades("um", "BTCUSDT", D(2025, 1, 1)), build.trades("um", "BTCUSDT", D(2025, 1, 2))])
    agg_spot = build.aggtrades("spot", "ETHUSDT", D(2025, 1, 3))
    agg_um = build.aggtrades("um", "ETHUSDT", D(2024, 6, 1))
    kl_month = build.klines("um", "BTCUSDT", "monthly", "2024-12", seed=1)
    kl_day = build.klines("um", "BTCUSDT", "daily", "2025-01-01", seed=2)
    kl_spot = build.klines("spot", "ETHUSDT", "daily", "2025-01-02", seed=3)
    fund = build.funding("BTCUSDT", "2024-12")

    runs = [
        dict(symbols="BTCUSDT", market="spot", kind="trades", start="2024-12-31", end="2025-01-03"),
        dict(symbols="BTCUSDT", market="um", kind="trades", start="2025-01-01", end="2025-01-03"),
        dict(symbols="ETHUSDT", market="spot", kind="aggTrades", start="2025-01-03", end="2025-01-04"),
        dict(symbols="ETHUSDT", market="um", kind="aggTrades", start="2024-06-01", end="2024-06-02"),
        dict(symbols="BTCUSDT", market="um", kind="klines", interval="1m", start="2024-12-01", end="2025-01-02"),
        dict(symbols="ETHUSDT", market="spot", kind="klines", interval="1m", start="2025-01-02", end="2025-01-03"),
        dict(symbols="BTCUSDT", market="um", kind="fundingRate", start="2024-12-01", end="2025-01-01"),
    ]
    for kw in runs:
        report = _run(archive, store, tmp_path, **kw)  # type: ignore[arg-type]
        assert report.ok and not report.refused and not report.missing, str(report)
        assert report.stored == report.rows > 0

    _ticks_equal(store, "BTCUSDT", spot)
    _ticks_equal(store, "BTCUSDT_PERP", um)
    _ticks_equal(store, "ETHUSDT@aggTrade", agg_spot)
    _ticks_equal(store, "ETHUSDT_PERP@aggTrade", agg_um)
    assert (store.ticks("BTCUSDT").index.asi8 % 1_000_000 != 0).any()  # µs kept below the millisecond
    cat = store.symbols()
    markets = cat[cat["kind"] == "ticks"].set_index("symbol")["market"]
    assert markets["BTCUSDT"] == "spot" and markets["BTCUSDT_PERP"] == "futures"

    kl = pd.concat([kl_month, kl_day])
    for sym, exp in (("BTCUSDT_PERP", kl), ("ETHUSDT", kl_spot)):
        got = store.candles(sym, "1m")
        assert np.array_equal(got.index.asi8, exp["time_ns"].to_numpy())
        for col in ("open", "high", "low", "close", "volume"):
            assert np.array_equal(got[col].to_numpy(), exp[col].to_numpy()), col

    f = store.funding("BTCUSDT_PERP")
    assert list(f.columns) == ["funding_rate", "mark_price"]
    assert np.array_equal(f.index.asi8, fund["time_ns"].to_numpy())
    assert np.array_equal(f["funding_rate"].to_numpy(), fund["funding_rate"].to_numpy())
    assert f["mark_price"].isna().all()

    zips_before = len(archive.requests(".zip"))
    for kw in runs:
        again = _run(archive, store, tmp_path, **kw)  # type: ignore[arg-type]
        assert again.ok and again.stored == 0 and again.rows == 0, str(again)
        assert {o.fetch.status for o in again.files} == {"cached"}
        assert len(again.skipped) == len(again.files) and "already imported into this store" in str(again)
        assert again.bytes == 0
    assert len(archive.requests(".zip")) == zips_before  # a verified file is never fetched twice
    assert len(archive.requests(".CHECKSUM")) == sum(1 for p in archive.files if p.endswith(".CHECKSUM"))
    _ticks_equal(store, "BTCUSDT", spot)


def test_checksum_mismatch_is_fetched_again_once_then_refused_and_nothing_is_imported(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """A zip whose checksum never matches: two downloads, refused, nothing stored; the good day is stored."""
    good = build.trades("um", "ETHUSDT", D(2024, 3, 1), rows=3000)
    build.trades("um", "ETHUSDT", D(2024, 3, 2), rows=3000, checksum="0" * 64)
    report = _run(archive, store, tmp_path, "ETHUSDT", market="um", kind="trades", start="2024-03-01", end="2024-03-03")
    assert not report.ok
    [bad] = report.refused
    assert bad.fetch.file.date == "2024-03-02" and "sha256 mismatch" in str(bad.refused)
    bad_path = archive_path("um", "daily", "trades", "ETHUSDT", "2024-03-02")
    assert [r[2] for r in archive.requests(".zip") if r[0] == bad_path] == [200, 200]
    _ticks_equal(store, "ETHUSDT_PERP", good)
    mirror = tmp_path / "mirror" / bad_path
    assert not mirror.exists() and not mirror.with_name(mirror.name + ".part").exists()
    assert "REFUSED" in str(report) and "ETHUSDT-trades-2024-03-02.zip" in str(report)


def test_damaged_zip_with_a_matching_checksum_is_refused_and_nothing_from_it_is_stored(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """A corrupt zip whose checksum matches, and a sound zip holding no trades CSV: both refused, nothing stored."""
    build.trades("spot", "ETHUSDT", D(2024, 3, 1), damage=True)
    good = build.trades("spot", "ETHUSDT", D(2024, 3, 2), rows=2000)
    archive.add(archive_path("spot", "daily", "trades", "ETHUSDT", "2024-03-03"), zip_csv("x.csv", "this is not,a trades file\n"))
    report = _run(archive, store, tmp_path, "ETHUSDT", market="spot", kind="trades", start="2024-03-01", end="2024-03-04")
    damaged, unreadable = report.refused
    assert damaged.fetch.file.date == "2024-03-01" and "damaged zip" in str(damaged.refused)
    assert "CRC" in str(damaged.refused)
    assert unreadable.fetch.file.date == "2024-03-03" and "unreadable" in str(unreadable.refused)
    assert not report.ok
    _ticks_equal(store, "ETHUSDT", good)


def test_a_404_day_is_a_clear_missing_line_and_the_other_days_are_stored(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """A day the archive does not have is reported as missing (not refused); the others are imported."""
    a = build.trades("um", "BTCUSDT", D(2024, 5, 1), rows=1000)
    b = build.trades("um", "BTCUSDT", D(2024, 5, 3), rows=1000)
    report = _run(archive, store, tmp_path, "BTCUSDT", market="um", kind="trades", start="2024-05-01", end="2024-05-04")
    assert report.ok and not report.refused
    [miss] = report.missing
    assert miss.fetch.file.date == "2024-05-02" and "not in the archive" in str(miss.fetch.reason)
    assert "missing  data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2024-05-02.zip" in str(report)
    _ticks_equal(store, "BTCUSDT_PERP", pd.concat([a, b]))


def test_a_dropped_connection_and_503s_are_retried_and_the_file_resumes_where_it_stopped(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """The server closes the connection mid-file, then answers 503 twice: the client resumes with a Range request."""
    exp = build.trades("spot", "BTCUSDT", D(2025, 2, 1))
    path = archive_path("spot", "daily", "trades", "BTCUSDT", "2025-02-01")
    size = len(archive.files[path])
    archive.drop_after[path] = size // 2
    archive.fail_times[path + ".CHECKSUM"] = 2
    report = _run(archive, store, tmp_path, "BTCUSDT", market="spot", kind="trades", start="2025-02-01", end="2025-02-02")
    assert report.ok, str(report)
    reqs = archive.requests(".zip")
    assert [(r[1], r[2]) for r in reqs] == [(None, 200), (f"bytes={size // 2}-", 206)]
    assert report.bytes == size
    assert [r[2] for r in archive.requests(".CHECKSUM")] == [503, 503, 200]
    _ticks_equal(store, "BTCUSDT", exp)


def test_a_partial_file_left_by_an_earlier_run_is_resumed_not_fetched_again(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """A ``.part`` file from an interrupted run: only the rest is fetched, then verified and imported."""
    exp = build.aggtrades("um", "BTCUSDT", D(2024, 7, 1))
    path = archive_path("um", "daily", "aggTrades", "BTCUSDT", "2024-07-01")
    body = archive.files[path]
    part = tmp_path / "mirror" / (path + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(body[:1000])
    report = _run(archive, store, tmp_path, "BTCUSDT", market="um", kind="aggTrades", start="2024-07-01", end="2024-07-02")
    assert report.ok and report.bytes == len(body) - 1000
    assert archive.requests(".zip") == [(path, "bytes=1000-", 206)]
    _ticks_equal(store, "BTCUSDT_PERP@aggTrade", exp)


def test_a_month_not_published_yet_falls_back_to_its_daily_files(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """May's month file is missing (early June): its days are fetched as daily files instead."""
    days = [build.klines("spot", "ETHUSDT", "daily", f"2025-05-{d:02d}", seed=d) for d in range(1, 32) if d != 7]
    report = _run(archive, store, tmp_path, "ETHUSDT", market="spot", kind="klines", interval="1m",
                  start="2025-05-01", end="2025-06-01")  # fmt: skip
    statuses = [(o.fetch.file.period, o.fetch.status) for o in report.files]
    assert statuses[0] == ("monthly", "missing") and "not published yet" in str(report.files[0].fetch.reason)
    assert len(statuses) == 1 + 31 and statuses.count(("daily", "missing")) == 1
    got = store.candles("ETHUSDT", "1m")
    assert np.array_equal(got.index.asi8, pd.concat(days)["time_ns"].to_numpy())


def test_no_import_only_verifies_into_the_mirror(
    archive: ArchiveServer, build: ArchiveBuilder, tmp_path: Path
) -> None:
    """--no-import: files land verified in the mirror with their checksum, no store is opened."""
    build.funding("ETHUSDT", "2024-02")
    report = download("ETHUSDT", market="um", kind="fundingRate", start="2024-02-01", end="2024-03-01",
                      dest=tmp_path / "m", base_url=archive.url, import_=False, progress=False)  # fmt: skip
    assert report.ok and report.rows == 0
    [o] = report.files
    assert o.fetch.status == "fetched" and o.fetch.path is not None
    assert o.fetch.path == tmp_path / "m" / archive_path("um", "monthly", "fundingRate", "ETHUSDT", "2024-02")
    assert o.fetch.path.with_name(o.fetch.path.name + ".CHECKSUM").read_bytes() == archive.files[
        archive_path("um", "monthly", "fundingRate", "ETHUSDT", "2024-02") + ".CHECKSUM"
    ]


def test_bad_arguments_name_the_value(tmp_path: Path) -> None:
    """Unknown kinds, a kind the market lacks, bad dates and stream-suffixed symbols are refused up front."""
    for kw, match in [
        (dict(market="spot", kind="fundingRate"), "fundingRate"),
        (dict(market="spot", kind="klines", interval="7m"), "interval"),
        (dict(market="um", kind="klines", interval="1s"), "1s"),
        (dict(market="xx", kind="trades"), "market"),
    ]:
        with pytest.raises(ValueError, match=match):
            download("BTCUSDT", start="2024-01-01", end="2024-01-03", dest=tmp_path, import_=False, progress=False, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2024-13-01"):
        download("BTCUSDT", market="spot", kind="trades", start="2024-13-01", end="2024-01-03", import_=False)
    with pytest.raises(ValueError, match="exchange's name"):
        download("BTCUSDT_PERP", market="um", kind="trades", start="2024-01-01", end="2024-01-03", import_=False)


def test_archive_file_names() -> None:
    """Names and paths follow the archive's layout for every kind."""
    assert ArchiveFile("um", "fundingRate", "BTCUSDT", "monthly", "2024-01").name == "BTCUSDT-fundingRate-2024-01.zip"
    assert ArchiveFile("spot", "klines", "ETHUSDT", "daily", "2025-01-02", "1h").path == (
        "data/spot/daily/klines/ETHUSDT/1h/ETHUSDT-1h-2025-01-02.zip"
    )


def test_trades_of_a_whole_month_come_as_daily_files_and_nothing_found_is_not_ok(
    archive: ArchiveServer, tmp_path: Path
) -> None:
    """Tick kinds use daily files even for whole months (bounded memory per import); an empty result is not ok."""
    report = download("ETHUSDT", market="um", kind="aggTrades", start="2024-02-01", end="2024-03-01", dest=tmp_path,
                      base_url=archive.url, import_=False, progress=False, today=D(2025, 1, 1))  # fmt: skip
    assert [o.fetch.file.period for o in report.files] == ["daily"] * 29
    assert len(report.missing) == 29 and not report.refused and not report.ok
    assert plan_files(["ETHUSDT"], "um", "aggTrades", D(2024, 2, 1), D(2024, 2, 29), monthly=False)[0].date == "2024-02-01"


def test_a_second_run_after_the_data_was_deleted_imports_again_and_into_another_store_too(
    archive: ArchiveServer, build: ArchiveBuilder, store: TickStore, tmp_path: Path
) -> None:
    """The ledger of imported files lives in the store: a deleted symbol, or another store, gets the files imported again."""
    exp = build.trades("um", "ETHUSDT", D(2024, 4, 1), rows=2000)
    kw = dict(market="um", kind="trades", start="2024-04-01", end="2024-04-02")
    assert _run(archive, store, tmp_path, "ETHUSDT", **kw).stored == len(exp)  # type: ignore[arg-type]
    assert _run(archive, store, tmp_path, "ETHUSDT", **kw).skipped  # type: ignore[arg-type]
    store.delete_symbol("ETHUSDT_PERP")
    again = _run(archive, store, tmp_path, "ETHUSDT", **kw)  # type: ignore[arg-type]
    assert not again.skipped and again.stored == len(exp) and again.bytes == 0
    other = TickStore(f"lmdb://{tmp_path / 'other'}")
    elsewhere = _run(archive, other, tmp_path, "ETHUSDT", **kw)  # type: ignore[arg-type]
    assert not elsewhere.skipped and elsewhere.stored == len(exp)
    _ticks_equal(other, "ETHUSDT_PERP", exp)
