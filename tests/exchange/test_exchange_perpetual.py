"""The synthetic market's perpetual twin: futures messages, a small basis over spot, one clock shared with its spot."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from quantkit.errors import SourceError
from quantkit.exchange import SyntheticMarket


def test_the_twin_leaves_the_spot_market_unchanged_and_tracks_it_with_a_small_basis() -> None:
    """Spot trades are those of a fresh market; the perpetual's trades sit a few basis points above spot's."""
    spot = SyntheticMarket(seed=11)
    perp = spot.perpetual(basis_bps=2.0)
    assert (perp.market, perp.basis_bps, perp.symbols) == ("futures", 2.0, spot.symbols)
    a = spot.generate(600.0)["SYNAUSDT"]
    pd_a = SyntheticMarket(seed=11).generate(600.0)["SYNAUSDT"]
    np.testing.assert_array_equal(a["price"].to_numpy(), pd_a["price"].to_numpy())  # spot as ever
    b = perp.generate(600.0)["SYNAUSDT"]
    assert len(b) > 1000 and not np.array_equal(b.index.asi8[:50], a.index.asi8[:50])  # its own arrivals
    sa = a["price"].resample("1s").last().dropna()
    sb = b["price"].resample("1s").last().dropna()
    bps = ((sb / sa).dropna() - 1.0) * 10_000
    assert len(bps) > 300 and 0.5 < float(bps.median()) < 3.5 and float(bps.abs().max()) < 10.0


def test_twins_share_one_clock_and_only_spot_has_a_twin() -> None:
    """Both twins start streaming at the same exchange time (after the later stored run); futures has no twin."""
    spot = SyntheticMarket(seed=1, speed=float("inf"), duration_s=1.0, history_s=5.0)
    perp = spot.perpetual()
    spot.continue_after({}, None)
    perp.continue_after({"SYNAUSDT": perp.first_ids["SYNAUSDT"] + 10}, 4_000_000_000_000)  # a later stored run

    async def first_batch(market: SyntheticMarket) -> int:
        async for batch in market:
            return int(batch[0].trade_time)
        raise AssertionError("no trades")

    t_spot = asyncio.run(first_batch(spot))
    t_perp = asyncio.run(first_batch(perp))
    assert spot.past_start_ms == perp.past_start_ms and min(t_spot, t_perp) > 4_000_000_000_000
    assert abs(t_spot - t_perp) < 2_000
    with pytest.raises(SourceError, match="spot"):
        perp.perpetual()
