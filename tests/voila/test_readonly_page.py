"""The read-only page without a browser: real stores (LMDB, S3 on a moto server), widgets on ipywidgets' dummy comm.

Viewer messages are delivered the way the kernel delivers them (``widget.comm.handle_msg``),
so the :class:`CommGuard` and every observer behind it run exactly as in a Voila kernel.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from voila_helpers import SYMBOLS, free_port, wait_until

from quantkit.config import StoreConfig
from quantkit.dashboard.readonly import (
    CommGuard,
    ReadOnlyDashboard,
    StoreNotReady,
    open_store_readonly,
    viewer_timeout_from_env,
    widget_tree,
)
from quantkit.exchange import SyntheticMarket
from quantkit.store import TickStore

ACCESS, SECRET = "AKQKCANARY", "SKQKCANARYSECRET"


def _send(widget: Any, data: dict[str, Any]) -> None:
    """Deliver a browser message to a widget as the kernel would."""
    widget.comm.handle_msg({"content": {"comm_id": widget.comm.comm_id, "data": data}, "buffers": []})


def _update(widget: Any, **state: Any) -> None:
    _send(widget, {"method": "update", "state": state, "buffer_paths": []})


def _all_state(page: ReadOnlyDashboard) -> str:
    return json.dumps([w.get_state() for w in widget_tree(page.widget)], default=lambda o: "<binary>")


def _versions(store: TickStore) -> dict[str, list[int]]:
    """Every symbol of the library (ticks, candles, alert history...) with its versions."""
    lib = store.raw_library
    return {s: sorted(k.version for k in lib.list_versions(s)) for s in sorted(lib.list_symbols())}


@pytest.fixture()
def page(static_store: TickStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReadOnlyDashboard]:
    """A grid page over the static store (publishers not started: cycles are run by the test)."""
    monkeypatch.setenv("QUANTKIT_DATA_DIR", str(tmp_path))
    p = ReadOnlyDashboard(static_store, layout="grid", viewer_timeout_s=5)
    yield p
    p.stop()


def test_viewer_messages_pass_only_through_view_controls(page: ReadOnlyDashboard) -> None:
    """Unknown widgets and traits are dropped, refused values are ignored and shown, valid view changes apply."""
    assert page.dash is None and page.grid is not None  # the full view is built when first opened
    _update(page.tabs, selected_index=1)
    assert page.dash is not None and page.tabs.children[1] is page.dash.widget
    page.grid.refresh()
    page.dash.step()
    ctl = page.dash.view.controls
    y_before = page.dash.params.y
    # a view control the page allows: a valid choice applies
    _update(ctl["bar"], index=1)
    page.dash.step()
    assert page.dash.params.bar == "1m"
    # refused by the widget itself (index out of range): ignored, shown, the real value sent back
    _update(ctl["bar"], index=99)
    assert page.dash.params.bar == "1m" and "invalid value for bar" in page.notice.value
    # clamped by the widget, then refused by the parameters (beyond the history): shown in the status panel
    _update(ctl["window"], value=10**12)
    page.dash.step()
    assert page.dash.params.window == 120 and ctl["window"].value == 120
    assert "rejected window=" in page.dash.view.status.value
    # not a view control, not a view trait, not a widget a viewer may touch
    _update(ctl["method"], index=2)
    _update(ctl["bar"], disabled=True)
    _update(page.dash.view.status, value="<b>pwned</b>")
    _send(ctl["export"], {"method": "custom", "content": {"event": "click"}})
    _send(page.dash.view.figures["prices"], {"method": "update", "state": {"title": "pwned"}, "buffer_paths": []})
    page.dash.step()
    assert page.dash.params.method == "ols" and not ctl["bar"].disabled
    assert "pwned" not in page.dash.view.status.value and page.dash.view.figures["prices"].title != "pwned"
    assert page.guard.rejected >= 6
    assert page.dash.params.y == y_before and page.dash.last_export is None
    # malformed messages never raise
    page.dash.view.controls["y"].comm.handle_msg({"content": {}})
    _send(ctl["y"], {"method": "nonsense"})
    _send(ctl["y"], {"method": "update", "state": "not a dict"})


def test_one_click_opens_a_pair_and_unknown_symbols_are_refused(page: ReadOnlyDashboard) -> None:
    """A tile's button opens its pair in the full view; a pair of unknown symbols is refused and said so."""
    assert page.grid is not None and page.tabs is not None
    page.grid.refresh()
    slot = next(i for i, pair in enumerate(page.grid.pairs) if pair == ("SYNBUSDT", "SYNCUSDT"))
    assert "z " in page.grid.bodies[slot].value and "streaming" in page.grid.bodies[slot].value
    _send(page.grid.buttons[slot], {"method": "custom", "content": {"event": "click"}})
    assert page.dash is not None
    page.dash.step()
    assert (page.dash.params.y, page.dash.params.x) == ("SYNBUSDT", "SYNCUSDT") and page.tabs.selected_index == 1
    page.open_pair("ZZZUSDT", "SYNAUSDT")
    assert "unknown symbol ZZZUSDT" in page.notice.value and page.dash.params.y == "SYNBUSDT"
    page.open_pair("SYNAUSDT", "SYNAUSDT")
    assert "must differ" in page.notice.value


