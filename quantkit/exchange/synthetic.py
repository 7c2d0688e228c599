"""A seeded synthetic market with a known cointegrated pair, for tests, demos and notebooks.

Four symbols play four roles (names are configurable; defaults from
:data:`quantkit.config.SYNTHETIC_SYMBOLS`):

=========== ========== ================================================== ================
role        default    model (price space, USD)                           level / tick
=========== ========== ================================================== ================
Y           SYNAUSDT   ``Y = alpha + beta * X + s``                       ~2,700 / 0.01
X           SYNBUSDT   arithmetic random walk                              ~61,800 / 0.01
control     SYNCUSDT   independent random walk                             ~150 / 0.01
factor      SYNDUSDT   ``dD = loading * dX + own random walk``: correlated ~600 / 0.01
                       with X, **not** cointegrated
=========== ========== ================================================== ================

The latent mid prices live on a grid of ``dt = 0.1`` s; with ``j`` the grid step
(states at ``start + j * dt``) the model, sampled **exactly**, is::

    X[j] = X[j-1] + x_sigma * sqrt(dt) * e1[j]
    s[j] = phi * s[j-1] + spread_sd * sqrt(1 - phi**2) * e2[j]      phi = exp(-theta * dt)
    Y[j] = alpha + beta * X[j] + s[j]
    C[j] = C[j-1] + control_sigma * sqrt(dt) * e3[j]
    D[j] = D[j-1] + factor_loading * (X[j] - X[j-1]) + factor_sigma * sqrt(dt) * e4[j]

with ``e*`` i.i.d. standard normal, ``theta = ln 2 / half_life_s``, ``s`` an
Ornstein-Uhlenbeck spread (``ou_sigma = spread_sd * sqrt(2 * theta)``, started from
its stationary law), ``X[-1] = x0``, ``C[-1] = control0``, ``D[-1] = factor0`` and
``alpha = y0 - beta * x0``. :attr:`SyntheticMarket.truth` holds the parameters;
:meth:`SyntheticMarket.generate_mid` returns this grid.

Trades: per symbol, taker orders arrive as a Poisson process whose rate in each
second is ``rate / mean_fills`` times a log-normal activity factor (an AR(1) per
second, half-life 20 s, half shared across symbols), which makes arrivals
bursty. Each order fills ``K ~ Geometric(1 / mean_fills)`` makers in the same
millisecond with consecutive ids (so about ``1 - 1/mean_fills`` of trades share
their millisecond with the previous one; 2/3 by default, as in real captures).
A buy fills at the best ask ``floor(mid / tick) + 1`` ticks, a sell at the best
bid ``floor(mid / tick)`` ticks, where ``mid`` is the grid state at or before the
fill; each further fill of the order walks one tick deeper with probability
0.15. Sizes: log-normal notional (median 100 USD, log-sd 1.6) over price, rounded
to the step size (at least one step). Event time ``E`` = ``T`` + 0-2 ms, never going back
within a symbol.

Streaming (``async for``) starts the exchange clock at ``start_ms`` (default:
the wall clock, or just after ``after_time_ms`` when that is later) and advances
it ``speed`` times faster than real time, so at ``speed != 1`` trade times drift
ahead of the wall clock by design.

A past (warm start): with ``history_s``, streaming starts ``history_s`` seconds before
"now" (never before ``after_time_ms``): those trades are published at once, so the
exchange serves them over REST like the rest of its history, then the market goes on
paced from "now". :attr:`SyntheticMarket.past_published` is set once the past is out.

Continuing after a store: ``after_ids`` (symbol -> last trade id already held)
makes each symbol's ids start right after it (aggregate ids move by the same
amount), so a market restarted on a store that holds an earlier run continues
its ids as a real exchange does while a client is away; :meth:`SyntheticMarket.continue_after`
with the last stored prices also starts the random walks from them (no jump back to the
default levels, which would read as a break in the pair's spread).

A perpetual (the basis pair): :meth:`SyntheticMarket.perpetual` makes the USD-M futures
twin of a spot market (same seed, same symbols, futures messages): its mids are the spot
grid's times ``1 + (basis_bps + u[j]) / 10,000``, with ``u`` an AR(1) basis noise in basis
points (standard deviation 1 bp, half-life 60 s) of its own stream, and its trades are drawn
from a stream of their own (same model, different arrivals). The twins share one exchange
clock (start and past), so the perpetual tracks its spot: ingested under ``SYNAUSDT`` and
``SYNAUSDT_PERP``, the pair ``SYNAUSDT_PERP/SYNAUSDT`` has a hedge ratio of about
``1 + basis_bps / 10,000`` and a mean-reverting basis.

Everything is drawn from ``numpy.random.Generator`` streams spawned from
``seed``, in fixed 60-second chunks, so the same seed gives the same trades
whether they are generated at once, streamed at any speed, or only the mid grid
is asked for (the mid grid has its own stream).
"""

