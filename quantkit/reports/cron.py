"""Cron expressions in UTC: parse ``"0 6 * * *"`` and find the fire times around a moment.

Five fields, as in ``crontab(5)``: minute (0-59), hour (0-23), day of month
(1-31), month (1-12 or ``jan``..``dec``), day of week (0-7 or ``sun``..``sat``;
0 and 7 are Sunday). Each field takes ``*``, a number, a range ``a-b``, a step
``*/n`` or ``a-b/n``, or a comma-separated list of those. Shortcuts: ``@hourly``,
``@daily`` (= ``@midnight``), ``@weekly``, ``@monthly``, ``@yearly`` (= ``@annually``).

As in cron, when both day fields are restricted a day matches if **either**
matches (``"0 6 1 * mon"`` = the 1st of the month and every Monday).

Every time here is UTC: :meth:`CronSpec.previous` / :meth:`CronSpec.next` take
and return timezone-aware UTC datetimes (naive inputs are read as UTC), at
whole minutes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["CronSpec"]

_UTC = dt.timezone.utc
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_SHORTCUTS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}), ("month", 1, 12, _MONTHS),
           ("day of week", 0, 7, _DAYS))
#: Search horizon: a spec that matches no minute within this many years (e.g. "0 0 31 2 *") is an error.
_HORIZON_YEARS = 8


def _value(token: str, names: dict[str, int], expr: str, field: str) -> int:
    key = token.lower()
    if key in names:
        return names[key]
    if not token.isdigit():
        raise ValueError(f"cron spec {expr!r}: {field} value {token!r} is not a number")
    return int(token)


def _parse_field(text: str, lo: int, hi: int, names: dict[str, int], expr: str, field: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"cron spec {expr!r}: empty item in the {field} field")
        rng, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"cron spec {expr!r}: {field} step {step_text!r} must be a positive integer")
            step = int(step_text)
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            first, _, last = rng.partition("-")
            a, b = _value(first, names, expr, field), _value(last, names, expr, field)
        else:
            a = _value(rng, names, expr, field)
            b = hi if step_text else a
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise ValueError(f"cron spec {expr!r}: {field} {rng!r} is outside {lo}-{hi}")
        values.update(range(a, b + 1, step))
    return frozenset(values)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


@dataclass(frozen=True)
class CronSpec:
    """A parsed five-field cron expression, evaluated in UTC.

    Attributes:
        expr: the expression as given (after shortcut expansion: ``"@daily"`` -> ``"0 0 * * *"``).
        minutes: allowed minutes.
        hours: allowed hours.
        days: allowed days of the month.
        months: allowed months.
        weekdays: allowed days of the week, 0 = Sunday .. 6 = Saturday.
        days_restricted: the day-of-month field is not ``*``.
        weekdays_restricted: the day-of-week field is not ``*``.

    Raises:
        ValueError: a malformed expression (the message names the field and value).
    """

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expr: str) -> "CronSpec":
        """Parse ``expr`` (five fields or an ``@`` shortcut).

        Raises:
            ValueError: the expression is malformed or never fires.
        """
        if not isinstance(expr, str):
            raise ValueError(f"cron spec {expr!r}: expected a string such as '0 6 * * *'")
        text = _SHORTCUTS.get(expr.strip().lower(), expr.strip())
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(f"cron spec {expr!r}: expected 5 fields (minute hour day month weekday), got {len(parts)}")
        sets = [_parse_field(p, lo, hi, names, expr, name) for p, (name, lo, hi, names) in zip(parts, _FIELDS)]
        weekdays = frozenset(d % 7 for d in sets[4])
        spec = cls(
            expr=text,
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=weekdays,
            days_restricted=parts[2] != "*",
            weekdays_restricted=parts[4] != "*",
        )
        spec.next(dt.datetime(2000, 1, 1, tzinfo=_UTC))  # raises if it never fires
        return spec

    def _day_ok(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def matches(self, moment: dt.datetime) -> bool:
        """True when ``moment`` (truncated to the minute) is a fire time."""
        m = _utc(moment)
        return self._day_ok(m.date()) and m.hour in self.hours and m.minute in self.minutes

    def next(self, after: dt.datetime) -> dt.datetime:
        """The first fire time strictly after ``after``.

        Raises:
            ValueError: no fire time within the search horizon (the spec never fires).
        """
        t = _utc(after).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t + dt.timedelta(days=366 * _HORIZON_YEARS)
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        while t <= limit:
            if not self._day_ok(t.date()):
                t = dt.datetime.combine(t.date() + dt.timedelta(days=1), dt.time(), _UTC)
                continue
            h = next((h for h in hours if h >= t.hour), None)
            if h is None:
                t = dt.datetime.combine(t.date() + dt.timedelta(days=1), dt.time(), _UTC)
                continue
            if h > t.hour:
                t = t.replace(hour=h, minute=0)
            m = next((m for m in minutes if m >= t.minute), None)
            if m is None:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            return t.replace(minute=m)
        raise ValueError(f"cron spec {self.expr!r} never fires")

    def previous(self, at_or_before: dt.datetime) -> dt.datetime:
        """The last fire time at or before ``at_or_before``.

        Raises:
            ValueError: no fire time within the search horizon.
        """
        t = _utc(at_or_before).replace(second=0, microsecond=0)
        limit = t - dt.timedelta(days=366 * _HORIZON_YEARS)
        hours = sorted(self.hours, reverse=True)
        minutes = sorted(self.minutes, reverse=True)
        while t >= limit:
            if not self._day_ok(t.date()):
                t = dt.datetime.combine(t.date(), dt.time(), _UTC) - dt.timedelta(minutes=1)
                continue
            h = next((h for h in hours if h <= t.hour), None)
            if h is None:
                t = dt.datetime.combine(t.date(), dt.time(), _UTC) - dt.timedelta(minutes=1)
                continue
            if h < t.hour:
                t = t.replace(hour=h, minute=59)
            m = next((m for m in minutes if m <= t.minute), None)
            if m is None:
                t = t.replace(minute=0) - dt.timedelta(minutes=1)
                continue
            return t.replace(minute=m)
        raise ValueError(f"cron spec {self.expr!r} never fires")

    def systemd_calendars(self) -> list[str]:
        """``OnCalendar=`` values for a systemd timer firing at the same UTC minutes.

        systemd ANDs the day-of-month and weekday parts, cron ORs them when both
        are restricted; that case gives two calendars (a timer fires on either).
        """
        def joined(values: frozenset[int], full: range, width: int = 2) -> str:
            if set(values) == set(full):
                return "*"
            return ",".join(f"{v:0{width}d}" for v in sorted(values))

        names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        wd = ",".join(names[d] for d in sorted(self.weekdays))
        time_part = f"{joined(self.hours, range(24))}:{joined(self.minutes, range(60))}:00"
        months = joined(self.months, range(1, 13))
        days = joined(self.days, range(1, 32))
        if self.days_restricted and self.weekdays_restricted:
            return [f"*-{months}-{days} {time_part} UTC", f"{wd} *-{months}-* {time_part} UTC"]
        prefix = f"{wd} " if self.weekdays_restricted else ""
        return [f"{prefix}*-{months}-{days} {time_part} UTC"]
