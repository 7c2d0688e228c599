"""The basis pair from a live ingest: a coin's spot and its perpetual ingested at once, then every page on the pair.

One :class:`Ingestor` runs a spot feed and a USD-M feed (two local exchanges: the synthetic market and
its perpetual twin) into one store; the perpetual lands under its grammar name ``SYNAUSDT_PERP``; the
stats and heartbeat cover both feeds; then the research page, the backtest page, a report, the alert
monitor and the live dashboard's engine run on ``SYNAUSDT_PERP/SYNAUSDT`` (the checks of
``test_basis_pair.py``, shared in ``_support.basis_checks``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from _support.basis_checks import check_basis_pair
from _support.waiting import wait_until

from quantkit.config import FeedConfig, IngestConfig
from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.feed import BackfillOptions
from quantkit.ingest import Ingestor
from quantkit.ingest.heartbeat import read_status, write_status
from quantkit.store import TickStore
from quantkit.symbols import perpetual_name

FAST = IngestConfig(flush_interval=0.05, batch_size=2000, queue_size=50_000)
KEYED = BackfillOptions(api_key="test-key")  # USD-M historicalTrades asks for an API key (any value locally)
SPOT = "SYNAUSDT"
PERP = perpetual_name(SPOT)


def test_one_ingest_of_spot_and_perpetual_serves_every_page(tmp_path: Path, timeout_unit: float) -> None:
    """Spot + perpetual feeds in one ingest: both stored under grammar names, stats cover both, every page runs."""
    start = 1_700_000_000_000
    spot = SyntheticMarket(seed=7, speed=float("inf"), start_ms=start, duration_s=600.0)
    perp = spot.perpetual(basis_bps=2.0)
    assert (spot.market, perp.market) == ("spot", "futures")
    uri = f"lmdb://{tmp_path / 'db'}"
    with LocalExchange(spot) as ex_spot, LocalExchange(perp) as ex_perp:
        feeds = [FeedConfig.for_source("local", [SPOT], local_url=ex_spot.url),
                 FeedConfig.for_source("local", [SPOT], local_url=ex_perp.url, market="futures")]
        ing = Ingestor(feeds, uri, config=FAST, backfill_options=KEYED).start()
        try:
            assert wait_until(lambda: ex_spot.done.is_set() and ex_perp.done.is_set(), 120 * timeout_unit)
            published = {SPOT: ex_spot.call_in_loop(ex_spot.status), PERP: ex_perp.call_in_loop(ex_perp.status)}
            assert ing.wait_through({s: st["last_ids"][SPOT] for s, st in published.items()},
                                    idle_timeout=20 * timeout_unit)
            live = ing.stats
            write_status(live, tmp_path / "hb.json")
        finally:
            stats = ing.stop()
    counts = {s: st["counts"][SPOT] for s, st in published.items()}
    assert stats.per_symbol == counts and stats.stored == sum(counts.values()), stats
    assert stats.missing_trades == 0 and stats.gaps_unfilled == 0
    assert live.feed_state == "connected"  # both feeds: "connected" only when every feed is
    hb = read_status(tmp_path / "hb.json")
    assert hb.get("per_symbol") == counts and hb.get("stored") == sum(counts.values())

    store = TickStore(uri)
    assert store.symbols().set_index("symbol")["market"].to_dict() == {SPOT: "spot", PERP: "futures"}
    for name, st in published.items():
        ids = store.ticks(name, columns=["trade_id"])["trade_id"].to_numpy()
        assert ids[0] == st["first_ids"][SPOT] and np.all(np.diff(ids) == 1)
    # the perpetual tracks its spot with a small premium (basis_bps=2, noise 1 bp): median ratio of 1 s closes
    y, x = store.bars(PERP, "1s")["close"], store.bars(SPOT, "1s")["close"]
    ratio = (y / x).dropna()
    assert len(ratio) > 300 and abs(float(ratio.median()) - 1.0002) < 0.0005

    outcome = check_basis_pair(store, uri, PERP, SPOT, tmp_path)
    assert outcome.n > 300
