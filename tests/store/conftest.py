"""Fixtures of the store tests: a fresh store per test on LMDB and on S3 (moto), and small tick frames."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from quantkit.store import MaintenancePolicy, TickStore

from _support.s3 import s3_server  # noqa: F401  (session fixture: moto S3 in its own process)


@pytest.fixture(params=["lmdb", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URI of an empty store: LMDB in the test's tmp dir, then a fresh bucket on the session's moto S3 server.

    Every test taking ``store_uri`` or ``store`` runs once per back-end with the same assertions.
    """
    if request.param == "lmdb":
        return f"lmdb://{tmp_path / 'arctic'}"
    server = request.getfixturevalue("s3_server")
    return str(server.uri(server.new_bucket("store")))


@pytest.fixture
def lmdb_uri(tmp_path: Path) -> str:
    """URI of an empty LMDB store (for the few tests about LMDB itself)."""
    return f"lmdb://{tmp_path / 'arctic'}"


@pytest.fixture
def store(store_uri: str) -> TickStore:
    """A TickStore on a fresh LMDB library (automatic maintenance off, so tests control it)."""
    return TickStore(store_uri, maintenance=None)


def make_ticks(ids: list[int] | np.ndarray, times_ms: list[int] | np.ndarray | None = None, seed: int = 0) -> pd.DataFrame:
    """A tick frame with the given ids (times default to 1 ms per id from 2024-08-08)."""
    ids = np.asarray(ids, dtype=np.int64)
    if times_ms is None:
        times_ms = 1_723_075_200_000 + ids
    rng = np.random.default_rng(seed)
    price = np.round(100 + rng.standard_normal(len(ids)).cumsum() * 0.01, 2) + 50
    qty = np.round(rng.random(len(ids)) + 0.001, 3)
    return pd.DataFrame(
        {
            "trade_id": ids,
            "price": price,
            "qty": qty,
            "quote_qty": price * qty,
            "is_buyer_maker": rng.random(len(ids)) < 0.5,
        },
        index=pd.DatetimeIndex(np.asarray(times_ms, dtype="int64").astype("datetime64[ms]").astype("datetime64[ns]"), name="time").tz_localize("UTC"),
    )


@pytest.fixture
def ticks_factory() -> Callable[..., pd.DataFrame]:
    """The :func:`make_ticks` helper."""
    return make_ticks


@pytest.fixture
def aggressive_policy() -> MaintenancePolicy:
    """Maintenance after every 3 appends (exercises pruning/compaction often)."""
    return MaintenancePolicy(interval=None, every_appends=3)
