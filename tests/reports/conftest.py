"""Fixtures of the report tests: a real LMDB store holding the shared Bybit candles, and HTML readers.

* ``report_store``: (uri, library) of a session-wide LMDB store in a tmp folder, filled with
  ``quantkit.store.import_files`` from the ``shared_data`` Bybit 1-minute candles (4 symbols).
* ``read_tables``: ``read_tables(html) -> {table id: {row label: {column: cell text}}}`` for the
  report's ``qk-*`` tables.
* ``kernel_processes``: ``kernel_processes() -> set of pids`` of ipykernel processes that are
  children of this test process (to check that no kernel was started).
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

import pytest

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT")
LIBRARY = "reports_test"


@pytest.fixture(scope="session")
def report_store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[str, str]:
    """A real LMDB store with the Bybit 1m candles of BTC, ETH, SOL and ADA imported."""
    from quantkit.config import StoreConfig
    from quantkit.store import TickStore, import_files

    folder = tmp_path_factory.mktemp("report-store")
    uri = f"lmdb://{folder / 'arctic'}"
    store = TickStore(config=StoreConfig(uri=uri, library=LIBRARY))
    files = [shared_data / "bybit_linear_klines_2025-04_2025-07_crypto_backtester" / "1m" / f"{s}_1m.csv.gz" for s in SYMBOLS]
    import_files(store, files, progress=False)
    return uri, LIBRARY


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and (a.get("id") or "").startswith("qk-"):
            self._table = str(a["id"])
            self.tables[self._table] = []
        elif self._table and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_tables(html: str) -> dict[str, dict[str, dict[str, str]]]:
    """{table id: {row label: {column header: text}}} of every ``qk-*`` table."""
    p = _Tables()
    p.feed(html)
    out: dict[str, dict[str, dict[str, str]]] = {}
    for tid, rows in p.tables.items():
        if not rows:
            continue
        head = rows[0]
        out[tid] = {r[0]: dict(zip(head[1:], r[1:])) for r in rows[1:] if r}
    return out


@pytest.fixture(scope="session")
def read_tables() -> Callable[[str], dict[str, dict[str, dict[str, str]]]]:
    """The HTML table reader (see the module docstring)."""
    return parse_tables


def _children_kernels() -> set[int]:
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if "ipykernel" in cmd:
            found.add(int(entry))
    return found


@pytest.fixture()
def kernel_processes() -> Callable[[], set[int]]:
    """Lists this process's ipykernel children."""
    return _children_kernels
