"""Private: the plumbing every job of the store shares.

One :class:`StoreHandle` per :class:`~quantkit.store.TickStore` object: the opened ArcticDB
library (from the process-wide :mod:`~quantkit.store._backend` cache), the per-symbol writer
state and lock, the read retry that rides out races with the writer's maintenance, and the write
guard that maps "no room" to :class:`~quantkit.errors.StoreFullError`. The job modules (ticks,
candles, records, bar cache, catalogue) all read and write through it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from arcticdb.exceptions import (
    ArcticException,
    KeyNotFoundException,
    LmdbMapFullError,
    NoDataFoundException,
    NoSuchVersionException,
)

from quantkit.config import StoreConfig
from quantkit.errors import StoreError, StoreFullError, StoreNotFoundError, SymbolNotFoundError
from quantkit.store._backend import Backend, SymbolState, get_backend
from quantkit.store._frames import CANDLE_PREFIX, RESERVED_PREFIX
from quantkit.store._uri import normalise_uri, redact_uri

__all__ = ["READ_RETRIES", "StoreHandle"]

log = logging.getLogger("quantkit.store")

#: Attempts of a read that races the writer's maintenance (KeyNotFound / NoDataFound), 2 ms apart x3 each time.
READ_RETRIES = 6
_T = TypeVar("_T")


def _require_existing(config: StoreConfig) -> None:
    """Raise :class:`StoreNotFoundError` when an LMDB store or library is missing (checked before ArcticDB
    would create the folder); other back-ends are checked after connecting (nothing is created there)."""
    if not config.uri.lower().startswith("lmdb://"):
        return
    path = Path(normalise_uri(config.uri)[len("lmdb://") :].split("?", 1)[0])
    if not (path / "_arctic_cfg").is_dir() or not (path / config.library / "data.mdb").is_file():
        raise StoreNotFoundError(redact_uri(config.uri), config.library)


class StoreHandle:
    """An opened library plus the shared read/write plumbing (see the module docstring).

    Args:
        config: URI and library.
        reload_interval: see :class:`~quantkit.store.TickStore`.
        create: create a missing store/library; ``False`` raises :class:`StoreNotFoundError`.

    Raises:
        StoreNotFoundError: ``create=False`` and the store or library does not exist.
        StoreError: the store cannot be opened.
    """

    def __init__(self, config: StoreConfig, *, reload_interval: float | None, create: bool) -> None:
        self.config = config
        #: Set by :meth:`TickStore.close`; every read and write checks it.
        self.closed = False
        if not create:
            _require_existing(config)
        try:
            self.backend: Backend = get_backend(config.uri, reload_interval=reload_interval)
            if not create and not self.backend.arctic.has_library(config.library):
                raise StoreNotFoundError(self.backend.redacted, config.library)
            self.lib: Any = self.backend.library(config.library)
        except ArcticException as exc:
            raise StoreError(f"cannot open store {redact_uri(config.uri)} library {config.library!r}: {exc}") from exc

    @property
    def uri(self) -> str:
        """The store URI with credentials redacted."""
        return self.backend.redacted

    @property
    def library(self) -> str:
        """The ArcticDB library name."""
        return self.config.library

    def check_open(self) -> None:
        """Raise :class:`StoreError` once the owning store object was closed."""
        if self.closed:
            raise StoreError(f"TickStore(uri={self.uri!r}, library={self.library!r}) is closed")

    def state(self, asym: str) -> SymbolState:
        """The process-wide writer state (and lock) of ArcticDB symbol ``asym`` in this library."""
        return self.backend.state(self.library, asym)

    def exists(self, asym: str) -> bool:
        """Whether ArcticDB symbol ``asym`` exists."""
        self.check_open()
        try:
            return bool(self.lib.has_symbol(asym))
        except ArcticException as exc:
            raise StoreError(f"{asym}: cannot check existence: {exc}") from exc

    def user_symbols(self) -> list[str]:
        """Names of stored tick and candle symbols (for "did you mean" lists; ``[]`` if listing fails)."""
        try:
            names = self.lib.list_symbols()
        except ArcticException:
            return []
        out = {n for n in names if not n.startswith(RESERVED_PREFIX)}
        out |= {n[len(CANDLE_PREFIX) :].rsplit(".", 1)[0] for n in names if n.startswith(CANDLE_PREFIX)}
        return sorted(out)

    def retry(self, symbol: str, asym: str, fn: Callable[[], _T]) -> _T:
        """Run a read, retrying races with the writer's maintenance (KeyNotFound / NoDataFound).

        ``symbol`` is the user's name of what is read (``""`` for a batch of record tables), ``asym``
        the ArcticDB symbol (or a label): a missing symbol raises :class:`SymbolNotFoundError`.
        """
        self.check_open()
        delay = 0.002
        for attempt in range(READ_RETRIES):
            try:
                return fn()
            except (KeyNotFoundException, NoDataFoundException) as exc:
                if symbol and isinstance(exc, NoSuchVersionException) and not self.lib.has_symbol(asym):
                    raise SymbolNotFoundError(symbol, self.user_symbols) from None
                if attempt == READ_RETRIES - 1:
                    raise StoreError(f"{asym}: read failed after {READ_RETRIES} attempts: {exc}") from exc
                time.sleep(delay)
                delay *= 3
            except ArcticException as exc:
                raise StoreError(f"{asym}: read failed: {exc}") from exc
        raise AssertionError("unreachable")

    def write(self, asym: str, fn: Callable[[], _T]) -> _T:
        """Run a write, mapping storage-full errors to :class:`StoreFullError`.

        After an LMDB environment failed a write for lack of room (``MDB_MAP_FULL``, disk full) or with
        an I/O error, every later write of this process to it is refused up front with
        :class:`StoreFullError` (reads keep working): with ArcticDB 6.28 such writes were measured to
        crash the process (SIGSEGV) or fail with garbage errors. A new process with room (a larger
        ``map_size``, freed disk) writes normally again.
        """
        self.check_open()
        backend = self.backend
        if backend.refuse_writes is not None:
            raise StoreFullError(self.uri, f"{asym}: write refused: {backend.refuse_writes}")
        try:
            return fn()
        except LmdbMapFullError as exc:
            self._refuse_later_writes(f"MDB_MAP_FULL ({exc})")
            raise StoreFullError(self.uri, f"{asym}: {exc}") from exc
        except ArcticException as exc:
            text = str(exc)
            if "MDB_MAP_FULL" in text or "No space left" in text or "-30792" in text:
                self._refuse_later_writes(text)
                raise StoreFullError(self.uri, f"{asym}: {text}") from exc
            if "Input/output error" in text or "MDB_PANIC" in text:
                self._refuse_later_writes(text)
            raise StoreError(f"{asym}: write failed: {text}") from exc
        except OSError as exc:
            if getattr(exc, "errno", None) == 28:
                self._refuse_later_writes(str(exc))
                raise StoreFullError(self.uri, f"{asym}: {exc}") from exc
            raise

    def _refuse_later_writes(self, why: str) -> None:
        """Stop this process from writing to an LMDB environment that failed a write (see :meth:`write`)."""
        backend = self.backend
        if not backend.is_lmdb or backend.refuse_writes is not None:
            return
        backend.refuse_writes = (
            f"an earlier write in this process failed ({why[:200]}); ArcticDB can crash writing to this LMDB "
            "environment again, so this process no longer writes to it. Reopen the store in a new process with "
            "room: a larger map_size (e.g. lmdb:///path?map_size=50GB) or free disk space"
        )
        log.error("store %s: %s", self.uri, backend.refuse_writes)

    def segments(self, asym: str) -> int:
        """Row slices of the latest version (uses ArcticDB's ``read_index``; -1 if unavailable)."""
        try:
            return int(len(self.lib._nvs.read_index(asym)))
        except Exception:  # private API: never let it break maintenance
            return -1
