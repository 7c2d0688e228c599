"""Trade frames for the parser's tests: a valid base frame, its mutations, and the rejection table."""

from __future__ import annotations

import orjson

#: Raw captures of real Binance streams, under ../shared/data.
RAW_DIR = "binance_ws_capture_2024-08-08_hftbacktest/raw"

#: A valid spot @trade event (raw, no envelope): the frame the rejection table mutates.
T = '{"e":"trade","E":2,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","T":1,"m":true,"M":true}'


#: A value for :func:`with_changes` that removes the key.
DROP = object()


def with_changes(**changes: object) -> str:
    """:data:`T` with keys set to other values (or removed with :data:`DROP`)."""
    d = orjson.loads(T)
    for k, v in changes.items():
        if v is DROP:
            del d[k]
        else:
            d[k] = v
    return orjson.dumps(d).decode()

#: (reason, frame): one invalid frame per way a message can be rejected, with the reason expected.
REJECTIONS = [
    ("malformed_json", "{not json"),
    ("malformed_json", b"\xff\xfe{}"),
    ("malformed_json", ""),
    ("malformed_json", '{"p": NaN}'),
    ("not_an_object", "[1,2,3]"),
    ("not_an_object", '"trade"'),
    ("not_an_object", "42"),
    ("not_an_object", '{"stream":"btcusdt@trade","data":[1]}'),
    ("missing_field", with_changes(s=DROP)),
    ("missing_field", with_changes(t=DROP)),
    ("missing_field", with_changes(p=DROP)),
    ("missing_field", with_changes(q=DROP)),
    ("missing_field", with_changes(T=DROP)),
    ("missing_field", with_changes(E=DROP)),
    ("missing_field", with_changes(m=DROP)),
    ("missing_field", '{"lastUpdateId":1,"bids":[],"asks":[]}'),
    ("missing_field", '{"data":{"e":"trade"}}'),
    ("missing_field", '{"stream":"btcusdt@trade","data":{"s":"BTCUSDT"}}'),
    ("bad_type", with_changes(t="1")),
    ("bad_type", with_changes(t=1.0)),
    ("bad_type", with_changes(T="1")),
    ("bad_type", with_changes(E=None)),
    ("bad_type", with_changes(m=1)),
    ("bad_type", with_changes(s=5)),
    ("bad_type", with_changes(p=True)),
    ("bad_type", with_changes(q=[1])),
    ("bad_type", with_changes(p=None)),
    ("bad_type", with_changes(e=7)),
    ("bad_type", '{"stream":5,"data":{}}'),
    ("bad_type", '{"code":"x","msg":"m"}'),
    ("bad_type", '{"e":"serverShutdown","E":"soon"}'),
    ("bad_number", with_changes(p="abc")),
    ("bad_number", with_changes(q="")),
    ("bad_number", with_changes(p="NaN")),
    ("bad_number", with_changes(p="nan")),
    ("bad_number", with_changes(q="inf")),
    ("bad_number", with_changes(p="-Infinity")),
    ("bad_number", with_changes(p="1e400")),
    ("bad_number", with_changes(t=-1)),
    ("bad_number", with_changes(T=-5)),
    ("bad_number", with_changes(t=2**63)),  # an int64 column cannot hold it
    ("bad_number", with_changes(t=2**64 - 1)),
    ("bad_number", with_changes(E=2**63)),
    ("bad_number", with_changes(T=9_223_372_036_855)),  # ms past 2262: int64 ns cannot hold it
    ("non_positive", with_changes(p="0")),
    ("non_positive", with_changes(p="0.00000000")),
    ("non_positive", with_changes(q="-1")),
    ("non_positive", with_changes(p=-2)),
    ("unknown_symbol", with_changes(s="DOGEUSDT")),
    ("unexpected_event", with_changes(e="depthUpdate")),
    ("unexpected_event", with_changes(e="aggTrade", a=1)),  # only @trade is accepted here
    ("unexpected_event", '{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}}'),
    ("unexpected_event", with_changes(e="blockTrade")),
    ("bad_stream", '{"stream":"ethusdt@trade","data":' + T + "}"),
    ("bad_stream", '{"stream":"btcusdt@aggTrade","data":' + T + "}"),
    ("bad_stream", '{"stream":"BTCUSDT@trade","data":' + T + "}"),
]
