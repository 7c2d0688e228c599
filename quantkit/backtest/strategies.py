"""Strategies: from an indicator (a z-score) to a target position in spread units.

A strategy never sees prices. The engine (:mod:`quantkit.backtest.engine`) builds
the spread from the hedge ratio, turns it into an indicator ``z`` and asks the
strategy for the signal ``s_t`` (spread units wanted after bar ``t``'s close,
positive = long the spread = long the first leg). All strategies are vectorised
over numpy arrays.

Indicators:

* :class:`ZScoreBand`, :class:`LinearReversion`: ``z_t = (spread_t - m_t) / sd_t``
  with ``m``, ``sd`` the mean and standard deviation of the spread over the last
  ``window`` bars *including* bar ``t``; with ``window=None`` the mean and standard
  deviation of the training part (static, see :class:`~quantkit.backtest.hedging.Hedge`).
  ``ddof`` sets the deviation's divisor ``window - ddof``: **0** (default, the population
  deviation, as the live dashboard's streaming estimators) or **1** (the sample deviation of
  pandas' ``rolling().std()``, MATLAB's ``std`` and Chan's 2013 code). For a window ``w``
  the two z-scores differ by the constant factor ``sqrt(w / (w - 1))`` (0.8 % at w = 60).
* :class:`BollingerBands`: the same rolling z-score; the bands ``m +/- k sd`` are
  kept for plotting. A Bollinger strategy *is* a rolling z-score band strategy.
* :class:`KalmanSignal`: ``z_t = e_t / sqrt(q_t)`` with ``e`` the Kalman filter's
  forecast error and ``q`` its variance (E. Chan, *Algorithmic Trading*, 2013, ex. 3.3);
  ``init="textbook"`` reproduces the book's first bar.

Band rules (one state machine per side; the two sides never hold at once):

* long when ``z < -entry``; a long exits when ``z >= -exit``;
* short when ``z > entry``; a short exits when ``z <= exit``;
* ``stop``: a long is closed when ``z < -stop`` (a short when ``z > stop``). After
  a stop the side stays flat until ``z`` reaches its exit zone again (re-armed).
* ``max_hold``: a position is closed after ``max_hold`` bars of signal; the side
  then stays flat until ``z`` reaches its exit zone (or a stop) again.
* bars where ``z`` is NaN (warm-up, zero deviation) change nothing.

``-entry < exit <= entry`` is required (``exit == entry`` reproduces Chan's
Kalman example; ``exit < 0`` exits only after crossing the mean).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Union

import numpy as np

from quantkit.errors import BacktestError

__all__ = [
    "BollingerBands",
    "KalmanSignal",
    "LinearReversion",
    "Strategy",
    "ZScoreBand",
    "band_positions",
]


def _check_number(owner: str, name: str, value: Any, *, minimum: float | None = None, strict: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        raise BacktestError(f"{owner}.{name}={value!r}: expected a finite number")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        op = ">" if strict else ">="
        raise BacktestError(f"{owner}.{name}={value!r}: must be {op} {minimum}")


def _check_window(owner: str, window: Any, *, allow_none: bool) -> None:
    if window is None and allow_none:
        return
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise BacktestError(f"{owner}.window={window!r}: expected an integer >= 2" + (" or None" if allow_none else ""))


def _check_ddof(owner: str, ddof: Any, window: int | None) -> None:
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof not in (0, 1):
        raise BacktestError(f"{owner}.ddof={ddof!r}: expected 0 (population) or 1 (sample standard deviation)")
    if window is not None and ddof >= window:
        raise BacktestError(f"{owner}.ddof={ddof!r}: must be < window={window}")


def _check_band(owner: str, entry: float, exit: float, stop: float | None, max_hold: int | None) -> None:
    _check_number(owner, "entry", entry, minimum=0.0)
    _check_number(owner, "exit", exit)
    if exit > entry:
        raise BacktestError(f"{owner}: exit={exit!r} is above entry={entry!r}; expected -entry < exit <= entry")
    if exit <= -entry:
        raise BacktestError(f"{owner}: exit={exit!r} must be > -entry={-entry!r}")
    if stop is not None:
        _check_number(owner, "stop", stop)
        if stop <= entry:
            raise BacktestError(f"{owner}: stop={stop!r} must be above entry={entry!r}")
    if max_hold is not None and (isinstance(max_hold, bool) or not isinstance(max_hold, (int, np.integer)) or max_hold < 1):
        raise BacktestError(f"{owner}.max_hold={max_hold!r}: expected an integer >= 1 (bars) or None")


def _runs(idx: np.ndarray, ev: np.ndarray, n: int, init: int) -> np.ndarray:
    """int8 array of length n: ``init`` before ``idx[0]``, then each ``ev[k]`` from ``idx[k]`` on (forward fill).

    Consecutive equal events are merged first, so the fill is one ``np.repeat`` over the changes.
    """
    out = np.empty(n, dtype=np.int8)
    if idx.shape[0] == 0:
        out.fill(init)
        return out
    keep = np.empty(ev.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(ev[1:], ev[:-1], out=keep[1:])
    idx, ev = idx[keep], ev[keep]
    out[: idx[0]] = init
    out[idx[0] :] = np.repeat(ev.astype(np.int8), np.diff(idx, append=n))
    return out


def _ffill_codes(codes: np.ndarray, init: int) -> np.ndarray:
    """Forward-fill an int8 event array where -1 means "no event"; ``init`` before the first event."""
    idx = np.flatnonzero(codes >= 0)
    return _runs(idx, codes[idx], codes.shape[0], init)


def _one_side(
    z: np.ndarray, entry: float, exit: float, stop: float | None, max_hold: int | None, *, long: bool
) -> np.ndarray:
    """One side's state (0/1, int8). Long: enter when z < -entry, exit when z >= -exit, stop when z < -stop;
    short: the mirror image (z > entry, z <= exit, z > stop)."""
    n = z.shape[0]
    with np.errstate(invalid="ignore"):  # NaN compares False: no event
        if long:
            ex = z >= -exit
            st = (z < -stop) if stop is not None else None
            en = z < -entry
        else:
            ex = z <= exit
            st = (z > stop) if stop is not None else None
            en = z > entry
    if st is not None:
        pos_codes = np.full(n, -1, dtype=np.int8)
        en &= ~st
        # armed: 1 after an exit-zone bar (and at the start), 0 after a stop
        arm_codes = np.full(n, -1, dtype=np.int8)
        arm_codes[ex] = 1
        arm_codes[st] = 0
        armed = _ffill_codes(arm_codes, 1)
        pos_codes[en] = armed[en]
        pos_codes[ex | st] = 0
        pos = _ffill_codes(pos_codes, 0)
    else:
        # en and ex are disjoint (exit <= entry): +1 at entries, -1 at exits, 0 elsewhere. Only the
        # first bar of each run of equal codes can change the state: take the (few) change points.
        code = en.view(np.int8) - ex.view(np.int8)
        chg = np.empty(n, dtype=bool)
        chg[0] = code[0] != 0
        np.not_equal(code[1:], code[:-1], out=chg[1:])
        idx = np.flatnonzero(chg)
        idx = idx[code[idx] != 0]
        pos = _runs(idx, code[idx] > 0, n, 0)
    if max_hold is not None:
        # bars since the run of 1s started (1 on its first bar); cut each run after max_hold bars
        c = np.cumsum(pos, dtype=np.int64)
        base = np.where(pos == 0, c, 0)
        np.maximum.accumulate(base, out=base)
        pos[(c - base) > max_hold] = 0
    return pos


def band_positions(
    z: np.ndarray,
    entry: float,
    exit: float,
    stop: float | None = None,
    max_hold: int | None = None,
) -> np.ndarray:
    """Vectorised z-score band state machine (rules in the module docstring).

    Args:
        z: indicator, float array (NaN = no information at that bar).
        entry: enter when ``|z| > entry``.
        exit: a long exits when ``z >= -exit``, a short when ``z <= exit``.
        stop: close when ``|z|`` goes beyond ``stop`` on the losing side; ``None`` disables.
        max_hold: close after this many bars; ``None`` disables.

    Returns:
        int8 array of -1 (short spread), 0, +1 (long spread), one per bar.
    """
    _check_band("band_positions", entry, exit, stop, max_hold)
    z = np.asarray(z, dtype=np.float64)
    long = _one_side(z, entry, exit, stop, max_hold, long=True)
    short = _one_side(z, entry, exit, stop, max_hold, long=False)
    long -= short
    return long


@dataclass(frozen=True)
class ZScoreBand:
    """Enter beyond ``entry`` standard deviations, exit at ``exit``.

    Attributes:
        entry: entry threshold in z units (> 0, default 2.0).
        exit: exit threshold in z units (``-entry < exit <= entry``, default 0.0).
        window: z-score window in bars (>= 2), or ``None`` for the static in-sample
            mean and deviation of the training part. Default 60.
        stop: stop-loss threshold in z units (> entry) or ``None`` (default).
        max_hold: maximum holding time in bars or ``None`` (default).
        ddof: standard-deviation divisor ``window - ddof``: 0 (default, population) or 1 (sample).
    """

    entry: float = 2.0
    exit: float = 0.0
    window: int | None = 60
    stop: float | None = None
    max_hold: int | None = None
    ddof: int = 0

    kind = "zscore"

    def __post_init__(self) -> None:
        _check_band("ZScoreBand", self.entry, self.exit, self.stop, self.max_hold)
        _check_window("ZScoreBand", self.window, allow_none=True)
        _check_ddof("ZScoreBand", self.ddof, self.window)

    def positions(self, z: np.ndarray) -> np.ndarray:
        """Target spread units (-1, 0, +1) per bar, float64."""
        return band_positions(z, self.entry, self.exit, self.stop, self.max_hold).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Parameters with the strategy name."""
        return {"strategy": "zscore_band", **asdict(self)}


