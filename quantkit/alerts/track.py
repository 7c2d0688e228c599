"""A pair's final bars and their live statistics, with a bounded history of every value.

:class:`PairTrack` takes the final aligned pair bars of a
:class:`~quantkit.alerts.source.PairSource` one at a time, feeds each bar's
closes to the one live engine, :class:`quantkit.analytics.PairStream` (O(1)
per bar; Huber refits on a cadence), and keeps, for the last ``capacity``
bars, the bars themselves and the statistics the live dashboard and the alert
rules use. Each statistic equals a batch analytics function on the same bars
(see :class:`~quantkit.analytics.PairStream`):

============ =============================================================
column       value (``window`` bars for every rolling statistic)
============ =============================================================
alpha, beta  the hedge of ``method`` (rolling OLS, Kalman, or Huber refit)
spread       ``y - alpha - beta * x`` with that bar's fit
mean, std    rolling mean / std of the spread
z            ``(spread - mean) / std``
corr         correlation of the legs' log returns
r2           squared correlation of the price levels
============ =============================================================

Storage is a doubled ring buffer (each row written twice), so the last ``n``
rows are always one contiguous, zero-copy numpy view. Not thread-safe: one writer.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from quantkit.alerts.source import PAIR_FIELDS
from quantkit.analytics import HEDGE_METHODS, PairStream
from quantkit.errors import AnalyticsError, ConfigError

__all__ = ["STAT_FIELDS", "TRACK_FIELDS", "PairTrack"]

#: Statistic columns appended to the pair-bar columns.
STAT_FIELDS: tuple[str, ...] = ("alpha", "beta", "spread", "mean", "std", "z", "corr", "r2")
#: Every column of the track's rows.
TRACK_FIELDS: tuple[str, ...] = PAIR_FIELDS + STAT_FIELDS

_COL = {c: i for i, c in enumerate(TRACK_FIELDS)}
_YC = _COL["y_close"]
_XC = _COL["x_close"]
_NPF = len(PAIR_FIELDS)


class PairTrack:
    """Streaming hedge ratio, spread, z-score and correlation of a pair (by :class:`~quantkit.analytics.PairStream`), with history.

    Args:
        window: bars per rolling window (hedge, z-score, correlation), >= 3.
        method: ``"ols"`` (rolling OLS), ``"huber"`` (robust, refit every ``refit_every`` bars)
            or ``"kalman"`` (Kalman filter: ``delta``, ``ve``).
        capacity: bars of history kept (default 20,000).
        delta: Kalman state noise (default 1e-4).
        ve: Kalman observation noise variance (default 1e-3).
        refit_every: Huber refit period in bars (default ``max(1, window // 20)``).

    Attributes:
        stream: the :class:`~quantkit.analytics.PairStream` computing the statistics.
        n: bars seen.
        last_error: the last estimation problem (a skipped bar, a failed Huber refit), or ``None``.

    Raises:
        ConfigError: a bad window, method or capacity (names the value).
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
        self.stream = PairStream(self.window, method=method, delta=delta, ve=ve, refit_every=refit_every)
        self._buf = np.full((2 * self.capacity, len(TRACK_FIELDS)), np.nan)
        self._pos = 0
        self.n = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------------------------------ updates
    def update(self, row: np.ndarray) -> None:
        """Add one pair bar (a row with the :data:`~quantkit.alerts.source.PAIR_FIELDS`); a bad bar is skipped."""
        ps = self.stream
        try:
            ps.update(float(row[_YC]), float(row[_XC]))
        except AnalyticsError as exc:
            self.last_error = f"bar at {int(row[0])} ms skipped: {exc}"
            return
        pos = self._pos
        cap = self.capacity
        buf = self._buf
        stats = (ps.alpha, ps.beta, ps.spread, ps.spread_mean, ps.spread_std, ps.z, ps.corr, ps.r2)
        buf[pos, :_NPF] = row
        buf[pos + cap, :_NPF] = row
        buf[pos, _NPF:] = stats
        buf[pos + cap, _NPF:] = stats
        self.n += 1
        self._pos = pos + 1 if pos + 1 < cap else 0
        if ps.last_error is not None:
            self.last_error = ps.last_error

    def extend(self, rows: Iterable[np.ndarray]) -> None:
        """Add several pair bars in order."""
        upd = self.update
        for r in rows:
            upd(r)

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
