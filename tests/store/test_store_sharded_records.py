"""Writers sharded by symbol share one library: each symbol's gap and market records have their own table."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Callable

import pandas as pd
import pytest

from quantkit.errors import SchemaError
from quantkit.store import TickStore

CHILD = textwrap.dedent(
    """
    import sys
    from quantkit.store import TickStore
    uri, sym = sys.argv[1], sys.argv[2]
    s = TickStore(uri, maintenance=None)
    for i in range(40):
        s.record_gap(sym, 100 * i, 100 * i + 9, filled=bool(i % 2), reason="" if i % 2 else "not_served")
    print("done")
    """
)


def test_two_writer_processes_recording_gaps_at_once_lose_none(store_uri: str) -> None:
    """Two processes, each recording 40 gaps of its own symbol at the same time: all 80 are in gaps()."""
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, store_uri, sym], stdout=subprocess.PIPE, text=True)
             for sym in ("SYNAUSDT", "SYNBUSDT")]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and all("done" in o for o in outs)
    gaps = TickStore(store_uri, maintenance=None).gaps()
    assert len(gaps) == 80
    for sym in ("SYNAUSDT", "SYNBUSDT"):
        mine = gaps[gaps["symbol"] == sym]
        assert sorted(mine["from_id"]) == [100 * i for i in range(40)]
        assert int((~mine["filled"]).sum()) == 20 and set(mine.loc[~mine["filled"], "reason"]) == {"not_served"}
    assert gaps.index.is_monotonic_increasing


def test_per_symbol_records_and_markets(store_uri: str, store: TickStore, ticks_factory: Callable[..., pd.DataFrame]) -> None:
    """gaps(symbol) reads only that symbol's table; markets are kept per symbol and listed by symbols()."""
    store.append_ticks("BTCUSDT", ticks_factory(range(1, 11)), market="spot")
    store.append_ticks("BTCUSDT_PERP", ticks_factory(range(1, 11)), market="futures")
    store.record_gap("BTCUSDT", 11, 12)
    store.record_gap("BTCUSDT_PERP", 20, 29, filled=True)
    assert store.gaps("BTCUSDT")[["from_id", "to_id", "filled"]].values.tolist() == [[11, 12, False]]
    assert len(store.gaps()) == 2 and set(store.gaps()["symbol"]) == {"BTCUSDT", "BTCUSDT_PERP"}
    syms = store.symbols().set_index("symbol")
    assert syms.loc["BTCUSDT", "market"] == "spot" and syms.loc["BTCUSDT_PERP", "market"] == "futures"
    fresh = TickStore(store_uri, maintenance=None)
    fresh._backend.forget(store.library, "BTCUSDT")  # as a restarted writer: re-read the recorded market
    with pytest.raises(SchemaError, match="spot"):
        fresh.append_ticks("BTCUSDT", ticks_factory(range(11, 13)), market="futures")
