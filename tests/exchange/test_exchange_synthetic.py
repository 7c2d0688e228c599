"""SyntheticMarket: reproducible, realistic trades that follow the documented model and its ground truth."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pandas as pd
import pytest

from quantkit.errors import SourceError
from quantkit.exchange import SyntheticMarket
from quantkit.exchange.synthetic import GRID_DT_S

START_MS = 1_723_161_600_000


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    a, b = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), y, rcond=None)[0]
    return float(a), float(b)


def _beta_sd(truth, x: np.ndarray, dt: float) -> float:
    """Sampling sd of the OLS slope when the residual is the OU spread (long-run variance 2 sd^2 / theta)."""
    xt = x - x.mean()
    return truth.spread_sd * math.sqrt(2.0 / truth.ou_theta) / math.sqrt(float((xt**2).sum()) * dt)


def test_same_seed_same_trades() -> None:
    """The same seed gives identical frames; another seed gives different ones."""
    a = SyntheticMarket(seed=5).generate(120, start_ms=START_MS)
    b = SyntheticMarket(seed=5).generate(120, start_ms=START_MS)
    c = SyntheticMarket(seed=6).generate(120, start_ms=START_MS)
    assert list(a) == ["SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT"]
    for sym in a:
        pd.testing.assert_frame_equal(a[sym], b[sym])
        assert list(a[sym].columns) == ["trade_id", "price", "qty", "quote_qty", "is_buyer_maker", "event_time"]
        assert str(a[sym].index.tz) == "UTC"
    assert not a["SYNBUSDT"]["price"].equals(c["SYNBUSDT"]["price"])


def test_streamed_trades_equal_generated_trades() -> None:
    """Iterating the source at max speed yields exactly generate_trades() for the same start and duration."""
    market = SyntheticMarket(seed=3, speed=float("inf"), start_ms=START_MS, duration_s=150)

    async def drain() -> list:
        out = []
        async for batch in market:
            out.extend(batch)
        return out

    assert asyncio.run(drain()) == market.generate_trades(150, start_ms=START_MS)


def test_paced_with_a_fake_clock() -> None:
    """At speed 10 each batch is released at (T - T0) / 10 of the injected clock, and never splits a millisecond."""
    clock = FakeClock()
    market = SyntheticMarket(seed=4, speed=10.0, start_ms=START_MS, duration_s=90, clock=clock, sleep=clock.sleep)

    async def drain() -> list[tuple[float, list]]:
        return [(clock.now, batch) async for batch in market]

    batches = asyncio.run(drain())
    t0 = batches[0][1][0].trade_time
    for released, batch in batches:
        assert released - 100.0 == pytest.approx((batch[0].trade_time - t0) / 1000 / 10, abs=1e-6)
        assert all(a.trade_time <= b.trade_time for a, b in zip(batch, batch[1:]))
    for (_, prev), (_, nxt) in zip(batches, batches[1:]):
        assert prev[-1].trade_time < nxt[0].trade_time
    assert sum(len(b) for _, b in batches) == len(market.generate_trades(90, start_ms=START_MS))
    assert clock.now - 100.0 == pytest.approx((batches[-1][1][0].trade_time - t0) / 10_000, abs=1e-6)
    fast = FakeClock()
    inf = SyntheticMarket(seed=4, speed=float("inf"), start_ms=START_MS, duration_s=90, clock=fast, sleep=fast.sleep)

    async def drain_inf() -> int:
        return sum([len(b) async for b in inf])

    assert asyncio.run(drain_inf()) == sum(len(b) for _, b in batches) and fast.sleeps == []


def test_trades_look_like_a_real_tape() -> None:
    """Multi-fill orders (60-75 % share their ms), tens of trades/s, ids strictly increasing, tick/step rounding."""
    market = SyntheticMarket(seed=8)
    frames = market.generate(1800, start_ms=START_MS)
    for sym, f in frames.items():
        spec = market.specs[sym]
        ms = f.index.asi8 // 1_000_000
        same_ms = float(np.mean(ms[1:] == ms[:-1]))
        assert 0.60 <= same_ms <= 0.75, (sym, same_ms)
        assert 5 <= len(f) / 1800 <= 60, sym
        assert np.all(np.diff(f["trade_id"].to_numpy()) == 1) and np.all(np.diff(ms) >= 0)
        ticks = f["price"].to_numpy() / spec.tick
        steps = f["qty"].to_numpy() / spec.step
        assert np.allclose(ticks, np.round(ticks), atol=1e-6) and np.allclose(steps, np.round(steps), atol=1e-6)
        assert (f["qty"] > 0).all() and np.allclose(f["quote_qty"], f["price"] * f["qty"])
        assert (f["event_time"].to_numpy() - ms).min() >= 0 and (f["event_time"].to_numpy() - ms).max() <= 2
        per_s = np.bincount((ms - START_MS) // 1000)
        assert per_s.max() > 5 * np.median(per_s)  # bursty arrivals
    assert 40_000 < frames["SYNBUSDT"]["price"].iloc[0] < 80_000 and 1_500 < frames["SYNAUSDT"]["price"].iloc[0] < 4_000
    assert 100 < frames["SYNCUSDT"]["price"].iloc[0] < 200


def test_trades_fill_at_the_model_mid() -> None:
    """Every buy fills above the model mid and every sell at or below it; an order's first fill is at the touch."""
    market = SyntheticMarket(seed=12)
    frames = market.generate(600, start_ms=START_MS)
    mid = market.generate_mid(600, start_ms=START_MS)
    grid = mid.index.asi8 // 1_000_000
    for sym, f in frames.items():
        tick = market.specs[sym].tick
        ms = f.index.asi8 // 1_000_000
        m = mid[sym].to_numpy()[np.searchsorted(grid, ms, side="right") - 1]
        price = f["price"].to_numpy()
        buy = ~f["is_buyer_maker"].to_numpy()
        assert np.all(price[buy] > m[buy]) and np.all(price[~buy] <= m[~buy])
        bid = np.floor(m / tick + 1e-9) * tick
        touch = np.where(buy, bid + tick, bid)
        first = np.ones(len(f), dtype=bool)
        first[1:] = (ms[1:] != ms[:-1]) | (buy[1:] != buy[:-1])
        assert np.allclose(price[first], touch[first], atol=tick / 10)
        depth = np.abs(price - touch) / tick
        assert np.mean(depth[~first] > 0.5) < 0.6  # deeper fills happen but most stay near the touch


