"""Configuration: frozen dataclasses, filled from explicit arguments or ``QUANTKIT_*`` variables.

Nothing in quantkit reads the environment except :meth:`Config.from_env` and
the ``from_env`` class methods here. Environment variables:

=============================== ================================================= ==============================
variable                        meaning                                           default
=============================== ================================================= ==============================
``QUANTKIT_DATA_DIR``           folder for the embedded store and outputs         ``~/.quantkit``
``QUANTKIT_ARCTIC_URI``         ArcticDB URI of the store (``lmdb://``, ``s3://``) ``lmdb://<data dir>/arctic``
``QUANTKIT_LIBRARY``            ArcticDB library name                             ``quantkit``
``QUANTKIT_SOURCE``             feed source, as ``--source`` (:data:`SOURCES`)    ``synthetic``
``QUANTKIT_WS_URL``             WebSocket base URL of ``binance``/``binance-``    Binance's
                                ``futures`` (e.g. a testnet or a proxy)
``QUANTKIT_REST_URL``           REST base URL of ``binance``/``binance-futures``  Binance's
``QUANTKIT_SYMBOLS``            comma-separated symbols to ingest (``--symbols``)  the source's own
``QUANTKIT_FLUSH_INTERVAL``     ingest flush interval, seconds                    ``0.25``
``QUANTKIT_BATCH_SIZE``         ingest flush size, ticks                          ``50000``
``QUANTKIT_QUEUE_SIZE``         ingest queue bound, ticks                         ``200000``
``QUANTKIT_VIEWER_TIMEOUT``     seconds without a browser heartbeat before a      ``15``
                                read-only page stops publishing
=============================== ================================================= ==============================

**One source vocabulary.** ``--source`` of every command and ``QUANTKIT_SOURCE`` take the same
values (:func:`parse_source`): ``synthetic`` (the local exchange's synthetic market; ``local`` is
accepted as another name for it), ``replay:PATH[,PATH...]`` (the local exchange replaying recorded
files), ``binance`` (live spot) and ``binance-futures`` (live USD-M). A command that cannot serve a
value says so in one line (``quantkit exchange`` serves only the local sources).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from quantkit.errors import ConfigError
from quantkit.symbols import parse_symbol

__all__ = [
    "BINANCE_ENDPOINTS",
    "Config",
    "FeedConfig",
    "IngestConfig",
    "LOCAL_STATUS_PATH",
    "StoreConfig",
    "LIVE_SOURCES",
    "SOURCES",
    "SYNTHETIC_SYMBOLS",
    "default_data_dir",
    "is_local_source",
    "parse_source",
    "source_from_env",
    "symbols_from_env",
    "viewer_timeout_from_env",
]

#: Symbols of the embedded synthetic market (see :mod:`quantkit.exchange.synthetic`):
#: SYNAUSDT/SYNBUSDT are cointegrated, SYNCUSDT is independent, SYNDUSDT shares a factor but is not cointegrated.
SYNTHETIC_SYMBOLS: tuple[str, ...] = ("SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT")

#: Public Binance endpoints per market: (WebSocket base, REST base, REST path prefix).
BINANCE_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "spot": ("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3"),
    "futures": ("wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1"),
}

#: The local exchange's status endpoint, a quantkit extension that Binance does not have: JSON with
#: ``market``, ``symbols``, ``finite``, ``done``, ``published`` and per symbol ``first_ids``, ``last_ids``,
#: ``counts`` (see :meth:`quantkit.exchange.LocalExchange.status`). Clients ask it only of a local exchange.
LOCAL_STATUS_PATH = "/quantkit/v1/status"

#: The values of ``--source`` and ``QUANTKIT_SOURCE``, in every command (``replay:`` takes paths).
SOURCES: tuple[str, ...] = ("synthetic", "replay:PATH[,PATH...]", "binance", "binance-futures")
#: The sources that are live Binance endpoints (the others run on quantkit's local exchange).
LIVE_SOURCES: tuple[str, ...] = ("binance", "binance-futures")
_LOCAL_ALIASES = ("local",)
_DEFAULT_VIEWER_TIMEOUT_S = 15.0


def parse_source(raw: str, name: str = "source") -> str:
    """The canonical spelling of a source (see the module docstring), for ``--source`` and ``QUANTKIT_SOURCE``.

    Args:
        raw: ``synthetic`` (or ``local``), ``replay:PATH[,PATH...]``, ``binance`` or ``binance-futures``.
        name: what to call the value in an error (``--source``, ``QUANTKIT_SOURCE``).

    Returns:
        ``"synthetic"``, ``"replay:<paths>"`` (paths stripped, none empty), ``"binance"`` or
        ``"binance-futures"``.

    Raises:
        ConfigError: anything else (the message names the value and lists the accepted ones).

    Examples:
        >>> parse_source("local"), parse_source(" Binance ")
        ('synthetic', 'binance')
    """
    text = str(raw).strip()
    low = text.lower()
    if low in ("synthetic", *_LOCAL_ALIASES):
        return "synthetic"
    if low in LIVE_SOURCES:
        return low
    if low.startswith("replay:"):
        paths = [p.strip() for p in text[len("replay:") :].split(",")]
        if not paths or not all(paths):
            raise ConfigError(name, raw, "replay needs file paths: replay:PATH[,PATH...]")
        return "replay:" + ",".join(paths)
    raise ConfigError(name, raw, f"expected one of {', '.join(SOURCES)}")


def is_local_source(source: str) -> bool:
    """Whether a (parsed) source runs on quantkit's local exchange (``synthetic`` or ``replay:...``)."""
    return source not in LIVE_SOURCES


