"""Fixtures of the exchange tests: a real LocalExchange on 127.0.0.1:0, a websockets client, REST over urllib."""

from __future__ import annotations

import asyncio
import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, TypeVar

import pytest

from quantkit.exchange import LocalExchange

T = TypeVar("T")

RAW = "binance_ws_capture_2024-08-08_hftbacktest/raw"
CSV = "binance_ws_capture_2024-08-08_hftbacktest/derived_trades_csv"


@pytest.fixture
def start_exchange() -> Iterator[Callable[..., LocalExchange]]:
    """Start LocalExchange(source, **kwargs) in its thread; every one started is stopped at teardown."""
    started: list[LocalExchange] = []

    def start(source: Any, **kwargs: Any) -> LocalExchange:
        kwargs.setdefault("ping_interval", None)
        ex = LocalExchange(source, **kwargs).start()
        started.append(ex)
        return ex

    yield start
    for ex in started:
        ex.stop()


@pytest.fixture
def run(timeout_unit: float) -> Callable[..., Any]:
    """Run a coroutine to completion with a timeout of ``units`` timeout units (default 20)."""

    def run_(coro: Awaitable[T], units: float = 20) -> T:
        async def main() -> T:
            return await asyncio.wait_for(coro, units * timeout_unit)

        return asyncio.run(main())

    return run_


def rest_get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET", data: bytes | None = None
) -> tuple[int, Any, dict[str, str]]:
    """``method`` ``url`` (GET by default): (status, parsed JSON body, headers), for 2xx and error statuses alike."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null"), dict(err.headers)


@pytest.fixture
def rest() -> Callable[..., tuple[int, Any, dict[str, str]]]:
    """The :func:`rest_get` helper."""
    return rest_get


def _capture_trade_lines(path: Path) -> list[bytes]:
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            text = line.rstrip(b"\n").split(b" ", 1)[1]
            if b'@trade"' in text[:40]:
                out.append(text)
    return out


@pytest.fixture
def capture_trade_lines() -> Callable[[Path], list[bytes]]:
    """Read the ``@trade`` lines of a raw capture as JSON bytes (receive timestamp stripped)."""
    return _capture_trade_lines


@pytest.fixture
def raw_dir(shared_data: Path) -> Path:
    """The folder of raw Binance WebSocket captures."""
    return shared_data / RAW


@pytest.fixture
def csv_dir(shared_data: Path) -> Path:
    """The folder of trades CSVs derived from the captures."""
    return shared_data / CSV
