"""One alert: what fired, when, on which pair, with which values and which trade direction."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd

__all__ = [
    "DIRECTIONS",
    "LONG_SPREAD",
    "NO_DIRECTION",
    "RECORD_COLUMNS",
    "SHORT_SPREAD",
    "Alert",
    "alerts_to_frame",
    "frame_to_alerts",
]

#: Buy the spread: buy Y, sell beta x X (the spread is below its mean).
LONG_SPREAD = "long_spread"
#: Sell the spread: sell Y, buy beta x X (the spread is above its mean).
SHORT_SPREAD = "short_spread"
#: A rule without a trade direction (correlation breakdown, stale feed).
NO_DIRECTION = ""
DIRECTIONS: tuple[str, ...] = (LONG_SPREAD, SHORT_SPREAD, NO_DIRECTION)

#: Columns of the flat record form (:meth:`Alert.to_record`), as persisted in the store.
RECORD_COLUMNS: tuple[str, ...] = ("time", "pair", "rule", "direction", "message", "values", "source")


def _plain(v: Any) -> Any:
    """JSON-safe scalar (NaN/inf become None)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
    return v


@dataclass(frozen=True)
class Alert:
    """An alert raised by a rule.

    Attributes:
        time: when the condition was observed, UTC ``Timestamp`` (the bar's close
            time for bar rules, the wall clock for the stale-feed rule).
        pair: ``"Y/X"``, e.g. ``"SYNAUSDT/SYNBUSDT"``.
        rule: the rule's name, e.g. ``"zscore"``.
        direction: :data:`LONG_SPREAD`, :data:`SHORT_SPREAD` or :data:`NO_DIRECTION` (``""``).
        values: the numbers behind the decision (``z``, ``corr``, thresholds...).
        message: a one-line human-readable description.
        source: who raised it (``"dashboard"``, ``"monitor"``...), for the history.
    """

    time: pd.Timestamp
    pair: str
    rule: str
    direction: str
    values: Mapping[str, float] = field(default_factory=dict)
    message: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        ts = pd.Timestamp(self.time)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        object.__setattr__(self, "time", ts)
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction={self.direction!r}: expected one of {DIRECTIONS}")

    def to_record(self) -> dict[str, Any]:
        """Flat, store-friendly form: ``values`` becomes a JSON string."""
        return {
            "time": self.time,
            "pair": self.pair,
            "rule": self.rule,
            "direction": self.direction,
            "message": self.message,
            "values": json.dumps({k: _plain(v) for k, v in self.values.items()}, sort_keys=True),
            "source": self.source,
        }

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> "Alert":
        """Inverse of :meth:`to_record` (``None`` values come back as NaN)."""
        raw = rec.get("values") or "{}"
        vals = json.loads(raw) if isinstance(raw, str) else dict(raw)
        return cls(
            time=pd.Timestamp(rec["time"]),
            pair=str(rec["pair"]),
            rule=str(rec["rule"]),
            direction=str(rec.get("direction") or ""),
            values={k: (math.nan if v is None else v) for k, v in vals.items()},
            message=str(rec.get("message") or ""),
            source=str(rec.get("source") or ""),
        )


def alerts_to_frame(alerts: list[Alert]) -> pd.DataFrame:
    """Alerts as a DataFrame indexed by UTC ``time`` with the :data:`RECORD_COLUMNS` (``time`` as index)."""
    cols = [c for c in RECORD_COLUMNS if c != "time"]
    if not alerts:
        idx = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="time")
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}, index=idx)
    recs = [a.to_record() for a in alerts]
    idx = pd.DatetimeIndex([r["time"] for r in recs], name="time").as_unit("ns")
    return pd.DataFrame({c: [str(r[c]) for r in recs] for c in cols}, index=idx)


def frame_to_alerts(frame: pd.DataFrame) -> list[Alert]:
    """Inverse of :func:`alerts_to_frame` (accepts ``time`` as index or column)."""
    if frame is None or len(frame) == 0:
        return []
    f = frame.reset_index() if "time" not in frame.columns else frame
    return [Alert.from_record(r) for r in f.to_dict("records")]
