"""The alert rule engine: hysteresis, cooldown, direction, validation (pure, no store)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from quantkit.alerts import (
    LONG_SPREAD,
    SHORT_SPREAD,
    Alert,
    AlertEngine,
    CorrelationBreakdownRule,
    Observation,
    RuleError,
    SpreadWidthRule,
    StaleFeedRule,
    ZScoreRule,
    alerts_to_frame,
    default_rules,
    frame_to_alerts,
)

T0 = pd.Timestamp("2024-08-08 12:00:00", tz="UTC")
PAIR = "SYNAUSDT/SYNBUSDT"


def obs(i: int, **kw: float) -> Observation:
    """An observation ``i`` seconds after T0."""
    return Observation(time=T0 + pd.Timedelta(seconds=i), pair=PAIR, **kw)


def run(engine: AlertEngine, zs: list[float], corr: float = 0.9, step_s: int = 1) -> list[Alert]:
    out: list[Alert] = []
    for i, z in enumerate(zs):
        out += engine.evaluate(obs(i * step_s, z=z, corr=corr))
    return out


def test_hovering_zscore_fires_once_thanks_to_hysteresis() -> None:
    """A z-score hovering around the entry threshold fires once, not at every crossing."""
    eng = AlertEngine([ZScoreRule(2.0, 0.5, corr_floor=0.3, cooldown_s=0)])
    zs = [0.0, 1.9] + [2.01, 1.99] * 25
    alerts = run(eng, zs)
    assert len(alerts) == 1
    assert alerts[0].direction == SHORT_SPREAD
    assert alerts[0].values["z"] == pytest.approx(2.01)
    assert eng.state("zscore").active


def test_rule_rearms_after_exit_band_and_fires_again() -> None:
    """After |z| falls inside the exit band the rule re-arms and the next excursion fires."""
    eng = AlertEngine([ZScoreRule(2.0, 0.5, corr_floor=None, cooldown_s=0)])
    alerts = run(eng, [2.5, 1.0, 2.2, 0.4, 2.3])
    assert [a.time for a in alerts] == [T0, T0 + pd.Timedelta(seconds=4)]


def test_cooldown_suppresses_then_fires_when_breach_persists() -> None:
    """Within the cooldown a new excursion is held back; it fires once the cooldown is over if still breached."""
    eng = AlertEngine([ZScoreRule(2.0, 0.5, corr_floor=None, cooldown_s=60)])
    zs = [2.5, 0.0, 2.5, 0.0] * 10 + [2.6] * 30  # oscillates every second for 40 s, then stays high
    alerts = run(eng, zs)
    assert [int((a.time - T0).total_seconds()) for a in alerts] == [0, 60]
    assert eng.state("zscore").suppressed >= 1


def test_direction_long_and_short_and_flip_through_the_band() -> None:
    """Low z is long the spread, high z short; a jump to the other side is a new (other-direction) alert."""
    eng = AlertEngine([ZScoreRule(2.0, 0.5, corr_floor=None, cooldown_s=600)])
    alerts = run(eng, [-2.4, -2.1, 2.2])
    assert [a.direction for a in alerts] == [LONG_SPREAD, SHORT_SPREAD]
    assert "buy Y" in alerts[0].message and "sell Y" in alerts[1].message


def test_correlation_floor_blocks_entry_and_nan_never_fires() -> None:
    """No z alert while the correlation is under the floor or unknown, nor on NaN z."""
    eng = AlertEngine([ZScoreRule(2.0, 0.5, corr_floor=0.5, cooldown_s=0)])
    assert run(eng, [3.0, 3.0], corr=0.2) == []
    assert run(eng, [3.0], corr=math.nan) == []
    assert eng.evaluate(obs(9, z=math.nan, corr=0.9)) == []
    assert len(eng.evaluate(obs(10, z=3.0, corr=0.9))) == 1


def test_correlation_breakdown_and_spread_width_and_stale_feed() -> None:
    """The other rules fire on their conditions, with their own re-arm levels."""
    eng = AlertEngine([
        CorrelationBreakdownRule(0.3, recover=0.5, cooldown_s=0),
        SpreadWidthRule(5.0, rearm=0.5, cooldown_s=0),
        StaleFeedRule(10.0, cooldown_s=0),
    ])  # fmt: skip
    seq = [
        dict(corr=0.8, spread=1.0, spread_mean=0.0, tick_age_s=1.0),
        dict(corr=0.2, spread=-6.0, spread_mean=0.0, tick_age_s=12.0),  # all three fire
        dict(corr=0.4, spread=-3.0, spread_mean=0.0, tick_age_s=6.0),  # none re-armed yet
        dict(corr=0.6, spread=-2.0, spread_mean=0.0, tick_age_s=4.0),  # all re-armed
        dict(corr=0.1, spread=7.0, spread_mean=1.0, tick_age_s=30.0),  # all fire again
    ]
    fired = [[(a.rule, a.direction) for a in eng.evaluate(obs(i, **kw))] for i, kw in enumerate(seq)]
    assert fired[0] == [] and fired[2] == [] and fired[3] == []
    assert fired[1] == [("corr_breakdown", ""), ("spread_width", LONG_SPREAD), ("stale_feed", "")]
    assert fired[4] == [("corr_breakdown", ""), ("spread_width", SHORT_SPREAD), ("stale_feed", "")]


def test_clock_filter_prime_and_restore() -> None:
    """Bar and wall rules are judged separately; prime marks open signals; restore revives cooldowns."""
    rules = default_rules(z_entry=2.0, z_exit=0.5, corr_floor=0.3, stale_after_s=10, cooldown_s=60)
    eng = AlertEngine(rules, source="test")
    assert eng.evaluate(obs(0, z=3.0, corr=0.9, tick_age_s=99.0), clock="wall")[0].rule == "stale_feed"
    eng.prime(obs(1, z=3.0, corr=0.9))
    assert eng.evaluate(obs(2, z=3.1, corr=0.9), clock="bar") == []  # already open when primed
    past = Alert(T0 + pd.Timedelta(seconds=5), PAIR, "zscore", LONG_SPREAD, {"z": -2.5}, "old")
    eng2 = AlertEngine(default_rules(cooldown_s=60))
    eng2.restore([past])
    assert eng2.evaluate(obs(30, z=-2.5, corr=0.9), clock="bar") == []  # 25 s after the restored alert
    later = eng2.evaluate(obs(70, z=-2.5, corr=0.9), clock="bar")
    assert [(a.rule, a.direction, a.source) for a in later] == [("zscore", LONG_SPREAD, "")]


def test_configure_keeps_state_of_rules_with_the_same_name() -> None:
    """Changing thresholds keeps the rule's state, so a changed entry does not re-fire an open signal."""
    eng = AlertEngine([ZScoreRule(2.0, 0.5, corr_floor=None, cooldown_s=0)])
    assert len(run(eng, [2.5])) == 1
    eng.configure([ZScoreRule(2.2, 0.4, corr_floor=None, cooldown_s=0)])
    assert eng.evaluate(obs(1, z=2.6, corr=1.0)) == []


def test_bad_rule_parameters_name_the_value() -> None:
    """Invalid thresholds raise RuleError (a ValueError) naming the parameter."""
    with pytest.raises(RuleError, match="exit"):
        ZScoreRule(2.0, 2.5)
    with pytest.raises(ValueError, match="width"):
        SpreadWidthRule(-1.0)
    with pytest.raises(RuleError, match="floor"):
        CorrelationBreakdownRule(1.5)
    with pytest.raises(RuleError, match="rules"):
        AlertEngine([StaleFeedRule(5), StaleFeedRule(6)])


def test_alert_record_round_trip() -> None:
    """Alerts survive the flat record form (NaN values included)."""
    a = Alert(T0, PAIR, "zscore", SHORT_SPREAD, {"z": 2.5, "corr": math.nan}, "msg", "dashboard")
    back = frame_to_alerts(alerts_to_frame([a]))
    assert len(back) == 1
    b = back[0]
    assert (b.time, b.pair, b.rule, b.direction, b.message, b.source) == (a.time, a.pair, a.rule, a.direction, a.message,
                                                                          a.source)
    assert b.values["z"] == 2.5 and math.isnan(b.values["corr"])
