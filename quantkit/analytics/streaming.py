"""Streaming (O(1) per bar) estimators for the live dashboard.

Each estimator keeps a ring buffer of the last ``window`` values and updates
its moments when a bar arrives and the oldest one leaves, with Welford-style
formulas written in deviations from the current mean (no ``E[x^2] - E[x]^2``
cancellation)::

    slide (new xn, yn in; old xo, yo out; window w; mx, my = old means):
        C  += (xn - mx)(yn - my) - (xo - mx)(yo - my) - (xn - xo)(yn - yo) / w
        mx += (xn - xo) / w

Drift from floating-point round-off is bounded by an exact two-pass
recompute from the buffer every ``recompute_every`` slides (default
``max(window, 2000)``: amortised O(1)); stored values are kept relative
to a reference level (re-centred at each recompute) so that round-off scales
with the window's deviations, not with the price level. Results equal the batch
functions on the same bars to ~1e-12 relative (tests check 1e-9):

=========================== ==================================================
streaming                   batch equivalent
=========================== ==================================================
RollingMoments              :func:`~quantkit.analytics.spreads.rolling_mean_std`
RollingCovariance .beta     :func:`~quantkit.analytics.hedge.rolling_ols`
RollingCovariance .corr     correlation of the window's values
KalmanStream                :func:`~quantkit.analytics.kalman.kalman_hedge`
PairStream                  all of the above, see :class:`PairStream`
=========================== ==================================================

Pure-Python scalar arithmetic: for one bar at a time it is several times
faster than numpy (no array allocation, no ufunc dispatch).
Not thread-safe: one writer per estimator.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
import pandas as pd

from quantkit.errors import AnalyticsError

from ._validation import as_pair, check_int, check_positive_float
from .hedge import huber_hedge

__all__ = ["HEDGE_METHODS", "KalmanStream", "PairStream", "RollingCovariance", "RollingMoments"]

#: Hedge-ratio methods of :class:`PairStream` (the ``method`` argument).
HEDGE_METHODS: tuple[str, ...] = ("ols", "huber", "kalman")

_NAN = math.nan
# A window variance counts as zero (a constant window) when every value in the window is the same
# number (tracked exactly as the run of equal consecutive values, so the rounding residue that the
# sliding update leaves in m2 cannot pass for variance: at a price level of 60,000 it reached a std
# of 8e-4 after 40 identical bars, where the batch estimators give exactly 0), or when m2 is this
# small relative to the squared level (an exact zero left by a recompute).
_REL_ZERO = 1e-24


def _default_recompute(window: int) -> int:
    return max(window, 2_000)


class RollingMoments:
    """Rolling mean / variance / std of one series over the last ``window`` values.

    Args:
        window: values per window (>= 2).
        ddof: the variance divisor is ``window - ddof`` (default 0).
        recompute_every: exact recompute period in slides (default ``max(window, 2000)``).

    Attributes:
        n: values seen so far.
        mean: window mean (running mean during warm-up).
        m2: sum of squared deviations from the mean.
    """

    __slots__ = ("_buf", "_i", "_k", "_last", "_m", "_run", "_since", "ddof", "m2", "n", "recompute_every", "window")

    _buf: list[float]
    _i: int
    _k: float
    _last: float
    _m: float
    _run: int
    _since: int
    ddof: int
    m2: float
    n: int
    recompute_every: int
    window: int

    def __init__(self, window: int, *, ddof: int = 0, recompute_every: int | None = None) -> None:
        self.window = check_int(window, "window", minimum=2)
        self.ddof = check_int(ddof, "ddof", minimum=0)
        if self.ddof >= self.window:
            raise AnalyticsError(f"ddof={ddof}: must be < window ({window})")
        self.recompute_every = check_int(recompute_every, "recompute_every") if recompute_every else _default_recompute(self.window)
        self._buf = [0.0] * self.window
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the window is full."""
        return self.n >= self.window

    @property
    def mean(self) -> float:
        """Window mean (running mean during warm-up; 0.0 before any value)."""
        return self._k + self._m

    def update(self, v: float) -> None:
        """Add one value (the oldest leaves once the window is full)."""
        if v == self._last:
            self._run += 1
        else:
            self._last = v
            self._run = 1
        if self.n == 0:
            self._k = v
        v -= self._k
        buf = self._buf
        i = self._i
        w = self.window
        if self.n < w:
            buf[i] = v
            self.n = n = self.n + 1
            d = v - self._m
            self._m += d / n
            self.m2 += d * (v - self._m)
        else:
            old = buf[i]
            buf[i] = v
            self.n += 1
            mo = self._m
            d = v - old
            self._m = mn = mo + d / w
            m2 = self.m2 + d * (v - mn + old - mo)
            self.m2 = m2 if m2 > 0.0 else 0.0
            self._since += 1
            if self._since >= self.recompute_every:
                self.recompute()
        i += 1
        self._i = 0 if i == w else i

    def reset(self) -> None:
        """Forget every value (the window starts filling again)."""
        self._i = 0
        self._since = 0
        self.n = 0
        self._k = 0.0
        self._m = 0.0
        self.m2 = 0.0
        self._last = _NAN  # the last value and how many equal values in a row ended with it
        self._run = 0

    def recompute(self) -> None:
        """Exact two-pass recompute from the buffer, re-centring the stored values on their mean."""
        k = min(self.n, self.window)
        if k == 0:
            return
        buf = self._buf
        m = math.fsum(buf[:k]) / k
        for j in range(k):
            buf[j] -= m
        self._k += m
        self._m = math.fsum(buf[:k]) / k
        self.m2 = math.fsum(v * v for v in buf[:k]) - k * self._m * self._m
        self._since = 0

    @property
    def var(self) -> float:
        """Window variance (divisor ``window - ddof``); NaN until the window is full."""
        if self.n < self.window:
            return _NAN
        return self.m2 / (self.window - self.ddof)

    @property
    def std(self) -> float:
        """Window standard deviation; NaN until full, 0.0 for a constant window."""
        if self.n < self.window:
            return _NAN
        mean = self._k + self._m
        if self._run >= self.window or self.m2 <= _REL_ZERO * self.window * mean * mean:
            return 0.0
        return math.sqrt(self.m2 / (self.window - self.ddof))

    def zscore(self, v: float) -> float:
        """``(v - mean) / std`` with the current window; NaN if not ready or std == 0."""
        s = self.std
        if not s > 0.0:
            return _NAN
        return (v - self._k - self._m) / s


