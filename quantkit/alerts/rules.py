"""Alert rules: a trigger condition, a hysteresis re-arm condition and a cooldown each.

A rule looks at one :class:`Observation` and answers two questions:

* :meth:`Rule.breach`: is the trigger condition met, and in which direction?
  (``None``: no; a direction string, possibly ``""``: yes);
* :meth:`Rule.cleared`: has the value gone back far enough to re-arm the rule
  (hysteresis: the re-arm threshold is inside the trigger threshold, so a value
  hovering around the trigger fires once, not at every crossing)?

The :class:`~quantkit.alerts.engine.AlertEngine` keeps each rule's state and
applies its ``cooldown_s`` (no second alert of the same rule and direction
within that many seconds). A NaN input (warm-up, missing data) never breaches
and never clears.

================================ ========================================== ===============================
rule                             fires when                                 re-arms when
================================ ========================================== ===============================
:class:`ZScoreRule`              ``|z| >= entry`` and ``corr >= corr_floor`` ``|z| <= exit`` (or sign flips)
:class:`SpreadWidthRule`         ``|spread - mean| >= width``               ``|spread - mean| <= rearm * width``
:class:`CorrelationBreakdownRule` ``corr < floor``                           ``corr >= recover``
:class:`StaleFeedRule`           last tick older than ``max_age_s``          age ``<= rearm * max_age_s``
================================ ========================================== ===============================

Directions: a high z (spread above its mean) is a :data:`~quantkit.alerts.alert.SHORT_SPREAD`
signal (sell Y, buy X), a low z a :data:`~quantkit.alerts.alert.LONG_SPREAD` signal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pandas as pd

from quantkit.alerts.alert import LONG_SPREAD, NO_DIRECTION, SHORT_SPREAD
from quantkit.errors import ConfigError

__all__ = [
    "CorrelationBreakdownRule",
    "Observation",
    "Rule",
    "RuleError",
    "SpreadWidthRule",
    "StaleFeedRule",
    "ZScoreRule",
    "default_rules",
]

_NAN = math.nan


@dataclass(frozen=True)
class Observation:
    """What the rules see at one instant.

    Attributes:
        time: UTC time of the observation (a bar's close time, or the wall clock for feed checks).
        pair: ``"Y/X"``.
        z: spread z-score (NaN if unknown).
        corr: rolling return correlation (NaN if unknown).
        spread: the spread, quote currency (NaN if unknown).
        spread_mean: rolling mean of the spread.
        spread_std: rolling standard deviation of the spread.
        beta: the hedge ratio in use.
        tick_age_s: seconds since the newest tick of either leg (NaN if unknown).
    """

    time: pd.Timestamp
    pair: str
    z: float = _NAN
    corr: float = _NAN
    spread: float = _NAN
    spread_mean: float = _NAN
    spread_std: float = _NAN
    beta: float = _NAN
    tick_age_s: float = _NAN


class RuleError(ConfigError):
    """A rule parameter is invalid (``name``, ``value`` and ``problem`` as in :class:`~quantkit.errors.ConfigError`)."""


def _check(name: str, value: float, *, minimum: float = 0.0, strict: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RuleError(name, value, "expected a number") from None
    if not math.isfinite(v) or (v <= minimum if strict else v < minimum):
        raise RuleError(name, value, f"must be {'>' if strict else '>='} {minimum}")
    return v


@runtime_checkable
class Rule(Protocol):
    """What :class:`~quantkit.alerts.engine.AlertEngine` needs from a rule.

    Attributes:
        name: unique name within an engine (persisted with each alert).
        cooldown_s: minimum seconds between two alerts of this rule in the same direction.
        clock: ``"bar"`` (judged on bar observations, exchange time) or ``"wall"``
            (judged on periodic feed checks, wall-clock time).
    """

    name: str
    cooldown_s: float
    clock: str

    def breach(self, obs: Observation) -> str | None:
        """The direction if the trigger condition holds, else ``None``."""

    def cleared(self, obs: Observation, direction: str) -> bool:
        """True when the rule, fired in ``direction``, may fire again (hysteresis)."""

    def describe(self, obs: Observation, direction: str) -> tuple[dict[str, float], str]:
        """The values and the one-line message of an alert raised on ``obs``."""


class ZScoreRule:
    """Spread z-score beyond ``entry`` while the legs are still correlated: a trade signal.

    Args:
        entry: fire when ``|z| >= entry`` (default 2.0).
        exit: re-arm when ``|z| <= exit`` (default 0.5; must be < entry).
        corr_floor: require ``corr >= corr_floor`` (default 0.0; ``None`` ignores the correlation).
        cooldown_s: seconds between two alerts in the same direction (default 60).
        name: rule name (default ``"zscore"``).

    Raises:
        RuleError: bad thresholds (a ValueError naming the parameter).
    """

    clock = "bar"

    def __init__(
        self,
        entry: float = 2.0,
        exit: float = 0.5,
        *,
        corr_floor: float | None = 0.0,
        cooldown_s: float = 60.0,
        name: str = "zscore",
    ) -> None:
        self.entry = _check("entry", entry)
        self.exit = _check("exit", exit, strict=False)
        if not self.exit < self.entry:
            raise RuleError("exit", exit, f"must be < entry ({entry!r})")
        if corr_floor is not None and not -1.0 <= float(corr_floor) <= 1.0:
            raise RuleError("corr_floor", corr_floor, "must be in [-1, 1]")
        self.corr_floor = None if corr_floor is None else float(corr_floor)
        self.cooldown_s = _check("cooldown_s", cooldown_s, strict=False)
        self.name = name

    def breach(self, obs: Observation) -> str | None:
        z = obs.z
        if not abs(z) >= self.entry:  # NaN-safe
            return None
        if self.corr_floor is not None and not obs.corr >= self.corr_floor:
            return None
        return SHORT_SPREAD if z > 0 else LONG_SPREAD

    def cleared(self, obs: Observation, direction: str) -> bool:
        z = obs.z
        if z != z:
            return False
        if abs(z) <= self.exit:
            return True
        # a jump through the band to the other side is a new signal
        return (direction == SHORT_SPREAD and z < -self.exit) or (direction == LONG_SPREAD and z > self.exit)

    def describe(self, obs: Observation, direction: str) -> tuple[dict[str, float], str]:
        vals = {"z": obs.z, "corr": obs.corr, "spread": obs.spread, "beta": obs.beta, "entry": self.entry,
                "exit": self.exit}
        if self.corr_floor is not None:
            vals["corr_floor"] = self.corr_floor
        side = "sell Y / buy X" if direction == SHORT_SPREAD else "buy Y / sell X"
        return vals, f"z={obs.z:+.2f} beyond ±{self.entry:g} (corr {obs.corr:.2f}): {direction} ({side})"


class SpreadWidthRule:
    """The spread is at least ``width`` (quote currency) away from its rolling mean.

    Args:
        width: absolute deviation that fires, in the spread's units (quote currency), > 0.
        rearm: re-arm once the deviation is back under ``rearm * width`` (default 0.5, in [0, 1)).
        cooldown_s: seconds between two alerts in the same direction (default 60).
        name: rule name (default ``"spread_width"``).
    """

    clock = "bar"

    def __init__(self, width: float, *, rearm: float = 0.5, cooldown_s: float = 60.0, name: str = "spread_width") -> None:
        self.width = _check("width", width)
        if not 0.0 <= float(rearm) < 1.0:
            raise RuleError("rearm", rearm, "must be in [0, 1)")
        self.rearm = float(rearm)
        self.cooldown_s = _check("cooldown_s", cooldown_s, strict=False)
        self.name = name

    def breach(self, obs: Observation) -> str | None:
        dev = obs.spread - obs.spread_mean
        if not abs(dev) >= self.width:
            return None
        return SHORT_SPREAD if dev > 0 else LONG_SPREAD

    def cleared(self, obs: Observation, direction: str) -> bool:
        dev = obs.spread - obs.spread_mean
        return bool(abs(dev) <= self.rearm * self.width)

    def describe(self, obs: Observation, direction: str) -> tuple[dict[str, float], str]:
        dev = obs.spread - obs.spread_mean
        vals = {"spread": obs.spread, "spread_mean": obs.spread_mean, "deviation": dev, "spread_std": obs.spread_std,
                "width": self.width}
        return vals, f"spread {dev:+.4g} from its mean (width {self.width:g}): {direction}"


class CorrelationBreakdownRule:
    """The legs' return correlation fell below ``floor``: the pair relationship may be broken.

    Args:
        floor: fire when ``corr < floor`` (default 0.3).
        recover: re-arm when ``corr >= recover`` (default ``floor + 0.1``, capped at 1).
        cooldown_s: seconds between two alerts (default 300).
        name: rule name (default ``"corr_breakdown"``).
    """

    clock = "bar"

    def __init__(
        self, floor: float = 0.3, *, recover: float | None = None, cooldown_s: float = 300.0, name: str = "corr_breakdown"
    ) -> None:
        if not -1.0 <= float(floor) <= 1.0:
            raise RuleError("floor", floor, "must be in [-1, 1]")
        self.floor = float(floor)
        rec = min(self.floor + 0.1, 1.0) if recover is None else float(recover)
        if not self.floor <= rec <= 1.0:
            raise RuleError("recover", recover, "must be in [floor, 1]")
        self.recover = rec
        self.cooldown_s = _check("cooldown_s", cooldown_s, strict=False)
        self.name = name

    def breach(self, obs: Observation) -> str | None:
        return NO_DIRECTION if obs.corr < self.floor else None

    def cleared(self, obs: Observation, direction: str) -> bool:
        return bool(obs.corr >= self.recover)

    def describe(self, obs: Observation, direction: str) -> tuple[dict[str, float], str]:
        return {"corr": obs.corr, "floor": self.floor, "recover": self.recover}, (
            f"return correlation {obs.corr:.2f} below {self.floor:g}"
        )


class StaleFeedRule:
    """No tick for ``max_age_s`` seconds on the pair: the feed (or the ingest) may be down.

    Args:
        max_age_s: fire when the newest tick is older than this, seconds (default 10).
        rearm: re-arm once the age is back under ``rearm * max_age_s`` (default 0.5).
        cooldown_s: seconds between two alerts (default 60).
        name: rule name (default ``"stale_feed"``).
    """

    clock = "wall"

    def __init__(self, max_age_s: float = 10.0, *, rearm: float = 0.5, cooldown_s: float = 60.0, name: str = "stale_feed") -> None:
        self.max_age_s = _check("max_age_s", max_age_s)
        if not 0.0 <= float(rearm) < 1.0:
            raise RuleError("rearm", rearm, "must be in [0, 1)")
        self.rearm = float(rearm)
        self.cooldown_s = _check("cooldown_s", cooldown_s, strict=False)
        self.name = name

    def breach(self, obs: Observation) -> str | None:
        return NO_DIRECTION if obs.tick_age_s > self.max_age_s else None

    def cleared(self, obs: Observation, direction: str) -> bool:
        return bool(obs.tick_age_s <= self.rearm * self.max_age_s)

    def describe(self, obs: Observation, direction: str) -> tuple[dict[str, float], str]:
        return {"tick_age_s": obs.tick_age_s, "max_age_s": self.max_age_s}, (
            f"no tick for {obs.tick_age_s:.1f} s (limit {self.max_age_s:g} s)"
        )


def default_rules(
    *,
    z_entry: float = 2.0,
    z_exit: float = 0.5,
    corr_floor: float = 0.3,
    stale_after_s: float = 10.0,
    spread_width: float | None = None,
    cooldown_s: float = 60.0,
) -> list[Rule]:
    """The standard rule set: z-score entry, correlation breakdown, stale feed (and spread width if given).

    Args:
        z_entry: ``|z|`` that fires the z-score rule (default 2.0).
        z_exit: ``|z|`` that re-arms it (default 0.5).
        corr_floor: the z-score rule needs ``corr >= corr_floor``; the breakdown rule
            fires below it (default 0.3).
        stale_after_s: seconds without ticks before the stale-feed rule fires (default 10).
        spread_width: absolute spread deviation (quote currency) for a :class:`SpreadWidthRule`;
            ``None`` (default) leaves it out.
        cooldown_s: cooldown of the z-score and spread rules, seconds (default 60).
    """
    rules: list[Rule] = [
        ZScoreRule(z_entry, z_exit, corr_floor=corr_floor, cooldown_s=cooldown_s),
        CorrelationBreakdownRule(corr_floor, cooldown_s=max(cooldown_s, 300.0)),
        StaleFeedRule(stale_after_s, cooldown_s=cooldown_s),
    ]
    if spread_width is not None:
        rules.append(SpreadWidthRule(spread_width, cooldown_s=cooldown_s))
    return rules