def source_from_env(env: Mapping[str, str] | None = None) -> str:
    """``QUANTKIT_SOURCE`` parsed with :func:`parse_source`; ``"synthetic"`` when unset."""
    env = os.environ if env is None else env
    raw = env.get("QUANTKIT_SOURCE", "")
    return parse_source(raw, "QUANTKIT_SOURCE") if raw.strip() else "synthetic"


def symbols_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
    """``QUANTKIT_SYMBOLS`` as symbols (:func:`quantkit.symbols.parse_symbols`); ``None`` when unset
    (the source's own symbols apply).

    Raises:
        ConfigError: a name that is not a symbol.
    """
    from quantkit.symbols import parse_symbols

    env = os.environ if env is None else env
    raw = env.get("QUANTKIT_SYMBOLS", "")
    try:
        return parse_symbols(raw) or None
    except ValueError as exc:
        raise ConfigError("QUANTKIT_SYMBOLS", raw, str(exc)) from None


def viewer_timeout_from_env(env: Mapping[str, str] | None = None) -> float:
    """``QUANTKIT_VIEWER_TIMEOUT`` in seconds (default 15): a read-only page without a browser heartbeat
    for this long stops publishing.

    Raises:
        ConfigError: the variable is not a positive number (the message names it).
    """
    env = os.environ if env is None else env
    raw = env.get("QUANTKIT_VIEWER_TIMEOUT", "")
    if raw.strip() == "":
        return _DEFAULT_VIEWER_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError("QUANTKIT_VIEWER_TIMEOUT", raw, "expected seconds, e.g. 15") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError("QUANTKIT_VIEWER_TIMEOUT", raw, "must be > 0 seconds")
    return value


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The data folder: ``QUANTKIT_DATA_DIR`` or ``~/.quantkit``."""
    env = os.environ if env is None else env
    raw = env.get("QUANTKIT_DATA_DIR")
    return Path(raw).expanduser() if raw else Path.home() / ".quantkit"


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, raw, "expected a number") from None
    if not value > minimum:
        raise ConfigError(name, raw, f"must be > {minimum}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, raw, "expected an integer") from None
    if value < minimum:
        raise ConfigError(name, raw, f"must be >= {minimum}")
    return value


@dataclass(frozen=True)
class StoreConfig:
    """Where ticks live.

    Attributes:
        uri: ArcticDB URI, e.g. ``lmdb:///home/me/.quantkit/arctic`` or
            ``s3://host:bucket?access=..&secret=..&port=..``. Never logged with credentials.
        library: ArcticDB library name holding quantkit's symbols.
    """

    uri: str
    library: str = "quantkit"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "StoreConfig":
        """Read ``QUANTKIT_ARCTIC_URI``, ``QUANTKIT_LIBRARY`` and ``QUANTKIT_DATA_DIR``."""
        env = os.environ if env is None else env
        uri = env.get("QUANTKIT_ARCTIC_URI") or f"lmdb://{default_data_dir(env) / 'arctic'}"
        library = env.get("QUANTKIT_LIBRARY") or "quantkit"
        return cls(uri=uri, library=library)

    def __post_init__(self) -> None:
        if "://" not in self.uri:
            raise ConfigError("uri", self.uri, "expected an ArcticDB URI such as lmdb:///path or s3://host:bucket")
        if not self.library:
            raise ConfigError("library", self.library, "must not be empty")


@dataclass(frozen=True)
class FeedConfig:
    """What to subscribe to and where.

    Attributes:
        symbols: upper-case symbols, e.g. ``("BTCUSDT", "ETHUSDT")``.
        ws_url: WebSocket base URL, without path (``ws://127.0.0.1:9443`` or
            ``wss://stream.binance.com:9443``). The client appends ``/stream?streams=...``.
        rest_url: REST base URL without path, for backfill.
        market: ``"spot"`` or ``"futures"`` (USD-M); selects REST paths and message shapes.
        stream: ``"trade"`` or ``"aggTrade"``.
        open_timeout: seconds to wait for the WebSocket handshake.
        backoff_initial: first reconnect delay, seconds.
        backoff_max: cap of the reconnect delay, seconds.
        backoff_factor: multiplier of the delay after each failed attempt.
        max_connection_age: reconnect proactively after this many seconds
            (Binance cuts connections at 24 h); ``None`` disables.
        ping_interval: client keep-alive ping interval, seconds; ``None`` disables.
        ping_timeout: seconds to wait for the pong before treating the connection as dead.
        quotes: also subscribe ``<symbol>@bookTicker`` on the same connection and keep each
            symbol's best bid and ask (the trades are unchanged; default False).
    """

    symbols: tuple[str, ...]
    ws_url: str
    rest_url: str
    market: str = "spot"
    stream: str = "trade"
    open_timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_factor: float = 2.0
    max_connection_age: float | None = 23.5 * 3600
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    quotes: bool = False

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ConfigError("symbols", self.symbols, "at least one symbol is required")
        for s in self.symbols:
            try:
                sym = parse_symbol(s)
            except ValueError as exc:
                raise ConfigError("symbols", s, str(exc)) from None
            if sym.name != s or sym.stream is not None or sym.exchange_symbol != s:
                raise ConfigError("symbols", s, "the feed subscribes exchange names, upper-case (e.g. BTCUSDT); "
                                  f"the USD-M perpetual {sym.name} is {sym.exchange_symbol} on the futures source")
        if self.market not in ("spot", "futures"):
            raise ConfigError("market", self.market, "expected 'spot' or 'futures'")
        if self.stream not in ("trade", "aggTrade"):
            raise ConfigError("stream", self.stream, "expected 'trade' or 'aggTrade'")
        if not self.ws_url.startswith(("ws://", "wss://")):
            raise ConfigError("ws_url", self.ws_url, "expected a ws:// or wss:// URL")
        if not self.rest_url.startswith(("http://", "https://")):
            raise ConfigError("rest_url", self.rest_url, "expected an http:// or https:// URL")

    @classmethod
    def for_source(
        cls,
        source: str,
        symbols: tuple[str, ...] | list[str],
        *,
        local_url: str = "http://127.0.0.1:9443",
        **overrides: object,
    ) -> "FeedConfig":
        """The feed for a named source; only the URLs differ between them.

        Args:
            source: a source of :data:`SOURCES` (``"synthetic"``, ``"replay:..."`` or ``"local"``: the
                embedded exchange at ``local_url``), ``"binance"`` (spot) or ``"binance-futures"`` (USD-M).
            symbols: symbols to subscribe to.
            local_url: base ``http://host:port`` of the local exchange (it
                serves WebSocket and REST on one port).
            **overrides: any other :class:`FeedConfig` field.
        """
        syms = tuple(s.upper() for s in symbols)
        source = parse_source(source)
        if is_local_source(source):
            host = local_url.split("://", 1)[-1].rstrip("/")
            market = str(overrides.pop("market", "spot"))
            return cls(symbols=syms, ws_url=f"ws://{host}", rest_url=f"http://{host}", market=market, **overrides)  # type: ignore[arg-type]
        if source == "binance":
            ws, rest, _ = BINANCE_ENDPOINTS["spot"]
            return cls(symbols=syms, ws_url=ws, rest_url=rest, market="spot", **overrides)  # type: ignore[arg-type]
        if source == "binance-futures":
            ws, rest, _ = BINANCE_ENDPOINTS["futures"]
            return cls(symbols=syms, ws_url=ws, rest_url=rest, market="futures", **overrides)  # type: ignore[arg-type]
        raise AssertionError(source)  # parse_source accepts nothing else

    @property
    def rest_prefix(self) -> str:
        """REST path prefix for this market: ``/api/v3`` (spot) or ``/fapi/v1`` (futures)."""
        return BINANCE_ENDPOINTS[self.market][2]


@dataclass(frozen=True)
class IngestConfig:
    """How the ingest thread batches writes.

    Attributes:
        flush_interval: flush pending ticks at least this often, seconds.
        batch_size: flush as soon as this many ticks are pending (else every ``flush_interval``).
            Each store append costs ~2-3 ms whatever its size, so at high rates larger batches
            cost less CPU per tick (issue 16: 5,000 cost ~1 us more per tick than 50,000).
        queue_size: bound of the feed -> writer queue, ticks. When full the
            feed waits (back-pressure); nothing accepted is dropped.
        maintenance_interval: seconds between extra store maintenance passes run by
            the writer; ``None`` (default): none, because the store already maintains
            itself every 200 appends or 60 s (see :class:`quantkit.store.MaintenancePolicy`).
    """

    flush_interval: float = 0.25
    batch_size: int = 50_000
    queue_size: int = 200_000
    maintenance_interval: float | None = None

    def __post_init__(self) -> None:
        if not self.flush_interval > 0:
            raise ConfigError("flush_interval", self.flush_interval, "must be > 0 seconds")
        if self.batch_size < 1:
            raise ConfigError("batch_size", self.batch_size, "must be >= 1")
        if self.queue_size < self.batch_size:
            raise ConfigError("queue_size", self.queue_size, "must be >= batch_size")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "IngestConfig":
        """Read ``QUANTKIT_FLUSH_INTERVAL``, ``QUANTKIT_BATCH_SIZE``, ``QUANTKIT_QUEUE_SIZE``."""
        env = os.environ if env is None else env
        d = cls()
        return cls(
            flush_interval=_float(env, "QUANTKIT_FLUSH_INTERVAL", d.flush_interval),
            batch_size=_int(env, "QUANTKIT_BATCH_SIZE", d.batch_size),
            queue_size=_int(env, "QUANTKIT_QUEUE_SIZE", d.queue_size),
        )


@dataclass(frozen=True)
class Config:
    """Everything a quantkit process needs, in one object.

    Attributes:
        data_dir: folder for the embedded store, reports and logs.
        store: where ticks live.
        source: a source of :data:`SOURCES`, canonical (``"synthetic"``, ``"replay:..."``, ``"binance"``,
            ``"binance-futures"``; ``"local"`` is read as ``"synthetic"``).
        symbols: symbols to ingest.
        ingest: batching of the ingest thread.
        ws_url: override of the source's WebSocket URL (``None``: the source's own).
        rest_url: override of the source's REST URL (``None``: the source's own).
    """

    data_dir: Path
    store: StoreConfig
    source: str = "synthetic"
    symbols: tuple[str, ...] = SYNTHETIC_SYMBOLS
    ingest: IngestConfig = field(default_factory=IngestConfig)
    ws_url: str | None = None
    rest_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", parse_source(self.source))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        """Build the configuration from ``QUANTKIT_*`` variables (see the module docstring)."""
        env = os.environ if env is None else env
        return cls(
            data_dir=default_data_dir(env),
            store=StoreConfig.from_env(env),
            source=source_from_env(env),
            symbols=symbols_from_env(env) or SYNTHETIC_SYMBOLS,
            ingest=IngestConfig.from_env(env),
            ws_url=env.get("QUANTKIT_WS_URL") or None,
            rest_url=env.get("QUANTKIT_REST_URL") or None,
        )

    def feed(
        self, *, local_url: str = "http://127.0.0.1:9443", symbols: tuple[str, ...] | None = None, **overrides: object
    ) -> FeedConfig:
        """The :class:`FeedConfig` for this configuration's source and symbols.

        Args:
            local_url: ``http://host:port`` of the local exchange (``synthetic`` / ``replay:`` sources).
            symbols: subscribe to these instead of :attr:`symbols`.
            **overrides: other :class:`FeedConfig` fields (e.g. ``market`` of a local exchange).

        ``ws_url``/``rest_url`` (``QUANTKIT_WS_URL``/``QUANTKIT_REST_URL``) replace the URLs of the live
        sources; a local exchange is always reached at ``local_url``.
        """
        fc = FeedConfig.for_source(self.source, symbols or self.symbols, local_url=local_url, **overrides)
        if not is_local_source(self.source) and (self.ws_url or self.rest_url):
            fc = replace(fc, ws_url=self.ws_url or fc.ws_url, rest_url=self.rest_url or fc.rest_url)
        return fc