class RollingCovariance:
    """Rolling means, variances, covariance, OLS beta/alpha and correlation of (x, y).

    ``beta``/``alpha`` are the OLS fit of y on x with intercept over the
    window (the same numbers as :func:`quantkit.analytics.hedge.rolling_ols`).

    Args:
        window: pairs per window (>= 2).
        recompute_every: exact recompute period in slides (default ``max(window, 2000)``).
    """

    __slots__ = ("_bx", "_by", "_i", "_kx", "_ky", "_lastx", "_lasty", "_mx", "_my", "_runx", "_runy", "_since",
                 "cxy", "m2x", "m2y", "n", "recompute_every", "window")

    _bx: list[float]
    _by: list[float]
    _i: int
    _kx: float
    _ky: float
    _mx: float
    _my: float
    _since: int
    cxy: float
    m2x: float
    m2y: float
    n: int
    recompute_every: int
    window: int

    def __init__(self, window: int, *, recompute_every: int | None = None) -> None:
        self.window = check_int(window, "window", minimum=2)
        self.recompute_every = check_int(recompute_every, "recompute_every") if recompute_every else _default_recompute(self.window)
        self._bx = [0.0] * self.window
        self._by = [0.0] * self.window
        self.reset()

    def reset(self) -> None:
        """Forget every pair (the window starts filling again)."""
        self._i = 0
        self._since = 0
        self.n = 0
        self._kx = self._ky = 0.0
        self._mx = self._my = 0.0
        self.m2x = self.m2y = self.cxy = 0.0
        self._lastx = self._lasty = _NAN  # runs of equal consecutive values (see _REL_ZERO)
        self._runx = self._runy = 0

    @property
    def ready(self) -> bool:
        """True once the window is full."""
        return self.n >= self.window

    @property
    def mx(self) -> float:
        """Window mean of x."""
        return self._kx + self._mx

    @property
    def my(self) -> float:
        """Window mean of y."""
        return self._ky + self._my

    def update(self, x: float, y: float) -> None:
        """Add one (x, y) pair (the oldest leaves once the window is full)."""
        if x == self._lastx:
            self._runx += 1
        else:
            self._lastx = x
            self._runx = 1
        if y == self._lasty:
            self._runy += 1
        else:
            self._lasty = y
            self._runy = 1
        if self.n == 0:
            self._kx = x
            self._ky = y
        x -= self._kx
        y -= self._ky
        i = self._i
        w = self.window
        bx = self._bx
        by = self._by
        if self.n < w:
            bx[i] = x
            by[i] = y
            self.n = n = self.n + 1
            dx = x - self._mx
            dy = y - self._my
            self._mx = mx = self._mx + dx / n
            self._my = my = self._my + dy / n
            self.m2x += dx * (x - mx)
            self.m2y += dy * (y - my)
            self.cxy += dx * (y - my)
        else:
            xo = bx[i]
            yo = by[i]
            bx[i] = x
            by[i] = y
            self.n += 1
            mx = self._mx
            my = self._my
            ax = x - mx
            ay = y - my
            bxo = xo - mx
            byo = yo - my
            dx = x - xo
            dy = y - yo
            self.cxy += ax * ay - bxo * byo - dx * dy / w
            m2x = self.m2x + ax * ax - bxo * bxo - dx * dx / w
            m2y = self.m2y + ay * ay - byo * byo - dy * dy / w
            self.m2x = m2x if m2x > 0.0 else 0.0
            self.m2y = m2y if m2y > 0.0 else 0.0
            self._mx = mx + dx / w
            self._my = my + dy / w
            self._since += 1
            if self._since >= self.recompute_every:
                self.recompute()
        i += 1
        self._i = 0 if i == w else i

    def recompute(self) -> None:
        """Exact two-pass recompute from the buffers, re-centring the stored values on their means."""
        k = min(self.n, self.window)
        if k == 0:
            return
        bx = self._bx
        by = self._by
        mx = math.fsum(bx[:k]) / k
        my = math.fsum(by[:k]) / k
        for j in range(k):
            bx[j] -= mx
            by[j] -= my
        self._kx += mx
        self._ky += my
        mx = self._mx = math.fsum(bx[:k]) / k
        my = self._my = math.fsum(by[:k]) / k
        self.m2x = math.fsum((a - mx) * (a - mx) for a in bx[:k])
        self.m2y = math.fsum((b - my) * (b - my) for b in by[:k])
        self.cxy = math.fsum((a - mx) * (b - my) for a, b in zip(bx[:k], by[:k]))
        self._since = 0

    def _x_varies(self) -> bool:
        mx = self._kx + self._mx
        return self._runx < self.window and self.m2x > _REL_ZERO * self.window * mx * mx and self.m2x > 0.0

    @property
    def beta(self) -> float:
        """OLS slope of y on x over the window; NaN until full or when x is constant."""
        if self.n < self.window or not self._x_varies():
            return _NAN
        return self.cxy / self.m2x

    @property
    def alpha(self) -> float:
        """OLS intercept of y on x over the window."""
        b = self.beta
        return (self._ky + self._my) - b * (self._kx + self._mx) if b == b else _NAN

    @property
    def cov(self) -> float:
        """Window covariance (divisor ``window``)."""
        return self.cxy / self.window if self.n >= self.window else _NAN

    @property
    def corr(self) -> float:
        """Window correlation; NaN until full or when a side is constant."""
        if self.n < self.window:
            return _NAN
        w = self.window
        my = self._ky + self._my
        if not (self._x_varies() and self._runy < w and self.m2y > _REL_ZERO * w * my * my and self.m2y > 0.0):
            return _NAN
        c = self.cxy / math.sqrt(self.m2x * self.m2y)
        return 1.0 if c > 1.0 else -1.0 if c < -1.0 else c