def test_the_page_never_writes_to_the_store_or_the_disk(page: ReadOnlyDashboard, static_store: TickStore,
                                                        tmp_path: Path) -> None:
    """Cycles, clicks and control changes leave every stored symbol's versions and the data folder untouched."""
    before = _versions(static_store)
    page.full_view()
    assert page.dash is not None and page.grid is not None
    files_before = sorted(p.name for p in tmp_path.iterdir())
    page.dash.step()  # the publisher's first cycle (it runs as soon as the page starts)
    for i in range(3):
        page.grid.refresh()
        _send(page.grid.buttons[i], {"method": "custom", "content": {"event": "click"}})
        _update(page.dash.view.controls["bar"], index=i % 3)
        page.dash.step()
    _send(page.dash.view.controls["export"], {"method": "custom", "content": {"event": "click"}})
    page.dash.step()
    assert page.dash.monitor is not None and not page.dash.monitor.persist
    assert _versions(static_store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before


def test_a_missing_lmdb_store_is_not_created(tmp_path: Path) -> None:
    """A store that does not exist yet gives a 'no data yet' page and no folder, and the page starts nothing."""
    where = tmp_path / "nowhere"
    with pytest.raises(StoreNotReady):
        open_store_readonly(StoreConfig(uri=f"lmdb://{where}"))
    p = ReadOnlyDashboard(StoreConfig(uri=f"lmdb://{where}"), viewer_timeout_s=5).start()
    try:
        assert p.dash is None and not p.publishing
        assert "No market data yet" in _all_state(p)
        assert not where.exists()
    finally:
        p.stop()


def test_grid_marks_unknown_pairs_and_validates_its_arguments(static_store: TickStore) -> None:
    """Configured pairs with unknown symbols show 'unknown symbol'; malformed pairs and sizes are ValueErrors."""
    p = ReadOnlyDashboard(static_store, pairs=["SYNAUSDT/SYNBUSDT", "NOPEUSDT/SYNAUSDT"], viewer_timeout_s=5)
    assert p.grid is not None
    p.grid.refresh()
    assert "z " in p.grid.bodies[0].value and "unknown symbol NOPEUSDT" in p.grid.bodies[1].value
    assert p.grid.tiles[2].layout.display == "none"
    for bad in ({"pairs": ["SYNAUSDT"]}, {"pairs": ["A/A"]}, {"layout": "mosaic"}, {"max_tiles": 0},
                {"window": 10**9}, {"bar": "7s"}):  # fmt: skip
        with pytest.raises(ValueError):
            ReadOnlyDashboard(static_store, viewer_timeout_s=5, **bad)
    with pytest.raises(ValueError):
        ReadOnlyDashboard("lmdb:///tmp/x")  # type: ignore[arg-type]


def test_viewer_timeout_comes_from_the_environment() -> None:
    """QUANTKIT_VIEWER_TIMEOUT sets the lease (default 15 s); junk is a ValueError naming the variable."""
    assert viewer_timeout_from_env({}) == 15.0
    assert viewer_timeout_from_env({"QUANTKIT_VIEWER_TIMEOUT": "4.5"}) == 4.5
    for junk in ("abc", "0", "-3", "inf"):
        with pytest.raises(ValueError, match="QUANTKIT_VIEWER_TIMEOUT"):
            viewer_timeout_from_env({"QUANTKIT_VIEWER_TIMEOUT": junk})


def test_comm_guard_wraps_every_widget_in_the_tree(page: ReadOnlyDashboard) -> None:
    """Every widget of the page (layouts, styles, marks, scales included) has the guard's handler."""
    page.full_view()
    tree = widget_tree(page.widget)
    assert len(tree) > 100 and page.guard.installed == len(tree)
    guard = CommGuard(page.widget)
    assert guard.install() == len(tree)


# ---------------------------------------------------------------------------------------------- S3 credentials
@pytest.fixture(scope="module")
def s3_uri(tmp_path_factory: pytest.TempPathFactory, timeout_unit: float) -> Iterator[str]:
    """A moto S3 server (own process) holding two minutes of synthetic ticks; the URI carries access and secret keys."""
    import boto3

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return True
            except OSError:
                return False

        assert wait_until(up, 30 * timeout_unit)
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=ACCESS,
                     aws_secret_access_key=SECRET, region_name="us-east-1").create_bucket(Bucket="ticks")  # fmt: skip
        uri = f"s3://127.0.0.1:ticks?access={ACCESS}&secret={SECRET}&port={port}"
        store = TickStore(uri)
        start = int(time.time() * 1000) - 120_000
        for sym, frame in SyntheticMarket(seed=3).generate(120.0, start_ms=start).items():
            if sym in SYMBOLS[:3]:
                store.append_ticks(sym, frame.drop(columns=["event_time"], errors="ignore"))
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_store_credentials_never_reach_widget_state(s3_uri: str) -> None:
    """With an s3:// URI holding access and secret keys, no widget state ever contains either key."""
    p = ReadOnlyDashboard(StoreConfig(uri=s3_uri), viewer_timeout_s=5)
    p.full_view()
    assert p.dash is not None and p.grid is not None
    p.grid.refresh()
    for _ in range(3):
        p.dash.step()
    assert p.dash.monitor is not None and p.dash.monitor.tracker.n > 0  # it did read the store
    p.open_pair("SYNBUSDT", "SYNCUSDT")
    p.dash.step()
    state = _all_state(p)
    assert ACCESS not in state and SECRET not in state and "s3://" not in state


def test_an_unavailable_store_is_shown_without_details(s3_uri: str) -> None:
    """A store that cannot be opened (no such bucket) shows its exception type only: no URI, no keys."""
    p = ReadOnlyDashboard(StoreConfig(uri=s3_uri.replace("s3://127.0.0.1:ticks", "s3://127.0.0.1:nobucket")),
                          viewer_timeout_s=5)  # fmt: skip
    state = _all_state(p)
    assert p.dash is None and "unavailable" in state
    assert ACCESS not in state and SECRET not in state and "nobucket" not in state
