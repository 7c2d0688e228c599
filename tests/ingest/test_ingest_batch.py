"""The writer's batches: trades turned into columns and grouped by symbol keep every trade, in order."""

from __future__ import annotations

from quantkit.exchange import SyntheticMarket
import pytest

from quantkit.ingest._batch import FIELDS, PendingTicks, last_ids, split_fields
from quantkit.schema import Trade, trades_to_frame


def _market_trades(seconds: float = 5.0) -> list[Trade]:
    return SyntheticMarket(seed=7).generate_trades(seconds, start_ms=1_700_000_000_000)


def _flat(trades: list[Trade]) -> list[object]:
    """The feed's hand-over: every trade's fields, one flat list."""
    fields: list[object] = []
    for t in trades:
        fields.extend(t)
    return fields


def test_split_fields_keeps_each_symbols_trades_in_arrival_order() -> None:
    """Every trade lands in its symbol's columns, in the order it arrived, with its values."""
    trades = _market_trades()
    symbols = {t.symbol for t in trades}
    assert len(symbols) > 1
    groups = split_fields(_flat(trades))
    assert set(groups) == symbols
    for symbol, records in groups.items():
        mine = [t for t in trades if t.symbol == symbol]
        assert records["trade_id"].tolist() == [t.trade_id for t in mine]
        assert records["price"].tolist() == [t.price for t in mine]
        assert records["event_time"].tolist() == [t.event_time for t in mine]
        assert records["is_buyer_maker"].tolist() == [t.is_buyer_maker for t in mine]
        assert records.tolist() == [tuple(t)[1:] for t in mine]  # every field after the symbol
    assert split_fields([]) == {}
    assert last_ids(_flat(trades)) == {s: max(t.trade_id for t in trades if t.symbol == s) for s in symbols}


def test_split_fields_one_symbol_and_partial_trades() -> None:
    """One symbol takes the no-split path with the same result; a run cut inside a trade is refused."""
    trades = [t for t in _market_trades() if t.symbol == "SYNAUSDT"]
    (records,) = split_fields(_flat(trades)).values()
    assert records.tolist() == [tuple(t)[1:] for t in trades]
    with pytest.raises(ValueError, match="not whole trades"):
        split_fields(_flat(trades)[: FIELDS * 3 - 1])


def test_pending_ticks_frame_equals_the_frame_built_from_the_trades() -> None:
    """Pending trades added in several drains make the same tick frame as trades_to_frame of them all."""
    trades = [t for t in _market_trades() if t.symbol == "SYNAUSDT"]
    pending = PendingTicks()
    assert not pending and len(pending) == 0 and pending.last_id == -1
    half = len(trades) // 2
    pending.add(split_fields(_flat(trades[:half]))["SYNAUSDT"])
    pending.add(split_fields(_flat(trades[half:]))["SYNAUSDT"])
    assert len(pending) == len(trades) and pending.last_id == trades[-1].trade_id
    assert pending.frame().equals(trades_to_frame(trades))
    pending.clear()
    assert not pending and pending.last_id == -1
