"""Cron expressions in UTC, evaluated by `cronsim <https://pypi.org/project/cronsim/>`_ as Debian cron does.

Five fields, as in ``crontab(5)``: minute (0-59), hour (0-23), day of month
(1-31), month (1-12 or ``jan``..``dec``), day of week (0-7 or ``sun``..``sat``;
0 and 7 are Sunday). Each field takes ``*``, a number, a range ``a-b``, a step
``*/n``, ``a/n`` or ``a-b/n``, or a comma-separated list of those. Shortcuts: ``@hourly``,
``@daily`` (= ``@midnight``), ``@weekly``, ``@monthly``, ``@yearly`` (= ``@annually``).
Extensions Debian cron does not read (a seconds field, ``L``, ``W``, ``#``, ``?``) are refused,
because ``quantkit schedule --crontab`` prints these expressions for the system's cron.

The day rule is Debian cron's: when the day-of-month **or** the day-of-week field starts
with ``*`` a day must match both fields; otherwise it matches if **either** does.
``"0 6 1 * mon"`` fires on the 1st of the month and on every Monday, while
``"0 6 */2 * mon"`` fires on Mondays that fall on an odd day of the month.

Every time here is UTC: :meth:`CronSpec.previous` / :meth:`CronSpec.next` take
and return timezone-aware UTC datetimes (naive inputs are read as UTC), at
whole minutes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cronsim import CronSim, CronSimError

__all__ = ["CronSpec"]

_UTC = dt.timezone.utc
_SHORTCUTS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
#: Month and weekday names, and the characters of cronsim's extensions that Debian cron does not read.
_NAMES = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat", re.IGNORECASE)
_NOT_DEBIAN = re.compile(r"[LW#?]", re.IGNORECASE)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


def _joined(values: set[int], full: range) -> str:
    if values >= set(full):
        return "*"
    return ",".join(f"{v:02d}" for v in sorted(values))


@dataclass(frozen=True)
class CronSpec:
    """A five-field cron expression, evaluated in UTC with Debian cron's rules (by cronsim).

    Attributes:
        expr: the expression (after shortcut expansion: ``"@daily"`` -> ``"0 0 * * *"``).

    Raises:
        ValueError: a malformed expression (the message names the field).
    """

    expr: str

    @classmethod
    def parse(cls, expr: str) -> "CronSpec":
        """Parse ``expr`` (five fields or an ``@`` shortcut).

        Raises:
            ValueError: the expression is malformed, uses a non-Debian extension, or never fires.
        """
        if not isinstance(expr, str):
            raise ValueError(f"cron spec {expr!r}: expected a string such as '0 6 * * *'")
        text = _SHORTCUTS.get(expr.strip().lower(), " ".join(expr.split()))
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(f"cron spec {expr!r}: expected 5 fields (minute hour day month weekday), got {len(parts)}")
        if _NOT_DEBIAN.search(_NAMES.sub("", text)):
            raise ValueError(f"cron spec {expr!r}: L, W, # and ? are not cron(8) syntax")
        spec = cls(expr=text)
        spec._sim(dt.datetime(2000, 1, 1, tzinfo=_UTC))  # raises on a malformed field
        spec.next(dt.datetime(2000, 1, 1, tzinfo=_UTC))  # raises if it never fires
        return spec

    def _sim(self, start: dt.datetime, *, reverse: bool = False) -> CronSim:
        try:
            return CronSim(self.expr, start, reverse=reverse)
        except CronSimError as exc:
            raise ValueError(f"cron spec {self.expr!r}: {str(exc).lower()}") from None

    def next(self, after: dt.datetime) -> dt.datetime:
        """The first fire time strictly after ``after``.

        Raises:
            ValueError: no fire time within cronsim's 50-year horizon (the spec never fires).
        """
        try:
            return next(self._sim(_utc(after).replace(second=0, microsecond=0)))
        except StopIteration:
            raise ValueError(f"cron spec {self.expr!r} never fires") from None

    def previous(self, at_or_before: dt.datetime) -> dt.datetime:
        """The last fire time at or before ``at_or_before``.

        Raises:
            ValueError: no fire time within cronsim's 50-year horizon.
        """
        start = _utc(at_or_before).replace(second=0, microsecond=0) + dt.timedelta(seconds=1)
        try:
            return next(self._sim(start, reverse=True))
        except StopIteration:
            raise ValueError(f"cron spec {self.expr!r} never fires") from None

    def matches(self, moment: dt.datetime) -> bool:
        """True when ``moment`` (truncated to the minute) is a fire time."""
        m = _utc(moment).replace(second=0, microsecond=0)
        return self.previous(m) == m

    def systemd_calendars(self) -> list[str]:
        """``OnCalendar=`` values for a systemd timer firing at the same UTC minutes.

        systemd ANDs the day-of-month and weekday parts; cron ORs them when neither
        field starts with ``*``, and that case gives two calendars (a timer fires on either).
        """
        sim = self._sim(dt.datetime(2000, 1, 1, tzinfo=_UTC))
        names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        weekdays = sorted({int(d) % 7 for d in sim.weekdays if isinstance(d, int)})
        wd = ",".join(names[d] for d in weekdays)
        time_part = f"{_joined(sim.hours, range(24))}:{_joined(sim.minutes, range(60))}:00"
        months = _joined(sim.months, range(1, 13))
        days = _joined(sim.days, range(1, 32))
        if not sim.day_and:
            return [f"*-{months}-{days} {time_part} UTC", f"{wd} *-{months}-* {time_part} UTC"]
        prefix = f"{wd} " if len(weekdays) < 7 else ""
        return [f"{prefix}*-{months}-{days} {time_part} UTC"]
