"""Configuration: frozen dataclasses, filled from explicit arguments or ``QUANTKIT_*`` variables.

Nothing in quantkit reads the environment except :meth:`Config.from_env` and
the ``from_env`` class methods here. Environment variables:

=============================== ================================================= ==============================
variable                        meaning                                           default
=============================== ================================================= ==============================
``QUANTKIT_DATA_DIR``           folder for the embedded store and outputs         ``~/.quantkit``
``QUANTKIT_ARCTIC_URI``         ArcticDB URI of the store (``lmdb://``, ``s3://``) ``lmdb://<data dir>/arctic``
``QUANTKIT_LIBRARY``            ArcticDB library name                             ``quantkit``
``QUANTKIT_SOURCE``             feed source: ``local``, ``binance``,              ``local``
                                ``binance-futures``
``QUANTKIT_WS_URL``             override the WebSocket base URL                   per source
``QUANTKIT_REST_URL``           override the REST base URL                        per source
``QUANTKIT_SYMBOLS``            comma-separated symbols to ingest                 the synthetic pair + control
``QUANTKIT_FLUSH_INTERVAL``     ingest flush interval, seconds                    ``0.25``
``QUANTKIT_BATCH_SIZE``         ingest flush size, ticks                          ``5000``
``QUANTKIT_QUEUE_SIZE``         ingest queue bound, ticks                         ``200000``
=============================== ================================================= ==============================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from quantkit.errors import ConfigError

__all__ = [
    "BINANCE_ENDPOINTS",
    "Config",
    "FeedConfig",
    "IngestConfig",
    "StoreConfig",
    "SYNTHETIC_SYMBOLS",
    "default_data_dir",
]

#: Symbols of the embedded synthetic market (see :mod:`quantkit.exchange.synthetic`):
#: SYNAUSDT/SYNBUSDT are cointegrated, SYNCUSDT is independent, SYNDUSDT shares a factor but is not cointegrated.
SYNTHETIC_SYMBOLS: tuple[str, ...] = ("SYNAUSDT", "SYNBUSDT", "SYNCUSDT", "SYNDUSDT")

#: Public Binance endpoints per market: (WebSocket base, REST base, REST path prefix).
BINANCE_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "spot": ("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3"),
    "futures": ("wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1"),
}

_SOURCES = ("local", "binance", "binance-futures")


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

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ConfigError("symbols", self.symbols, "at least one symbol is required")
        for s in self.symbols:
            if not s or not s.isalnum() or s.upper() != s:
                raise ConfigError("symbols", s, "symbols are upper-case letters and digits, e.g. BTCUSDT")
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
            source: ``"local"`` (the embedded exchange at ``local_url``),
                ``"binance"`` (spot) or ``"binance-futures"`` (USD-M).
            symbols: symbols to subscribe to.
            local_url: base ``http://host:port`` of the local exchange (it
                serves WebSocket and REST on one port).
            **overrides: any other :class:`FeedConfig` field.
        """
        syms = tuple(s.upper() for s in symbols)
        if source == "local":
            host = local_url.split("://", 1)[-1].rstrip("/")
            market = str(overrides.pop("market", "spot"))
            return cls(symbols=syms, ws_url=f"ws://{host}", rest_url=f"http://{host}", market=market, **overrides)  # type: ignore[arg-type]
        if source == "binance":
            ws, rest, _ = BINANCE_ENDPOINTS["spot"]
            return cls(symbols=syms, ws_url=ws, rest_url=rest, market="spot", **overrides)  # type: ignore[arg-type]
        if source == "binance-futures":
            ws, rest, _ = BINANCE_ENDPOINTS["futures"]
            return cls(symbols=syms, ws_url=ws, rest_url=rest, market="futures", **overrides)  # type: ignore[arg-type]
        raise ConfigError("source", source, f"expected one of {', '.join(_SOURCES)}")

    @property
    def rest_prefix(self) -> str:
        """REST path prefix for this market: ``/api/v3`` (spot) or ``/fapi/v1`` (futures)."""
        return BINANCE_ENDPOINTS[self.market][2]


@dataclass(frozen=True)
class IngestConfig:
    """How the ingest thread batches writes.

    Attributes:
        flush_interval: flush pending ticks at least this often, seconds.
        batch_size: flush as soon as this many ticks are pending.
        queue_size: bound of the feed -> writer queue, ticks. When full the
            feed waits (back-pressure); nothing accepted is dropped.
        maintenance_interval: seconds between extra store maintenance passes run by
            the writer; ``None`` (default): none, because the store already maintains
            itself every 200 appends or 60 s (see :class:`quantkit.store.MaintenancePolicy`).
    """

    flush_interval: float = 0.25
    batch_size: int = 5000
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
        source: ``"local"``, ``"binance"`` or ``"binance-futures"``.
        symbols: symbols to ingest.
        ingest: batching of the ingest thread.
        ws_url: override of the source's WebSocket URL (``None``: the source's own).
        rest_url: override of the source's REST URL (``None``: the source's own).
    """

    data_dir: Path
    store: StoreConfig
    source: str = "local"
    symbols: tuple[str, ...] = SYNTHETIC_SYMBOLS
    ingest: IngestConfig = field(default_factory=IngestConfig)
    ws_url: str | None = None
    rest_url: str | None = None

    def __post_init__(self) -> None:
        if self.source not in _SOURCES:
            raise ConfigError("source", self.source, f"expected one of {', '.join(_SOURCES)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        """Build the configuration from ``QUANTKIT_*`` variables (see the module docstring)."""
        env = os.environ if env is None else env
        raw_symbols = env.get("QUANTKIT_SYMBOLS", "")
        symbols = tuple(s.strip().upper() for s in raw_symbols.split(",") if s.strip()) or SYNTHETIC_SYMBOLS
        return cls(
            data_dir=default_data_dir(env),
            store=StoreConfig.from_env(env),
            source=env.get("QUANTKIT_SOURCE") or "local",
            symbols=symbols,
            ingest=IngestConfig.from_env(env),
            ws_url=env.get("QUANTKIT_WS_URL") or None,
            rest_url=env.get("QUANTKIT_REST_URL") or None,
        )

    def feed(self, *, local_url: str = "http://127.0.0.1:9443") -> FeedConfig:
        """The :class:`FeedConfig` for this configuration's source and symbols."""
        fc = FeedConfig.for_source(self.source, self.symbols, local_url=local_url)
        if self.ws_url or self.rest_url:
            fc = replace(fc, ws_url=self.ws_url or fc.ws_url, rest_url=self.rest_url or fc.rest_url)
        return fc
