"""Private: one ``arcticdb.Arctic`` per store URI per process, and per-symbol writer state.

LMDB must not be opened twice in one process (ArcticDB warns, and repeated opening has
crashed in the past), and notebook kernels create ``TickStore()`` again and again, so the
``Arctic`` objects live in a module-level cache keyed by (process id, normalised URI). The
process id makes a forked child open its own handle instead of using the parent's.

The writer state (trade-id high-watermark, recent versions, maintenance counters) lives next to
the cached library so that several ``TickStore`` objects on one URI in one process agree.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import arcticdb
from arcticdb.config import set_config_int

from quantkit.store._uri import DEFAULT_RELOAD_INTERVAL, default_reload_interval, normalise_uri, redact_uri

__all__ = ["Backend", "DEFAULT_RELOAD_INTERVAL", "SymbolState", "get_backend"]

log = logging.getLogger("quantkit.store")


_lock = threading.Lock()
_backends: dict[tuple[int, str], "Backend"] = {}
_reload_interval_set: list[float] = []


@dataclass
class SymbolState:
    """Writer-side cache for one symbol (only meaningful in the one writer process).

    Attributes:
        lock: serialises writes to the symbol from threads of this process.
        loaded: whether the fields below were read from storage.
        last_id: highest stored trade id (the id of the last row), -1 when empty.
        first_id: trade id of the first row, -1 when empty.
        last_time: time of the last stored row, ns since the epoch.
        last_version: latest ArcticDB version written or seen by this process.
        appends_since_maintain: appends since the last maintenance pass.
        last_maintain: ``time.monotonic()`` of the last maintenance pass (or of loading).
        market: ``"spot"``/``"futures"`` recorded for the symbol, ``None`` if never recorded.
    """

    lock: threading.RLock = field(default_factory=threading.RLock)
    loaded: bool = False
    last_id: int = -1
    first_id: int = -1
    last_time: int = -(2**63)
    last_version: int | None = None
    appends_since_maintain: int = 0
    last_maintain: float = 0.0
    market: str | None = None


class Backend:
    """A cached ``Arctic`` and its libraries for one URI in this process."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.redacted = redact_uri(uri)
        self.arctic = arcticdb.Arctic(uri)
        #: Why this process must not write to the store any more (``None``: it may). Set after an LMDB
        #: environment failed a write for lack of room or with an I/O error: ArcticDB 6.28 was measured to
        #: crash the process (SIGSEGV) on later writes to that environment, even small appends or deletes.
        self.refuse_writes: str | None = None
        self._libraries: dict[str, Any] = {}
        self._states: dict[tuple[str, str], SymbolState] = {}
        self._lock = threading.Lock()

    @property
    def is_lmdb(self) -> bool:
        """Whether this is a local LMDB store."""
        return self.uri.lower().startswith("lmdb://")

    def library(self, name: str) -> Any:
        """The library ``name``, created if missing.

        Several processes may start on an empty bucket at once (ingests sharded by symbol): if
        another one creates the library between our check and our create, ArcticDB raises
        "already exists"; the library is then simply opened.
        """
        with self._lock:
            lib = self._libraries.get(name)
            if lib is None:
                for attempt in range(5):
                    try:
                        lib = self.arctic.get_library(name, create_if_missing=True)
                        break
                    except ValueError as exc:  # created meanwhile by another process
                        if "already exists" not in str(exc) or attempt == 4:
                            raise
                        time.sleep(0.05 * (attempt + 1))
                self._libraries[name] = lib
            return lib

    def state(self, library: str, symbol: str) -> SymbolState:
        """The writer state of ``symbol`` in ``library``."""
        with self._lock:
            key = (library, symbol)
            st = self._states.get(key)
            if st is None:
                st = self._states[key] = SymbolState()
            return st

    def forget(self, library: str, symbol: str) -> None:
        """Drop the cached writer state of a symbol (after it was deleted)."""
        with self._lock:
            self._states.pop((library, symbol), None)


def _configure(reload_interval: float) -> None:
    """Set process-wide ArcticDB options once, before the first ``Arctic`` is created."""
    if _reload_interval_set:
        if _reload_interval_set[0] != reload_interval:
            log.warning(
                "VersionMap.ReloadInterval is already %.3f s in this process; ignoring %.3f s",
                _reload_interval_set[0],
                reload_interval,
            )
        return
    set_config_int("VersionMap.ReloadInterval", int(reload_interval * 1e9))  # nanoseconds
    _reload_interval_set.append(reload_interval)


def get_backend(uri: str, *, reload_interval: float | None = None) -> Backend:
    """The process-wide :class:`Backend` for ``uri`` (created on first use).

    ``reload_interval`` (seconds, ``None``: by back-end) is applied once per process, before the
    first ``Arctic`` is created; later values are ignored with a warning.
    """
    key = (os.getpid(), normalise_uri(uri))
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            _configure(default_reload_interval(uri) if reload_interval is None else reload_interval)
            backend = Backend(key[1])
            _backends[key] = backend
            log.debug("opened ArcticDB store %s", backend.redacted)
        return backend
