"""GapDetector, Backoff and stream URLs: the Sans-I/O parts of the feed."""

from __future__ import annotations

import pytest

from quantkit.config import FeedConfig
from quantkit.errors import ConfigError
from quantkit.feed import Backoff, Gap, GapDetector, stream_names, stream_url


def _detector(**kwargs: object) -> GapDetector:
    return GapDetector(wall_clock=lambda: 1_700_000_000.5, **kwargs)  # type: ignore[arg-type]


def test_in_order_ids_pass() -> None:
    """Consecutive ids (and the first id of a symbol) are let through silently."""
    d = _detector()
    assert [d.observe("A", i, 1000 + i) for i in range(5, 10)] == [None] * 5
    assert d.last_id("A") == 9 and d.last_id("B") is None


def test_jump_records_one_gap_and_delivers() -> None:
    """An id jump yields one Gap covering exactly the missing ids, with time bounds."""
    d = _detector()
    d.observe("A", 10, 5000)
    gap = d.observe("A", 14, 5600)
    assert gap == Gap("A", 11, 13, 5000, 5600, 1_700_000_000_500)
    assert isinstance(gap, Gap) and gap.missing == 3
    assert d.last_id("A") == 14
    assert d.observe("A", 15, 5601) is None


def test_duplicate_and_out_of_order() -> None:
    """Ids already delivered are duplicates; late ids inside a recorded gap are out_of_order."""
    d = _detector()
    for i in (1, 2, 3):
        d.observe("A", i, i)
    assert d.observe("A", 3, 3) == "duplicate"
    assert d.observe("A", 1, 1) == "duplicate"
    assert isinstance(d.observe("A", 7, 7), Gap)  # 4..6 missing
    assert d.observe("A", 5, 5) == "out_of_order"
    assert d.observe("A", 7, 7) == "duplicate"
    assert d.observe("A", 2, 2) == "duplicate"
    assert d.last_id("A") == 7


def test_symbols_are_independent() -> None:
    """Each symbol has its own sequence."""
    d = _detector()
    assert d.observe("A", 100, 1) is None
    assert d.observe("B", 5, 1) is None
    assert d.observe("A", 101, 2) is None
    assert d.observe("B", 6, 2) is None
    assert d.last_ids == {"A": 101, "B": 6}


def test_seeded_last_ids_detect_gap_since_store() -> None:
    """A detector seeded with the store's last id reports the hole before the first live trade."""
    d = _detector(last_ids={"A": 41})
    gap = d.observe("A", 50, 9000)
    assert isinstance(gap, Gap) and (gap.from_id, gap.to_id, gap.first_missing_time) == (42, 49, None)
    assert d.observe("A", 41, 1) == "duplicate"


def test_seed_validation() -> None:
    """A negative or non-integer seed id is refused with a ValueError naming it."""
    with pytest.raises(ValueError, match="last_ids"):
        GapDetector({"A": -1})
    with pytest.raises(ValueError, match="remembered_gaps"):
        GapDetector(remembered_gaps=0)


def test_remembered_gaps_bounded() -> None:
    """Only the last N gaps classify late arrivals; older late ids count as duplicates."""
    d = _detector(remembered_gaps=1)
    d.observe("A", 1, 1)
    d.observe("A", 3, 3)  # gap 2
    d.observe("A", 5, 5)  # gap 4; gap 2 forgotten
    assert d.observe("A", 4, 4) == "out_of_order"
    assert d.observe("A", 2, 2) == "duplicate"


