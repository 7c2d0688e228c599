"""Helper run in a spawned reader process by test_store_concurrency (not a test module)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def read_while_writing(uri: str, symbol: str, expected: int, timeout: float, ready: Any, out: Any) -> None:
    """Poll the store until ``expected`` ticks are visible; report counts and any error or inconsistency."""
    from quantkit.store import TickStore

    store = TickStore(uri, maintenance=None)
    ready.put(True)
    counts: list[int] = []
    problems: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not store.has_symbol(symbol):
                time.sleep(0.005)
                continue
            ids = store.ticks(symbol, columns=["trade_id"])["trade_id"].to_numpy()
            if not np.array_equal(ids, np.arange(1, len(ids) + 1)):
                problems.append(f"ids not 1..{len(ids)}")
            tail = store.tail(symbol, 500)
            if not tail.index.is_monotonic_increasing or not tail["trade_id"].is_monotonic_increasing:
                problems.append("tail out of order")
            bars = store.bars(symbol, "1s")
            if int(bars["trades"].sum()) < len(ids):
                problems.append("bars behind an earlier read")
            counts.append(len(ids))
            if len(ids) >= expected:
                break
        except Exception as exc:  # the test asserts there are none
            problems.append(f"{type(exc).__name__}: {exc}")
    out.put((counts, problems))