@dataclass(frozen=True)
class LinearReversion:
    """Position proportional to minus the z-score: ``s_t = clip(-z_t / scale, -max_units, max_units)``.

    Attributes:
        window: z-score window in bars (>= 2) or ``None`` for the static training statistics. Default 60.
        scale: z units per spread unit (> 0, default 1.0).
        max_units: cap of ``|s|`` in spread units, or ``None`` (default) for no cap.
        ddof: standard-deviation divisor ``window - ddof``: 0 (default, population) or 1 (sample).
    """

    window: int | None = 60
    scale: float = 1.0
    max_units: float | None = None
    ddof: int = 0

    kind = "zscore"

    def __post_init__(self) -> None:
        _check_window("LinearReversion", self.window, allow_none=True)
        _check_ddof("LinearReversion", self.ddof, self.window)
        _check_number("LinearReversion", "scale", self.scale, minimum=0.0)
        if self.max_units is not None:
            _check_number("LinearReversion", "max_units", self.max_units, minimum=0.0)

    def positions(self, z: np.ndarray) -> np.ndarray:
        """Target spread units per bar (0 where z is NaN), float64."""
        s = -np.asarray(z, dtype=np.float64) / self.scale
        if self.max_units is not None:
            np.clip(s, -self.max_units, self.max_units, out=s)
        s[~np.isfinite(s)] = 0.0
        return s

    def to_dict(self) -> dict[str, Any]:
        """Parameters with the strategy name."""
        return {"strategy": "linear", **asdict(self)}


