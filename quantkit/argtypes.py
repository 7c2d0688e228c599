"""Argument types of the ``quantkit`` command line, shared by every sub-command.

Each function takes the text of one option and returns its value, or raises
``argparse.ArgumentTypeError`` with a one-line message naming the value; the parser turns that into
``quantkit <command>: error: argument --x: <message>`` and exit code 2. :mod:`quantkit.cli`,
:mod:`quantkit.reports.commands` and :mod:`quantkit.dashboard.commands` use these, so an option means
the same everywhere (``--start``/``--end``, ``--store``, ``--source``, ``--port``, bar sizes, ...).

Times (``--start``, ``--end``): ISO 8601 dates or date-times, UTC unless they carry an offset, e.g.
``2024-08-08``, ``2024-08-08T23:55``, ``2024-08-08 23:55:30+00:00``. Words such as ``yesterday`` are
refused rather than guessed. Everywhere, ``--start`` is inclusive and ``--end`` exclusive.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Callable, TypeVar

__all__ = [
    "bar_size",
    "correlation",
    "library",
    "local_source",
    "non_negative_float",
    "non_negative_int",
    "pair_list",
    "port",
    "positive_float",
    "positive_int",
    "seconds",
    "source",
    "store_uri",
    "symbol",
    "symbol_list",
    "url",
    "utc_time",
    "window",
]

_T = TypeVar("_T")
_ISO_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # date
    r"(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?)?"  # optional time
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?$"  # optional offset
)


def _wrap(fn: Callable[[str], _T], raw: str) -> _T:
    """``fn(raw)`` with any ValueError turned into an ArgumentTypeError of one line."""
    try:
        return fn(raw)
    except (ValueError, TypeError, OverflowError) as exc:
        raise argparse.ArgumentTypeError(" ".join(str(exc).split()) or f"{raw!r} is not valid") from None


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None


def _integer(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None


def positive_float(raw: str) -> float:
    """A number > 0 (``inf`` allowed, e.g. ``--speed inf``)."""
    value = _number(raw)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be > 0")
    return value


def seconds(raw: str) -> float:
    """A finite number of seconds > 0."""
    value = _number(raw)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{raw!r} must be a number of seconds > 0")
    return value


def non_negative_float(raw: str) -> float:
    """A finite number >= 0."""
    value = _number(raw)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{raw!r} must be a finite number >= 0")
    return value


def positive_int(raw: str) -> int:
    """An integer >= 1."""
    value = _integer(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be >= 1")
    return value


def non_negative_int(raw: str) -> int:
    """An integer >= 0 (e.g. a seed)."""
    value = _integer(raw)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be >= 0")
    return value


def window(raw: str) -> int:
    """A rolling window in bars: an integer >= 2."""
    value = _integer(raw)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{raw!r} must be >= 2 bars")
    return value


def port(raw: str) -> int:
    """A TCP port, 0..65535 (0 = any free port)."""
    value = _integer(raw)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port (0..65535; 0 = any free)")
    return value


def utc_time(raw: str) -> str:
    """An ISO 8601 date or date-time (UTC unless it has an offset); returns the text, stripped.

    ``--start`` is inclusive and ``--end`` exclusive wherever they appear.
    """
    text = raw.strip()
    if not _ISO_TIME.match(text):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a time: use ISO 8601, e.g. 2024-08-08 or 2024-08-08T23:55 (UTC)")
    from quantkit.store._frames import to_utc

    _wrap(lambda t: to_utc(t), text)
    return text


def bar_size(raw: str) -> str:
    """A bar length such as ``1s``, ``1m``, ``5m``, ``90s``, ``1h``, ``1d`` (whole milliseconds, >= 1 ms)."""
    from quantkit.store._frames import normalise_interval

    return _wrap(lambda t: normalise_interval(t)[0], raw.strip())


def symbol(raw: str) -> str:
    """One symbol in quantkit's grammar (:mod:`quantkit.symbols`)."""
    from quantkit.symbols import check_symbol

    return _wrap(check_symbol, raw)


def symbol_list(raw: str) -> str:
    """Comma-separated symbols (at least one); returns the normalised list as ``A,B``."""
    from quantkit.symbols import parse_symbols

    names = _wrap(parse_symbols, raw)
    if not names:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected comma-separated symbols such as BTCUSDT,ETHUSDT")
    return ",".join(names)


def pair_list(raw: str) -> list[str]:
    """Comma-separated ``Y/X`` pairs (at least one); returns ``["Y/X", ...]``."""
    from quantkit.symbols import parse_pair

    items = [p for p in raw.split(",") if p.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected Y/X pairs such as ETHUSDT/BTCUSDT")
    return ["/".join(_wrap(parse_pair, p)) for p in items]


def source(raw: str) -> str:
    """A source of :data:`quantkit.config.SOURCES` (the same values as ``QUANTKIT_SOURCE``)."""
    from quantkit.config import parse_source

    return _wrap(lambda t: parse_source(t, "--source"), raw)


def local_source(raw: str) -> str:
    """A source the local exchange can serve: ``synthetic`` or ``replay:PATH[,PATH...]``."""
    from quantkit.config import is_local_source

    value = source(raw)
    if not is_local_source(value):
        raise argparse.ArgumentTypeError(f"{raw!r} is a live Binance source; the local exchange serves synthetic or replay:PATH")
    return value


def library(raw: str) -> str:
    """An ArcticDB library name: letters, digits, ``.``, ``_``, ``-``."""
    text = raw.strip()
    if not text or not all(c.isalnum() or c in "._-" for c in text):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a library name (letters, digits, '.', '_', '-')")
    return text


def correlation(raw: str) -> float:
    """A correlation, -1..1."""
    value = _number(raw)
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be a correlation in -1..1")
    return value


def store_uri(raw: str) -> str:
    """An ArcticDB URI such as ``lmdb:///path`` or ``s3://host:bucket?...``."""
    from quantkit.store._uri import normalise_uri, redact_uri

    text = raw.strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme not in ("lmdb", "s3", "s3s", "azure", "mem", "gcpxml", "gcpxmls") or text.endswith("://"):
        raise argparse.ArgumentTypeError(
            f"{redact_uri(raw)!r} is not an ArcticDB URI (expected lmdb:///path or s3://host:bucket?...)"
        )
    return _wrap(lambda t: (normalise_uri(t), t)[1], text)


def url(raw: str) -> str:
    """An ``http://host:port`` URL."""
    text = raw.strip().rstrip("/")
    if not re.match(r"^https?://[A-Za-z0-9.\-\[\]:]+(:\d{1,5})?(/.*)?$", text):
        raise argparse.ArgumentTypeError(f"{raw!r} is not an http://host:port URL")
    return text
