"""The alert engine: rule states (armed / fired), hysteresis and cooldown.

Per rule the engine keeps a small state machine::

    armed --breach & cooldown over--> fired (alert raised) --cleared--> armed
      \\--breach during cooldown--> armed, pending (fires at the first observation
                                   after the cooldown if the breach still holds)

The cooldown is per rule *and direction*, measured on the observations' own
clock (``Observation.time``), so replays and tests are deterministic.
Not thread-safe: one caller per engine (the dashboard's publisher thread, or
an :class:`~quantkit.alerts.monitor.AlertMonitor`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import pandas as pd

from quantkit.alerts.alert import Alert
from quantkit.alerts.rules import Observation, Rule, RuleError

__all__ = ["AlertEngine", "RuleState"]

log = logging.getLogger("quantkit.alerts")


@dataclass
class RuleState:
    """The live state of one rule in an engine.

    Attributes:
        active: True after the rule fired, until its re-arm condition holds.
        direction: the direction of the last alert (``""`` if none/undirected).
        last_fired: last alert time per direction, ns since the epoch.
        fired: alerts raised.
        suppressed: breach episodes that met the cooldown (not raised at that moment).
        pending: a breach is waiting for the cooldown to end.
    """

    active: bool = False
    direction: str = ""
    last_fired: dict[str, int] = field(default_factory=dict)
    fired: int = 0
    suppressed: int = 0
    pending: bool = False


class AlertEngine:
    """Evaluate rules on observations and raise alerts with hysteresis and cooldown.

    Args:
        rules: the rules (unique names).
        source: recorded in each alert's ``source`` (e.g. ``"dashboard"``, ``"monitor"``).
        on_alert: called with each new alert (exceptions are logged, never raised).

    Example:
        >>> from quantkit.alerts import AlertEngine, Observation, ZScoreRule
        >>> eng = AlertEngine([ZScoreRule(2.0, 0.5, corr_floor=None)])
        >>> t = pd.Timestamp("2024-01-01", tz="UTC")
        >>> [a.direction for a in eng.evaluate(Observation(t, "A/B", z=2.5))]
        ['short_spread']
        >>> eng.evaluate(Observation(t + pd.Timedelta("1s"), "A/B", z=2.1))   # still active: no repeat
        []
    """

    def __init__(
        self, rules: Iterable[Rule], *, source: str = "", on_alert: Callable[[Alert], None] | None = None
    ) -> None:
        self.source = source
        self.on_alert = on_alert
        self._rules: list[Rule] = []
        self._state: dict[str, RuleState] = {}
        self.configure(rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The current rules."""
        return tuple(self._rules)

    def configure(self, rules: Iterable[Rule]) -> None:
        """Replace the rules, keeping the state (and cooldowns) of rules whose names are kept.

        Raises:
            RuleError: duplicate rule names.
        """
        new = list(rules)
        names = [r.name for r in new]
        if len(set(names)) != len(names):
            raise RuleError("rules", names, "rule names must be unique")
        self._rules = new
        self._state = {n: self._state.get(n, RuleState()) for n in names}

    def state(self, name: str) -> RuleState:
        """The state of the rule called ``name`` (KeyError if unknown)."""
        return self._state[name]

    def prime(self, obs: Observation, *, clock: str | None = "bar") -> None:
        """Mark rules whose condition already holds as fired, without raising alerts.

        Used after seeding from history: a signal that was already open when
        the dashboard started does not alert again.

        Args:
            obs: the last observation of the history.
            clock: only rules with this clock (default ``"bar"``; ``None``: all).
        """
        for rule in self._rules:
            if clock is not None and getattr(rule, "clock", "bar") != clock:
                continue
            d = rule.breach(obs)
            if d is not None:
                st = self._state[rule.name]
                st.active = True
                st.direction = d

    def restore(self, alerts: Sequence[Alert]) -> None:
        """Restore cooldowns from past alerts (e.g. the persisted history) of these rules."""
        for a in alerts:
            st = self._state.get(a.rule)
            if st is not None:
                t = int(a.time.value)
                if t > st.last_fired.get(a.direction, -(2**62)):
                    st.last_fired[a.direction] = t

    def evaluate(self, obs: Observation, *, clock: str | None = None) -> list[Alert]:
        """Apply the rules to ``obs``; returns the alerts raised (usually none).

        Args:
            obs: the observation.
            clock: only apply rules whose ``clock`` is this (``"bar"`` or ``"wall"``);
                ``None`` (default) applies every rule.
        """
        out: list[Alert] = []
        t = int(pd.Timestamp(obs.time).value)
        for rule in self._rules:
            if clock is not None and getattr(rule, "clock", "bar") != clock:
                continue
            st = self._state[rule.name]
            if st.active and rule.cleared(obs, st.direction):
                st.active = False
            if st.active:
                continue
            d = rule.breach(obs)
            if d is None:
                st.pending = False
                continue
            last = st.last_fired.get(d)
            if last is not None and t - last < rule.cooldown_s * 1e9:
                if not st.pending:
                    st.pending = True
                    st.suppressed += 1
                continue
            st.active = True
            st.pending = False
            st.direction = d
            st.last_fired[d] = t
            st.fired += 1
            values, message = rule.describe(obs, d)
            alert = Alert(time=obs.time, pair=obs.pair, rule=rule.name, direction=d, values=values, message=message,
                          source=self.source)
            out.append(alert)
            if self.on_alert is not None:
                try:
                    self.on_alert(alert)
                except Exception:  # noqa: BLE001 - a bad callback must not stop the rules
                    log.exception("on_alert callback failed for %s", rule.name)
        return out
