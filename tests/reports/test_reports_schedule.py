"""The report scheduler: cron specs, due jobs, catch-up once, no overlap, schedule files, OS-scheduler lines."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from quantkit.errors import ConfigError
from quantkit.reports import CronSpec, ReportRun, Scheduler, crontab_lines, load_schedule, systemd_units
from quantkit.reports.schedule import parse_schedule

UTC = dt.timezone.utc


def t(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A UTC time in June 2025 (2025-06-02 is a Monday)."""
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=UTC)


class FakeClock:
    """A settable UTC clock."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class Recorder:
    """A job action that records (job, due) and can be held open to test overlap."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dt.datetime]] = []
        self.active = 0
        self.max_active = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, job, due):  # noqa: ANN001 - the Scheduler's JobRunner signature
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append((job.name, due))
        self.entered.set()
        try:
            if self.gate is not None:
                assert self.gate.wait(30), "test gate never opened"
            return [ReportRun(id=f"{job.name}/{due:%Y%m%d%H%M}", kind="pair", label=job.name, parameters={},
                              status="ok", started=due.isoformat())]
        finally:
            with self._lock:
                self.active -= 1


def schedule(tmp_path: Path, jobs: list[dict]) -> object:
    """A Schedule with ``jobs`` writing under tmp_path."""
    return parse_schedule({"out": str(tmp_path / "out"), "jobs": jobs})


DAILY = {"name": "daily", "cron": "0 6 * * *", "pairs": ["ETHUSDT/BTCUSDT"], "lookback": "1D"}
HOURLY = {"name": "hourly", "cron": "@hourly", "pairs": ["SOLUSDT/ETHUSDT", "ADAUSDT/DOTUSDT"], "lookback": "6h"}


def test_cron_spec_fire_times() -> None:
    """previous/next follow cron semantics in UTC, including steps, ranges, names and the day OR rule."""
    daily = CronSpec.parse("0 6 * * *")
    assert daily.previous(t(4, 7)) == t(4, 6)
    assert daily.previous(t(4, 6)) == t(4, 6)
    assert daily.next(t(4, 6)) == t(5, 6)
    office = CronSpec.parse("*/15 9-17 * * mon-fri")
    assert office.previous(t(7, 12)) == t(6, 17, 45)  # Saturday -> Friday's last slot
    assert office.next(t(6, 17, 50)) == t(9, 9)  # Friday evening -> Monday 09:00
    either = CronSpec.parse("30 6 1 * sun")  # the 1st of the month OR a Sunday
    assert either.next(t(1, 7)) == t(8, 6, 30)
    assert either.next(dt.datetime(2025, 6, 29, 7, tzinfo=UTC)) == dt.datetime(2025, 7, 1, 6, 30, tzinfo=UTC)
    assert CronSpec.parse("@daily").expr == "0 0 * * *"
    for bad in ("0 25 * * *", "* * *", "0 0 31 2 *", "x * * * *", "*/0 * * * *"):
        with pytest.raises(ValueError, match="cron spec"):
            CronSpec.parse(bad)


def test_scheduler_runs_due_jobs(tmp_path: Path) -> None:
    """At each fire time the due jobs run once, for that fire time; between fire times nothing runs."""
    clock = FakeClock(t(4, 5, 50))
    rec = Recorder()
    sched = Scheduler(schedule(tmp_path, [DAILY, HOURLY]), clock=clock, run_job=rec)
    assert sched.run_pending() == []  # first sight: 05:00 is older than the 10 min grace
    clock.now = t(4, 6, 0)
    outcomes = sched.run_pending()
    assert sorted((o.job, o.due, o.status) for o in outcomes) == [("daily", t(4, 6), "ran"), ("hourly", t(4, 6), "ran")]
    clock.now = t(4, 6, 40)
    assert sched.run_pending() == []
    clock.now = t(4, 7, 1)
    assert [(o.job, o.due) for o in sched.run_pending()] == [("hourly", t(4, 7))]
    assert sorted(rec.calls) == sorted([("daily", t(4, 6)), ("hourly", t(4, 6)), ("hourly", t(4, 7))])
    items = sched.schedule.job("hourly").items(t(4, 7))
    assert [i["pair"] for i in items] == ["SOLUSDT/ETHUSDT", "ADAUSDT/DOTUSDT"]
    assert items[0]["start"] == "2025-06-04T01:00:00+00:00" and items[0]["end"] == "2025-06-04T07:00:00+00:00"


