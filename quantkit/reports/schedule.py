"""Scheduled reports: a small schedule file, a long-lived scheduler, and OS-scheduler lines.

A schedule file (TOML, or JSON with the same structure)::

    out = "/srv/quantkit/reports"      # output folder (default <QUANTKIT_DATA_DIR>/reports)
    workers = 2                        # parallel kernels per batch (default 1)
    grace = "10min"                    # see "first run" below (default 10 minutes)

    [defaults]                         # parameters for every job (any report parameter)
    freq = "1m"
    store = "lmdb:///srv/quantkit/arctic"

    [[jobs]]
    name = "majors-daily"              # letters, digits, - and _
    cron = "0 6 * * *"                 # when, in UTC (see quantkit.reports.cron)
    pairs = ["ETHUSDT/BTCUSDT", "SOLUSDT/ETHUSDT"]
    lookback = "1D"                    # each report covers [due - lookback, due)
    params = { window = 240, hedge = "rolling" }

Rules the :class:`Scheduler` keeps (state in ``<out>/.schedule/state.json``):

* **due**: a job is due when its latest fire time at or before now is later than the
  last fire time it ran for. Its reports cover ``[fire time - lookback, fire time)``.
* **catch-up once**: after downtime the job runs once, for its latest missed fire
  time -- not once per missed fire time.
* **first run**: a job the state does not know yet counts as having run for its
  fire time before ``now - grace``: a fire time up to ``grace`` ago still runs
  (an OS scheduler starting ``--once`` a few seconds late), older ones do not.
* **no overlap**: a run holds ``<out>/.schedule/locks/<job>.lock`` (``flock``) from
  start to end. A second scheduler, a cron-started ``--once`` or the next due time
  of a still-running job finds the lock taken and skips; the state is only
  advanced when a run ends, so the skipped fire time is caught up (once) afterwards.

:func:`crontab_lines` and :func:`systemd_units` produce the same schedule for the
OS scheduler (each entry runs ``quantkit schedule FILE --once --job NAME``, which
follows the same state and lock files).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shlex
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from quantkit._files import atomic_write_text
from quantkit.errors import ConfigError, ReportParameterError

from ._locks import FileLock
from .cron import CronSpec
from .index import ReportRun, default_out_dir, utc_now

__all__ = [
    "JobOutcome",
    "Schedule",
    "ScheduledJob",
    "Scheduler",
    "crontab_lines",
    "load_schedule",
    "run_schedule",
    "systemd_units",
]

logger = logging.getLogger("quantkit.reports")

_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_UTC = dt.timezone.utc


def _timedelta(value: Any, name: str) -> pd.Timedelta:
    try:
        td = pd.Timedelta(value)
    except (TypeError, ValueError):
        raise ConfigError(name, value, "expected a duration such as '1D', '12h' or '30min'") from None
    if td is pd.NaT or not td > pd.Timedelta(0):
        raise ConfigError(name, value, "must be a positive duration")
    return td


@dataclass(frozen=True)
class ScheduledJob:
    """One entry of a schedule: which reports, when.

    Attributes:
        name: job name (letters, digits, ``-``, ``_``): names its lock, state entry and units.
        cron: when it fires (UTC).
        pairs: the pairs to report on, one report each.
        lookback: each report covers ``[due - lookback, due)``.
        kind: report kind (default ``"pair"``).
        params: parameters for every report of the job (over the schedule's defaults).
        workers: parallel kernels for this job (None: the schedule's).
    """

    name: str
    cron: CronSpec
    pairs: tuple[str, ...]
    lookback: pd.Timedelta
    kind: str = "pair"
    params: Mapping[str, Any] = field(default_factory=dict)
    workers: int | None = None

    def items(self, due: dt.datetime) -> list[dict[str, Any]]:
        """The parameter mappings of the reports for fire time ``due``."""
        end = pd.Timestamp(due).tz_convert("UTC") if pd.Timestamp(due).tzinfo else pd.Timestamp(due).tz_localize("UTC")
        start = end - self.lookback
        return [{**self.params, "pair": pair, "start": start.isoformat(), "end": end.isoformat()} for pair in self.pairs]


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule file.

    Attributes:
        jobs: the jobs, in file order.
        out_dir: output folder of the reports (and of the scheduler's state).
        workers: parallel kernels per batch (default 1).
        grace: how late a first-seen job's fire time may be and still run.
        path: the file it was read from (None when built in code).
    """

    jobs: tuple[ScheduledJob, ...]
    out_dir: Path
    workers: int = 1
    grace: pd.Timedelta = pd.Timedelta(minutes=10)
    path: Path | None = None

    @property
    def state_dir(self) -> Path:
        """``<out_dir>/.schedule``: state.json and locks/."""
        return self.out_dir / ".schedule"

    def job(self, name: str) -> ScheduledJob:
        """The job called ``name``.

        Raises:
            ReportParameterError: no such job (the message lists the names).
        """
        for j in self.jobs:
            if j.name == name:
                return j
        raise ReportParameterError("job", name, f"not in the schedule (jobs: {', '.join(j.name for j in self.jobs)})")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(name, value, "expected an integer >= 1")
    return value


def parse_schedule(data: Mapping[str, Any], *, path: Path | None = None) -> Schedule:
    """Build a :class:`Schedule` from the file's structure (see the module docstring).

    Raises:
        ConfigError: a missing or malformed entry (the message names it, e.g. ``jobs[1].cron``).
    """
    from . import registry

    known = {"out", "workers", "grace", "defaults", "jobs"}
    for key in data:
        if key not in known:
            raise ConfigError(key, data[key], f"unknown schedule key (known: {', '.join(sorted(known))})")
    base = path.parent if path is not None else Path.cwd()
    out = Path(os.path.expanduser(str(data["out"]))) if "out" in data else default_out_dir()
    if not out.is_absolute():
        out = (base / out).resolve()
    workers = _positive_int(data.get("workers", 1), "workers")
    grace = _timedelta(data.get("grace", "10min"), "grace")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise ConfigError("defaults", defaults, "expected a table of report parameters")
    raw_jobs = data.get("jobs")
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise ConfigError("jobs", raw_jobs, "expected at least one [[jobs]] entry")
    jobs: list[ScheduledJob] = []
    for i, rj in enumerate(raw_jobs):
        where = f"jobs[{i}]"
        if not isinstance(rj, Mapping):
            raise ConfigError(where, rj, "expected a table")
        allowed = {"name", "cron", "pairs", "lookback", "kind", "params", "workers"}
        for key in rj:
            if key not in allowed:
                raise ConfigError(f"{where}.{key}", rj[key], f"unknown job key (known: {', '.join(sorted(allowed))})")
        name = rj.get("name")
        if not isinstance(name, str) or not _JOB_NAME.match(name):
            raise ConfigError(f"{where}.name", name, "expected letters, digits, - and _ (up to 64)")
        if any(j.name == name for j in jobs):
            raise ConfigError(f"{where}.name", name, "duplicate job name")
        try:
            cron = CronSpec.parse(rj.get("cron", ""))
        except ValueError as exc:
            raise ConfigError(f"{where}.cron", rj.get("cron"), str(exc)) from None
        pairs = rj.get("pairs")
        if isinstance(pairs, str):
            pairs = [pairs]
        if not isinstance(pairs, list) or not pairs or not all(isinstance(p, str) for p in pairs):
            raise ConfigError(f"{where}.pairs", pairs, "expected a list such as [\"ETHUSDT/BTCUSDT\"]")
        lookback = _timedelta(rj.get("lookback", "1D"), f"{where}.lookback")
        params = {**defaults, **(rj.get("params") or {})}
        kind = str(rj.get("kind", "pair"))
        job = ScheduledJob(
            name=name, cron=cron, pairs=tuple(pairs), lookback=lookback, kind=kind, params=params,
            workers=_positive_int(rj["workers"], f"{where}.workers") if "workers" in rj else None,
        )
        # check names and values now (no store access): a typo fails at load, not at 06:00
        try:
            k = registry.get(kind)
            for item in job.items(dt.datetime(2024, 1, 2, tzinfo=_UTC)):
                k.parse(item)
        except ReportParameterError as exc:
            raise ConfigError(f"{where}.params", exc.value, str(exc)) from None
        jobs.append(job)
    return Schedule(jobs=tuple(jobs), out_dir=out, workers=workers, grace=grace, path=path)


def load_schedule(path: str | os.PathLike[str]) -> Schedule:
    """Read a schedule file (``.toml``, or ``.json``).

    Raises:
        ConfigError: unreadable file or bad content (named).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("schedule", str(p), f"cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("schedule", str(p), f"not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    return parse_schedule(data, path=p.resolve())


@dataclass(frozen=True)
class JobOutcome:
    """What :meth:`Scheduler.run_pending` did with one due job.

    Attributes:
        job: job name.
        due: the fire time it was due for.
        status: ``"ran"``, ``"skipped"`` (another run holds the lock) or ``"error"``.
        runs: the report runs (ok or failed) when it ran.
        error: the error text for ``"error"``.
    """

    job: str
    due: dt.datetime
    status: str
    runs: tuple[ReportRun, ...] = ()
    error: str = ""


JobRunner = Callable[[ScheduledJob, dt.datetime], Sequence[ReportRun]]


class Scheduler:
    """Runs a schedule's due jobs (rules in the module docstring).

    Args:
        schedule: the schedule.
        clock: returns the current UTC time (inject a fake one in tests).
        run_job: runs one job for a fire time and returns its report runs (default:
            :func:`quantkit.reports.runner.run_batch` over the job's pairs, recording invalid pairs).
        progress: show a progress bar per batch.
    """

    def __init__(
        self,
        schedule: Schedule,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        run_job: JobRunner | None = None,
        progress: bool = False,
    ) -> None:
        self.schedule = schedule
        self.clock = clock
        self.progress = progress
        self.run_job: JobRunner = run_job or self._run_reports
        self.state_path = schedule.state_dir / "state.json"
        self._state_lock_path = schedule.state_dir / ".state.lock"
        self._threads: list[threading.Thread] = []

    # ---- state -------------------------------------------------------------------------
    def _read_state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            logger.warning("schedule state %s is unreadable; starting afresh", self.state_path)
            return {}

    def _update_state(self, name: str, **values: Any) -> None:
        with FileLock(self._state_lock_path):  # a new lock object per call: threads exclude each other too
            state = self._read_state()
            state.setdefault(name, {}).update(values)
            atomic_write_text(self.state_path, json.dumps(state, indent=1, sort_keys=True))

    def last_due(self, job: ScheduledJob, now: dt.datetime) -> dt.datetime:
        """The fire time ``job`` last ran for (a first-seen job gets its baseline recorded)."""
        entry = self._read_state().get(job.name, {})
        if entry.get("last_due"):
            return dt.datetime.fromisoformat(entry["last_due"])
        baseline = job.cron.previous(now - self.schedule.grace.to_pytimedelta())
        self._update_state(job.name, last_due=baseline.isoformat(), baseline=True)
        return baseline

    # ---- running -----------------------------------------------------------------------
    def due(self, now: dt.datetime | None = None) -> list[tuple[ScheduledJob, dt.datetime]]:
        """The jobs due at ``now`` (default: the clock) with the fire time each is due for."""
        now = now or self.clock()
        out = []
        for job in self.schedule.jobs:
            latest = job.cron.previous(now)
            if latest > self.last_due(job, now):
                out.append((job, latest))
        return out

    def next_fire(self, now: dt.datetime | None = None) -> dt.datetime:
        """The earliest fire time of any job after ``now``."""
        now = now or self.clock()
        return min(job.cron.next(now) for job in self.schedule.jobs)

    def lock(self, job: ScheduledJob) -> FileLock:
        """The lock file a run of ``job`` holds."""
        return FileLock(self.schedule.state_dir / "locks" / f"{job.name}.lock")

    def run_due(self, job: ScheduledJob, due: dt.datetime) -> JobOutcome:
        """Run ``job`` for ``due`` unless another run holds its lock or already covered ``due``."""
        lock = self.lock(job)
        if not lock.acquire(blocking=False):
            logger.info("job %s due %s: skipped, another run holds %s", job.name, due.isoformat(), lock.path)
            return JobOutcome(job.name, due, "skipped")
        try:
            entry = self._read_state().get(job.name, {})
            if entry.get("last_due") and dt.datetime.fromisoformat(entry["last_due"]) >= due:
                return JobOutcome(job.name, due, "skipped")  # another process ran it meanwhile
            self._update_state(job.name, running_for=due.isoformat(), started=self.clock().isoformat())
            try:
                runs = tuple(self.run_job(job, due))
            except Exception as exc:
                logger.exception("job %s due %s failed", job.name, due.isoformat())
                self._update_state(job.name, last_due=due.isoformat(), running_for=None, baseline=False,
                                   last_error=f"{type(exc).__name__}: {exc}")
                return JobOutcome(job.name, due, "error", error=f"{type(exc).__name__}: {exc}")
            failed = sum(not r.ok for r in runs)
            self._update_state(job.name, last_due=due.isoformat(), running_for=None, baseline=False,
                               finished=self.clock().isoformat(), last_error=None,
                               last_result=f"{len(runs) - failed} ok, {failed} failed")
            logger.info("job %s due %s: %d reports, %d failed", job.name, due.isoformat(), len(runs), failed)
            return JobOutcome(job.name, due, "ran", runs=runs)
        finally:
            lock.release()

    def run_pending(self, now: dt.datetime | None = None, *, jobs: Sequence[str] | None = None,
                    wait: bool = True) -> list[JobOutcome]:
        """Run every due job once (each for its latest fire time).

        Args:
            now: the time to evaluate (default: the clock).
            jobs: only these job names (default: all).
            wait: run the jobs here, one after another (True, default), or each in a background
                thread (False; the long-lived loop does this so a slow job never delays another).

        Returns:
            The outcomes of the jobs run here (empty with ``wait=False``).
        """
        wanted = set(jobs) if jobs else None
        if wanted:
            for name in wanted:
                self.schedule.job(name)
        due = [(j, d) for j, d in self.due(now) if wanted is None or j.name in wanted]
        if wait:
            return [self.run_due(j, d) for j, d in due]
        self._threads = [t for t in self._threads if t.is_alive()]
        for job, d in due:
            if any(t.name == f"quantkit-job-{job.name}" for t in self._threads):
                continue  # still running in this process; the lock would refuse anyway
            t = threading.Thread(target=self.run_due, args=(job, d), name=f"quantkit-job-{job.name}", daemon=True)
            t.start()
            self._threads.append(t)
        return []

    def run_forever(self, stop: threading.Event | None = None, *, poll: float = 30.0) -> None:
        """Run due jobs until ``stop`` is set: check every ``poll`` seconds (sooner for the next fire time).

        Jobs run in background threads; on stop, running jobs are waited for.
        """
        stop = stop or threading.Event()
        logger.info("scheduler started: %d jobs, output %s", len(self.schedule.jobs), self.schedule.out_dir)
        try:
            while not stop.is_set():
                self.run_pending(wait=False)
                now = self.clock()
                wait_s = min(poll, max(0.5, (self.next_fire(now) - now).total_seconds() + 0.5))
                stop.wait(wait_s)
        finally:
            for t in self._threads:
                t.join()

    def _run_reports(self, job: ScheduledJob, due: dt.datetime) -> Sequence[ReportRun]:
        from .runner import run_batch

        return run_batch(
            job.items(due), kind=job.kind, out_dir=self.schedule.out_dir, workers=job.workers or self.schedule.workers,
            progress=self.progress, invalid="record", job=job.name, scheduled_for=due,
        )


# ---------------------------------------------------------------------------------- OS scheduler
def _command(schedule: Schedule, job: ScheduledJob, command: Sequence[str]) -> list[str]:
    path = str(schedule.path) if schedule.path else "SCHEDULE_FILE"
    return [*command, "schedule", path, "--once", "--job", job.name]


def crontab_lines(schedule: Schedule, *, command: Sequence[str] | None = None) -> list[str]:
    """crontab(5) lines running each job through ``quantkit schedule FILE --once --job NAME``.

    Args:
        schedule: the schedule (read from a file: the lines name it).
        command: how to call quantkit (default: this Python with ``-m quantkit``).

    The specs are UTC: the lines set ``CRON_TZ=UTC`` (cronie, systemd-cron); with Debian's
    cron, run the system in UTC or use :func:`systemd_units`.
    """
    cmd = list(command) if command else [sys.executable, "-m", "quantkit"]
    log_dir = schedule.state_dir
    lines = [
        f"# quantkit report schedule {schedule.path or ''} -- times are UTC",
        "CRON_TZ=UTC",
    ]
    for job in schedule.jobs:
        argv = " ".join(shlex.quote(a) for a in _command(schedule, job, cmd))
        log = shlex.quote(str(log_dir / f"{job.name}.log"))
        lines.append(f"{job.cron.expr} {argv} >> {log} 2>&1")
    return lines


def systemd_units(schedule: Schedule, *, command: Sequence[str] | None = None,
                  working_directory: str | None = None) -> dict[str, str]:
    """systemd ``.service`` + ``.timer`` unit files, one pair per job (file name -> text).

    Timers use ``OnCalendar=... UTC`` and ``Persistent=true`` (systemd runs a missed timer
    once at boot, which the scheduler's state also expects). Install with
    ``cp *.service *.timer ~/.config/systemd/user/ && systemctl --user enable --now quantkit-report-NAME.timer``.
    """
    cmd = list(command) if command else [sys.executable, "-m", "quantkit"]
    wd = working_directory or os.getcwd()
    units: dict[str, str] = {}
    for job in schedule.jobs:
        unit = f"quantkit-report-{job.name}"
        argv = " ".join(shlex.quote(a) for a in _command(schedule, job, cmd))
        units[f"{unit}.service"] = (
            "[Unit]\n"
            f"Description=quantkit reports, job {job.name}\n\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"WorkingDirectory={wd}\n"
            f"ExecStart={argv}\n"
        )
        calendars = "".join(f"OnCalendar={c}\n" for c in job.cron.systemd_calendars())
        units[f"{unit}.timer"] = (
            "[Unit]\n"
            f"Description=quantkit reports, job {job.name} ({job.cron.expr} UTC)\n\n"
            "[Timer]\n"
            f"{calendars}"
            "Persistent=true\n\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        )
    return units


def run_schedule(
    path: str | os.PathLike[str],
    *,
    once: bool = False,
    jobs: Sequence[str] | None = None,
    crontab: bool = False,
    systemd_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    poll: float = 30.0,
    command: Sequence[str] | None = None,
    stop: threading.Event | None = None,
) -> list[JobOutcome]:
    """What ``quantkit schedule`` does: run the scheduler, or print / write OS-scheduler entries.

    Args:
        path: the schedule file.
        once: run the due jobs once and return (for cron / systemd), instead of running forever.
        jobs: only these jobs (with ``once``).
        crontab: print crontab lines and return.
        systemd_dir: write ``.service``/``.timer`` files there, print their paths, and return.
        progress: progress bars for batches.
        poll: seconds between checks of the long-lived loop.
        command: how the generated entries call quantkit.
        stop: event ending the long-lived loop (default: runs until interrupted).

    Returns:
        The job outcomes of a ``once`` run (else an empty list).
    """
    schedule = load_schedule(path)
    if crontab:
        print("\n".join(crontab_lines(schedule, command=command)))
        return []
    if systemd_dir is not None:
        d = Path(systemd_dir)
        d.mkdir(parents=True, exist_ok=True)
        for name, text in systemd_units(schedule, command=command).items():
            (d / name).write_text(text, encoding="utf-8")
            print(d / name)
        return []
    scheduler = Scheduler(schedule, progress=progress)
    if once:
        outcomes = scheduler.run_pending(jobs=jobs)
        for o in outcomes:
            print(f"{o.job} @ {o.due.isoformat(timespec='minutes')}: {o.status}"
                  + (f", {sum(r.ok for r in o.runs)}/{len(o.runs)} reports ok" if o.status == "ran" else "")
                  + (f" ({o.error})" if o.error else ""), flush=True)
        if not outcomes:
            print(f"nothing due (next: {scheduler.next_fire().isoformat(timespec='minutes')})", flush=True)
        return outcomes
    scheduler.run_forever(stop, poll=poll)
    return []
