"""parse_message: every valid Binance shape, every rejection reason, and fuzzing."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.errors import MessageRejected
from quantkit.feed.messages import REJECT_REASONS, ControlReply, Quote, ServerShutdown, parse_message
from quantkit.schema import MAX_TIME_MS, MAX_TRADE_ID, Trade

from _support.frames import RAW_DIR, REJECTIONS, T
from _support.frames import with_changes as _with

# Verbatim lines from /work/shared/notes/binance_protocol.md
SPOT_TRADE_COMBINED = (
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
    '"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}'
)
SPOT_TRADE_DOC = '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}'
SPOT_AGG_DOC = (
    '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,'
    '"T":1672515782136,"m":true,"M":true}'
)
FUT_TRADE_COMBINED = (
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT",'
    '"t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)
FUT_AGG_DOC = (
    '{"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100","nq":"100","f":100,"l":105,'
    '"T":123456785,"m":true}'
)
ALL = None  # accept any symbol



def test_spot_trade_combined_verbatim() -> None:
    """The captured spot @trade line parses into the exact Trade."""
    t = parse_message(SPOT_TRADE_COMBINED, symbols=frozenset({"BTCUSDT"}))
    assert t == Trade("BTCUSDT", 3735683259, 61837.63, 0.02, 61837.63 * 0.02, 1723161255342, 1723161255343, True)
    assert type(t) is Trade


def test_spot_trade_raw_doc_line() -> None:
    """The documented raw /ws spot @trade payload parses (no envelope)."""
    t = parse_message(SPOT_TRADE_DOC, symbols=ALL)
    assert isinstance(t, Trade)
    assert (t.symbol, t.trade_id, t.price, t.qty, t.is_buyer_maker) == ("BNBBTC", 12345, 0.001, 100.0, True)
    assert t.quote_qty == pytest.approx(0.1)


def test_spot_aggtrade_uses_aggregate_id() -> None:
    """A spot @aggTrade event takes its id from 'a', not from 'f'/'l'."""
    t = parse_message(SPOT_AGG_DOC, symbols=frozenset({"BNBBTC"}))
    assert isinstance(t, Trade) and t.trade_id == 12345 and t.trade_time == 1672515782136


def test_futures_trade_combined_verbatim() -> None:
    """The first captured USD-M @trade line (with X, without M) parses."""
    t = parse_message(FUT_TRADE_COMBINED.encode(), symbols=frozenset({"BTCUSDT"}))
    assert t == Trade("BTCUSDT", 5266583935, 61800.30, 0.006, 61800.30 * 0.006, 1723161256322, 1723161256322, False)


def test_futures_aggtrade_doc_line_wrapped() -> None:
    """The documented USD-M @aggTrade payload (with nq, no M) parses inside a combined envelope."""
    raw = '{"stream":"btcusdt@aggTrade","data":' + FUT_AGG_DOC + "}"
    t = parse_message(raw, symbols=frozenset({"BTCUSDT"}), events=frozenset({"aggTrade"}))
    assert isinstance(t, Trade) and t.trade_id == 5933014 and t.event_time == 123456789 and t.trade_time == 123456785


def test_str_and_bytes_give_equal_trades() -> None:
    """Text and UTF-8 bytes of one frame give the same Trade."""
    a = parse_message(SPOT_TRADE_COMBINED, symbols=ALL)
    b = parse_message(SPOT_TRADE_COMBINED.encode(), symbols=ALL)
    c = parse_message(bytearray(SPOT_TRADE_COMBINED.encode()), symbols=ALL)  # type: ignore[arg-type]
    assert a == b == c


def test_quote_qty_is_price_times_qty() -> None:
    """quote_qty is computed as price x qty (Binance trade events carry none)."""
    t = parse_message(FUT_TRADE_COMBINED, symbols=ALL)
    assert isinstance(t, Trade) and t.quote_qty == t.price * t.qty


def test_numeric_json_price_and_qty_accepted() -> None:
    """Prices and quantities sent as JSON numbers are accepted like decimal strings."""
    raw = '{"e":"trade","E":2,"s":"X","t":1,"p":1.5,"q":2,"T":1,"m":false}'
    t = parse_message(raw, symbols=ALL)
    assert isinstance(t, Trade) and (t.price, t.qty, t.quote_qty) == (1.5, 2.0, 3.0)


@pytest.mark.parametrize(
    ("path", "symbol", "count"),
    [
        ("spot_btcusdt_20240808.gz", "BTCUSDT", 9757),
        ("spot_ethusdt_20240809.gz", "ETHUSDT", 8409),
        ("usdm_btcusdt_20240808.gz", "BTCUSDT", 21313),
    ],
)
def test_real_capture_trades_all_parse(shared_data: Path, path: str, symbol: str, count: int) -> None:
    """Every @trade line of a real capture parses with contiguous ids; every other stream is rejected as such."""
    trades: list[Trade] = []
    other: dict[str, int] = {}
    with gzip.open(shared_data / RAW_DIR / path, "rt") as fh:
        for line in fh:
            raw = line.split(" ", 1)[1]
            try:
                msg = parse_message(raw, symbols=frozenset({symbol}), events=frozenset({"trade"}))
            except MessageRejected as exc:
                other[exc.reason] = other.get(exc.reason, 0) + 1
                continue
            assert isinstance(msg, Trade)
            trades.append(msg)
    assert len(trades) == count
    ids = [t.trade_id for t in trades]
    assert ids == list(range(ids[0], ids[0] + count))
    assert all(t.price > 0 and t.qty > 0 and t.symbol == symbol for t in trades)
    # depthUpdate -> unexpected_event, bookTicker (no "e") -> unexpected_event, the REST snapshot -> missing_field
    assert set(other) <= {"unexpected_event", "missing_field"}
    assert other.get("missing_field", 0) <= 1


def test_real_capture_values_match_json(shared_data: Path) -> None:
    """Parsed fields equal the stdlib json reading of the same real lines."""
    with gzip.open(shared_data / RAW_DIR / "usdm_ethusdt_20240808.gz", "rt") as fh:
        lines = [ln.split(" ", 1)[1] for ln in fh if "@trade" in ln][:500]
    for raw in lines:
        d = json.loads(raw)["data"]
        t = parse_message(raw, symbols=frozenset({"ETHUSDT"}))
        assert t == Trade(d["s"], d["t"], float(d["p"]), float(d["q"]), float(d["p"]) * float(d["q"]), d["T"], d["E"], d["m"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"result":null,"id":1}', ControlReply(1, None)),
        ('{"result":["btcusdt@aggTrade"],"id":3}', ControlReply(3, ["btcusdt@aggTrade"])),
        ('{"result":true,"id":2}', ControlReply(2, True)),
        ('{"code": 0, "msg": "Unknown property","id": 7}', ControlReply(7, None, 0, "Unknown property")),
        ('{"code": 1, "msg": "Invalid value type: expected Boolean"}', ControlReply(None, None, 1, "Invalid value type: expected Boolean")),
        ('{"code":3,"msg":"Invalid JSON: expected value at line 1 column 2"}', ControlReply(None, None, 3, "Invalid JSON: expected value at line 1 column 2")),
    ],
)
def test_control_and_error_replies(raw: str, expected: ControlReply) -> None:
    """Control replies and error replies from the notes are told apart by key."""
    got = parse_message(raw, symbols=frozenset({"BTCUSDT"}))
    assert got == expected
    assert isinstance(got, ControlReply) and got.is_error == (expected.code is not None)


@pytest.mark.parametrize(
    ("raw", "event_time"),
    [
        ('{"e":"serverShutdown","E":1770123456789}', 1770123456789),
        ('{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}', 1770123456789),
        ('{"e":"serverShutdown"}', None),
    ],
)
def test_server_shutdown_raw_and_combined(raw: str, event_time: int | None) -> None:
    """serverShutdown is recognised raw and inside the combined envelope."""
    assert parse_message(raw, symbols=frozenset({"BTCUSDT"})) == ServerShutdown(event_time)




@pytest.mark.parametrize(("reason", "raw"), REJECTIONS)
def test_rejections(reason: str, raw: str | bytes) -> None:
    """Each invalid message raises MessageRejected with the expected reason."""
    with pytest.raises(MessageRejected) as info:
        parse_message(raw, symbols=frozenset({"BTCUSDT"}), events=frozenset({"trade"}))
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_every_reason_is_exercised() -> None:
    """The rejection table covers every reason in REJECT_REASONS, and nothing else."""
    assert {r for r, _ in REJECTIONS} == set(REJECT_REASONS)


def test_valid_base_message_of_rejection_table() -> None:
    """The message the rejection table mutates is itself valid (so each mutation is what fails)."""
    assert isinstance(parse_message(T, symbols=frozenset({"BTCUSDT"}), events=frozenset({"trade"})), Trade)
    assert isinstance(parse_message('{"stream":"btcusdt@trade","data":' + T + "}", symbols=frozenset({"BTCUSDT"})), Trade)


def test_largest_id_and_time_the_store_holds_are_accepted() -> None:
    """The range check's edges: id 2**63-1 and a time in 2262 (the last int64 ns ms) are trades; one more is not."""
    t = parse_message(_with(t=MAX_TRADE_ID, T=MAX_TIME_MS, E=MAX_TIME_MS), symbols=None)
    assert isinstance(t, Trade) and t.trade_id == 2**63 - 1 and t.trade_time == MAX_TIME_MS
    assert pd.Timestamp(MAX_TIME_MS, unit="ms") < pd.Timestamp.max  # the index can hold it
    t = parse_message(_with(T=2**43, E=2**43 + 1), symbols=None)  # past the fast pre-check's bound, still valid
    assert isinstance(t, Trade) and t.event_time == 2**43 + 1
    for change in ({"t": MAX_TRADE_ID + 1}, {"T": MAX_TIME_MS + 1}, {"E": MAX_TIME_MS + 1}):
        with pytest.raises(MessageRejected) as info:
            parse_message(_with(**change), symbols=None)
        assert info.value.reason == "bad_number"