def test_first_sight_within_grace_runs(tmp_path: Path) -> None:
    """A fire time less than `grace` ago runs at first sight (cron starting --once a little late)."""
    rec = Recorder()
    sched = Scheduler(schedule(tmp_path, [DAILY]), clock=FakeClock(t(4, 6, 3)), run_job=rec)
    assert [(o.job, o.due) for o in sched.run_pending()] == [("daily", t(4, 6))]


def test_missed_runs_are_caught_up_once(tmp_path: Path) -> None:
    """After three days off, a restarted scheduler runs the job once, for the latest missed fire time."""
    clock = FakeClock(t(2, 6, 0))
    rec = Recorder()
    sched = Scheduler(schedule(tmp_path, [DAILY]), clock=clock, run_job=rec)
    assert [o.due for o in sched.run_pending()] == [t(2, 6)]
    # machine off from Monday 06:01 to Thursday 09:00; a new process reads the same state
    clock.now = t(5, 9, 0)
    restarted = Scheduler(schedule(tmp_path, [DAILY]), clock=clock, run_job=rec)
    outcomes = restarted.run_pending()
    assert [(o.due, o.status) for o in outcomes] == [(t(5, 6), "ran")]
    clock.now = t(5, 9, 5)
    assert restarted.run_pending() == []
    clock.now = t(6, 6, 0)
    assert [o.due for o in restarted.run_pending()] == [t(6, 6)]
    assert [due for _, due in rec.calls] == [t(2, 6), t(5, 6), t(6, 6)]
    state = json.loads((tmp_path / "out" / ".schedule" / "state.json").read_text())
    assert state["daily"]["last_due"] == t(6, 6).isoformat()


def test_same_job_never_overlaps(tmp_path: Path, timeout_unit: float) -> None:
    """While a run holds the job's lock, other schedulers and later fire times skip; the missed time runs after."""
    clock = FakeClock(t(2, 6, 0))
    rec = Recorder()
    rec.gate = threading.Event()
    first = Scheduler(schedule(tmp_path, [DAILY]), clock=clock, run_job=rec)
    second = Scheduler(schedule(tmp_path, [DAILY]), clock=clock, run_job=rec)
    result: list = []
    runner = threading.Thread(target=lambda: result.extend(first.run_pending()))
    runner.start()
    assert rec.entered.wait(10 * timeout_unit)
    assert [o.status for o in second.run_pending()] == ["skipped"]  # same fire time, other scheduler
    clock.now = t(3, 6, 0)  # next day's fire time arrives while Monday's run is still going
    assert [(o.due, o.status) for o in second.run_pending()] == [(t(3, 6), "skipped")]
    assert [(o.due, o.status) for o in first.run_pending()] == [(t(3, 6), "skipped")]
    rec.gate.set()
    runner.join(10 * timeout_unit)
    assert [(o.due, o.status) for o in result] == [(t(2, 6), "ran")]
    clock.now = t(3, 6, 5)
    assert [(o.due, o.status) for o in second.run_pending()] == [(t(3, 6), "ran")]
    assert rec.max_active == 1
    assert [due for _, due in rec.calls] == [t(2, 6), t(3, 6)]


def test_lock_held_by_another_process_skips(tmp_path: Path, timeout_unit: float) -> None:
    """A job whose lock file is held by another process (e.g. a cron-started run) is skipped, then runs."""
    rec = Recorder()
    sched = Scheduler(schedule(tmp_path, [DAILY]), clock=FakeClock(t(2, 6, 1)), run_job=rec)
    lock_path = sched.lock(sched.schedule.job("daily")).path
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys\n"
         f"fd = os.open({str(lock_path)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert [o.status for o in sched.run_pending()] == ["skipped"]
        assert rec.calls == []
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10 * timeout_unit)
    assert [o.status for o in sched.run_pending()] == ["ran"]


