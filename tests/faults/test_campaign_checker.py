"""The campaign's store-vs-exchange comparison really catches losses, recorded gaps, duplicates and altered ticks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from _support.campaign import compare_with_exchange, published_trades

from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.store import TickStore


def _published_frame(ex: LocalExchange, symbol: str) -> pd.DataFrame:
    ids, price, qty, t_ms, m = published_trades(ex, symbol)
    return pd.DataFrame(
        {"trade_id": ids.astype(np.int64), "price": price, "qty": qty, "quote_qty": price * qty, "is_buyer_maker": m.astype(bool)},
        index=pd.DatetimeIndex(pd.to_datetime(t_ms, unit="ms", utc=True), name="time"),
    )


def test_comparison_counts_every_kind_of_damage(tmp_path: Path, timeout_unit: float) -> None:
    """A perfect copy compares clean; a hole, a recorded gap, a changed price and a duplicated row are each counted."""
    with LocalExchange(SyntheticMarket(seed=4, speed=float("inf"), duration_s=60.0), pause_without_subscribers=False) as ex:
        assert ex.done.wait(60 * timeout_unit)
    pub = _published_frame(ex, "SYNAUSDT")
    assert len(pub) > 100

    good = TickStore(f"lmdb://{tmp_path / 'good'}", maintenance=None)
    good.append_ticks("SYNAUSDT", pub)
    c = compare_with_exchange(good, ex, ["SYNAUSDT"])["SYNAUSDT"]
    assert c.ok and c.published == c.stored == len(pub) and c.lost == 0

    bad = TickStore(f"lmdb://{tmp_path / 'bad'}", maintenance=None)
    ids = pub["trade_id"].to_numpy()
    holed = pub[(ids < ids[10]) | (ids > ids[14])]  # ids[10..14] missing: 5 lost
    holed = holed[(holed["trade_id"] < ids[50]) | (holed["trade_id"] > ids[52])]  # ids[50..52] missing, recorded below
    changed = holed.copy()
    changed.iloc[30, changed.columns.get_loc("price")] += 1.0  # one altered trade (times repeat: use the position)
    bad.append_ticks("SYNAUSDT", changed)
    bad.record_gap("SYNAUSDT", int(ids[50]), int(ids[52]), filled=False, reason="not_served")
    c = compare_with_exchange(bad, ex, ["SYNAUSDT"])["SYNAUSDT"]
    assert (c.lost, c.recorded, c.mismatched, c.duplicates) == (5, 3, 1, 0) and not c.ok

    dup = TickStore(f"lmdb://{tmp_path / 'dup'}", maintenance=None)
    dup.append_ticks("SYNAUSDT", pub)
    dup.raw_library.append("SYNAUSDT", pub.iloc[[-1]])  # bypass the store's dedup: a duplicated last row
    c = compare_with_exchange(dup, ex, ["SYNAUSDT"])["SYNAUSDT"]
    assert c.duplicates == 1 and not c.ok
