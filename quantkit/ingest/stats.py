"""Live statistics of an :class:`~quantkit.ingest.Ingestor`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["IngestStats"]


@dataclass(frozen=True)
class IngestStats:
    """A consistent snapshot of an ingestor's counters.

    Attributes:
        state: ``"stopped"``, ``"running"``, ``"error"`` (receiving trades but storing none for a few
            seconds: all duplicates or all rejected; :attr:`error` says why; back to ``"running"`` once
            a trade is stored), ``"stopping"``, ``"store_full"`` (the store refused a
            write for lack of room: the feed is paused, nothing more is accepted, the batch is kept
            and retried; see :class:`~quantkit.ingest.Ingestor`) or ``"failed"`` (stopped with
            accepted trades unwritten, or the store failed in a way that forbids retrying).
        feed_state: the feed client's state (``"connecting"``, ``"connected"``,
            ``"reconnecting"``, ``"stopped"``).
        received: messages received from the exchange.
        accepted: trades that passed validation and entered the queue (live and backfilled).
        stored: trades written to the store (new, after de-duplication).
        duplicates: trades the store dropped as already stored (same trade id).
        feed_duplicates: trades the feed dropped as already delivered or stored
            (a re-sent trade, a replay after a restart, the overlap of a connection rotation).
        rejected: messages dropped for any other reason, by reason: malformed input
            (:data:`quantkit.feed.REJECT_REASONS`), ``out_of_order``, ``sink_error``.
        reconnects: WebSocket reconnections.
        gaps: trade-id gaps detected (each recorded in the store, filled or not).
        gaps_unfilled: gaps the REST backfill could not fill: real losses, recorded
            in the store with their id and time range.
        missing_trades: trade ids lost in unfilled gaps.
        backfilled: trades recovered through the REST backfill (included in ``accepted``).
        queue_depth: trades accepted but not yet written.
        pending_symbols: symbols with trades waiting to be written.
        write_errors: failed store writes (each retried; nothing accepted is dropped).
        feed_restarts: times the feed loop crashed and was restarted.
        lag_ms_last: tick-to-store lag of the last flush, ms: store time minus
            the exchange event time of the newest trade written.
        lag_ms_p50: median tick-to-store lag over the recent flushes (each trade
            weighted once), ms.
        lag_ms_p99: 99th percentile of the same, ms.
        last_trade_time: exchange time of the newest stored trade, ms since epoch (0 if none).
        ticks_per_second: stored trades per second over the last few seconds.
        last_error: the last error seen by the feed or the writer, ``None`` if none.
        per_symbol: stored trades per symbol.
        last_ids: highest trade id stored per symbol by this ingestor: acknowledged, i.e. the
            append that stored it returned (a crash after that cannot lose it).
        restart_required: the store can no longer be written from this process (LMDB full or a
            failed commit): give it room and restart the ingest, which then resumes and backfills.
        error: why :attr:`state` is ``"error"`` (one line); ``None`` while running normally. Kept in the
            final stats when the ingest stopped in that state.
        alarms: times the receiving-without-storing alarm was raised.
        quotes: the latest best bid and ask per stored symbol, when the feed subscribes them
            (``FeedConfig(quotes=True)``, ``quantkit ingest --quotes``): ``bid``, ``bid_qty``, ``ask``,
            ``ask_qty``, ``spread_bps`` (quoted spread over the mid, basis points), ``update_id``,
            ``time_ms`` (``None`` on spot). Not stored: the store holds trades only.
    """

    state: str = "stopped"
    feed_state: str = "stopped"
    received: int = 0
    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    feed_duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    gaps: int = 0
    gaps_unfilled: int = 0
    missing_trades: int = 0
    backfilled: int = 0
    queue_depth: int = 0
    pending_symbols: int = 0
    write_errors: int = 0
    feed_restarts: int = 0
    lag_ms_last: float | None = None
    lag_ms_p50: float | None = None
    lag_ms_p99: float | None = None
    last_trade_time: int = 0
    ticks_per_second: float = 0.0
    last_error: str | None = None
    per_symbol: dict[str, int] = field(default_factory=dict)
    last_ids: dict[str, int] = field(default_factory=dict)
    restart_required: bool = False
    error: str | None = None
    alarms: int = 0
    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        """All rejected messages, whatever the reason."""
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as plain Python data."""
        d = asdict(self)
        d["rejected_total"] = self.rejected_total
        return d

    def __str__(self) -> str:
        if self.lag_ms_p50 is None or self.lag_ms_p99 is None:
            lag = "n/a"
        elif self.lag_ms_p50 > 3_600_000:  # replayed history: exchange times are in the past
            lag = f"historical ({self.lag_ms_p50 / 86_400_000:,.1f} days)"
        else:
            lag = f"{self.lag_ms_p50:.0f}/{self.lag_ms_p99:.0f} ms"
        return (
            f"ingest {self.state} (feed {self.feed_state}): received {self.received:,}, stored {self.stored:,}, "
            f"duplicates {self.duplicates + self.feed_duplicates:,}, rejected {self.rejected_total:,}, reconnects {self.reconnects}, "
            f"gaps {self.gaps} ({self.gaps_unfilled} unfilled, {self.missing_trades:,} trades lost), backfilled {self.backfilled:,}, queue {self.queue_depth:,}, lag p50/p99 {lag}, {self.ticks_per_second:,.0f} ticks/s"
            + (f", alarms {self.alarms}" if self.alarms else "")
            + (f" -- ERROR: {self.error}" if self.error else "")
            + (f", last error: {self.last_error}" if self.last_error else "")
            + (" -- RESTART REQUIRED (the store needs room)" if self.restart_required else "")
        )
