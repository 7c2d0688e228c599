"""Alerts on a live pair: a rule engine with hysteresis and cooldown, persisted history, headless monitor.

Layers, top to bottom (each usable alone)::

    AlertMonitor (monitor.py)   store -> bars -> statistics -> rules -> log + history; run_once()/start()
    ├── PairSource (source.py)  final, aligned pair bars from the store's tick tail (quantkit.store.BarBuilder)
    ├── PairTrack (track.py)    bars + statistics history; the statistics by quantkit.analytics.PairStream
    ├── AlertEngine (engine.py) rule states: hysteresis, cooldown per rule and direction
    │   └── rules (rules.py)    ZScoreRule, SpreadWidthRule, CorrelationBreakdownRule, StaleFeedRule
    └── AlertHistory (history.py) alerts in the store's records table, reloaded on restart
    run_monitors (runner.py)    one blocking call for the CLI: monitors for several pairs until stopped

An :class:`Alert` has a time, a pair, a rule, values and a direction
(``long_spread`` / ``short_spread`` / ``""``). Logger: ``"quantkit.alerts"``.
The live dashboard (:mod:`quantkit.dashboard.live`) draws what an
:class:`AlertMonitor` tracks; nothing here imports widgets.
"""

from __future__ import annotations

from quantkit.alerts.alert import DIRECTIONS, LONG_SPREAD, NO_DIRECTION, SHORT_SPREAD, Alert, alerts_to_frame, frame_to_alerts
from quantkit.alerts.engine import AlertEngine, RuleState
from quantkit.alerts.history import ALERT_RECORD_KIND, AlertHistory
from quantkit.alerts.monitor import AlertMonitor
from quantkit.alerts.rules import (
    CorrelationBreakdownRule,
    Observation,
    Rule,
    RuleError,
    SpreadWidthRule,
    StaleFeedRule,
    ZScoreRule,
    default_rules,
)
from quantkit.alerts.runner import run_monitors
from quantkit.alerts.source import PAIR_FIELDS, PairSource
from quantkit.alerts.track import STAT_FIELDS, TRACK_FIELDS, PairTrack

__all__ = [
    "ALERT_RECORD_KIND",
    "DIRECTIONS",
    "LONG_SPREAD",
    "NO_DIRECTION",
    "PAIR_FIELDS",
    "SHORT_SPREAD",
    "STAT_FIELDS",
    "TRACK_FIELDS",
    "Alert",
    "AlertEngine",
    "AlertHistory",
    "AlertMonitor",
    "CorrelationBreakdownRule",
    "Observation",
    "PairSource",
    "PairTrack",
    "Rule",
    "RuleError",
    "RuleState",
    "SpreadWidthRule",
    "StaleFeedRule",
    "ZScoreRule",
    "alerts_to_frame",
    "default_rules",
    "frame_to_alerts",
    "run_monitors",
]
