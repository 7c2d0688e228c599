"""Fixtures of the download tests: a local archive server on port 0, a builder of archive files, a store."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from quantkit.store import TickStore

from _support.archive_data import ArchiveBuilder
from _support.archive_server import ArchiveServer


@pytest.fixture
def archive() -> Iterator[ArchiveServer]:
    """An empty archive served on 127.0.0.1:<ephemeral>."""
    with ArchiveServer() as server:
        yield server


@pytest.fixture
def build(archive: ArchiveServer, shared_data: Path) -> ArchiveBuilder:
    """Publishes archive files made from the shared captures on ``archive``."""
    return ArchiveBuilder(archive, shared_data)


@pytest.fixture
def store(tmp_path: Path) -> TickStore:
    """A fresh LMDB store."""
    return TickStore(f"lmdb://{tmp_path / 'arctic'}")
