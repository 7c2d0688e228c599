"""Private: building bars (OHLCV, VWAP, trade count, taker-buy volume) from ticks or stored candles.

All bars are left-closed and left-labelled, aligned to the Unix epoch (a ``1h`` bar starts on
the hour, a ``1d`` bar at 00:00 UTC). Intervals with no data produce **no** bar (ArcticDB's
resample drops empty buckets; the local paths drop them too, so every path agrees).

Two engines, one rule: ArcticDB's server-side resample (:func:`tick_bars_arctic`, what
:meth:`TickStore.bars` reads) and the in-process fold :func:`fold_ticks`, which both
:func:`tick_bars_local` (whole frames) and :class:`BarBuilder` (ticks arriving in batches:
the live dashboard and the alerts) use. Tests check the three give the same bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from arcticdb import QueryBuilder, where

from quantkit.errors import ConfigError
from quantkit.schema import BAR_COLUMNS, BAR_DTYPES, empty_bars
from quantkit.store._frames import normalise_interval

__all__ = [
    "BAR_FIELDS",
    "BarBuilder",
    "bar_ms",
    "bars_to_rows",
    "candle_bars",
    "combine_bars",
    "finish_bars",
    "fold_ticks",
    "tick_bars_arctic",
    "tick_bars_local",
    "tick_bars_query",
]

#: Columns of a bar row (float64 arrays of :func:`fold_ticks` and :class:`BarBuilder`): open time
#: (ms since the epoch, UTC) then the aggregates (``vwap`` is derived: ``quote_volume / volume``).
BAR_FIELDS: tuple[str, ...] = (
    "open_ms", "open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume",
)  # fmt: skip
_OPEN, _O, _H, _L, _C, _V, _QV, _N, _TBV = range(9)
_DAY_MS = 86_400_000


def bar_ms(bar: str) -> int:
    """Length of a bar size such as ``"1s"``, ``"1m"``, ``"5m"`` in milliseconds (the store's spelling rules).

    Raises:
        ConfigError: an unknown bar size, or one that does not divide a day (names the value).
    """
    try:
        _, td = normalise_interval(bar)
    except ValueError:
        raise ConfigError("bar", bar, "expected a bar size such as 1s, 1m, 5m or 1h") from None
    ms = int(td.value // 1_000_000)
    if _DAY_MS % ms:
        raise ConfigError("bar", bar, "must divide a day (bars are aligned on the epoch)")
    return ms


def fold_ticks(
    t_ms: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    quote_qty: np.ndarray,
    is_buyer_maker: np.ndarray,
    freq_ms: int,
) -> np.ndarray:
    """Bars of time-ordered ticks as rows of :data:`BAR_FIELDS`, shape ``(k, 9)`` (the store's bar rule).

    Args:
        t_ms: tick times, ms since the epoch (non-decreasing).
        price, qty, quote_qty: per tick.
        is_buyer_maker: per tick; taker-buy volume sums ``qty`` where it is False.
        freq_ms: bar length, ms.
    """
    n = len(t_ms)
    if n == 0:
        return np.empty((0, len(BAR_FIELDS)))
    t_ms = np.asarray(t_ms, dtype=np.int64)
    b = (t_ms // freq_ms) * freq_ms
    price = np.asarray(price, dtype=np.float64)
    qty = np.asarray(qty, dtype=np.float64)
    buy = np.where(np.asarray(is_buyer_maker, dtype=bool), 0.0, qty)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], n] - 1
    return np.column_stack([
        b[starts].astype(np.float64),
        price[starts],
        np.maximum.reduceat(price, starts),
        np.minimum.reduceat(price, starts),
        price[ends],
        np.add.reduceat(qty, starts),
        np.add.reduceat(np.asarray(quote_qty, dtype=np.float64), starts),
        (ends - starts + 1).astype(np.float64),
        np.add.reduceat(buy, starts),
    ])  # fmt: skip


def bars_to_rows(frame: pd.DataFrame) -> np.ndarray:
    """A store bar frame (:data:`quantkit.schema.BAR_COLUMNS`) as bar rows (:data:`BAR_FIELDS`)."""
    if frame is None or len(frame) == 0:
        return np.empty((0, len(BAR_FIELDS)))
    idx = pd.DatetimeIndex(frame.index)
    open_ms = (idx.as_unit("ns").asi8 // 1_000_000).astype(np.float64)
    cols = [open_ms] + [frame[c].to_numpy(dtype=np.float64) for c in BAR_FIELDS[1:]]
    return np.column_stack(cols)


def tick_bars_query(rule: str) -> QueryBuilder:
    """The ArcticDB query computing tick bars server-side (taker-buy qty projected with ``where``)."""
    q = QueryBuilder()
    q = q.apply("_taker_buy_qty", where(q["is_buyer_maker"], 0.0, q["qty"]))
    return q.resample(rule, closed="left", label="left").agg(
        {
            "open": ("price", "first"),
            "high": ("price", "max"),
            "low": ("price", "min"),
            "close": ("price", "last"),
            "volume": ("qty", "sum"),
            "quote_volume": ("quote_qty", "sum"),
            "trades": ("price", "count"),
            "taker_buy_volume": ("_taker_buy_qty", "sum"),
        }
    )


def finish_bars(raw: pd.DataFrame) -> pd.DataFrame:
    """Order and type bar columns (:data:`quantkit.schema.BAR_COLUMNS`), add ``vwap`` if missing."""
    if raw.empty:
        return empty_bars()
    out = pd.DataFrame(index=raw.index.rename("time"))
    for c in BAR_COLUMNS:
        if c == "vwap" and "vwap" not in raw.columns:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[c] = (raw["quote_volume"] / raw["volume"]).astype("float64")
        else:
            out[c] = raw[c].astype(BAR_DTYPES[c])
    return out


def tick_bars_arctic(lib: Any, symbol: str, rule: str, date_range: tuple[Any, Any] | None) -> pd.DataFrame:
    """Bars of a tick symbol computed by ArcticDB (``QueryBuilder.resample``)."""
    data = lib.read(symbol, date_range=date_range, query_builder=tick_bars_query(rule)).data
    return finish_bars(data)


def tick_bars_local(ticks: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The same bars as :func:`tick_bars_arctic`, computed in this process by :func:`fold_ticks`."""
    if ticks.empty:
        return empty_bars()
    freq = int(pd.Timedelta(rule).value // 1_000_000)
    t = pd.DatetimeIndex(ticks.index).as_unit("ns").asi8 // 1_000_000
    order = np.argsort(t, kind="stable")
    col = {c: ticks[c].to_numpy()[order] for c in ("price", "qty", "quote_qty", "is_buyer_maker")}
    rows = fold_ticks(t[order], col["price"], col["qty"], col["quote_qty"], col["is_buyer_maker"], freq)
    idx = pd.DatetimeIndex(rows[:, _OPEN].astype(np.int64).astype("datetime64[ms]"), name="time").tz_localize("UTC")
    raw = pd.DataFrame(rows[:, 1:], index=idx.as_unit("ns"), columns=list(BAR_FIELDS[1:]))
    return finish_bars(raw)


def candle_bars(candles: pd.DataFrame, bar_ns: int) -> pd.DataFrame:
    """Bars of ``bar_ns`` nanoseconds from stored candles of an interval dividing it.

    * open/high/low/close/volume: first/max/min/last/sum;
    * ``quote_volume``, ``taker_buy_volume``: sums, NaN when any source candle lacks them;
    * ``trades``: sum, ``-1`` when any source candle lacks it (unknown);
    * ``vwap``: ``quote_volume / volume`` when known, else the volume-weighted mean of each source
      candle's typical price ``(high + low + close) / 3`` (the bar's own typical price when its
      volume is 0).
    """
    if candles.empty:
        return empty_bars()
    t = candles.index.asi8
    key = t - np.mod(t, bar_ns)  # epoch-aligned bar open time
    tp = (candles["high"].to_numpy() + candles["low"].to_numpy() + candles["close"].to_numpy()) / 3.0
    vol = candles["volume"].to_numpy()
    frame = pd.DataFrame(
        {
            "open": candles["open"].to_numpy(),
            "high": candles["high"].to_numpy(),
            "low": candles["low"].to_numpy(),
            "close": candles["close"].to_numpy(),
            "volume": vol,
            "quote_volume": candles["quote_volume"].to_numpy(),
            "qv_missing": candles["quote_volume"].isna().to_numpy(),
            "trades": candles["trades"].to_numpy(),
            "trades_missing": (candles["trades"] < 0).to_numpy(),
            "taker_buy_volume": candles["taker_buy_volume"].to_numpy(),
            "tb_missing": candles["taker_buy_volume"].isna().to_numpy(),
            "tpv": tp * vol,
        },
    )
    g = frame.groupby(key, sort=True)
    agg = g.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        quote_volume=("quote_volume", "sum"),
        qv_missing=("qv_missing", "any"),
        trades=("trades", "sum"),
        trades_missing=("trades_missing", "any"),
        taker_buy_volume=("taker_buy_volume", "sum"),
        tb_missing=("tb_missing", "any"),
        tpv=("tpv", "sum"),
    )
    qv = agg["quote_volume"].where(~agg["qv_missing"], np.nan)
    vol_b = agg["volume"]
    with np.errstate(invalid="ignore", divide="ignore"):
        approx = np.where(vol_b > 0, agg["tpv"] / vol_b, (agg["high"] + agg["low"] + agg["close"]) / 3.0)
        exact = qv / vol_b
    vwap = np.where(qv.notna() & (vol_b > 0), exact, approx)
    raw = pd.DataFrame(
        {
            "open": agg["open"],
            "high": agg["high"],
            "low": agg["low"],
            "close": agg["close"],
            "volume": vol_b,
            "quote_volume": qv,
            "vwap": vwap,
            "trades": agg["trades"].where(~agg["trades_missing"], -1),
            "taker_buy_volume": agg["taker_buy_volume"].where(~agg["tb_missing"], np.nan),
        }
    )
    raw.index = pd.DatetimeIndex(agg.index.to_numpy().astype("datetime64[ns]"), name="time").tz_localize("UTC")
    return finish_bars(raw)


def combine_bars(bars: pd.DataFrame, bar_ns: int) -> pd.DataFrame:
    """Longer bars (``bar_ns``, a multiple of the input's length) from shorter tick bars.

    open/close: first/last; high/low: max/min; volumes, quote volume, trades: sums; ``vwap`` recomputed
    as ``quote_volume / volume``. Exactly what resampling the ticks gives, up to float rounding of sums.
    """
    if bars.empty:
        return empty_bars()
    t = bars.index.asi8
    key = t - np.mod(t, bar_ns)
    g = bars.groupby(key, sort=True)
    raw = g.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        quote_volume=("quote_volume", "sum"),
        trades=("trades", "sum"),
        taker_buy_volume=("taker_buy_volume", "sum"),
    )
    raw.index = pd.DatetimeIndex(raw.index.to_numpy().astype("datetime64[ns]"), name="time").tz_localize("UTC")
    return finish_bars(raw)


class BarBuilder:
    """Fold time-ordered ticks of one symbol into bars of ``freq_ms``.

    Args:
        freq_ms: bar length in milliseconds (e.g. ``bar_ms("1m")``).

    Attributes:
        freq_ms: bar length, ms.
        last_time_ms: time of the newest tick folded in, ms (-1 before any).
        last_trade_id: id of the newest tick folded in (-1 before any); ticks with an
            id at or below it are skipped as already seen.
        final_ms: every bar opening before this time is final (ms).
        late: ticks dropped because their bar was already final.
        ticks: ticks folded in.
    """

    def __init__(self, freq_ms: int) -> None:
        if int(freq_ms) <= 0:
            raise ConfigError("freq_ms", freq_ms, "must be > 0")
        self.freq_ms = int(freq_ms)
        self.last_time_ms = -1
        self.last_trade_id = -1
        self.final_ms = -(2**62)
        self.late = 0
        self.ticks = 0
        self._cur: np.ndarray | None = None

    @property
    def partial(self) -> np.ndarray | None:
        """The bar still open (a copy of its row), or ``None``."""
        return None if self._cur is None else self._cur.copy()

    def start_at(self, t_ms: int, *, last_trade_id: int = -1) -> None:
        """Declare every bar before ``t_ms`` final (seeding from stored bars) and skip ids <= ``last_trade_id``."""
        f = self.freq_ms
        self.final_ms = max(self.final_ms, (int(t_ms) // f) * f)
        self.last_trade_id = max(self.last_trade_id, int(last_trade_id))
        self.last_time_ms = max(self.last_time_ms, int(t_ms))

    def add(
        self,
        t_ms: np.ndarray,
        trade_id: np.ndarray,
        price: np.ndarray,
        qty: np.ndarray,
        quote_qty: np.ndarray,
        is_buyer_maker: np.ndarray,
    ) -> np.ndarray:
        """Fold a batch of ticks (time order); returns the bars that became final, shape ``(k, 9)``."""
        t_ms = np.asarray(t_ms, dtype=np.int64)
        trade_id = np.asarray(trade_id, dtype=np.int64)
        keep = trade_id > self.last_trade_id
        f = self.freq_ms
        b = (t_ms // f) * f
        late = keep & (b < self.final_ms)
        if late.any():
            self.late += int(late.sum())
            keep &= ~late
        if not keep.all():
            t_ms, trade_id = t_ms[keep], trade_id[keep]
            price, qty, quote_qty, is_buyer_maker = (np.asarray(a)[keep] for a in (price, qty, quote_qty, is_buyer_maker))
        n = len(t_ms)
        if n == 0:
            return np.empty((0, len(BAR_FIELDS)))
        rows = fold_ticks(t_ms, price, qty, quote_qty, is_buyer_maker, f)
        closed: list[np.ndarray] = []
        cur = self._cur
        if cur is not None:
            if rows[0, _OPEN] == cur[_OPEN]:
                r = rows[0]
                r[_O] = cur[_O]
                r[_H] = max(r[_H], cur[_H])
                r[_L] = min(r[_L], cur[_L])
                r[_V] += cur[_V]
                r[_QV] += cur[_QV]
                r[_N] += cur[_N]
                r[_TBV] += cur[_TBV]
            else:
                closed.append(cur[None, :])
        if len(rows) > 1:
            closed.append(rows[:-1])
        self._cur = rows[-1].copy()
        self.final_ms = max(self.final_ms, int(self._cur[_OPEN]))
        self.last_time_ms = int(t_ms[-1])
        self.last_trade_id = int(trade_id.max())
        self.ticks += n
        return np.concatenate(closed) if closed else np.empty((0, len(BAR_FIELDS)))

    def close_until(self, t_ms: int) -> np.ndarray:
        """Declare that no tick before ``t_ms`` will come: close the open bar if it ended by then."""
        f = self.freq_ms
        edge = (int(t_ms) // f) * f
        out = np.empty((0, len(BAR_FIELDS)))
        if self._cur is not None and self._cur[_OPEN] + f <= t_ms:
            out = self._cur[None, :].copy()
            self._cur = None
        self.final_ms = max(self.final_ms, edge)
        return out
