"""The output folder's index: every report run with its parameters and status.

Layout of an output folder::

    <out>/index.json                 every run (newest last), the source of truth
    <out>/index.html                 the same as a static page (no script, no network)
    <out>/<YYYY-MM-DD>/<slug>_<HHMMSS>/report.ipynb   executed (or partial) notebook
    <out>/<YYYY-MM-DD>/<slug>_<HHMMSS>/report.html    the report without code cells

Runs are added as ``running`` when they start and updated when they end, under a
file lock (``<out>/.index.lock``), so parallel workers and separate processes can
share one folder. A run killed mid-way stays ``running`` in the index.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from quantkit._files import atomic_write_text

from ._locks import FileLock

__all__ = ["ReportIndex", "ReportRun", "STATUSES", "default_out_dir", "utc_now"]

#: Run states in the index.
STATUSES: tuple[str, ...] = ("running", "ok", "failed")


@dataclass(frozen=True)
class ReportRun:
    """One report run as the index records it.

    Attributes:
        id: the run folder relative to the output folder (``"2025-06-29/ETHUSDT-BTCUSDT_..._061502"``).
        kind: the report kind (``"pair"``).
        label: short human label (pair, bar size, range).
        parameters: the parameter values (store credentials masked).
        status: ``"running"``, ``"ok"`` or ``"failed"``.
        started: ISO UTC time the run started.
        finished: ISO UTC time it ended (None while running).
        duration_s: seconds from start to end (None while running).
        notebook: executed notebook, relative to the output folder (kept when a cell failed).
        html: HTML report, relative to the output folder (None if it could not be written).
        error: for a failed run: ``cell`` (0-based index in the executed notebook), ``section``
            (the heading above it), ``ename``, ``evalue``.
        job: the schedule job that ran it (None for a manual run).
        scheduled_for: the due time of a scheduled run (ISO UTC).
    """

    id: str
    kind: str
    label: str
    parameters: dict[str, Any]
    status: str
    started: str
    finished: str | None = None
    duration_s: float | None = None
    notebook: str | None = None
    html: str | None = None
    error: dict[str, Any] | None = None
    job: str | None = None
    scheduled_for: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the run finished without error."""
        return self.status == "ok"

    def error_line(self) -> str:
        """One line naming the failing cell and the error ("" when the run did not fail)."""
        e = self.error or {}
        if not e:
            return ""
        where = f"cell {e.get('cell')}" if e.get("cell") is not None else "a cell"
        if e.get("section"):
            where += f" ({e['section']})"
        evalue = " ".join(str(e.get("evalue", "")).split())  # one line, whatever the exception said
        return f"{where} raised {e.get('ename', 'Error')}: {evalue}".strip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReportRun":
        """Inverse of :meth:`to_dict` (unknown keys kept in ``extra``)."""
        names = set(cls.__dataclass_fields__)
        known = {k: v for k, v in d.items() if k in names}
        extra = {k: v for k, v in d.items() if k not in names}
        if extra:
            known["extra"] = {**known.get("extra", {}), **extra}
        return cls(**known)


def default_out_dir() -> Path:
    """``<QUANTKIT_DATA_DIR or ~/.quantkit>/reports``."""
    from quantkit.config import default_data_dir

    return default_data_dir() / "reports"


def utc_now() -> dt.datetime:
    """The current time, UTC-aware."""
    return dt.datetime.now(dt.timezone.utc)


class ReportIndex:
    """The index of an output folder (see the module docstring).

    Args:
        root: the output folder (created if missing).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.json_path = self.root / "index.json"
        self.html_path = self.root / "index.html"
        self._lock = self.root / ".index.lock"

    def runs(self) -> list[ReportRun]:
        """Every recorded run, oldest first."""
        if not self.json_path.exists():
            return []
        data = json.loads(self.json_path.read_text(encoding="utf-8"))
        return [ReportRun.from_dict(d) for d in data.get("runs", [])]

    def get(self, run_id: str) -> ReportRun | None:
        """The run with this id, or None."""
        return next((r for r in self.runs() if r.id == run_id), None)

    def record(self, run: ReportRun) -> ReportRun:
        """Add ``run`` or replace the run with the same id; rewrite index.json and index.html."""
        with FileLock(self._lock):
            runs = [r for r in self.runs() if r.id != run.id]
            runs.append(run)
            runs.sort(key=lambda r: (r.started, r.id))
            payload = {"version": 1, "updated": utc_now().isoformat(timespec="seconds"), "runs": [r.to_dict() for r in runs]}
            atomic_write_text(self.json_path, json.dumps(payload, indent=1, default=str))
            atomic_write_text(self.html_path, render_index(runs))
        return run

    def finish(self, run: ReportRun, **changes: Any) -> ReportRun:
        """Record ``run`` with ``changes`` applied (status, finished, error, ...)."""
        return self.record(replace(run, **changes))


_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; text-align: left; }
thead th { background: #f0f0f0; }
td.ok { color: #176f2c; font-weight: bold; }
td.failed { color: #b00020; font-weight: bold; }
td.running { color: #8a6d00; font-weight: bold; }
.params { font-family: monospace; font-size: 11px; color: #444; }
.error { color: #b00020; font-family: monospace; font-size: 12px; }
"""


def render_index(runs: list[ReportRun]) -> str:
    """The index page: one row per run, newest first; links are relative to the output folder."""
    rows = []
    for r in sorted(runs, key=lambda r: (r.started, r.id), reverse=True):
        links = []
        if r.html:
            links.append(f'<a href="{html.escape(r.html)}">report</a>')
        if r.notebook:
            links.append(f'<a href="{html.escape(r.notebook)}">notebook</a>')
        params = ", ".join(f"{k}={v}" for k, v in r.parameters.items() if v is not None)
        err = f'<div class="error">{html.escape(r.error_line())}</div>' if r.error else ""
        dur = f"{r.duration_s:.1f} s" if r.duration_s is not None else ""
        job = f"{r.job} @ {r.scheduled_for}" if r.job else ""
        rows.append(
            f'<tr data-run="{html.escape(r.id)}"><td>{html.escape(r.started)}</td><td>{html.escape(r.kind)}</td>'
            f"<td>{html.escape(r.label)}</td><td class=\"{html.escape(r.status)}\">{html.escape(r.status)}</td>"
            f"<td>{dur}</td><td>{' · '.join(links)}{err}</td><td>{html.escape(job)}</td>"
            f'<td class="params">{html.escape(params)}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="8">No report has run yet.</td></tr>'
    ok = sum(r.status == "ok" for r in runs)
    failed = sum(r.status == "failed" for r in runs)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>quantkit reports</title>"
        f"<style>{_STYLE}</style></head><body><h1>quantkit reports</h1>"
        f"<p>{len(runs)} runs: {ok} ok, {failed} failed. Times are UTC.</p>"
        "<table id=\"qk-index\"><thead><tr><th>started</th><th>kind</th><th>report</th><th>status</th>"
        "<th>duration</th><th>output</th><th>schedule</th><th>parameters</th></tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>"
    )
