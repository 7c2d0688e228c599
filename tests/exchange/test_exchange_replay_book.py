"""A replayed capture serves its own recorded order book: REST depth, @depth diffs, bookTicker."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from quantkit.exchange import ReplaySource

from _support.books import build_book

RAW = "binance_ws_capture_2024-08-08_hftbacktest/raw"


def _recorded_book(path: Path, until_ms: int) -> tuple[int, dict[str, dict[float, float]]]:
    """Independently: the capture's REST snapshot with every recorded diff after it up to ``until_ms`` applied."""
    snap: dict[str, Any] | None = None
    diffs: list[dict[str, Any]] = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            body = json.loads(line.split(" ", 1)[1])
            if "lastUpdateId" in body:
                snap = body
            elif body.get("data", {}).get("e") == "depthUpdate":
                diffs.append(body["data"])
    assert snap is not None
    book = {side: {float(p): float(q) for p, q in snap[side]} for side in ("bids", "asks")}
    last = snap["lastUpdateId"]
    for d in sorted(diffs, key=lambda d: d["u"]):
        if d["u"] <= snap["lastUpdateId"] or d["E"] > until_ms:
            continue
        for side, key in (("bids", "b"), ("asks", "a")):
            for p, q in d[key]:
                if float(q) == 0:
                    book[side].pop(float(p), None)
                else:
                    book[side][float(p)] = float(q)
        last = d["u"]
    return last, book


def _as_floats(book: dict[str, Any]) -> dict[str, dict[float, float]]:
    return {side: {float(p): float(q) for p, q in book[side].items()} for side in ("bids", "asks")}


@pytest.mark.parametrize(("name", "market", "stream", "limit"), [
    ("spot_btcusdt_20240808.gz", "spot", "depth@100ms", 5000),
    ("usdm_ethusdt_20240808.gz", "futures", "depth@500ms", 1000),
])
def test_the_replayed_book_is_the_recording_and_a_local_book_follows_it(
    shared_data: Path, start_exchange, run, rest, name: str, market: str, stream: str, limit: int
) -> None:
    path = shared_data / RAW / name
    source = ReplaySource(path, speed=60.0)
    sym = source.symbols[0]
    assert sym in source.books
    rec = source.books[sym]
    ex = start_exchange(source)
    prefix = "/api/v3" if market == "spot" else "/fapi/v1"
    # before any trade is published the book is the recorded snapshot itself
    _, first, _ = rest(f"{ex.url}{prefix}/depth?symbol={sym}&limit={limit}")
    snap_id, snap_book = _recorded_book(path, until_ms=0)
    assert first["lastUpdateId"] == snap_id
    assert _as_floats({s: dict(first[s]) for s in ("bids", "asks")}) == {
        s: dict(sorted(v.items(), reverse=(s == "bids"))[:limit]) for s, v in snap_book.items()}

    client_start: dict[str, Any] = {}
    built, final, applied = run(build_book(ex, market, stream, symbol=sym, idle_s=4.0, limit=limit, start=client_start), 60)
    assert applied >= 3 and rec.sequence_breaks == 0
    # the exchange's final book is the capture's own book at the last trade, rebuilt here from the raw file
    last_trade = int(source.frames[sym].index.asi8[-1] // 1_000_000)
    last_u, expected = _recorded_book(path, until_ms=last_trade)
    _, now, _ = rest(f"{ex.url}{prefix}/depth?symbol={sym}&limit={limit}")  # the book is at rest: the source is done
    assert now["lastUpdateId"] == last_u
    got = _as_floats({s: dict(now[s]) for s in ("bids", "asks")})
    assert got == _as_floats(final)
    assert got["bids"] == dict(sorted(expected["bids"].items(), reverse=True)[:limit])
    assert got["asks"] == dict(sorted(expected["asks"].items())[:limit])
    assert max(got["bids"]) < min(got["asks"])
    # and the book a client built from the snapshot and the diff stream agrees with it
    # where both reach: a 1000-level USD-M snapshot does not hold the levels deeper than its last one,
    # so a client cannot know them (as on Binance)
    mine = _as_floats(built)
    start = _as_floats({s: dict(client_start[s]) for s in ("bids", "asks")})
    lo, hi = max(min(got["bids"]), min(start["bids"])), min(max(got["asks"]), max(start["asks"]))
    assert {p: q for p, q in mine["bids"].items() if p >= lo} == {p: q for p, q in got["bids"].items() if p >= lo}
    assert {p: q for p, q in mine["asks"].items() if p <= hi} == {p: q for p, q in got["asks"].items() if p <= hi}
    # the book ticker is the recorded touch
    _, bt, _ = rest(f"{ex.url}{prefix}/ticker/bookTicker?symbol={sym}")
    assert float(bt["bidPrice"]) == max(got["bids"]) and float(bt["askPrice"]) == min(got["asks"])
    assert float(bt["bidQty"]) == got["bids"][max(got["bids"])]


def test_a_trades_csv_replay_keeps_the_model_book(shared_data: Path) -> None:
    """No recorded book (a trades CSV, or a capture without a snapshot): the model book serves."""
    csv = shared_data / "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"
    source = ReplaySource(csv / "spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz", speed=60.0)
    assert source.books == {}
    later = ReplaySource(shared_data / RAW / "spot_btcusdt_20240809.gz", speed=60.0)  # no snapshot in this file
    assert later.books == {}


def test_a_looped_replay_restarts_the_book_with_update_ids_that_keep_increasing(shared_data: Path) -> None:
    """Pass 2 of a looped replay starts from the snapshot again; ids go on rising; a diff covers the jump."""
    source = ReplaySource(shared_data / RAW / "spot_ethusdt_20240808.gz", speed=60.0, loop=True, loop_gap_ms=500)
    book = source.books["ETHUSDT"]
    t = source.frames["ETHUSDT"].index.asi8 // 1_000_000
    t0, period = int(t.min()), source._period_ms
    book.advance(t0)  # the recording's book when its first trade is published
    start_id, start_touch = book.update_id, book.touch()
    ext = book.track()
    book.advance(int(t.max()))
    end_id, end_touch = book.update_id, book.touch()
    assert end_id > start_id and end_touch != start_touch and book.sequence_breaks == 0
    book.diff(ext)  # the stream's event up to here
    book.advance(t0 + period)  # the first trade of pass 2: the same book as at the first of pass 1
    assert book.touch() == start_touch and book.update_id > end_id
    shift = book.update_id - start_id  # the same recorded ids, moved past the first pass's
    bp, bq, ap, aq = book.diff(ext)
    assert len(bp) >= 1000 and len(ap) >= 1000  # every level of the old and the new book
    book.advance(int(t.max()) + period)
    assert book.touch() == end_touch and book.update_id == end_id + shift


def test_a_capture_cut_anywhere_replays_its_readable_part(shared_data: Path, tmp_path: Path) -> None:
    """A gzip capture cut short replays the trades and the book read before the cut (it used to raise EOFError)."""
    cut = tmp_path / "spot_btcusdt_20240808.gz"
    cut.write_bytes((shared_data / RAW / "spot_btcusdt_20240808.gz").read_bytes()[:300_000])
    source = ReplaySource(cut, speed=60.0)
    assert 0 < source.trade_count < 9_757
    book = source.books["BTCUSDT"]
    book.advance(int(source.frames["BTCUSDT"].index.asi8[-1] // 1_000_000))
    assert book.touch() is not None and book.sequence_breaks == 0