from __future__ import annotations

import asyncio
import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import AsyncIterator, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from quantkit.config import SYNTHETIC_SYMBOLS
from quantkit.errors import SourceError
from quantkit.exchange._columns import TradeColumns
from quantkit.exchange._pacing import Clock, Pacer, Sleep, check_speed
from quantkit.exchange.source import MARKETS, SymbolSpec
from quantkit.schema import Trade, ms_to_index

__all__ = ["GRID_DT_S", "SyntheticMarket", "SyntheticTruth"]

#: Spacing of the latent mid-price grid, seconds.
GRID_DT_S: float = 0.1
_STEP_MS = 100
_CHUNK_S = 60
_STEPS = _CHUNK_S * 1000 // _STEP_MS  # grid steps per chunk
_WALK_P = 0.15
_NOTIONAL_MEDIAN = 100.0
_NOTIONAL_LOGSD = 1.6
_ACTIVITY_HALF_LIFE_S = 20.0
_ACTIVITY_SD = 1.2
_ACTIVITY_SHARED = 0.5
_LATENCY_MS = (0, 1, 2)
_LATENCY_P = (0.6, 0.3, 0.1)
_BASIS_SD_BPS = 1.0  # a perpetual's basis noise around basis_bps, basis points
_BASIS_HALF_LIFE_S = 60.0
# Per role (Y, X, control, factor): tick, step, first trade id, first aggregate id.
_ROLE_SPECS = (
    ("0.01", "0.0001", 1_500_000_000, 900_000_000),
    ("0.01", "0.00001", 3_700_000_000, 2_800_000_000),
    ("0.01", "0.001", 800_000_000, 500_000_000),
    ("0.01", "0.001", 1_100_000_000, 700_000_000),
)


@dataclass(frozen=True)
class SyntheticTruth:
    """The parameters behind a :class:`SyntheticMarket` (see the module docstring for the model).

    Attributes:
        y_symbol: the dependent leg (Y).
        x_symbol: the hedge leg (X).
        control_symbol: independent random walk.
        factor_symbol: correlated with X through a common factor, not cointegrated.
        beta: hedge ratio of Y on X (price space).
        alpha: intercept of Y on X, USD.
        half_life_s: half-life of the spread, seconds.
        ou_theta: mean-reversion speed of the spread, 1/s (``ln 2 / half_life_s``).
        ou_sigma: diffusion of the spread, USD / sqrt(s).
        spread_sd: stationary standard deviation of the spread, USD.
        x_sigma: diffusion of X, USD / sqrt(s).
        factor_loading: ``dD = factor_loading * dX + ...``.
        grid_dt_s: spacing of the latent grid, seconds.
        price_space: ``"price"``: the cointegration holds in price levels (not logs).
    """

    y_symbol: str
    x_symbol: str
    control_symbol: str
    factor_symbol: str
    beta: float
    alpha: float
    half_life_s: float
    ou_theta: float
    ou_sigma: float
    spread_sd: float
    x_sigma: float
    factor_loading: float
    grid_dt_s: float = GRID_DT_S
    price_space: str = "price"


class _SharedStart:
    """The exchange clock of a spot market and its perpetual twin: start and past resolved once, for both."""

    def __init__(self, members: list["SyntheticMarket"]) -> None:
        self.members = members
        self._lock = threading.Lock()
        self._value: tuple[int, int] | None = None

    def resolve(self) -> tuple[int, int]:
        with self._lock:
            if self._value is None:
                self._value = _resolve_start(self.members)
            return self._value


