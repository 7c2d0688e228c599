"""Hostile input: the short run of the feed fuzzer (benchmarks/fuzz_feed.py) against a real websockets server."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from quantkit.feed import DROP_REASONS


@pytest.fixture(scope="module")
def fuzz_feed(repo_root: Path) -> ModuleType:
    """The fuzzer module, loaded from benchmarks/ (one generator for the test and the long run)."""
    path = repo_root / "benchmarks" / "fuzz_feed.py"
    spec = importlib.util.spec_from_file_location("quantkit_bench_fuzz_feed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [7, 8])
def test_fuzz_no_crash_and_every_frame_counted(fuzz_feed: ModuleType, seed: int, timeout_unit: float) -> None:
    """5,000 hostile frames (and hostile REST answers): no crash, every frame counted by reason, ids stay increasing."""
    report = asyncio.run(fuzz_feed.run_fuzz(5000, seed=seed, oversize_every=2000, timeout=60 * timeout_unit))
    assert report.problems == [], fuzz_feed.format_report(report)
    s = report.stats
    assert report.sent_total == 5000 and report.oversize == 2 and s.connections == 3
    assert s.received == 5000 - 2
    assert s.received == s.accepted + s.rejected_total + s.control_replies + s.server_shutdowns
    parser_reasons = {r for r in DROP_REASONS if s.rejected[r]}
    assert {"malformed_json", "not_an_object", "missing_field", "bad_type", "bad_number", "unexpected_event"} <= parser_reasons
    assert s.accepted > 0 and s.control_replies > 0
    assert s.backfill is not None and s.backfill.requests > 0 and sum(s.backfill.errors.values()) > 0