def test_symbols_none_accepts_any_symbol() -> None:
    """symbols=None accepts a symbol no subscription names."""
    t = parse_message(_with(s="DOGEUSDT"), symbols=None)
    assert isinstance(t, Trade) and t.symbol == "DOGEUSDT"


def test_non_string_input_is_malformed() -> None:
    """A non-text input is rejected as malformed_json, not a TypeError."""
    with pytest.raises(MessageRejected) as info:
        parse_message(None, symbols=None)  # type: ignore[arg-type]
    assert info.value.reason == "malformed_json"


# --- fuzzing ---------------------------------------------------------------------------------------

_json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=12)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=5),
    max_leaves=12,
)
_KEYS = ["e", "E", "s", "t", "a", "p", "q", "T", "m", "M", "X", "stream", "data", "result", "id", "code", "msg"]


def _check(raw: str | bytes) -> None:
    try:
        got = parse_message(raw, symbols=frozenset({"BTCUSDT"}))
    except MessageRejected as exc:
        assert exc.reason in REJECT_REASONS
        return
    assert isinstance(got, (Trade, ControlReply, ServerShutdown))
    if isinstance(got, Trade):
        assert got.symbol == "BTCUSDT"
        assert math.isfinite(got.price) and got.price > 0 and math.isfinite(got.qty) and got.qty > 0
        assert type(got.trade_id) is int and got.trade_id >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    """Random bytes only ever raise MessageRejected."""
    _check(raw)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_fuzz_random_json(value: object) -> None:
    """Random JSON documents only ever raise MessageRejected."""
    _check(json.dumps(value))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_KEYS), _json_values, max_size=6),
    st.lists(st.sampled_from(_KEYS), max_size=3),
    st.booleans(),
)
def test_fuzz_mutated_trades(changes: dict[str, object], dropped: list[str], wrap: bool) -> None:
    """A valid trade with random fields replaced or dropped only ever raises MessageRejected."""
    d = orjson.loads(T)
    d.update(changes)
    for k in dropped:
        d.pop(k, None)
    doc: object = {"stream": "btcusdt@trade", "data": d} if wrap else d
    _check(json.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200), st.binary(min_size=1, max_size=3))
