"""Schedule fire times come from cronsim and follow Debian cron, including the day-of-month/day-of-week rule."""

from __future__ import annotations

import datetime as dt
from itertools import islice
from pathlib import Path

import pytest
from cronsim import CronSim

from quantkit.reports import CronSpec, Scheduler, crontab_lines, systemd_units
from quantkit.reports.schedule import parse_schedule

UTC = dt.timezone.utc
START = dt.datetime(2025, 6, 1, 0, 0, tzinfo=UTC)  # a Sunday

EXPRESSIONS = [
    "0 6 * * *",
    "*/15 9-17 * * mon-fri",
    "0 6 */2 * mon",  # AND: the day field starts with '*' -> Mondays on odd days
    "0 6 1 * mon",  # OR: the 1st of the month and every Monday
    "30 6 13 * fri",  # OR: the 13th and every Friday
    "0 6 1-7 * */7",  # AND: '*/7' is Sunday -> the first Sunday of the month
    "0 0 */10 * 1-5",
    "5 4 1,15 jan,jul sun",
    "0 12 29 2 *",
    "0 */6 * * 0,7",
    "@weekly",
    "@monthly",
]


def d(month: int, day: int, hour: int = 6, minute: int = 0) -> dt.datetime:
    """A UTC time in 2025."""
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


def chain(spec: CronSpec, start: dt.datetime, n: int) -> list[dt.datetime]:
    """``n`` successive fire times of ``spec`` after ``start``."""
    out, t = [], start
    for _ in range(n):
        t = spec.next(t)
        out.append(t)
    return out


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_fire_times_equal_the_library(expr: str) -> None:
    """next()/previous() give exactly cronsim's forward and reverse iteration, over years."""
    spec = CronSpec.parse(expr)
    n = 60
    assert chain(spec, START, n) == list(islice(CronSim(spec.expr, START), n))
    end = dt.datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    ours, t = [], end
    for _ in range(n):
        t = spec.previous(t - dt.timedelta(minutes=1))
        ours.append(t)
    assert ours == list(islice(CronSim(spec.expr, end, reverse=True), n))


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_scheduler_next_fire_is_the_library_s(tmp_path: Path, expr: str) -> None:
    """The scheduler's next fire time and due fire time are cronsim's."""
    job = {"name": "j", "cron": expr, "pairs": ["ETHUSDT/BTCUSDT"], "lookback": "1D"}
    scheduler = Scheduler(parse_schedule({"out": str(tmp_path / "out"), "jobs": [job]}))
    spec = CronSpec.parse(expr)
    now = START
    for _ in range(10):
        nxt = scheduler.next_fire(now)
        assert nxt == next(CronSim(spec.expr, now))
        assert spec.previous(nxt + dt.timedelta(seconds=59)) == nxt and spec.matches(nxt)
        now = nxt + dt.timedelta(seconds=30)


def test_day_fields_follow_debian_cron() -> None:
    """Debian's rule: a day field starting with '*' ANDs the two day fields, otherwise they OR."""
    assert chain(CronSpec.parse("0 6 */2 * mon"), START, 4) == [d(6, 9), d(6, 23), d(7, 7), d(7, 21)]
    assert chain(CronSpec.parse("0 6 1 * mon"), START, 8) == [
        d(6, 1), d(6, 2), d(6, 9), d(6, 16), d(6, 23), d(6, 30), d(7, 1), d(7, 7)]
    assert chain(CronSpec.parse("0 6 1-7 * */7"), START, 3) == [d(6, 1), d(7, 6), d(8, 3)]  # first Sundays
    assert chain(CronSpec.parse("0 6 */2 * *"), START, 3) == [d(6, 1), d(6, 3), d(6, 5)]
    assert chain(CronSpec.parse("0 6 31 * *"), d(6, 1), 2) == [d(7, 31), d(8, 31)]


def test_day_rule_reaches_crontab_and_systemd(tmp_path: Path) -> None:
    """The crontab line is the expression itself; systemd gets one calendar for AND, two for OR."""
    jobs = [{"name": "odd-mondays", "cron": "0 6 */2 * mon", "pairs": ["ETHUSDT/BTCUSDT"]},
            {"name": "first-or-monday", "cron": "0 6 1 * mon", "pairs": ["ETHUSDT/BTCUSDT"]}]
    sched = parse_schedule({"out": str(tmp_path / "out"), "jobs": jobs})
    lines = crontab_lines(sched, command=["quantkit"])
    assert any(ln.startswith("0 6 */2 * mon quantkit schedule") for ln in lines)
    units = systemd_units(sched, command=["quantkit"])
    odd = units["quantkit-report-odd-mondays.timer"]
    assert odd.count("OnCalendar=") == 1
    assert "OnCalendar=Mon *-*-01,03,05,07,09,11,13,15,17,19,21,23,25,27,29,31 06:00:00 UTC" in odd
    either = units["quantkit-report-first-or-monday.timer"]
    assert "OnCalendar=*-*-01 06:00:00 UTC" in either and "OnCalendar=Mon *-*-* 06:00:00 UTC" in either


@pytest.mark.parametrize("bad", ["0 0 L * *", "0 0 * * 1#2", "0 0 LW * *", "0 0 ? * *", "0 0 0 * * *", "0 60 * * *"])
def test_non_debian_syntax_is_refused(bad: str) -> None:
    """Expressions the system's cron could not read are refused with a message naming the spec."""
    with pytest.raises(ValueError, match="cron spec"):
        CronSpec.parse(bad)
