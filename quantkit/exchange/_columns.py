"""Column blocks of trades (numpy arrays), the sources' internal currency before they become ``Trade`` batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantkit.schema import TICK_COLUMNS, Trade, ms_to_index

__all__ = ["TradeColumns"]

_FIELDS = ("sym", "trade_id", "price", "qty", "quote_qty", "trade_time", "event_time", "is_buyer_maker")


@dataclass(frozen=True)
class TradeColumns:
    """Trades of several symbols as parallel arrays, in publication order.

    Attributes:
        sym: index of each trade's symbol in the owner's ``symbols`` tuple (int16).
        trade_id: int64 trade ids.
        price: float64 prices.
        qty: float64 quantities.
        quote_qty: float64 price x qty.
        trade_time: int64 trade time ``T``, ms.
        event_time: int64 event time ``E``, ms.
        is_buyer_maker: bool, True when the taker sold.
    """

    sym: np.ndarray
    trade_id: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    quote_qty: np.ndarray
    trade_time: np.ndarray
    event_time: np.ndarray
    is_buyer_maker: np.ndarray

    def __len__(self) -> int:
        return len(self.trade_id)

    def slice(self, start: int, stop: int) -> "TradeColumns":
        """Rows ``start:stop`` (views, no copy)."""
        return TradeColumns(*(getattr(self, f)[start:stop] for f in _FIELDS))

    def take(self, index: np.ndarray) -> "TradeColumns":
        """Rows at ``index`` (an integer or boolean array), copied."""
        return TradeColumns(*(getattr(self, f)[index] for f in _FIELDS))

    def shifted(self, id_shift: np.ndarray, time_shift: int) -> "TradeColumns":
        """A copy with ``id_shift[sym]`` added to ids and ``time_shift`` ms added to both times."""
        return TradeColumns(
            self.sym,
            self.trade_id + id_shift[self.sym],
            self.price,
            self.qty,
            self.quote_qty,
            self.trade_time + time_shift,
            self.event_time + time_shift,
            self.is_buyer_maker,
        )

    def to_trades(self, symbols: tuple[str, ...]) -> list[Trade]:
        """``Trade`` tuples, in row order."""
        names = np.asarray(symbols, dtype=object)[self.sym].tolist()
        return list(
            map(
                Trade._make,
                zip(
                    names,
                    self.trade_id.tolist(),
                    self.price.tolist(),
                    self.qty.tolist(),
                    self.quote_qty.tolist(),
                    self.trade_time.tolist(),
                    self.event_time.tolist(),
                    self.is_buyer_maker.tolist(),
                ),
            )
        )

    def frame(self, index: int) -> pd.DataFrame:
        """The tick frame (schema.py columns plus ``event_time``) of the symbol at ``index``."""
        mask = self.sym == index
        frame = pd.DataFrame(
            {
                "trade_id": self.trade_id[mask].astype("int64"),
                "price": self.price[mask].astype("float64"),
                "qty": self.qty[mask].astype("float64"),
                "quote_qty": self.quote_qty[mask].astype("float64"),
                "is_buyer_maker": self.is_buyer_maker[mask].astype("bool"),
                "event_time": self.event_time[mask].astype("int64"),
            },
            index=ms_to_index(self.trade_time[mask]),
        )
        return frame[[*TICK_COLUMNS, "event_time"]]

    @classmethod
    def empty(cls) -> "TradeColumns":
        """No trades."""
        return cls(
            np.empty(0, "int16"),
            np.empty(0, "int64"),
            np.empty(0, "float64"),
            np.empty(0, "float64"),
            np.empty(0, "float64"),
            np.empty(0, "int64"),
            np.empty(0, "int64"),
            np.empty(0, "bool"),
        )

    @classmethod
    def concat(cls, blocks: list["TradeColumns"]) -> "TradeColumns":
        """All rows of ``blocks``, in order."""
        if not blocks:
            return cls.empty()
        if len(blocks) == 1:
            return blocks[0]
        return cls(*(np.concatenate([getattr(b, f) for b in blocks]) for f in _FIELDS))

    @classmethod
    def from_frame(cls, index: int, frame: pd.DataFrame) -> "TradeColumns":
        """Rows of one symbol's tick frame (``event_time`` column optional: defaults to the trade time)."""
        n = len(frame)
        times = frame.index.asi8 // 1_000_000 if n else np.empty(0, "int64")
        times = np.asarray(times, dtype="int64")
        event = frame["event_time"].to_numpy("int64") if "event_time" in frame.columns else times.copy()
        return cls(
            np.full(n, index, dtype="int16"),
            frame["trade_id"].to_numpy("int64"),
            frame["price"].to_numpy("float64"),
            frame["qty"].to_numpy("float64"),
            frame["quote_qty"].to_numpy("float64"),
            times,
            event,
            frame["is_buyer_maker"].to_numpy("bool"),
        )

    def time_ordered(self) -> "TradeColumns":
        """Rows merged in trade-time order, keeping each symbol's own row order (stable).

        The sort key is each symbol's running maximum of the trade time, so a
        symbol whose times ever step back still keeps its id order.
        """
        if len(self) < 2:
            return self
        key = np.empty(len(self), dtype="int64")
        for s in np.unique(self.sym):
            mask = self.sym == s
            key[mask] = np.maximum.accumulate(self.trade_time[mask])
        order = np.argsort(key, kind="stable")
        return self.take(order)
