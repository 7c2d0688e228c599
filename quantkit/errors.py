"""The quantkit exception hierarchy.

Every error quantkit raises on purpose is a :class:`QuantkitError`. Errors that
are also bad arguments additionally subclass :class:`ValueError`, so callers
that already catch ``ValueError`` keep working::

    QuantkitError
    ├── ConfigError (ValueError)          bad configuration object or QUANTKIT_* variable
    ├── ExchangeError                     the local exchange could not start or serve
    │   └── SourceError (ValueError)      a replay/synthetic source is unusable
    ├── FeedError                         the feed client failed (not per-message: those are counted)
    │   ├── MessageRejected (ValueError)  one message failed validation (carries ``reason``)
    │   └── FeedConnectionError           could not connect / the connection ended abnormally
    ├── StoreError                        the tick store failed
    │   ├── SymbolNotFoundError (KeyError)
    │   ├── StoreNotFoundError            a read-only open of a store or library that does not exist
    │   ├── SchemaError (ValueError)      a frame does not match the tick/candle schema
    │   └── StoreFullError                LMDB map full or disk full: writes refused, data intact
    ├── DataFileError (ValueError)        an input file (CSV, capture) is unreadable as a whole
    ├── IngestError                       the ingest thread failed or was misused
    ├── AnalyticsError (ValueError)       bad input to an analytics function (too few points, NaNs, ...)
    ├── BacktestError (ValueError)        bad backtest input or parameters
    ├── ReportError                       a report could not be run
    │   ├── ReportParameterError (ValueError)
    │   └── ReportExecutionError          a cell failed; carries the cell index and the error
    └── DashboardError                    the dashboard could not be built or updated

Errors carry the fields needed to act on them (symbol, URL, file and line,
reason) as attributes and build a readable message from them.
"""

from __future__ import annotations

from typing import Callable

__all__ = [
    "AnalyticsError",
    "BacktestError",
    "ConfigError",
    "DashboardError",
    "DataFileError",
    "ExchangeError",
    "FeedConnectionError",
    "FeedError",
    "IngestError",
    "MessageRejected",
    "QuantkitError",
    "ReportError",
    "ReportExecutionError",
    "ReportParameterError",
    "SchemaError",
    "SourceError",
    "StoreError",
    "StoreFullError",
    "StoreNotFoundError",
    "SymbolNotFoundError",
]


class QuantkitError(Exception):
    """Base class of every error quantkit raises on purpose."""


class ConfigError(QuantkitError, ValueError):
    """A configuration value (object field or ``QUANTKIT_*`` variable) is invalid.

    Attributes:
        name: the field or environment variable name.
        value: the offending value (never a secret: credentials are redacted).
    """

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.name = name
        self.value = value
        self.problem = problem
        super().__init__(f"{name}={value!r}: {problem}")


class ExchangeError(QuantkitError):
    """The local exchange could not start or serve."""


class SourceError(ExchangeError, ValueError):
    """A market source (replay file, synthetic parameters) is unusable."""


class FeedError(QuantkitError):
    """The feed client failed as a whole (single bad messages are counted, not raised)."""


class MessageRejected(FeedError, ValueError):
    """One exchange message failed validation.

    Raised by the parsing layer (:mod:`quantkit.feed.messages`) and caught by
    the client, which counts it under :attr:`reason`; it never reaches the
    event loop.

    Attributes:
        reason: a short machine-readable reason, one of
            :data:`quantkit.feed.messages.REJECT_REASONS`.
        detail: a human-readable explanation.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class FeedConnectionError(FeedError):
    """Could not connect, or the connection ended abnormally.

    Attributes:
        url: the URL that was being used.
        code: the WebSocket close code, if any.
    """

    def __init__(self, url: str, problem: str, code: int | None = None) -> None:
        self.url = url
        self.code = code
        suffix = f" (close code {code})" if code is not None else ""
        super().__init__(f"{url}: {problem}{suffix}")


class StoreError(QuantkitError):
    """The tick store failed."""


class SymbolNotFoundError(StoreError, KeyError):
    """The symbol is not in the store.

    Attributes:
        symbol: the missing symbol.
        available: the symbols that are there (may be truncated), listed when first asked for: the
            message shows them, but a caller that only catches the error (a reader polling for a
            symbol not written yet) does not pay for the listing (ArcticDB's first symbol listing
            in a process can take a second).
    """

    def __init__(self, symbol: str, available: list[str] | Callable[[], list[str]] | None = None) -> None:
        self.symbol = symbol
        self._available = available
        super().__init__(f"symbol {symbol!r} is not in the store")

    @property
    def available(self) -> list[str]:
        if callable(self._available):
            try:
                self._available = list(self._available())
            except Exception:  # noqa: BLE001 - only the hint is lost
                self._available = []
        return list(self._available or [])

    def __str__(self) -> str:  # KeyError would repr() the message
        shown = ", ".join(self.available[:20]) or "none"
        return f"{self.args[0]} (available: {shown})"


class StoreNotFoundError(StoreError):
    """A store opened for reading only does not exist (nothing is created).

    Attributes:
        uri: the store URI (credentials redacted).
        library: the ArcticDB library name.
    """

    def __init__(self, uri: str, library: str) -> None:
        self.uri = uri
        self.library = library
        super().__init__(f"no store at {uri} (library {library!r}): check --store / QUANTKIT_ARCTIC_URI")


class SchemaError(StoreError, ValueError):
    """A frame does not match the schema the store expects."""


class StoreFullError(StoreError):
    """The store has no room (LMDB map full or disk full).

    Nothing already stored is damaged; writes resume once space is freed.

    Attributes:
        uri: the store URI (credentials redacted).
    """

    def __init__(self, uri: str, problem: str) -> None:
        self.uri = uri
        super().__init__(f"store {uri} is full: {problem}")


class DataFileError(QuantkitError, ValueError):
    """An input file cannot be read at all (unknown layout, not gzip, ...).

    Single bad rows are reported as rejected rows, not raised.

    Attributes:
        path: the file.
        line: the 1-based line number, when the problem is at a line.
    """

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class IngestError(QuantkitError):
    """The ingest thread failed or was misused."""


class AnalyticsError(QuantkitError, ValueError):
    """Bad input to an analytics function; the message names the problem."""


class BacktestError(QuantkitError, ValueError):
    """Bad backtest input or parameters; the message names the problem."""


class ReportError(QuantkitError):
    """A report could not be run."""


class ReportParameterError(ReportError, ValueError):
    """A report parameter is unknown or invalid; raised before any kernel starts.

    Attributes:
        name: the parameter.
        value: the value given.
    """

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.name = name
        self.value = value
        super().__init__(f"parameter {name}={value!r}: {problem}")


class ReportExecutionError(ReportError):
    """A report notebook failed while executing.

    Attributes:
        cell: the 0-based index of the failing cell (``None`` if unknown).
        ename: the exception name raised in the kernel.
        evalue: the exception message raised in the kernel.
        notebook: path of the partially executed notebook that was kept.
    """

    def __init__(self, cell: int | None, ename: str, evalue: str, notebook: str = "") -> None:
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        self.notebook = notebook
        where = f"cell {cell}" if cell is not None else "a cell"
        super().__init__(f"{where} raised {ename}: {evalue}")


class DashboardError(QuantkitError):
    """The dashboard could not be built or updated."""
