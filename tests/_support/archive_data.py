"""Files in Binance's public-archive formats, built from the real captures in ``../shared/data`` (tests only).

Every builder publishes one zip (with its ``.CHECKSUM``) on an :class:`~_support.archive_server.ArchiveServer`
and returns what the store must hold afterwards, computed here from the text written (written from the
archive's documented formats, not from quantkit's readers):

* trades: the capture's trades moved to the given day; spot files from 2025-01-01 on carry microsecond
  times (sub-millisecond part = rank within the millisecond), futures and older spot files milliseconds;
* aggTrades: consecutive trades with one time, price and side merged;
* klines: a seeded random walk of candles; fundingRate: 8-hourly seeded rates.

Expected frames: trades/aggTrades ``trade_id, price, qty, is_buyer_maker, time_ns`` (int64 ns);
klines ``time_ns, open, high, low, close, volume``; funding ``time_ns, funding_rate``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from _support.archive_server import ArchiveServer, zip_csv

__all__ = ["ArchiveBuilder", "archive_path"]

_CAPTURES = {
    ("spot", "BTCUSDT"): "spot_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz",
    ("spot", "ETHUSDT"): "spot_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0005.csv.gz",
    ("um", "BTCUSDT"): "um_BTCUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz",
    ("um", "ETHUSDT"): "um_ETHUSDT-trades-2024-08-08T2354_2024-08-09T0000.csv.gz",
}
_US_FROM = dt.date(2025, 1, 1)


def archive_path(market: str, period: str, kind: str, symbol: str, date: str, interval: str | None = None) -> str:
    """The archive's path of a file, written out from the documented layout."""
    root = "spot" if market == "spot" else "futures/um"
    label = interval if kind == "klines" else kind
    sub = f"{interval}/" if kind == "klines" else ""
    return f"data/{root}/{period}/{kind}/{symbol}/{sub}{symbol}-{label}-{date}.zip"


def _ms(day: dt.date) -> int:
    return calendar.timegm(day.timetuple()) * 1000