class FixedRandom:
    """A fake random source returning one value."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_capped_exponential_full_jitter() -> None:
    """Delays are rng() x min(max, initial x factor^n), and reset starts over."""
    b = Backoff(0.5, 4.0, 2.0, rng=FixedRandom(0.5))
    assert [b.next_delay() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert b.attempts == 6 and b.cap() == 4.0
    b.reset()
    assert b.next_delay() == 0.25


def test_backoff_jitter_spans_window() -> None:
    """Full jitter: rng near 0 gives ~0, rng near 1 gives ~the cap."""
    assert Backoff(1.0, 8.0, 2.0, rng=FixedRandom(0.0)).next_delay() == 0.0
    b = Backoff(1.0, 8.0, 2.0, rng=FixedRandom(0.999))
    assert [round(b.next_delay(), 3) for _ in range(5)] == [0.999, 1.998, 3.996, 7.992, 7.992]


def test_backoff_never_overflows() -> None:
    """Thousands of attempts stay at the cap (no float overflow)."""
    b = Backoff(0.1, 30.0, 10.0, rng=FixedRandom(0.5))
    for _ in range(5000):
        delay = b.next_delay()
    assert delay == 15.0


@pytest.mark.parametrize(("kwargs", "name"), [({"initial": 0}, "initial"), ({"maximum": 0.1}, "maximum"), ({"factor": 0.5}, "factor")])
def test_backoff_rejects_bad_bounds(kwargs: dict[str, float], name: str) -> None:
    """Bad bounds raise ValueError naming the value."""
    with pytest.raises(ValueError, match=name):
        Backoff(**kwargs)  # type: ignore[arg-type]


def test_stream_url_format() -> None:
    """The URL is ws_url + /stream?streams= + lower-case symbol@stream joined by '/'."""
    cfg = FeedConfig(symbols=("BTCUSDT", "ETHUSDT"), ws_url="wss://stream.binance.com:9443", rest_url="https://api.binance.com")
    assert stream_url(cfg) == "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
    agg = FeedConfig.for_source("local", ["SYNAUSDT", "SYNBUSDT"], local_url="http://127.0.0.1:5555", stream="aggTrade")
    assert stream_url(agg) == "ws://127.0.0.1:5555/stream?streams=synausdt@aggTrade/synbusdt@aggTrade"


def test_stream_url_same_path_for_every_source() -> None:
    """Live spot, live futures and local differ only in the base URL."""
    urls = [stream_url(FeedConfig.for_source(src, ["BTCUSDT"])) for src in ("local", "binance", "binance-futures")]
    assert [u.split("/stream?", 1)[1] for u in urls] == ["streams=btcusdt@trade"] * 3
    assert urls[2].startswith("wss://fstream.binance.com/stream?")


def test_stream_names_dedupe_and_limit() -> None:
    """Repeated symbols are subscribed once; too many streams for one connection is a ConfigError."""
    cfg = FeedConfig.for_source("binance", ["BTCUSDT", "BTCUSDT", "ETHUSDT"])
    assert stream_names(cfg) == ("btcusdt@trade", "ethusdt@trade")
    many = FeedConfig.for_source("binance-futures", [f"S{i}USDT" for i in range(201)])
    with pytest.raises(ConfigError, match="symbols"):
        stream_url(many)


def test_advance_moves_the_sequence_only_forward() -> None:
    """advance() (ids delivered by the REST backfill) moves past the last id; later live copies are duplicates."""
    d = _detector(last_ids={"A": 10})
    assert d.last_time("A") is None
    assert d.advance("A", 15, 7000) and d.last_id("A") == 15 and d.last_time("A") == 7000
    assert not d.advance("A", 12, 6000) and d.last_id("A") == 15
    assert d.observe("A", 14, 6900) == "duplicate"
    assert d.observe("A", 16, 7001) is None
    assert d.advance("B", 3, 1) and d.last_id("B") == 3


def test_gap_outcome_fields_default_to_detected() -> None:
    """A detected Gap is unfilled with no reason; outcomes carry filled/reason (reasons listed in GAP_REASONS)."""
    from quantkit.feed import GAP_REASONS

    gap = Gap("A", 1, 2, None, 5, 6)
    assert not gap.filled and gap.reason is None
    assert set(GAP_REASONS) == {"disabled", "not_served", "rest_error", "rate_limited", "overflow"}
