"""Scale-out on S3: two ingest processes, each owning two symbols, write one library while readers read."""

from __future__ import annotations

from _support.campaign import run_sharded


def test_two_writers_sharded_by_symbol_on_s3_store_exactly_what_was_published(s3_uri: str, timeout_unit: float) -> None:
    """Each writer owns its symbols; together they store every published trade once; readers see no error."""
    result, readers = run_sharded(s3_uri, shards=(("SYNAUSDT", "SYNBUSDT"), ("SYNCUSDT", "SYNDUSDT")),
                                  seconds=5.0, readers=2, timeout=180 * timeout_unit)
    assert result.survived, result.notes
    c = result.comparison
    assert c.stored == c.published > 500
    assert (c.lost, c.recorded, c.duplicates, c.extra, c.mismatched) == (0, 0, 0, 0, 0)
    assert readers.errors == () and readers.regressions == () and readers.reads > 0
