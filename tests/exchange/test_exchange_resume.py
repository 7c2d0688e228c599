"""A market that continues: sources resume after the ids a client holds; finite sources wait for their first subscriber."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
from websockets.asyncio.client import connect

from quantkit.config import LOCAL_STATUS_PATH
from quantkit.exchange import ReplaySource, SyntheticMarket, source_from_spec

START_MS = 1_700_000_000_000


def _slice(csv_dir: Path, tmp_path: Path, rows: int) -> Path:
    frame = pd.read_csv(csv_dir / "um_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz", nrows=rows)
    path = tmp_path / "um_ETHUSDT-trades-slice.csv"
    frame.to_csv(path, index=False)
    return path


def test_synthetic_market_continues_after_held_ids_and_time() -> None:
    """after_ids moves each symbol's ids (and aggregate ids) just past what is held; after_time_ms moves the clock."""
    base = SyntheticMarket(seed=1)
    held = {"SYNAUSDT": base.first_ids["SYNAUSDT"] + 5000, "SYNBUSDT": base.first_ids["SYNBUSDT"] - 10}
    market = source_from_spec("synthetic", seed=1, after_ids=held, after_time_ms=START_MS)
    assert isinstance(market, SyntheticMarket)
    assert market.first_ids["SYNAUSDT"] == held["SYNAUSDT"] + 1
    assert market.first_ids["SYNBUSDT"] == base.first_ids["SYNBUSDT"]  # never below the role's own first id
    assert market.first_agg_ids["SYNAUSDT"] == base.first_agg_ids["SYNAUSDT"] + 5001
    trades = market.generate_trades(10.0, start_ms=START_MS)
    first_a = min(t.trade_id for t in trades if t.symbol == "SYNAUSDT")
    assert first_a == held["SYNAUSDT"] + 1
    assert market.after_time_ms == START_MS and not market.finite



def test_synthetic_market_continues_from_the_held_prices() -> None:
    """after_prices starts X, the control and the factor at their last prices, and the spread where Y and X left it."""
    base = SyntheticMarket(seed=3)
    truth = base.truth
    s_held = 1.5 * truth.spread_sd
    held = {"SYNBUSDT": 50_000.0, "SYNCUSDT": 210.0, "SYNDUSDT": 480.0}
    held["SYNAUSDT"] = truth.alpha + truth.beta * held["SYNBUSDT"] + s_held
    market = SyntheticMarket(seed=3)
    market.continue_after({}, None, held)
    default = base.generate_mid(1.0, start_ms=START_MS)
    moved = market.generate_mid(1.0, start_ms=START_MS)
    assert market.truth == truth  # alpha, beta, half-life: the same pair
    for sym, price in held.items():
        # a random walk's first second moves a few USD at most (x_sigma 5 USD/sqrt(s)); the default level is far
        assert abs(moved[sym].iloc[0] - price) < 0.002 * price, (sym, moved[sym].iloc[0])
        assert abs(default[sym].iloc[0] - price) > 0.05 * price
    first_spread = moved["SYNAUSDT"].iloc[0] - truth.alpha - truth.beta * moved["SYNBUSDT"].iloc[0]
    assert abs(first_spread - s_held) < 0.2 * truth.spread_sd  # the spread goes on; a fresh draw would not
    same = SyntheticMarket(seed=3)
    same.continue_after({}, None, {"SYNBUSDT": float("nan"), "SYNCUSDT": -1.0})  # unusable prices are ignored
    assert same.generate_mid(1.0, start_ms=START_MS).equals(default)

def test_looped_replay_resumes_inside_a_later_pass(csv_dir: Path, tmp_path: Path) -> None:
    """A looped replay resumed after ids of its third pass streams the very next id first, times still increasing."""
    path = _slice(csv_dir, tmp_path, 200)
    plain = ReplaySource(path, speed=float("inf"), loop=True)
    ids = plain.frames["ETHUSDT"]["trade_id"]
    span = int(ids.iloc[-1] - ids.iloc[0] + 1)
    held = int(ids.iloc[50]) + 2 * span  # 51 trades into the third pass
    resumed = ReplaySource(path, speed=float("inf"), loop=True, after_ids={"ETHUSDT": held})
    assert resumed.first_ids == {"ETHUSDT": held + 1} and not resumed.finite
    passes = resumed.passes()
    first, second = next(passes), next(passes)
    assert int(first.trade_id[0]) == held + 1 and len(first) == 200 - 51
    assert int(second.trade_id[0]) == int(first.trade_id[-1]) + 1
    assert int(second.trade_time[0]) > int(first.trade_time[-1])


def test_finite_replay_skips_what_is_held(csv_dir: Path, tmp_path: Path) -> None:
    """A finite replay resumed after its 150th id streams only the rest; resumed after its last, nothing."""
    path = _slice(csv_dir, tmp_path, 200)
    ids = ReplaySource(path).frames["ETHUSDT"]["trade_id"]
    rest = ReplaySource(path, after_ids={"ETHUSDT": int(ids.iloc[149])})
    assert rest.finite and sum(len(p) for p in rest.passes()) == 50
    none = ReplaySource(path, after_ids={"ETHUSDT": int(ids.iloc[-1])})
    assert sum(len(p) for p in none.passes()) == 0 and none.first_ids == {}


def test_finite_replay_is_held_until_the_first_subscriber(csv_dir: Path, tmp_path: Path, start_exchange, run, rest) -> None:
    """At speed 1 nothing is published before a client subscribes; then every trade reaches it; the status says so."""
    path = _slice(csv_dir, tmp_path, 60)
    source = ReplaySource(path, speed=50.0)
    ex = start_exchange(source)
    time.sleep(0.5)
    status, body, _ = rest(ex.url + LOCAL_STATUS_PATH)
    first = int(source.frames["ETHUSDT"]["trade_id"].iloc[0])
    assert status == 200 and body["published"] == 0 and body["finite"] and not body["done"]
    assert body["market"] == "futures" and body["symbols"] == ["ETHUSDT"] and body["first_ids"] == {"ETHUSDT": first}

    async def read_all() -> list[int]:
        async with connect(ex.ws_url + "/ws/ethusdt@trade", max_queue=None) as ws:
            return [json.loads(await ws.recv())["t"] for _ in range(60)]

    assert run(read_all()) == source.frames["ETHUSDT"]["trade_id"].tolist()
    assert ex.done.wait(10)
    _, body, _ = rest(ex.url + LOCAL_STATUS_PATH)
    last = int(source.frames["ETHUSDT"]["trade_id"].iloc[-1])
    assert body["done"] and body["counts"] == {"ETHUSDT": 60} and body["last_ids"] == {"ETHUSDT": last}
