"""Seeded ground-truth generators for the analytics tests.

* ``coint_pair(seed, n, beta=..., alpha=..., half_life=..., ...)``: x is a random
  walk; the spread is an AR(1) with ``phi = 2 ** (-1 / half_life)`` (so the exact
  half-life in bars is ``half_life``); ``y = alpha + beta * x + spread``.
* ``random_walks(seed, n)``: two independent random walks (the control).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pytest


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    e = rng.normal(0.0, sd, n)
    out = np.empty(n)
    out[0] = e[0] / np.sqrt(max(1.0 - phi * phi, 1e-12))
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def make_coint_pair(
    seed: int,
    n: int,
    *,
    beta: float = 1.5,
    alpha: float = 10.0,
    half_life: float = 20.0,
    x0: float = 100.0,
    x_sd: float = 1.0,
    spread_sd: float = 1.0,
    index: bool = True,
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = x0 + np.cumsum(rng.normal(0.0, x_sd, n))
    phi = 2.0 ** (-1.0 / half_life)
    s = _ar1(rng, n, phi, spread_sd)
    y = alpha + beta * x + s
    idx = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC", name="time") if index else pd.RangeIndex(n)
    return pd.Series(y, idx, name="Y"), pd.Series(x, idx, name="X"), s


def make_random_walks(seed: int, n: int, *, x0: float = 100.0, sd: float = 1.0) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC", name="time")
    y = x0 + np.cumsum(rng.normal(0.0, sd, n))
    x = x0 + np.cumsum(rng.normal(0.0, sd, n))
    return pd.Series(y, idx, name="Y"), pd.Series(x, idx, name="X")


@pytest.fixture(scope="session")
def coint_pair() -> Callable[..., tuple[pd.Series, pd.Series, np.ndarray]]:
    """Generator of a seeded cointegrated pair with known beta and half-life."""
    return make_coint_pair


@pytest.fixture(scope="session")
def random_walks() -> Callable[..., tuple[pd.Series, pd.Series]]:
    """Generator of two independent seeded random walks."""
    return make_random_walks


@pytest.fixture(scope="session")
def price_pair() -> tuple[pd.Series, pd.Series]:
    """A 3,000-bar price-like cointegrated pair at a BTC-like level (fixed seed)."""
    y, x, _ = make_coint_pair(7, 3000, beta=0.05, alpha=20.0, half_life=30.0, x0=60000.0, x_sd=30.0, spread_sd=2.0)
    return y, x