@dataclass(frozen=True)
class BollingerBands:
    """Bollinger bands on the spread: enter outside ``mean +/- k_entry sd``, exit at ``mean +/- k_exit sd``.

    Attributes:
        window: rolling window in bars for the mean and the deviation, default 20.
        k_entry: band width for entries in standard deviations (> 0, default 2.0).
        k_exit: band width for exits (``-k_entry < k_exit <= k_entry``, default 0.0 = the moving average).
        stop: optional stop in standard deviations (> k_entry).
        max_hold: optional maximum holding time in bars.
        ddof: standard-deviation divisor ``window - ddof``: 0 (default, population) or 1 (sample,
            the usual Bollinger convention of pandas and MATLAB).
    """

    window: int = 20
    k_entry: float = 2.0
    k_exit: float = 0.0
    stop: float | None = None
    max_hold: int | None = None
    ddof: int = 0

    kind = "zscore"

    def __post_init__(self) -> None:
        _check_window("BollingerBands", self.window, allow_none=False)
        _check_ddof("BollingerBands", self.ddof, self.window)
        _check_band("BollingerBands", self.k_entry, self.k_exit, self.stop, self.max_hold)

    def positions(self, z: np.ndarray) -> np.ndarray:
        """Target spread units (-1, 0, +1) per bar, float64."""
        return band_positions(z, self.k_entry, self.k_exit, self.stop, self.max_hold).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Parameters with the strategy name."""
        return {"strategy": "bollinger", **asdict(self)}


@dataclass(frozen=True)
class KalmanSignal:
    """Trade the Kalman filter's forecast error against its standard deviation (z = e / sqrt(q)).

    The hedge ratio is the filter's own (the backtest forces ``Hedge("kalman")``
    with these ``delta``/``ve``).

    Attributes:
        entry: entry threshold in forecast standard deviations (default 1.0).
        exit: exit threshold (default 0.0; Chan's example uses ``exit = entry = 1``).
        delta: state noise of the filter (default 1e-4, Chan's value).
        ve: measurement noise variance of the filter (default 1e-3, Chan's value).
        warmup: bars at the start ignored while the filter converges (default 0).
        stop: optional stop threshold (> entry).
        max_hold: optional maximum holding time in bars.
        init: the filter's first-bar convention: ``"predict"`` (default) or ``"textbook"``
            (Chan's code; see :mod:`quantkit.analytics.kalman`).
    """

    entry: float = 1.0
    exit: float = 0.0
    delta: float = 1e-4
    ve: float = 1e-3
    warmup: int = 0
    stop: float | None = None
    max_hold: int | None = None
    init: str = "predict"

    kind = "kalman"
    window = None

    def __post_init__(self) -> None:
        _check_band("KalmanSignal", self.entry, self.exit, self.stop, self.max_hold)
        _check_number("KalmanSignal", "delta", self.delta, minimum=0.0)
        _check_number("KalmanSignal", "ve", self.ve, minimum=0.0)
        if self.delta >= 1:
            raise BacktestError(f"KalmanSignal.delta={self.delta!r}: expected 0 < delta < 1")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, (int, np.integer)) or self.warmup < 0:
            raise BacktestError(f"KalmanSignal.warmup={self.warmup!r}: expected an integer >= 0 (bars)")
        if self.init not in ("predict", "textbook"):
            raise BacktestError(f"KalmanSignal.init={self.init!r}: expected 'predict' or 'textbook'")

    def positions(self, z: np.ndarray) -> np.ndarray:
        """Target spread units (-1, 0, +1) per bar, float64."""
        return band_positions(z, self.entry, self.exit, self.stop, self.max_hold).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Parameters with the strategy name."""
        return {"strategy": "kalman", **asdict(self)}


#: Any strategy the engine accepts.
Strategy = Union[ZScoreBand, LinearReversion, BollingerBands, KalmanSignal]