class ArchiveBuilder:
    """Publish archive files on ``server`` from the captures in ``shared_data``."""

    def __init__(self, server: ArchiveServer, shared_data: Path) -> None:
        self.server = server
        self.shared = shared_data / "binance_ws_capture_2024-08-08_hftbacktest" / "derived_trades_csv"

    def _capture(self, market: str, symbol: str) -> pd.DataFrame:
        path = self.shared / _CAPTURES[(market, symbol)]
        with gzip.open(path, "rt") as fh:
            lines = [ln.strip() for ln in fh if ln.strip()]
        if not lines[0][0].isdigit():
            lines = lines[1:]
        rows = [ln.split(",") for ln in lines]
        return pd.DataFrame(
            {
                "id": [int(r[0]) for r in rows],
                "price": [r[1] for r in rows],
                "qty": [r[2] for r in rows],
                "time": [int(r[4]) for r in rows],
                "maker": [r[5].lower() == "true" for r in rows],
            }
        )

    def _day_trades(self, market: str, symbol: str, day: dt.date, rows: int | None) -> pd.DataFrame:
        cap = self._capture(market, symbol)
        if rows is not None:
            cap = cap.iloc[:rows].copy()
        k = (day - dt.date(2024, 1, 1)).days
        cap["id"] = cap["id"] + k * 100_000_000
        ms = _ms(day) + 3_600_000 + (cap["time"] - int(cap["time"].iloc[0]))
        cap["time_ms"] = ms
        if market == "spot" and day >= _US_FROM:
            rank = cap.groupby("time_ms").cumcount().clip(upper=999)
            cap["time_raw"] = ms * 1000 + rank
            cap["time_ns"] = cap["time_raw"] * 1000
        else:
            cap["time_raw"] = ms
            cap["time_ns"] = ms * 1_000_000
        return cap

    def _publish(self, path: str, text: str, *, checksum: str | None = None, damage: bool = False) -> bytes:
        name = path.rsplit("/", 1)[-1][: -len(".zip")] + ".csv"
        body = zip_csv(name, text)
        if damage:  # flip bytes in the compressed data: the zip opens, its member fails to inflate / CRC
            mid = len(body) // 3
            body = body[:mid] + bytes(b ^ 0x5A for b in body[mid : mid + 64]) + body[mid + 64 :]
        self.server.add(path, body, checksum=checksum)
        return body

    # ------------------------------------------------------------------ kinds

    def trades(
        self, market: str, symbol: str, day: dt.date, *, rows: int | None = None, **publish: object
    ) -> pd.DataFrame:
        """Publish a daily trades file; return the expected ticks."""
        t = self._day_trades(market, symbol, day, rows)
        if market == "spot":
            text = "".join(
                f"{i},{p},{q},{Decimal(p) * Decimal(q)},{tm},{'True' if m else 'False'},True\n"
                for i, p, q, tm, m in zip(t["id"], t["price"], t["qty"], t["time_raw"], t["maker"])
            )
        else:
            text = "id,price,qty,quote_qty,time,is_buyer_maker\n" + "".join(
                f"{i},{p},{q},{Decimal(p) * Decimal(q)},{tm},{'true' if m else 'false'}\n"
                for i, p, q, tm, m in zip(t["id"], t["price"], t["qty"], t["time_raw"], t["maker"])
            )
        path = archive_path(market, "daily", "trades", symbol, day.isoformat())
        self._publish(path, text, **publish)  # type: ignore[arg-type]
        return pd.DataFrame(
            {
                "trade_id": t["id"].to_numpy(np.int64),
                "price": [float(p) for p in t["price"]],
                "qty": [float(q) for q in t["qty"]],
                "is_buyer_maker": t["maker"].to_numpy(bool),
                "time_ns": t["time_ns"].to_numpy(np.int64),
            }
        )

    def aggtrades(self, market: str, symbol: str, day: dt.date, *, rows: int | None = None) -> pd.DataFrame:
        """Publish a daily aggTrades file; return the expected ticks (one per aggregate)."""
        t = self._day_trades(market, symbol, day, rows)
        key = (t["time_raw"] != t["time_raw"].shift()) | (t["price"] != t["price"].shift()) | (t["maker"] != t["maker"].shift())
        group = key.cumsum()
        aggs = []
        base = (day - dt.date(2024, 1, 1)).days * 10_000_000
        for n, (_, g) in enumerate(t.groupby(group, sort=True)):
            qty = sum((Decimal(q) for q in g["qty"]), Decimal(0))
            aggs.append((base + n, g["price"].iloc[0], str(qty), int(g["id"].iloc[0]), int(g["id"].iloc[-1]),
                         int(g["time_raw"].iloc[0]), bool(g["maker"].iloc[0]), int(g["time_ns"].iloc[0])))
        if market == "spot":
            text = "".join(f"{a},{p},{q},{f},{l},{tm},{'True' if m else 'False'},True\n" for a, p, q, f, l, tm, m, _ in aggs)
        else:
            text = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n" + "".join(
                f"{a},{p},{q},{f},{l},{tm},{'true' if m else 'false'}\n" for a, p, q, f, l, tm, m, _ in aggs
            )
        self._publish(archive_path(market, "daily", "aggTrades", symbol, day.isoformat()), text)
        return pd.DataFrame(
            {
                "trade_id": np.array([a[0] for a in aggs], dtype=np.int64),
                "price": [float(a[1]) for a in aggs],
                "qty": [float(a[2]) for a in aggs],
                "is_buyer_maker": np.array([a[6] for a in aggs], dtype=bool),
                "time_ns": np.array([a[7] for a in aggs], dtype=np.int64),
            }
        )

    def klines(self, market: str, symbol: str, period: str, date: str, *, interval: str = "1m", seed: int = 0) -> pd.DataFrame:
        """Publish a klines file (1m) for a day or a month; return the expected candles."""
        y, m, *d = (int(x) for x in date.split("-"))
        first = dt.date(y, m, d[0] if d else 1)
        days = 1 if d else calendar.monthrange(y, m)[1]
        n = days * 1440
        rng = np.random.default_rng(seed)
        close = np.round(40000 + np.cumsum(rng.normal(0, 5, n)), 2)
        open_ = np.round(np.r_[close[0], close[:-1]], 2)
        high = np.round(np.maximum(open_, close) + rng.uniform(0, 3, n), 2)
        low = np.round(np.minimum(open_, close) - rng.uniform(0, 3, n), 2)
        vol = np.round(rng.uniform(0.5, 50, n), 3)
        t_ms = _ms(first) + 60_000 * np.arange(n, dtype=np.int64)
        us = market == "spot" and first >= _US_FROM
        scale = 1000 if us else 1
        lines = []
        for i in range(n):
            ot, ct = t_ms[i] * scale, (t_ms[i] + 59_999) * scale + (999 if us else 0)
            lines.append(f"{ot},{open_[i]:.2f},{high[i]:.2f},{low[i]:.2f},{close[i]:.2f},{vol[i]:.3f},{ct},"
                         f"{vol[i] * close[i]:.4f},{10 + i % 50},{vol[i] / 2:.4f},{vol[i] * close[i] / 2:.4f},0\n")
        text = "".join(lines)
        if market == "um":
            text = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                    "taker_buy_quote_volume,ignore\n") + text
        self._publish(archive_path(market, period, "klines", symbol, date, interval), text)
        return pd.DataFrame({"time_ns": t_ms * 1_000_000, "open": open_, "high": high, "low": low, "close": close, "volume": vol})

    def funding(self, symbol: str, month: str, *, seed: int = 0) -> pd.DataFrame:
        """Publish a monthly fundingRate file; return the expected rates."""
        y, m = (int(x) for x in month.split("-"))
        n = calendar.monthrange(y, m)[1] * 3
        rng = np.random.default_rng(seed)
        rates = [f"{r:.8f}" for r in rng.normal(1e-4, 5e-5, n)]
        t_ms = _ms(dt.date(y, m, 1)) + 8 * 3_600_000 * np.arange(n, dtype=np.int64)
        text = "calc_time,funding_interval_hours,last_funding_rate\n" + "".join(
            f"{t},8,{r}\n" for t, r in zip(t_ms, rates)
        )
        self._publish(archive_path("um", "monthly", "fundingRate", symbol, month), text)
        return pd.DataFrame({"time_ns": t_ms * 1_000_000, "funding_rate": [float(r) for r in rates]})