def _resolve_start(markets: Sequence["SyntheticMarket"]) -> tuple[int, int]:
    """``(start, first)`` exchange times (epoch ms) of streaming: "now" and the first grid point of the past."""
    start = markets[0].start_ms
    afters = [m.after_time_ms for m in markets if m.after_time_ms is not None]
    if start is None:
        start = time.time_ns() // 1_000_000
        if afters:
            start = max(start, max(afters) + 1)
    past = int(round(markets[0].history_s * 1000))
    if past and afters:
        past = max(0, min(past, start - max(afters) - 1))
    return start, start - past


def _positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SourceError(f"{name}={value!r}: expected a number > 0") from None
    if not (v > 0 and math.isfinite(v)):
        raise SourceError(f"{name}={value!r}: expected a finite number > 0")
    return v


def _ar1(z: np.ndarray, phi: float, scale: float, prev: float) -> np.ndarray:
    """``y[k] = phi * y[k-1] + scale * z[k]`` with ``y[-1] = prev``, vectorized in blocks that stay well conditioned."""
    n = len(z)
    out = np.empty(n)
    if phi <= 0.0:
        return scale * z
    log_phi = math.log(phi)
    block = n if -log_phi * n <= 5.0 else max(1, int(5.0 / -log_phi))
    start = 0
    while start < n:
        k = np.arange(min(block, n - start))
        pw = np.exp(log_phi * k)  # phi**k
        inv = np.exp(-log_phi * k)  # phi**-k
        seg = z[start : start + len(k)]
        out[start : start + len(k)] = pw * (phi * prev + scale * np.cumsum(inv * seg))
        prev = float(out[start + len(k) - 1])
        start += len(k)
    return out