def test_schedule_files_and_os_scheduler_lines(tmp_path: Path) -> None:
    """TOML and JSON schedules load alike; crontab and systemd entries call `schedule FILE --once --job`."""
    toml = tmp_path / "reports.toml"
    toml.write_text(
        'out = "out"\nworkers = 2\n[defaults]\nfreq = "1m"\nwindow = 120\n'
        '[[jobs]]\nname = "majors"\ncron = "0 6 * * *"\npairs = ["ETHUSDT/BTCUSDT", "SOLUSDT/ETHUSDT"]\n'
        'lookback = "7D"\nparams = { hedge = "kalman" }\n'
    )
    sched = load_schedule(toml)
    job = sched.job("majors")
    assert sched.out_dir == tmp_path / "out" and sched.workers == 2
    assert job.params == {"freq": "1m", "window": 120, "hedge": "kalman"}
    jsn = tmp_path / "reports.json"
    jsn.write_text(json.dumps({"out": "out", "jobs": [{"name": "majors", "cron": "0 6 * * *",
                                                        "pairs": ["ETHUSDT/BTCUSDT"]}]}))
    assert load_schedule(jsn).job("majors").cron == job.cron
    lines = crontab_lines(sched, command=["quantkit"])
    assert "CRON_TZ=UTC" in lines
    assert any(line.startswith(f"0 6 * * * quantkit schedule {toml} --once --job majors") for line in lines)
    units = systemd_units(sched, command=["quantkit"])
    assert set(units) == {"quantkit-report-majors.service", "quantkit-report-majors.timer"}
    assert "OnCalendar=*-*-* 06:00:00 UTC" in units["quantkit-report-majors.timer"]
    assert "Persistent=true" in units["quantkit-report-majors.timer"]
    assert f"ExecStart=quantkit schedule {toml} --once --job majors" in units["quantkit-report-majors.service"]


@pytest.mark.parametrize(
    ("jobs", "field"),
    [
        ([{**DAILY, "cron": "0 24 * * *"}], "jobs[0].cron"),
        ([{**DAILY, "name": "bad name"}], "jobs[0].name"),
        ([{**DAILY, "pairs": []}], "jobs[0].pairs"),
        ([{**DAILY, "lookback": "soon"}], "jobs[0].lookback"),
        ([{**DAILY, "params": {"windw": 3}}], "jobs[0].params"),
        ([{**DAILY, "params": {"window": "many"}}], "jobs[0].params"),
        ([DAILY, DAILY], "jobs[1].name"),
    ],
)
def test_bad_schedule_entries_are_named(tmp_path: Path, jobs: list[dict], field: str) -> None:
    """A malformed schedule entry raises ConfigError naming the entry."""
    with pytest.raises(ConfigError) as info:
        schedule(tmp_path, jobs)
    assert info.value.name == field


def test_long_lived_loop_runs_jobs_in_background(tmp_path: Path, timeout_unit: float) -> None:
    """run_forever runs a due job in a background thread and returns once stopped, after the job ends."""
    clock = FakeClock(t(2, 6, 0))
    rec = Recorder()
    sched = Scheduler(schedule(tmp_path, [DAILY]), clock=clock, run_job=rec)
    stop = threading.Event()
    loop = threading.Thread(target=sched.run_forever, args=(stop,), kwargs={"poll": 0.05})
    loop.start()
    try:
        assert rec.entered.wait(10 * timeout_unit)
    finally:
        stop.set()
        loop.join(10 * timeout_unit)
    assert not loop.is_alive()
    assert rec.calls == [("daily", t(2, 6))]


def test_schedule_cli_prints_crontab(tmp_path: Path, timeout_unit: float) -> None:
    """`quantkit schedule FILE --crontab` prints one UTC crontab line per job and exits 0."""
    path = tmp_path / "reports.toml"
    path.write_text(f'out = "{tmp_path / "out"}"\n'
                    '[[jobs]]\nname = "majors"\ncron = "15 6 * * 1-5"\npairs = ["ETHUSDT/BTCUSDT"]\n')
    proc = subprocess.run([sys.executable, "-m", "quantkit", "schedule", str(path), "--crontab"],
                          capture_output=True, text=True, timeout=120 * timeout_unit)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "CRON_TZ=UTC" in lines
    (entry,) = [ln for ln in lines if ln.startswith("15 6 * * 1-5 ")]
    assert f"-m quantkit schedule {path} --once --job majors" in entry
