"""Alert rules over the derived streams: rule files, the per-(rule, group) evaluator, notifiers."""

from meterstream_alerting.evaluate import GroupState, Observation, evaluate
from meterstream_alerting.rules import AlertRule, InvalidRules, load_rules, parse_rules

__all__ = [
    "AlertRule",
    "GroupState",
    "InvalidRules",
    "Observation",
    "evaluate",
    "load_rules",
    "parse_rules",
]