class KalmanStream:
    """One-bar-at-a-time Kalman hedge (same recursion as :func:`~quantkit.analytics.kalman.kalman_hedge`).

    Args:
        delta: state noise parameter in (0, 1) (default 1e-4).
        ve: observation noise variance (default 1e-3).

    Attributes:
        alpha, beta: filtered state after the last bar.
        e, q: the last one-step forecast error and its variance.
        n: bars seen.
    """

    __slots__ = ("_p00", "_p01", "_p11", "_vw", "alpha", "beta", "delta", "e", "n", "q", "ve")

    def __init__(self, *, delta: float = 1e-4, ve: float = 1e-3) -> None:
        self.delta = check_positive_float(delta, "delta")
        if not self.delta < 1.0:
            raise AnalyticsError(f"delta={delta!r}: must be in (0, 1)")
        self.ve = check_positive_float(ve, "ve")
        self._vw = self.delta / (1.0 - self.delta)
        self._p00 = self._p01 = self._p11 = 0.0
        self.alpha = self.beta = 0.0
        self.e = self.q = _NAN
        self.n = 0

    def update(self, y: float, x: float) -> float:
        """Process one bar; returns the forecast error ``e``."""
        vw = self._vw
        r00 = self._p00 + vw
        r01 = self._p01
        r11 = self._p11 + vw
        rh0 = r00 * x + r01
        rh1 = r01 * x + r11
        q = x * rh0 + rh1 + self.ve
        e = y - (x * self.beta + self.alpha)
        k0 = rh0 / q
        k1 = rh1 / q
        self.beta += k0 * e
        self.alpha += k1 * e
        self._p00 = r00 - k0 * rh0
        self._p01 = r01 - k0 * rh1
        self._p11 = r11 - k1 * rh1
        self.e = e
        self.q = q
        self.n += 1
        return e

    @property
    def zscore(self) -> float:
        """``e / sqrt(q)`` of the last bar."""
        return self.e / math.sqrt(self.q) if self.n else _NAN


