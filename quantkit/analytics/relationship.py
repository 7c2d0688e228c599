"""How two legs move together: return correlation, lead-lag, hedge-ratio stability.

Correlations are computed on **returns**, never on price levels: two
independent random walks routinely show price-level correlations of +-0.9
(spurious regression), while their return correlation is ~0.

Return convention: the return at bar t is ``ln(p_t / p_{t-1})`` (``kind="log"``,
default) or ``p_t / p_{t-1} - 1`` (``kind="simple"``); the first bar has no return.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._rolling import rolling_moments
from ._validation import as_array, as_pair, check_int, check_window
from .hedge import rolling_ols
from .results import Result

__all__ = [
    "BetaStability",
    "CrossCorrelation",
    "beta_stability",
    "cross_correlation",
    "returns",
    "rolling_correlation",
]

_ZERO_VAR = 1e-12


def _returns_arr(p: np.ndarray, kind: str, name: str) -> np.ndarray:
    if kind not in ("log", "simple"):
        raise AnalyticsError(f"kind={kind!r}: expected 'log' or 'simple'")
    if (p <= 0).any():
        first = int(np.argmax(p <= 0))
        raise AnalyticsError(f"{name}: returns need prices > 0, found {p[first]!r} at position {first}")
    out = np.empty_like(p)
    out[0] = np.nan
    if kind == "log":
        out[1:] = np.diff(np.log(p))
    else:
        out[1:] = p[1:] / p[:-1] - 1.0
    return out


def returns(prices: Any, *, kind: Literal["log", "simple"] = "log") -> pd.Series:
    """Bar-to-bar returns of a price series (first value NaN).

    Args:
        prices: prices > 0 (Series or array).
        kind: "log" (default) or "simple".
    """
    p, index = as_array(prices, "prices", min_n=2)
    return pd.Series(_returns_arr(p, kind, "prices"), index=index, name="ret")


def rolling_correlation(y: Any, x: Any, window: int, *, kind: Literal["log", "simple"] = "log") -> pd.Series:
    """Rolling correlation of the two legs' returns over the last ``window`` returns.

    The value at bar t uses the returns of bars ``t-window+1 .. t`` (each return
    ending at its bar): no look-ahead. NaN for the first ``window`` bars and for
    windows where a leg's return is constant.

    Args:
        y: prices of the first leg (> 0), same index as x.
        x: prices of the second leg.
        window: number of returns per window (>= 3).
        kind: "log" (default) or "simple" returns.

    Returns:
        Series named ``corr``.
    """
    ya, xa, index = as_pair(y, x, min_n=3)
    w = check_window(window, len(ya) - 1, minimum=3)
    ry = _returns_arr(ya, kind, "y")
    rx = _returns_arr(xa, kind, "x")
    m = rolling_moments(rx, w, ry)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = m.c_xy / np.sqrt(m.m2_x * m.m2_y)
    degenerate = ~((m.m2_x > _ZERO_VAR * m.raw_xx) & (m.m2_y > _ZERO_VAR * m.raw_yy))
    corr[degenerate] = np.nan
    return pd.Series(np.clip(corr, -1.0, 1.0), index=index, name="corr")


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class CrossCorrelation(Result):
    """Result of :func:`cross_correlation`.

    Attributes:
        corr: Series indexed by lag (bars): ``corr(r_y[t], r_x[t - lag])``.
            A peak at a **positive** lag means x leads y by that many bars; negative: y leads x.
        best_lag: the lag with the largest absolute correlation.
        best_corr: the correlation at ``best_lag``.
        contemporaneous: the correlation at lag 0.
        n: number of return pairs.
    """

    corr: pd.Series
    best_lag: int
    best_corr: float
    contemporaneous: float
    n: int

    @property
    def leader(self) -> str:
        """"x", "y" or "none" (when lag 0 is the strongest)."""
        return "x" if self.best_lag > 0 else "y" if self.best_lag < 0 else "none"

    def to_frame(self) -> pd.DataFrame:
        """The correlation per lag."""
        return self.corr.to_frame()


def cross_correlation(
    y: Any, x: Any, *, max_lag: int = 10, kind: Literal["log", "simple"] = "log"
) -> CrossCorrelation:
    """Cross-correlation of returns at lags ``-max_lag .. max_lag`` (lead-lag).

    Each lag uses all overlapping return pairs, each side standardised on that overlap.

    Args:
        y: prices of the first leg, same index as x.
        x: prices of the second leg.
        max_lag: largest lag in bars (default 10).
        kind: "log" (default) or "simple" returns.
    """
    ya, xa, _ = as_pair(y, x, min_n=4)
    lag_max = check_int(max_lag, "max_lag", minimum=0)
    ry = _returns_arr(ya, kind, "y")[1:]
    rx = _returns_arr(xa, kind, "x")[1:]
    n = len(ry)
    if lag_max >= n - 2:
        raise AnalyticsError(f"max_lag={lag_max}: too large for {n} returns")
    lags = np.arange(-lag_max, lag_max + 1)
    vals = np.empty(len(lags))
    for i, k in enumerate(lags):
        if k >= 0:
            a, b = ry[k:], rx[: n - k]
        else:
            a, b = ry[: n + k], rx[-k:]
        ac, bc = a - a.mean(), b - b.mean()
        den = math.sqrt(float(np.dot(ac, ac)) * float(np.dot(bc, bc)))
        vals[i] = float(np.dot(ac, bc)) / den if den > 0 else math.nan
    if np.all(np.isnan(vals)):
        raise AnalyticsError("cross_correlation: a leg's returns are constant")
    best = int(np.nanargmax(np.abs(vals)))
    corr = pd.Series(vals, index=pd.Index(lags, name="lag"), name="corr")
    return CrossCorrelation(corr=corr, best_lag=int(lags[best]), best_corr=float(vals[best]),
                            contemporaneous=float(vals[lag_max]), n=n)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class BetaStability(Result):
    """Result of :func:`beta_stability` (statistics of the rolling OLS beta).

    Attributes:
        window: rolling window in bars.
        mean: mean rolling beta.
        std: standard deviation of the rolling beta.
        cv: ``std / |mean|`` (lower = more stable hedge ratio).
        min, max: extremes of the rolling beta.
        q05, q95: 5% and 95% quantiles.
        sign_flips: how many times the rolling beta changed sign.
        full_sample_beta: the static OLS beta over all bars (for comparison).
        n_windows: number of complete windows.
        beta: the rolling beta Series.
    """

    window: int
    mean: float
    std: float
    cv: float
    min: float
    max: float
    q05: float
    q95: float
    sign_flips: int
    full_sample_beta: float
    n_windows: int
    beta: pd.Series


def beta_stability(y: Any, x: Any, window: int, *, log: bool = False) -> BetaStability:
    """How stable the hedge ratio is over time: statistics of the rolling OLS beta.

    Args:
        y: dependent leg (prices), same index as x.
        x: hedge leg.
        window: rolling window in bars (>= 3).
        log: use log prices.
    """
    ya, xa, index = as_pair(y, x, min_n=4, log=log)
    w = check_window(window, len(ya), minimum=3)
    roll = rolling_ols(pd.Series(ya, index=index), pd.Series(xa, index=index), w)
    b = roll["beta"].to_numpy()
    valid = b[~np.isnan(b)]
    if len(valid) == 0:
        raise AnalyticsError("beta_stability: x is constant in every window")
    xc = xa - xa.mean()
    full = float(np.dot(xc, (ya - ya.mean()))) / float(np.dot(xc, xc)) if float(np.dot(xc, xc)) > 0 else math.nan
    mean = float(valid.mean())
    std = float(valid.std())
    signs = np.sign(valid)
    return BetaStability(
        window=w,
        mean=mean,
        std=std,
        cv=std / abs(mean) if mean != 0 else math.inf,
        min=float(valid.min()),
        max=float(valid.max()),
        q05=float(np.quantile(valid, 0.05)),
        q95=float(np.quantile(valid, 0.95)),
        sign_flips=int(np.count_nonzero(signs[1:] != signs[:-1])),
        full_sample_beta=full,
        n_windows=len(valid),
        beta=roll["beta"].rename("beta"),
    )
