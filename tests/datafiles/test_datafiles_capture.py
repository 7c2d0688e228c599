"""Raw capture reader: trade counts of the real captures and a corrupted capture."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from quantkit.datafiles import read_capture

RAW = "binance_ws_capture_2024-08-08_hftbacktest/raw"


@pytest.mark.parametrize(
    ("name", "key", "trades", "market", "other_lines"),
    [
        ("spot_btcusdt_20240808.gz", "BTCUSDT", 9_757, "spot", 3451 + 28040 + 1),
        ("spot_btcusdt_20240809.gz", "BTCUSDT", 10_147, "spot", 3044 + 45134),
        ("spot_ethusdt_20240808.gz", "ETHUSDT", 6_106, "spot", 3434 + 24077 + 1),
        ("spot_ethusdt_20240809.gz", "ETHUSDT", 8_409, "spot", 3036 + 34681),
        ("usdm_btcusdt_20240808.gz", "BTCUSDT", 21_313, "futures", 6551 + 66089 + 1),
        ("usdm_ethusdt_20240808.gz", "ETHUSDT", 14_076, "futures", 6586 + 53992 + 1),
        ("cm_btcusd_perp_20240808.gz", "BTCUSD_PERP", 2_286, "futures", 26847 + 19136 + 1),
        ("cm_btcusd_perp_20240809.gz", "BTCUSD_PERP", 2_949, "futures", 17948 + 29219),
        ("cm_ethusd_perp_20240808.gz", "ETHUSD_PERP", 1_732, "futures", 22909 + 15812 + 1),
        ("cm_ethusd_perp_20240809.gz", "ETHUSD_PERP", 1_863, "futures", 16246 + 19751),
    ],
)
def test_real_capture_trade_counts(
    shared_data: Path, name: str, key: str, trades: int, market: str, other_lines: int
) -> None:
    """Every @trade event of a real capture is kept; depth, bookTicker and snapshot lines are skipped."""
    results = read_capture(shared_data / RAW / name)
    assert list(results) == [key]
    r = results[key]
    assert (len(r.frame), r.market, r.symbol, r.stream) == (trades, market, key, "trade")
    assert r.rejected == [] and r.skipped == other_lines
    assert r.frame["trade_id"].is_unique and r.frame["trade_id"].is_monotonic_increasing
    assert str(r.frame.index.dtype) == "datetime64[ns, UTC]"
    assert (r.frame["event_time"].to_numpy() >= r.frame.index.asi8 // 1_000_000).all()


def test_first_spot_trade_fields(shared_data: Path) -> None:
    """The first spot trade matches its JSON text field by field."""
    f = read_capture(shared_data / RAW / "spot_btcusdt_20240808.gz")["BTCUSDT"].frame
    first = f.iloc[0]
    assert int(first["trade_id"]) == 3735683259
    assert first["price"] == float("61837.63000000") and first["qty"] == float("0.02000000")
    assert first["quote_qty"] == float("61837.63000000") * float("0.02000000")
    assert bool(first["is_buyer_maker"]) is True
    assert f.index[0].value == 1723161255342 * 1_000_000 and int(first["event_time"]) == 1723161255343


def test_corrupted_capture(tmp_path: Path) -> None:
    """Malformed trade lines are rejected with their line; aggTrade gets its own key; others are skipped."""

    def trade(t: int, p: str = '"100.5"', q: str = '"0.1"', extra: str = "") -> str:
        return (
            f'1723161254087896568 {{"stream":"btcusdt@trade","data":{{"e":"trade","E":1723161255343,'
            f'"s":"BTCUSDT","t":{t},"p":{p},"q":{q},"T":1723161255342,"m":true,"M":true{extra}}}}}'
        )

    lines = [
        '1723161253937085768 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT"}}',  # 1
        trade(1),  # 2 ok
        trade(2)[:-30],  # 3 truncated JSON
        trade(3, p='"abc"'),  # 4 bad number
        trade(4, q='"0"'),  # 5 non-positive
        trade(5, p="null"),  # 6 missing (null) price
        '1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":"6","p":"1","q":"1","T":1723161255342,"m":true}}',  # 7 id as string
        trade(2),  # 8 ok (out of order)
        trade(1),  # 9 duplicate of line 2
        '{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"1","A":"1"}}',  # 10
        '1723161254087896568 {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161255343,"s":"BTCUSDT","a":77,"p":"100.0","q":"2","f":1,"l":3,"T":1723161255342,"m":false,"M":true}}',  # 11
        '{"e":"trade","E":1723161255343,"s":"ETHUSDT","t":9,"p":"3000.5","q":"1.5","T":1723161255342,"m":false,"X":"MARKET"}',  # 12 bare event
        "1723161254087896568 {garbage trade\"",  # 13 unattributable bad JSON
        "",  # 14 blank
    ]
    path = tmp_path / "cap.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    res = read_capture(path)
    assert sorted(res) == ["BTCUSDT", "BTCUSDT@aggTrade", "ETHUSDT"]
    btc = res["BTCUSDT"]
    assert btc.frame["trade_id"].tolist() == [1, 2]
    assert [(r.line, r.reason) for r in btc.rejected] == [
        (3, "bad_json"),
        (4, "bad_number"),
        (5, "non_positive"),
        (6, "missing_field"),
        (7, "bad_type"),
        (13, "bad_json"),
    ]
    assert btc.market == "spot" and btc.duplicates == 1  # line 9 repeats line 2 exactly
    agg = res["BTCUSDT@aggTrade"]
    assert (agg.stream, agg.symbol, agg.frame["trade_id"].tolist(), agg.frame["is_buyer_maker"].tolist()) == (
        "aggTrade",
        "BTCUSDT",
        [77],
        [False],
    )
    eth = res["ETHUSDT"]
    assert eth.market == "futures" and eth.frame["price"].tolist() == [3000.5]
    np.testing.assert_allclose(eth.frame["quote_qty"].to_numpy(), [3000.5 * 1.5])