_FIELDS = ("y", "x", "alpha", "beta", "spread", "spread_mean", "spread_std", "z", "corr", "r2",
           "kalman_alpha", "kalman_beta", "kalman_e", "kalman_q")


class PairStream:
    """Everything the live pair dashboard and the alert rules use, updated in O(1) per bar.

    The one live engine: :class:`~quantkit.alerts.AlertMonitor` (and so the live
    dashboard and ``quantkit alerts``) feeds it one final pair bar at a time.
    Per :meth:`update` (y, x) -- prices of one new bar, log'ed first when ``log=True``:

    * ``alpha``, ``beta``: the hedge of ``method``:

      - ``"ols"`` (default): rolling OLS of y on x over ``window`` bars
        (batch: ``rolling_ols(y, x, window)``);
      - ``"kalman"``: the Kalman filter below (batch: ``kalman_hedge(y, x).frame``);
      - ``"huber"``: robust regression, which has no O(1) update: refit with
        ``huber_hedge`` on the last ``window`` bars every ``refit_every`` bars
        (default ``max(1, window // 20)``), the latest fit used in between;

    * ``spread`` = ``y - alpha - beta * x`` with this bar's fit
      (batch: ``spread(y, x, beta, alpha)``);
    * ``spread_mean``, ``spread_std``, ``z``: rolling moments of the spread over
      ``z_window`` bars with ``ddof`` (batch: ``rolling_mean_std`` / ``zscore``;
      a bar without a fit restarts the spread window, as a NaN does in batch);
    * ``corr``: correlation of the legs' returns over ``corr_window`` returns
      (batch: ``rolling_correlation(y, x, corr_window, kind=returns)``;
      computed on raw prices, whatever ``log`` says);
    * ``r2``: squared correlation of the (log) price levels over ``window`` bars;
    * ``kalman_alpha``, ``kalman_beta``, ``kalman_e``, ``kalman_q``: Kalman filter
      (batch: ``kalman_hedge(y, x, delta=..., ve=...)``).

    Values are NaN until their windows are full.

    Args:
        window: rolling-OLS window in bars (>= 3).
        z_window: spread z-score window (default = ``window``).
        corr_window: return-correlation window (default = ``window``).
        delta, ve: Kalman parameters (defaults 1e-4, 1e-3).
        log: use log prices for the hedge, spread and Kalman filter.
        ddof: z-score std divisor ``z_window - ddof`` (default 0).
        returns: "log" (default) or "simple" returns for the correlation.
        recompute_every: exact recompute period of the rolling windows.
        method: hedge ratio, one of :data:`HEDGE_METHODS` (default ``"ols"``).
        refit_every: Huber refit period in bars (default ``max(1, window // 20)``).

    Attributes:
        n: bars seen.
        last_error: the last estimation problem (a failed Huber refit), or ``None``.
    """

    __slots__ = (
        "_cov", "_huber", "_kal", "_log", "_prev_x", "_prev_y", "_ret", "_simple", "_since_fit", "_spr", "_wx", "_wy",
        "alpha", "beta", "corr", "last_error", "method", "n", "refit_every", "spread", "spread_mean", "spread_std",
        "x", "y", "z",
    )

    def __init__(
        self,
        window: int,
        *,
        z_window: int | None = None,
        corr_window: int | None = None,
        delta: float = 1e-4,
        ve: float = 1e-3,
        log: bool = False,
        ddof: int = 0,
        returns: str = "log",
        recompute_every: int | None = None,
        method: str = "ols",
        refit_every: int | None = None,
    ) -> None:
        check_int(window, "window", minimum=3)
        if returns not in ("log", "simple"):
            raise AnalyticsError(f"returns={returns!r}: expected 'log' or 'simple'")
        self.method = str(method).lower()
        if self.method not in HEDGE_METHODS:
            raise AnalyticsError(f"method={method!r}: expected one of {', '.join(HEDGE_METHODS)}")
        self.refit_every = check_int(refit_every, "refit_every") if refit_every else max(1, int(window) // 20)
        huber = self.method == "huber"
        self._wy: collections.deque[float] | None = collections.deque(maxlen=int(window)) if huber else None
        self._wx: collections.deque[float] | None = collections.deque(maxlen=int(window)) if huber else None
        self._huber: tuple[float, float] | None = None
        self._since_fit = 0
        self.last_error: str | None = None
        self._cov = RollingCovariance(window, recompute_every=recompute_every)
        self._spr = RollingMoments(z_window if z_window is not None else window, ddof=ddof, recompute_every=recompute_every)
        self._ret = RollingCovariance(corr_window if corr_window is not None else window, recompute_every=recompute_every)
        self._kal = KalmanStream(delta=delta, ve=ve)
        self._log = bool(log)
        self._simple = returns == "simple"
        self._prev_x = self._prev_y = _NAN
        self.n = 0
        self.y = self.x = _NAN
        self.alpha = self.beta = self.spread = _NAN
        self.spread_mean = self.spread_std = self.z = self.corr = _NAN

    @property
    def r2(self) -> float:
        """Squared correlation of the (log) price levels over ``window`` bars; NaN until full."""
        c = self._cov.corr
        return c * c if c == c else _NAN

    @property
    def kalman_alpha(self) -> float:
        """Filtered Kalman alpha after the last bar."""
        return self._kal.alpha

    @property
    def kalman_beta(self) -> float:
        """Filtered Kalman beta after the last bar."""
        return self._kal.beta

    @property
    def kalman_e(self) -> float:
        """Kalman one-step forecast error of the last bar."""
        return self._kal.e

    @property
    def kalman_q(self) -> float:
        """Kalman forecast-error variance of the last bar."""
        return self._kal.q

    def update(self, y: float, x: float) -> float:
        """Process one bar of prices; returns the spread z-score (NaN while warming up).

        Raises:
            AnalyticsError: a non-finite or (with ``log`` or returns) non-positive price.
        """
        if not (y > 0.0 and x > 0.0 and y < math.inf and x < math.inf):
            if not (math.isfinite(y) and math.isfinite(x)):
                raise AnalyticsError(f"PairStream.update: non-finite price (y={y!r}, x={x!r})")
            raise AnalyticsError(f"PairStream.update: prices must be > 0 (y={y!r}, x={x!r})")
        # return correlation on raw prices
        py = self._prev_y
        if py == py:
            if self._simple:
                self._ret.update(x / self._prev_x - 1.0, y / py - 1.0)
            else:
                self._ret.update(math.log(x / self._prev_x), math.log(y / py))
            self.corr = self._ret.corr
        self._prev_y = y
        self._prev_x = x
        if self._log:
            y = math.log(y)
            x = math.log(x)
        self.y = y
        self.x = x
        self.n += 1
        self._kal.update(y, x)
        cov = self._cov
        cov.update(x, y)
        method = self.method
        if method == "ols":
            b = cov.beta
            a = cov.my - b * cov.mx if b == b else _NAN
        elif method == "kalman":
            a, b = self._kal.alpha, self._kal.beta
        else:
            a, b = self._huber_fit(y, x)
        if b == b:
            s = y - a - b * x
            self.alpha = a
            self.beta = b
            self.spread = s
            spr = self._spr
            spr.update(s)
            if spr.n >= spr.window:
                sd = spr.std
                self.spread_mean = m = spr.mean
                self.spread_std = sd
                self.z = (s - m) / sd if sd > 0.0 else _NAN
                return self.z
            return _NAN
        if self.spread == self.spread or self._spr.n:
            # the fit became undefined (x constant over the window): like the batch z-score,
            # the spread window restarts after the gap
            self._spr.reset()
        self.alpha = self.beta = self.spread = _NAN
        self.spread_mean = self.spread_std = self.z = _NAN
        return _NAN

    def _huber_fit(self, y: float, x: float) -> tuple[float, float]:
        wy, wx = self._wy, self._wx
        assert wy is not None and wx is not None
        wy.append(y)
        wx.append(x)
        if len(wy) == wy.maxlen:
            self._since_fit += 1
            if self._huber is None or self._since_fit >= self.refit_every:
                self._since_fit = 0
                try:
                    fit = huber_hedge(np.fromiter(wy, float, len(wy)), np.fromiter(wx, float, len(wx)))
                    self._huber = (float(fit.alpha), float(fit.beta))
                except AnalyticsError as exc:
                    self.last_error = f"huber refit: {exc}"
        return self._huber if self._huber is not None else (_NAN, _NAN)

    def snapshot(self) -> dict[str, float]:
        """The current values as a dict (``n`` plus the per-bar fields)."""
        out: dict[str, float] = {"n": float(self.n)}
        for f in _FIELDS:
            out[f] = float(getattr(self, f))
        return out

    def run(self, y: Any, x: Any) -> pd.DataFrame:
        """Feed a whole aligned history bar by bar and record every bar's values.

        Args:
            y, x: aligned prices (Series with equal indexes, or arrays).

        Returns:
            DataFrame with one row per bar and the columns ``y, x, alpha, beta,
            spread, spread_mean, spread_std, z, corr, r2, kalman_alpha, kalman_beta,
            kalman_e, kalman_q`` (``y``/``x`` in log space when ``log=True``).
        """
        ya, xa, index = as_pair(y, x, min_n=1)
        rows = np.empty((len(ya), len(_FIELDS)))
        upd = self.update
        kal = self._kal
        for i, (yy, xx) in enumerate(zip(ya.tolist(), xa.tolist())):
            upd(yy, xx)
            rows[i] = (self.y, self.x, self.alpha, self.beta, self.spread, self.spread_mean, self.spread_std,
                       self.z, self.corr, self.r2, kal.alpha, kal.beta, kal.e, kal.q)
        return pd.DataFrame(rows, index=index, columns=list(_FIELDS))
