"""The background ingest thread: feed -> bounded buffer -> batched writes to the tick store."""

from __future__ import annotations

from quantkit.ingest.ingestor import Ingestor
from quantkit.ingest.stats import IngestStats

__all__ = ["IngestStats", "Ingestor"]
