"""parse_message's fast path (msgspec, bytes frames) gives the general path's verdict on every frame.

The fast path may only accept: whatever it accepts must equal the general path's trade, and every
frame it does not accept must come out of the general path (same trade, or same rejection reason).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.errors import MessageRejected
from quantkit.feed import messages
from quantkit.feed.messages import parse_message
from quantkit.schema import MAX_TIME_MS, MAX_TRADE_ID, Trade

from _support.frames import RAW_DIR, REJECTIONS

SYMBOLS = frozenset({"BTCUSDT", "ETHUSDT"})
BASE: dict[str, Any] = {"e": "trade", "E": 1723161255343, "s": "BTCUSDT", "t": 3728000001, "p": "61685.99000000",
                        "q": "0.00081000", "T": 1723161255342, "m": True, "M": True}


def _verdict(fn: Any, raw: str | bytes, symbols: frozenset[str] | None, events: frozenset[str] | None) -> object:
    try:
        return fn(raw, symbols=symbols, events=events) if fn is parse_message else fn(raw, symbols, events)
    except MessageRejected as exc:
        return ("rejected", exc.reason)


def _same_verdict(raw: bytes, symbols: frozenset[str] | None = SYMBOLS,
                  events: frozenset[str] | None = frozenset({"trade"})) -> object:
    fast = _verdict(parse_message, raw, symbols, events)
    general = _verdict(messages._parse_general, raw, symbols, events)
    assert fast == general, raw
    return fast


@pytest.fixture
def general_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Frames that reached the general path (the fast path did not accept them)."""
    calls: list[bytes] = []
    general = messages._parse_general

    def counting(raw: Any, symbols: Any, events: Any) -> Any:
        calls.append(raw)
        return general(raw, symbols, events)

    monkeypatch.setattr(messages, "_parse_general", counting)
    return calls


def test_real_capture_frames_take_the_fast_path(shared_data: Path, general_calls: list[bytes]) -> None:
    """Every trade frame of a real spot and a real USD-M capture, as the bytes the client receives, is
    decoded by the fast path into the general path's trade; the other streams fall through and are
    rejected exactly as before."""
    for name, symbol in (("spot_btcusdt_20240808.gz", "BTCUSDT"), ("usdm_ethusdt_20240808.gz", "ETHUSDT")):
        with gzip.open(shared_data / RAW_DIR / name, "rb") as fh:
            frames = [line.split(b" ", 1)[1].rstrip(b"\n") for line in fh]
        trades = 0
        for raw in frames:
            before = len(general_calls)
            verdict = _same_verdict(raw, frozenset({symbol}))
            if isinstance(verdict, Trade):
                trades += 1
                assert len(general_calls) == before + 1  # only _same_verdict's own general call
            else:
                assert verdict[1] in ("unexpected_event", "missing_field")  # type: ignore[index]
        assert trades > 8000


@pytest.mark.parametrize(("reason", "raw"), REJECTIONS)
def test_every_rejection_keeps_its_reason_as_bytes(reason: str, raw: str | bytes) -> None:
    """The rejection table, sent as bytes (the fast path's input): same reason as the general path."""
    data = raw.encode() if isinstance(raw, str) else raw
    assert _same_verdict(data, frozenset({"BTCUSDT"})) == ("rejected", reason)
    wrapped = b'{"stream":"btcusdt@trade","data":' + data + b"}"
    _same_verdict(wrapped, frozenset({"BTCUSDT"}))


# Values of every JSON type (and out-of-range numbers) for the fields the parser reads.
_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),  # what orjson can write
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["", "1", "0", "-1", "1e400", "nan", "1_0",
                                                                        " 2.5 ", "0x10", "BTCUSDT", "btcusdt"]),
    st.text(max_size=12), st.lists(st.integers(min_value=-5, max_value=5), max_size=2), st.just({}),
)
_EDGES = st.sampled_from([0, 1, MAX_TRADE_ID, MAX_TRADE_ID + 1, MAX_TIME_MS, MAX_TIME_MS + 1, 2**43, 2**43 - 1,
                          2**64 - 1, -1])