def test_fuzz_corrupted_real_frame(pos: int, junk: bytes) -> None:
    """A real frame with bytes overwritten only ever raises MessageRejected."""
    raw = bytearray(SPOT_TRADE_COMBINED.encode())
    pos = min(pos, len(raw) - 1)
    raw[pos : pos + len(junk)] = junk
    _check(bytes(raw))


SPOT_BOOK_TICKER = ('{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000",'
                    '"B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}')  # verbatim from the spot capture
USDM_BOOK_TICKER = ('{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT",'
                    '"b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}')


def test_book_tickers_are_quotes_when_subscribed() -> None:
    """@bookTicker (spot: no "e", no time; USD-M: "e", "E") parses into a Quote when "bookTicker" is accepted."""
    subscribed = frozenset({"trade", "bookTicker"})
    spot = parse_message(SPOT_BOOK_TICKER, symbols=frozenset({"BTCUSDT"}), events=subscribed)
    assert spot == Quote("BTCUSDT", 61837.63, 3.78826, 61837.64, 1.54698, 50093239212, None)
    assert spot.spread_bps == pytest.approx(0.01 / 61837.635 * 1e4)
    usdm = parse_message(USDM_BOOK_TICKER, symbols=None, events=subscribed)
    assert isinstance(usdm, Quote) and usdm.time_ms == 1723161256313 and usdm.bid_qty == 2.507
    for raw in (SPOT_BOOK_TICKER, USDM_BOOK_TICKER):  # not subscribed: another stream, rejected as before
        with pytest.raises(MessageRejected) as info:
            parse_message(raw, symbols=frozenset({"BTCUSDT"}), events=frozenset({"trade"}))
        assert info.value.reason == "unexpected_event"


@pytest.mark.parametrize(("reason", "change"), [
    ("bad_number", {"b": "x"}),
    ("bad_number", {"b": "2", "a": "1"}),  # crossed
    ("bad_number", {"B": "-1"}),
    ("missing_field", {"u": None}),
    ("bad_type", {"u": "1"}),
    ("unknown_symbol", {"s": "ETHUSDT"}),
])
def test_bad_book_tickers_are_rejected_with_a_reason(reason: str, change: dict) -> None:
    data = json.loads(SPOT_BOOK_TICKER)
    for k, v in change.items():
        if v is None:
            del data["data"][k]
        else:
            data["data"][k] = v
    with pytest.raises(MessageRejected) as info:
        parse_message(json.dumps(data), symbols=frozenset({"BTCUSDT"}), events=frozenset({"trade", "bookTicker"}))
    assert info.value.reason == reason
