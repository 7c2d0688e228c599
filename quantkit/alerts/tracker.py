"""Per-bar pair statistics, updated in O(1) per bar, with a bounded history of every value.

:class:`PairTracker` takes the final aligned pair bars of a
:class:`~quantkit.alerts.source.PairSource` one at a time and keeps, for the
last ``capacity`` bars, the bars themselves and the statistics the live
dashboard and the alert rules use. Each statistic equals a batch analytics
function on the same bars (closes ``y``, ``x``):

============ ======================================================= =====================================================
column       OLS (default)                                           Kalman / Huber
============ ======================================================= =====================================================
alpha, beta  ``rolling_ols(y, x, window)``                           ``kalman_hedge(y, x).frame`` / ``huber_hedge`` refit
spread       ``y - alpha - beta * x`` with that bar's fit            same, with the method's current fit
mean, std    ``rolling_mean_std(spread, window)``                    same
z            ``zscore(spread, window)``                              same
corr         ``rolling_correlation(y, x, window)`` (log returns)     same
r2           squared correlation of the price levels over window     same
============ ======================================================= =====================================================

Huber is a robust regression with no O(1) update: it is refit on the last
``window`` bars every ``refit_every`` bars (default ``max(1, window // 20)``),
and the spread uses the latest fit in between. A bar where the fit is
undefined (warm-up, constant x) restarts the spread window, as a NaN does in
the batch z-score.

Storage is a doubled ring buffer (each row written twice), so the last ``n``
rows are always one contiguous, zero-copy numpy view. Not thread-safe: one writer.
"""

from __future__ import annotations

import logging
import math
from typing import Iterable

import numpy as np
import pandas as pd

from quantkit.alerts.source import PAIR_FIELDS
from quantkit.analytics import KalmanStream, RollingCovariance, RollingMoments, huber_hedge
from quantkit.errors import AnalyticsError, ConfigError

__all__ = ["HEDGE_METHODS", "STAT_FIELDS", "TRACK_FIELDS", "PairTracker"]

log = logging.getLogger("quantkit.alerts")

#: Hedge-ratio methods of :class:`PairTracker`.
HEDGE_METHODS: tuple[str, ...] = ("ols", "huber", "kalman")
#: Statistic columns appended to the pair-bar columns.
STAT_FIELDS: tuple[str, ...] = ("alpha", "beta", "spread", "mean", "std", "z", "corr", "r2")
#: Every column of the tracker's rows.
TRACK_FIELDS: tuple[str, ...] = PAIR_FIELDS + STAT_FIELDS

_COL = {c: i for i, c in enumerate(TRACK_FIELDS)}
_YC = _COL["y_close"]
_XC = _COL["x_close"]
_NAN = math.nan