class SyntheticMarket:
    """A seeded synthetic market (see the module docstring); a :class:`~quantkit.exchange.MarketSource`.

    Args:
        seed: seed of every random stream.
        symbols: four symbols for the roles (Y, X, control, factor), in that order.
        speed: exchange seconds per wall second; ``float("inf")`` for as fast as consumed.
        market: ``"spot"`` or ``"futures"`` (message shapes).
        start_ms: exchange time of the first grid point when streaming, epoch ms;
            ``None``: the wall clock when iteration starts.
        duration_s: stream this many exchange seconds, then stop; ``None``: forever.
        beta: hedge ratio of Y on X.
        y0: Y level at the start (with the spread at 0), USD; ``alpha = y0 - beta * x0``.
        x0: X level at the start, USD.
        half_life_s: spread half-life, seconds.
        spread_sd: stationary standard deviation of the spread, USD.
        x_sigma: diffusion of X, USD per sqrt(second) (5.0 ~ 45 % a year at 61,800).
        control0: control level at the start, USD.
        control_sigma: diffusion of the control, USD per sqrt(second).
        factor0: factor symbol level at the start, USD.
        factor_loading: loading of the factor symbol on X's increments.
        factor_sigma: own diffusion of the factor symbol, USD per sqrt(second).
        trade_rates: mean trades per second at 1x for (Y, X, control, factor).
        mean_fills: mean fills per taker order (>= 1).
        clock: monotonic clock for pacing, seconds.
        sleep: async sleep for pacing, seconds.
        after_ids: symbol -> last trade id a client already holds; that symbol's ids start
            after it (never below the role's default first id). ``None``: the defaults.
        after_time_ms: when streaming without ``start_ms``, start after this exchange time
            (epoch ms) if it is later than the wall clock. ``None``: the wall clock.
        history_s: seconds of past published at once when streaming starts (default 0: none).

    Attributes:
        past_published: set once the past (``history_s``) is published (at once without one).
        past_start_ms: exchange time of the first grid point of the past, epoch ms (``None``
            until streaming starts).

    Raises:
        SourceError: a bad parameter (named in the message).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        symbols: tuple[str, ...] = SYNTHETIC_SYMBOLS,
        speed: float = 1.0,
        market: str = "spot",
        start_ms: int | None = None,
        duration_s: float | None = None,
        beta: float = 0.045,
        y0: float = 2_700.0,
        x0: float = 61_800.0,
        half_life_s: float = 300.0,
        spread_sd: float = 3.0,
        x_sigma: float = 5.0,
        control0: float = 150.0,
        control_sigma: float = 0.02,
        factor0: float = 600.0,
        factor_loading: float = 0.009,
        factor_sigma: float = 0.046,
        trade_rates: tuple[float, float, float, float] = (22.0, 30.0, 15.0, 12.0),
        mean_fills: float = 3.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        after_ids: Mapping[str, int] | None = None,
        after_time_ms: int | None = None,
        history_s: float = 0.0,
    ) -> None:
        syms = tuple(symbols)
        if len(syms) != 4 or len(set(syms)) != 4:
            raise SourceError(f"symbols={symbols!r}: expected four distinct symbols (Y, X, control, factor)")
        if market not in MARKETS:
            raise SourceError(f"market={market!r}: expected 'spot' or 'futures'")
        if len(tuple(trade_rates)) != 4:
            raise SourceError(f"trade_rates={trade_rates!r}: expected four rates (Y, X, control, factor)")
        self.seed = int(seed)
        self._symbols = syms
        self._market = market
        self.speed = check_speed(speed)
        self.start_ms = None if start_ms is None else int(start_ms)
        self.duration_s = None if duration_s is None else _positive("duration_s", duration_s)
        self._beta = float(beta)
        self._x0 = _positive("x0", x0)
        self._y0 = _positive("y0", y0)
        hl = _positive("half_life_s", half_life_s)
        self._spread_sd = _positive("spread_sd", spread_sd)
        self._x_sigma = _positive("x_sigma", x_sigma)
        self._c0 = _positive("control0", control0)
        self._c_sigma = _positive("control_sigma", control_sigma)
        self._d0 = _positive("factor0", factor0)
        self._d_loading = float(factor_loading)
        self._d_sigma = _positive("factor_sigma", factor_sigma)
        self._rates = tuple(_positive("trade_rates", r) for r in trade_rates)
        self._mean_fills = float(mean_fills)
        if not self._mean_fills >= 1.0:
            raise SourceError(f"mean_fills={mean_fills!r}: expected a number >= 1")
        self._clock = clock
        self._sleep = sleep
        theta = math.log(2.0) / hl
        self.truth = SyntheticTruth(
            y_symbol=syms[0],
            x_symbol=syms[1],
            control_symbol=syms[2],
            factor_symbol=syms[3],
            beta=self._beta,
            alpha=self._y0 - self._beta * self._x0,
            half_life_s=hl,
            ou_theta=theta,
            ou_sigma=self._spread_sd * math.sqrt(2.0 * theta),
            spread_sd=self._spread_sd,
            x_sigma=self._x_sigma,
            factor_loading=self._d_loading,
        )
        self.specs: dict[str, SymbolSpec] = {
            s: SymbolSpec(s, tick_size=tick, step_size=step) for s, (tick, step, _, _) in zip(syms, _ROLE_SPECS)
        }
        self.first_agg_ids: dict[str, int] = {s: r[3] for s, r in zip(syms, _ROLE_SPECS)}
        self._first_ids = np.array([r[2] for r in _ROLE_SPECS], dtype="int64")
        self.after_time_ms: int | None = None
        self.basis_bps: float | None = None  # set on a perpetual twin (see perpetual())
        self.continue_after(after_ids or {}, after_time_ms)
        self.history_s = float(history_s)
        if not self.history_s >= 0:
            raise SourceError(f"history_s={history_s!r}: expected seconds >= 0")
        self.past_published = threading.Event()
        self.past_start_ms: int | None = None
        self._shared: _SharedStart | None = None

    # ---------------------------------------------------------------------------------------------- protocol

    @property
    def symbols(self) -> tuple[str, ...]:
        """The four symbols, in role order (Y, X, control, factor)."""
        return self._symbols

    @property
    def market(self) -> str:
        """``"spot"`` or ``"futures"``."""
        return self._market

    def continue_after(
        self,
        after_ids: Mapping[str, int],
        after_time_ms: int | None = None,
        after_prices: Mapping[str, float] | None = None,
    ) -> None:
        """Continue after what a client holds: ids after ``after_ids[symbol]``, time after ``after_time_ms``,
        prices from ``after_prices[symbol]``.

        Call before streaming. Ids never go below the roles' default first ids; aggregate ids
        move by the same amount as trade ids. With ``after_prices``, the random walks of X, the
        control and the factor start from their last prices (for a perpetual twin, divided by its
        mean basis), so a restarted market does not jump back to its default levels; with Y and X
        held, the spread ``s`` goes on from ``Y - alpha - beta * X`` instead of a fresh draw, so Y
        does not jump either. The pair's truth (alpha, beta, half-life) is unchanged. Unknown
        symbols and non-positive or non-finite prices are ignored.
        """
        shift = [max(0, int(after_ids.get(s, r[2] - 1)) + 1 - r[2]) for s, r in zip(self._symbols, _ROLE_SPECS)]
        self.first_agg_ids = {s: r[3] + d for s, r, d in zip(self._symbols, _ROLE_SPECS, shift)}
        self._first_ids = np.array([r[2] + d for r, d in zip(_ROLE_SPECS, shift)], dtype="int64")
        self.after_time_ms = None if after_time_ms is None else int(after_time_ms)
        prices = after_prices or {}
        basis = 1.0 + float(self.basis_bps or 0.0) / 10_000.0
        held = [float(prices.get(sym, math.nan)) / basis for sym in self._symbols]  # Y, X, control, factor
        usable = [math.isfinite(p) and p > 0 for p in held]
        levels = [self._x0, self._c0, self._d0]
        for k in range(3):  # X, control, factor: the roles with a random walk
            if usable[k + 1]:
                levels[k] = held[k + 1]
        self._x0, self._c0, self._d0 = levels
        # the spread goes on from where it was (Y and X held), not from a fresh draw of its stationary law
        t = self.truth
        self._s0 = held[0] - t.alpha - t.beta * held[1] if usable[0] and usable[1] else None

    @property
    def finite(self) -> bool:
        """True when the stream ends (a ``duration_s`` was given)."""
        return self.duration_s is not None

    @property
    def first_ids(self) -> dict[str, int]:
        """The first trade id each symbol streams."""
        return {s: int(i) for s, i in zip(self._symbols, self._first_ids)}

    def __repr__(self) -> str:
        basis = "" if self.basis_bps is None else f", basis_bps={self.basis_bps:g}"
        return f"SyntheticMarket(seed={self.seed}, symbols={self._symbols}, speed={self.speed}, market={self._market!r}{basis})"

    def perpetual(self, basis_bps: float = 2.0) -> "SyntheticMarket":
        """The USD-M perpetual twin of this spot market (see the module docstring), on one shared clock.

        Serve it from a second exchange (one market per exchange). Call :meth:`continue_after` on each
        twin with what the store holds of it; streaming starts after the later of the two.

        Args:
            basis_bps: mean premium of the perpetual over spot, basis points (default 2; may be negative).

        Raises:
            SourceError: this market is not a spot market, or ``basis_bps`` is not finite.
        """
        if self._market != "spot" or self.basis_bps is not None:
            raise SourceError(f"{self!r}: only a spot market has a perpetual twin")
        if not math.isfinite(float(basis_bps)):
            raise SourceError(f"basis_bps={basis_bps!r}: expected a finite number of basis points")
        twin = copy.copy(self)
        twin._market = "futures"
        twin.basis_bps = float(basis_bps)
        twin.past_published = threading.Event()
        twin.past_start_ms = None
        twin.continue_after({}, None)
        shared = self._shared or _SharedStart([self])
        shared.members.append(twin)
        self._shared = twin._shared = shared
        return twin

    def __aiter__(self) -> AsyncIterator[list[Trade]]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[list[Trade]]:
        start, first = self._shared.resolve() if self._shared is not None else _resolve_start([self])
        past = start - first
        self.past_start_ms = first
        duration = None if self.duration_s is None else self.duration_s + past / 1000.0
        pacer = Pacer(self.speed, clock=self._clock, sleep=self._sleep, anchor_ms=start if past else None)
        if not past:
            self.past_published.set()
        async for batch in pacer.batches(self._trade_chunks(first, duration)):
            yield batch.to_trades(self._symbols)
            if not self.past_published.is_set() and int(batch.trade_time[-1]) >= start - 1:
                self.past_published.set()  # resumed: everything up to "now" has been published

    # ---------------------------------------------------------------------------------------------- generators

    def _rngs(self) -> tuple[np.random.Generator, np.random.Generator]:
        # streams 0 (latent grid) and 1 (spot trades) as ever; a perpetual draws its trades from 2, its basis from 3
        latent, trades, perp_trades, _ = np.random.SeedSequence(self.seed).spawn(4)
        return np.random.default_rng(latent), np.random.default_rng(trades if self.basis_bps is None else perp_trades)

    def _basis_chunks(self) -> Iterator[np.ndarray]:
        """A perpetual's mid factor per grid step of each 60 s chunk: ``1 + (basis_bps + u) / 10,000``."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(4)[3])
        phi = math.exp(-math.log(2.0) / _BASIS_HALF_LIFE_S * GRID_DT_S)
        scale = _BASIS_SD_BPS * math.sqrt(1.0 - phi * phi)
        u = float(rng.standard_normal()) * _BASIS_SD_BPS
        while True:
            path = _ar1(rng.standard_normal(_STEPS), phi, scale, u)
            u = float(path[-1])
            yield 1.0 + (float(self.basis_bps or 0.0) + path) / 10_000.0

    def _latent_chunks(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Yield the grid per 60 s chunk: array (5, steps) of Y, X, control, factor mids and the spread."""
        t = self.truth
        dt = GRID_DT_S
        sq = math.sqrt(dt)
        phi = math.exp(-t.ou_theta * dt)
        s_scale = self._spread_sd * math.sqrt(1.0 - phi * phi)
        s_prev = float(rng.standard_normal()) * self._spread_sd  # drawn even when continuing: same stream after
        if self._s0 is not None:
            s_prev = self._s0
        x_prev, c_prev, d_prev = self._x0, self._c0, self._d0
        while True:
            z = rng.standard_normal((4, _STEPS))
            dx = self._x_sigma * sq * z[0]
            x = x_prev + np.cumsum(dx)
            s = _ar1(z[1], phi, s_scale, s_prev)
            c = c_prev + np.cumsum(self._c_sigma * sq * z[2])
            d = d_prev + np.cumsum(self._d_loading * dx + self._d_sigma * sq * z[3])
            y = t.alpha + t.beta * x + s
            x_prev, s_prev, c_prev, d_prev = float(x[-1]), float(s[-1]), float(c[-1]), float(d[-1])
            yield np.stack([y, x, c, d, s])

    def _trade_chunks(self, start_ms: int, duration_s: float | None) -> Iterator[TradeColumns]:
        lat_rng, rng = self._rngs()
        latent = self._latent_chunks(lat_rng)
        basis = self._basis_chunks() if self.basis_bps is not None else None
        end_ms = None if duration_s is None else start_ms + int(round(duration_s * 1000))
        next_ids = self._first_ids.copy()
        a_phi = math.exp(-math.log(2.0) / _ACTIVITY_HALF_LIFE_S)
        a_scale = math.sqrt(1.0 - a_phi * a_phi)
        activity = rng.standard_normal(5)  # shared + one per role, stationary N(0, 1)
        chunk = 0
        while True:
            c0 = start_ms + chunk * _CHUNK_S * 1000
            if end_ms is not None and c0 >= end_ms:
                return
            mids = next(latent)
            if basis is not None:
                mids[:4] *= next(basis)
            za = rng.standard_normal((5, _CHUNK_S))
            act = np.empty((5, _CHUNK_S))
            for k in range(_CHUNK_S):
                activity = a_phi * activity + a_scale * za[:, k]
                act[:, k] = activity
            blocks = []
            for role in range(4):
                level = math.sqrt(_ACTIVITY_SHARED) * act[0] + math.sqrt(1.0 - _ACTIVITY_SHARED) * act[role + 1]
                mult = np.exp(_ACTIVITY_SD * level - 0.5 * _ACTIVITY_SD**2)
                block = self._role_trades(rng, role, c0, mids[role], mult, int(next_ids[role]))
                next_ids[role] += len(block)
                blocks.append(block)
            merged = TradeColumns.concat(blocks).time_ordered()
            if end_ms is not None and c0 + _CHUNK_S * 1000 > end_ms:
                merged = merged.take(merged.trade_time < end_ms)
            chunk += 1
            yield merged

    def _role_trades(
        self, rng: np.random.Generator, role: int, c0: int, mid: np.ndarray, mult: np.ndarray, first_id: int
    ) -> TradeColumns:
        spec = self.specs[self._symbols[role]]
        tick, step = spec.tick, spec.step
        n_per_sec = rng.poisson(self._rates[role] / self._mean_fills * mult)
        n = int(n_per_sec.sum())
        sec = np.repeat(np.arange(_CHUNK_S, dtype="int64"), n_per_sec)
        t_order = np.sort(c0 + sec * 1000 + rng.integers(0, 1000, n))
        fills = rng.geometric(1.0 / self._mean_fills, n) if self._mean_fills > 1 else np.ones(n, dtype="int64")
        buy = rng.random(n) < 0.5
        latency = rng.choice(np.asarray(_LATENCY_MS, dtype="int64"), size=n, p=_LATENCY_P)
        f = int(fills.sum())
        order = np.repeat(np.arange(n), fills)
        walk = rng.random(f) < _WALK_P
        starts = np.cumsum(fills) - fills  # index of each order's first fill
        walk[starts] = False
        depth = np.cumsum(walk)
        depth = depth - depth[starts][order]
        t = t_order[order]
        m = mid[(t - c0) // _STEP_MS]
        bid = np.floor(m / tick + 1e-9).astype("int64")
        b = buy[order]
        ticks = np.where(b, bid + 1 + depth, bid - depth)
        ticks = np.maximum(ticks, 1)
        price = np.round(ticks * tick, spec.price_decimals)
        notional = np.exp(math.log(_NOTIONAL_MEDIAN) + _NOTIONAL_LOGSD * rng.standard_normal(f))
        steps = np.maximum(np.rint(notional / price / step), 1.0)
        qty = np.round(steps * step, spec.qty_decimals)
        return TradeColumns(
            np.full(f, role, dtype="int16"),
            first_id + np.arange(f, dtype="int64"),
            price,
            qty,
            price * qty,
            t,
            np.maximum.accumulate(t + latency[order]),  # E never goes back within a symbol
            ~b,
        )

    # ---------------------------------------------------------------------------------------------- pure API

    def generate(self, duration_s: float, *, start_ms: int = 0) -> dict[str, pd.DataFrame]:
        """All trades of the first ``duration_s`` seconds, without a server.

        The same trades the exchange streams for this seed when it starts at ``start_ms``.

        Args:
            duration_s: exchange seconds to generate.
            start_ms: exchange time of the first grid point, epoch ms (0: 1970-01-01).

        Returns:
            symbol -> tick frame (see :mod:`quantkit.schema`) plus an ``event_time`` (int64 ms) column.
        """
        d = _positive("duration_s", duration_s)
        cols = TradeColumns.concat(list(self._trade_chunks(int(start_ms), d)))
        return {s: cols.frame(i) for i, s in enumerate(self._symbols)}

    def generate_trades(self, duration_s: float, *, start_ms: int = 0) -> list[Trade]:
        """The same trades as :meth:`generate`, as ``Trade`` tuples in publication order."""
        d = _positive("duration_s", duration_s)
        return TradeColumns.concat(list(self._trade_chunks(int(start_ms), d))).to_trades(self._symbols)

    def generate_mid(self, duration_s: float, *, start_ms: int = 0, every_s: float = GRID_DT_S) -> pd.DataFrame:
        """The latent grid (the exact model of the module docstring), sampled every ``every_s`` seconds.

        Args:
            duration_s: exchange seconds to generate.
            start_ms: exchange time of the first grid point, epoch ms.
            every_s: sampling interval, a multiple of :data:`GRID_DT_S` (0.1 s).

        Returns:
            Frame indexed by UTC time with one mid-price column per symbol (Y, X, control,
            factor) and ``"spread"`` (``Y - alpha - beta * X``).
        """
        d = _positive("duration_s", duration_s)
        stride = int(round(_positive("every_s", every_s) / GRID_DT_S))
        if stride < 1 or abs(stride * GRID_DT_S - every_s) > 1e-9:
            raise SourceError(f"every_s={every_s!r}: expected a multiple of {GRID_DT_S} s")
        n_total = int(round(d / GRID_DT_S))
        lat_rng, _ = self._rngs()
        parts = []
        done = 0
        offset = 0  # grid index of the next sample within the next chunk
        for grid in self._latent_chunks(lat_rng):
            if done >= n_total:
                break
            take = min(_STEPS, n_total - done)
            idx = np.arange(offset, take, stride)
            parts.append((done + idx, grid[:, idx]))
            offset = (idx[-1] + stride - _STEPS) if len(idx) else offset - _STEPS
            done += _STEPS
        if parts:
            j = np.concatenate([p[0] for p in parts])
            values = np.concatenate([p[1] for p in parts], axis=1)
        else:
            j = np.empty(0, dtype="int64")
            values = np.empty((5, 0))
        index = ms_to_index(int(start_ms) + j * _STEP_MS)
        return pd.DataFrame(
            {name: values[i] for i, name in enumerate([*self._symbols, "spread"])},
            index=index,
        )
