"""The private helpers every layer shares: one redaction rule, atomic writes, the checkout, the thread loop, lazy exports."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import quantkit
from quantkit._files import atomic_write_text, find_checkout
from quantkit._redact import redact_uri
from quantkit._threads import ServiceThread, every
from quantkit.reports.parameters import redact_uri as report_redact
from quantkit.store._uri import redact_uri as store_redact


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("s3://h:b?access=AK&secret=SK&port=1", "s3://h:b?access=***&secret=***&port=1"),
        ("s3s://h:b?aws_secret_access_key=x&region=eu", "s3s://h:b?aws_secret_access_key=***&region=eu"),
        ("azure://AccountName=a;AccountKey=k==;Container=c", "azure://AccountName=a;AccountKey=***;Container=c"),
        ("https://me:pw@host/x?api_key=k&sas_token=t", "https://***@host/x?api_key=***&sas_token=***"),
        ("lmdb:///tmp/store?map_size=2GB", "lmdb:///tmp/store?map_size=2GB"),
    ],
)
def test_one_redaction_rule_for_the_store_and_the_reports(uri: str, shown: str) -> None:
    """The store and the reports hide credentials with the same rule (they used to differ)."""
    assert redact_uri(uri) == store_redact(uri) == report_redact(uri) == shown
    assert redact_uri(None) is None


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path: Path) -> None:
    """A write creates folders, replaces the content, and a failed write keeps the old file and no temporary."""
    path = tmp_path / "a" / "state.json"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    with pytest.raises(TypeError):
        atomic_write_text(path, 3)  # type: ignore[arg-type]
    assert path.read_text() == "two" and [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_the_checkout_is_found(repo_root: Path, tmp_path: Path) -> None:
    """The checkout with notebooks/ and jupyter_config/ is this package's, wherever the command runs."""
    assert find_checkout(tmp_path) == repo_root


def test_service_thread_runs_every_interval_and_stops(timeout_unit: float) -> None:
    """every() calls the tick repeatedly, hands errors to on_error and goes on; start/stop are idempotent."""
    calls: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def tick() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        if len(calls) >= 4:
            done.set()

    loop = ServiceThread(every(tick, 0.01, on_error=lambda e: errors.append(str(e))), name="qk-test-loop")
    assert loop.start() is loop and loop.start() is loop and loop.running
    assert done.wait(10 * timeout_unit)
    assert loop.stop(10 * timeout_unit) and not loop.running and not loop.stop()
    assert errors == ["boom"] and len(calls) >= 4
    n = len(calls)
    loop.start()
    assert loop.running
    loop.stop(10 * timeout_unit)
    assert len(calls) >= n


def test_lazy_exports_name_the_package() -> None:
    """A lazy package attribute is imported on first use; an unknown one is an AttributeError naming the package."""
    assert quantkit.run_report.__name__ == "run_report"
    with pytest.raises(AttributeError, match="'quantkit' has no attribute 'nope'"):
        quantkit.nope  # noqa: B018