def test_ground_truth_on_the_mid_grid() -> None:
    """On 3 days of the exact mid grid: spread identity, OLS beta and AR(1) half-life within 4 theoretical sd."""
    market = SyntheticMarket(seed=21)
    tr = market.truth
    assert (tr.y_symbol, tr.x_symbol, tr.control_symbol, tr.price_space) == ("SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "price")
    assert tr.ou_theta == pytest.approx(math.log(2) / tr.half_life_s)
    assert tr.ou_sigma == pytest.approx(tr.spread_sd * math.sqrt(2 * tr.ou_theta))
    mid = market.generate_mid(3 * 86_400, every_s=1.0)
    y, x, s = (mid[c].to_numpy() for c in (tr.y_symbol, tr.x_symbol, "spread"))
    assert np.allclose(y - tr.alpha - tr.beta * x, s, atol=1e-6)
    _, beta = _ols(y, x)
    assert abs(beta - tr.beta) < 4 * _beta_sd(tr, x, 1.0)
    # AR(1) on the spread at 1 s: phi_hat ~ N(phi, (1 - phi^2) / n), Kendall bias -(1 + 3 phi) / n.
    _, phi_hat = _ols(s[1:], s[:-1])
    phi = math.exp(-tr.ou_theta)
    n = len(s) - 1
    assert abs(phi_hat - phi) < 4 * math.sqrt((1 - phi**2) / n) + (1 + 3 * phi) / n
    half_life = math.log(2) / -math.log(phi_hat)
    assert abs(half_life - tr.half_life_s) / tr.half_life_s < 0.25
    # The factor symbol shares X's shocks (increment correlation as configured); the control does not.
    dx, dd, dc = (np.diff(mid[c].to_numpy()) for c in (tr.x_symbol, tr.factor_symbol, tr.control_symbol))
    rho = tr.factor_loading * tr.x_sigma / math.sqrt((tr.factor_loading * tr.x_sigma) ** 2 + 0.046**2)
    assert abs(np.corrcoef(dx, dd)[0, 1] - rho) < 0.02
    assert abs(np.corrcoef(dx, dc)[0, 1]) < 4 / math.sqrt(len(dx))


def test_beta_from_trade_bars() -> None:
    """OLS of Y on X over 2 hours of 1 s last-trade bars recovers beta within 4 theoretical sd."""
    market = SyntheticMarket(seed=2)
    tr = market.truth
    frames = market.generate(7200, start_ms=START_MS)
    bars = pd.concat(
        {k: frames[s]["price"].resample("1s").last() for k, s in (("y", tr.y_symbol), ("x", tr.x_symbol))}, axis=1
    ).ffill().dropna()
    _, beta = _ols(bars["y"].to_numpy(), bars["x"].to_numpy())
    assert abs(beta - tr.beta) < 4 * _beta_sd(tr, bars["x"].to_numpy(), 1.0)


def test_parameters() -> None:
    """Custom half-life and symbols change the truth; bad parameters raise SourceError naming the value."""
    m = SyntheticMarket(seed=1, symbols=("ETHUSDT", "BTCUSDT", "SOLUSDT", "BNBUSDT"), half_life_s=30.0, beta=0.05)
    assert (m.truth.y_symbol, m.truth.x_symbol, m.truth.beta) == ("ETHUSDT", "BTCUSDT", 0.05)
    assert m.truth.ou_theta == pytest.approx(math.log(2) / 30) and m.truth.alpha == pytest.approx(2700 - 0.05 * 61800)
    assert m.truth.grid_dt_s == GRID_DT_S
    for kwargs, name in [({"half_life_s": 0}, "half_life_s"), ({"speed": -1}, "speed"), ({"market": "perp"}, "market"),
                         ({"symbols": ("A", "B")}, "symbols"), ({"mean_fills": 0.5}, "mean_fills")]:
        with pytest.raises(SourceError, match=name):
            SyntheticMarket(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(SourceError, match="every_s"):
        m.generate_mid(10, every_s=0.25)
