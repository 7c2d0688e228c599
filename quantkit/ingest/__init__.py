"""The background ingest thread: feed -> bounded buffer -> batched writes to the tick store."""

from __future__ import annotations

from quantkit.ingest.completeness import StoredPosition, missing_trades, stored_positions
from quantkit.ingest.ingestor import Ingestor
from quantkit.ingest.stats import IngestStats
from quantkit.ingest.warmstart import WarmStartProgress, history_seconds

__all__ = ["IngestStats", "Ingestor", "StoredPosition", "WarmStartProgress", "history_seconds", "missing_trades", "stored_positions"]