_FIELDS = ["e", "E", "s", "t", "a", "p", "q", "T", "m"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(st.sampled_from(_FIELDS), st.one_of(_ANY, _EDGES), max_size=3),
    drop=st.lists(st.sampled_from(_FIELDS), max_size=2),
    kind=st.sampled_from(["trade", "aggTrade"]),
    wrap=st.sampled_from([None, "match", "other_symbol", "other_event", "not_str"]),
    events=st.sampled_from([None, frozenset({"trade"}), frozenset({"aggTrade"}), frozenset({"trade", "aggTrade"})]),
    symbols=st.sampled_from([None, SYMBOLS]),
)
def test_fast_and_general_paths_agree_on_mutated_frames(changes: dict[str, Any], drop: list[str], kind: str,
                                                         wrap: str | None, events: frozenset[str] | None,
                                                         symbols: frozenset[str] | None) -> None:
    """Trade frames with fields changed to any JSON value, dropped, wrapped in a matching or wrong
    envelope: the fast path's verdict is the general path's, whatever the subscription."""
    d = dict(BASE, e=kind)
    if kind == "aggTrade":
        d["a"] = d.pop("t")
    d.update(changes)
    for k in drop:
        d.pop(k, None)
    payload = orjson.dumps(d)
    if wrap is not None:
        sym = d.get("s") if isinstance(d.get("s"), str) else "btcusdt"
        stream: object = {"match": f"{str(sym).lower()}@{kind}", "other_symbol": "ethusdt@" + kind,
                          "other_event": f"{str(sym).lower()}@depth", "not_str": 5}[wrap]
        payload = b'{"stream":' + orjson.dumps(stream) + b',"data":' + payload + b"}"
    _same_verdict(payload, symbols, events)


@pytest.mark.parametrize("number", [b"2" * 25, b"-" + b"9" * 25, b"1e3", b"1.0"])
def test_numbers_beyond_64_bits_or_not_integers(number: bytes) -> None:
    """An id or time written as a 25-digit integer, an exponent or a fraction: same verdict both ways."""
    for key in (b'"t":3728000001', b'"T":1723161255342', b'"E":1723161255343'):
        raw = orjson.dumps(BASE).replace(key, key.split(b":")[0] + b":" + number)
        assert raw != orjson.dumps(BASE)
        assert _same_verdict(raw, None, None)[0] == "rejected"  # type: ignore[index]


def test_non_ascii_and_text_frames_go_the_general_way(general_calls: list[bytes]) -> None:
    """A frame with non-ASCII bytes (which the fast path would not validate as UTF-8) or given as str
    is parsed by the general path alone."""
    good = orjson.dumps(BASE)
    assert isinstance(parse_message(good, symbols=SYMBOLS), Trade) and general_calls == []
    assert isinstance(parse_message(good.decode(), symbols=SYMBOLS), Trade) and len(general_calls) == 1
    bad_utf8 = good[:-1] + b',"X":"\xff"}'
    with pytest.raises(MessageRejected) as info:
        parse_message(bad_utf8, symbols=SYMBOLS)
    assert info.value.reason == "malformed_json" and general_calls[-1] == bad_utf8


def test_an_unread_field_is_not_looked_into_by_the_fast_path() -> None:
    """The documented difference: a number no double holds in a field quantkit does not read ("M") leaves the
    trade whole on the fast path; the general path (a str frame) calls the frame malformed."""
    raw = orjson.dumps(BASE).replace(b'"M":true', b'"M":1e400')
    trade = parse_message(raw, symbols=SYMBOLS)
    assert isinstance(trade, Trade) and trade == parse_message(orjson.dumps(BASE), symbols=SYMBOLS)
    with pytest.raises(MessageRejected) as info:
        parse_message(raw.decode(), symbols=SYMBOLS)
    assert info.value.reason == "malformed_json"
