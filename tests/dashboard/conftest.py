"""Fixtures for the headless live-dashboard tests.

* ``live_feed``: a real pipeline for the whole module: the local exchange serving a
  :class:`SyntheticMarket` at 20x speed, an :class:`Ingestor` writing three symbols
  into ArcticDB on LMDB in a temporary folder. Yields a :class:`LiveFeed`.
* ``comms``: the only fake: the kernel comm. Widgets created while it is active
  send their messages to a :class:`RecordingComm`, which serializes them as the
  kernel would (``jupyter_client.Session.serialize``) and records them.
* ``wait_until(predicate, timeout)``: poll a condition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import comm
import pytest
from comm.base_comm import BaseComm
from ipykernel.jsonutil import json_clean
from jupyter_client.session import Session

from _support.waiting import wait_until as _wait_until

from quantkit.config import FeedConfig, IngestConfig
from quantkit.exchange import LocalExchange, SyntheticMarket
from quantkit.ingest import Ingestor
from quantkit.store import TickStore

Y, X, C = "SYNAUSDT", "SYNBUSDT", "SYNCUSDT"


@dataclass
class Sent:
    """One comm message as the kernel would have sent it."""

    comm_id: str
    msg_type: str
    method: str | None
    keys: tuple[str, ...]
    buffers: int
    nbytes: int


@dataclass
class CommLog:
    """Every message sent by the widgets created while the fixture is active."""

    session: Session = field(default_factory=lambda: Session(key=b""))
    sent: list[Sent] = field(default_factory=list)

    def updates(self, comm_id: str | None = None) -> list[Sent]:
        """The ``update`` messages (trait changes), optionally of one widget."""
        return [s for s in self.sent if s.method == "update" and (comm_id is None or s.comm_id == comm_id)]


class RecordingComm(BaseComm):
    """A comm that serializes each message like ipykernel and records it instead of sending it."""

    log: CommLog

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any) -> None:
        data = {} if data is None else data
        content = json_clean(dict(data=data, comm_id=self.comm_id, **keys))
        msg = self.log.session.msg(msg_type, content, metadata=json_clean(metadata or {}))
        frames = self.log.session.serialize(msg)
        bufs = list(buffers or [])
        nbytes = sum(len(f) for f in frames) + sum(memoryview(b).nbytes for b in bufs)
        state = data.get("state", {}) if isinstance(data, dict) else {}
        self.log.sent.append(Sent(self.comm_id, msg_type, data.get("method") if isinstance(data, dict) else None,
                                  tuple(sorted(state)), len(bufs), nbytes))


@pytest.fixture()
def comms(monkeypatch: pytest.MonkeyPatch) -> CommLog:
    """Route new widgets' comms to a recording fake (the kernel comm is the only thing faked)."""
    log = CommLog()

    def create(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        return c

    RecordingComm.log = log
    monkeypatch.setattr(comm, "create_comm", create)
    return log


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., bool]:
    """``wait_until(predicate, timeout, interval=0.05)``: poll until true or ``timeout`` seconds pass."""
    return _wait_until


@dataclass
class LiveFeed:
    """The running pipeline of ``live_feed``."""

    uri: str
    store: TickStore
    exchange: LocalExchange
    ingestor: Ingestor
    data_dir: Path

    def stored(self, symbol: str) -> int:
        return int(self.ingestor.stats.per_symbol.get(symbol, 0))


@pytest.fixture(scope="module")
def live_feed(tmp_path_factory: pytest.TempPathFactory, timeout_unit: float) -> Iterator[LiveFeed]:
    """Local exchange (synthetic, 20x) -> Ingestor -> LMDB, running for the whole module."""
    data_dir = tmp_path_factory.mktemp("live")
    uri = f"lmdb://{data_dir / 'arctic'}"
    store = TickStore(uri)
    exchange = LocalExchange(SyntheticMarket(seed=5, speed=20.0)).start()
    # with the best bid/ask subscribed too (as `quantkit up` does): the trades must not change
    feed = FeedConfig.for_source("local", [Y, X, C], local_url=exchange.url, quotes=True)
    ingestor = Ingestor(feed, store, config=IngestConfig(flush_interval=0.1)).start()
    lf = LiveFeed(uri, store, exchange, ingestor, data_dir)
    try:
        # ~4 s of wall time = ~80 s of exchange time: enough 1 s bars to fill a 30-bar window
        assert _wait_until(lambda: lf.stored(Y) > 1500 and lf.stored(X) > 2000, 60 * timeout_unit), ingestor.stats
        yield lf
    finally:
        ingestor.stop()
        exchange.stop()
