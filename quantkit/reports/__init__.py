"""Papermill reports over the stored data: run, index, schedule; readable offline.

The entry point is :func:`run_report` (one report) / :func:`run_batch` (several, on
parallel warm kernels, with a progress bar): parameters are checked before any
kernel starts, the notebook runs with papermill, and each run leaves
``report.ipynb`` + ``report.html`` (no code, no network needed) in a dated folder
and a line in the output folder's ``index.html``. :class:`Scheduler` runs reports
from a schedule file with cron-style specs (catch-up once, never overlapping).

Modules: parameters (typed, checked parameters), data (:class:`PairReportData`,
what the pair notebook shows), display (tables and static charts), registry
(report kinds), runner, index, cron, schedule, commands (the ``report`` and
``schedule`` CLI sub-commands). Logger: ``"quantkit.reports"``.

The data layer (analytics, statsmodels), the runner and the scheduler (papermill,
nbconvert) are imported on first use: a report kernel does not load papermill, and
``quantkit schedule --crontab`` does not load the analytics.
"""

from __future__ import annotations

from quantkit._lazy import lazy_getattr

from .cron import CronSpec
from .display import Chart, Note, Table
from .index import ReportIndex, ReportRun
from .parameters import PairReportParameters, coerce, parse_assignments
from .registry import ReportKind, get, register

_LAZY = {
    "PairBars": "data",
    "PairReportData": "data",
    "load_pair_bars": "data",
    "open_store": "data",
    "ReportFailed": "runner",
    "ReportRequest": "runner",
    "execute": "runner",
    "prepare": "runner",
    "run_batch": "runner",
    "run_report": "runner",
    "Schedule": "schedule",
    "ScheduledJob": "schedule",
    "Scheduler": "schedule",
    "crontab_lines": "schedule",
    "load_schedule": "schedule",
    "systemd_units": "schedule",
    "WarmKernel": "_kernels",
}

__all__ = [
    "Chart",
    "CronSpec",
    "Note",
    "PairBars",
    "PairReportData",
    "PairReportParameters",
    "ReportFailed",
    "ReportIndex",
    "ReportKind",
    "ReportRequest",
    "ReportRun",
    "Schedule",
    "ScheduledJob",
    "Scheduler",
    "Table",
    "WarmKernel",
    "coerce",
    "crontab_lines",
    "execute",
    "get",
    "load_pair_bars",
    "load_schedule",
    "open_store",
    "parse_assignments",
    "prepare",
    "register",
    "run_batch",
    "run_report",
    "systemd_units",
]


__getattr__ = lazy_getattr(__name__, {name: f".{module}" for name, module in _LAZY.items()}, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