class PairTracker:
    """Streaming hedge ratio, spread, z-score and correlation of a pair, with history.

    Args:
        window: bars per rolling window (hedge, z-score, correlation), >= 3.
        method: ``"ols"`` (rolling OLS), ``"huber"`` (robust, refit every ``refit_every`` bars)
            or ``"kalman"`` (Kalman filter: ``delta``, ``ve``).
        capacity: bars of history kept (default 20,000).
        delta: Kalman state noise (default 1e-4).
        ve: Kalman observation noise variance (default 1e-3).
        refit_every: Huber refit period in bars (default ``max(1, window // 20)``).

    Attributes:
        n: bars seen.
        last_error: the last estimation problem (e.g. a failed Huber refit), or ``None``.
    """

    def __init__(
        self,
        window: int,
        method: str = "ols",
        *,
        capacity: int = 20_000,
        delta: float = 1e-4,
        ve: float = 1e-3,
        refit_every: int | None = None,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 3:
            raise ConfigError("window", window, "must be an integer >= 3 (bars)")
        method = str(method).lower()
        if method not in HEDGE_METHODS:
            raise ConfigError("method", method, f"expected one of {', '.join(HEDGE_METHODS)}")
        if int(capacity) < int(window):
            raise ConfigError("capacity", capacity, f"must be >= window ({window})")
        self.window = int(window)
        self.method = method
        self.capacity = int(capacity)
        self.refit_every = int(refit_every) if refit_every else max(1, self.window // 20)
        self._lev = RollingCovariance(self.window)
        self._ret = RollingCovariance(self.window)
        self._kal = KalmanStream(delta=delta, ve=ve)
        self._spr = RollingMoments(self.window)
        self._buf = np.full((2 * self.capacity, len(TRACK_FIELDS)), np.nan)
        self._pos = 0
        self._huber: tuple[float, float] | None = None
        self._since_fit = 0
        self._py = self._px = _NAN
        self._spread_live = False
        self.n = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------------------------------ updates
    def update(self, row: np.ndarray) -> None:
        """Add one pair bar (a row with the :data:`~quantkit.alerts.source.PAIR_FIELDS`)."""
        y = float(row[_YC])
        x = float(row[_XC])
        if not (y > 0.0 and x > 0.0 and math.isfinite(y) and math.isfinite(x)):
            self.last_error = f"bar at {int(row[0])} ms skipped: non-positive or non-finite close (y={y}, x={x})"
            return
        py = self._py
        if py == py:
            self._ret.update(math.log(x / self._px), math.log(y / py))
        self._py, self._px = y, x
        lev = self._lev
        lev.update(x, y)
        self._kal.update(y, x)
        pos = self._pos
        cap = self.capacity
        buf = self._buf
        npf = len(PAIR_FIELDS)
        buf[pos, :npf] = row
        buf[pos + cap, :npf] = row
        self.n += 1
        self._pos = pos + 1 if pos + 1 < cap else 0

        if self.method == "ols":
            b = lev.beta
            a = lev.my - b * lev.mx if b == b else _NAN
        elif self.method == "kalman":
            a, b = self._kal.alpha, self._kal.beta
        else:
            a, b = self._huber_fit()
        spr = self._spr
        if b == b:
            s = y - a - b * x
            spr.update(s)
            self._spread_live = True
            if spr.n >= spr.window:
                m = spr.mean
                sd = spr.std
                z = (s - m) / sd if sd > 0.0 else _NAN
            else:
                m = sd = z = _NAN
        else:
            if self._spread_live or spr.n:
                spr.reset()
            self._spread_live = False
            s = m = sd = z = _NAN
        c = lev.corr
        stats = (a, b, s, m, sd, z, self._ret.corr, c * c if c == c else _NAN)
        buf[pos, npf:] = stats
        buf[pos + cap, npf:] = stats

    def extend(self, rows: Iterable[np.ndarray]) -> None:
        """Add several pair bars in order."""
        for r in rows:
            self.update(r)

    def _huber_fit(self) -> tuple[float, float]:
        size = min(self.n, self.capacity)
        if size >= self.window:
            self._since_fit += 1
            if self._huber is None or self._since_fit >= self.refit_every:
                self._since_fit = 0
                view = self._buf[self._pos + self.capacity - self.window : self._pos + self.capacity]
                try:
                    fit = huber_hedge(view[:, _YC], view[:, _XC])
                    self._huber = (float(fit.alpha), float(fit.beta))
                except AnalyticsError as exc:
                    self.last_error = f"huber refit: {exc}"
        return self._huber if self._huber is not None else (_NAN, _NAN)

    # ------------------------------------------------------------------------------------------ reads
    @property
    def size(self) -> int:
        """Bars held (at most ``capacity``)."""
        return min(self.n, self.capacity)

    def rows(self, last: int | None = None) -> np.ndarray:
        """The last ``last`` rows (all held by default), oldest first: a read-only zero-copy view."""
        k = self.size if last is None else min(int(last), self.size)
        end = self._pos + self.capacity
        v = self._buf[end - k : end]
        v.flags.writeable = False
        return v

    def column(self, name: str, last: int | None = None) -> np.ndarray:
        """One column of :meth:`rows` (a view)."""
        return self.rows(last)[:, _COL[name]]

    def latest(self) -> dict[str, float]:
        """The newest row as ``{column: value}`` (empty before the first bar)."""
        if self.n == 0:
            return {}
        r = self.rows(1)[0]
        return {c: float(r[i]) for i, c in enumerate(TRACK_FIELDS)}

    def frame(self, last: int | None = None) -> pd.DataFrame:
        """The held rows as a DataFrame indexed by UTC bar open time (a copy)."""
        r = self.rows(last)
        idx = pd.DatetimeIndex(r[:, 0].astype("int64").astype("datetime64[ms]"), name="time").tz_localize("UTC")
        return pd.DataFrame(r[:, 1:].copy(), index=idx, columns=list(TRACK_FIELDS[1:]))
