"""Rules and silences a project manages at run time, over the deployment's rule file.

They arrive as `alert_config` records (the compacted `meterstream.registry.alert_config`
topic, written by `meterstream alerts put|delete|silence|unsilence` and the HTTP API).
A project's rule is confined to its own groups (`where.project` is the project) and
named `<project>:<id>`; a project's silence matches its own alerts only. The latest
record per item is in force; a deleted one retires the item.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from meterstream_alerting.rules import AlertRule, InvalidRules, RuleFile, Silence, describe

log = logging.getLogger("meterstream_alerting")


def managed_rule_id(project: str, item_id: str) -> str:
    return f"{project}:{item_id}"


def managed_rule(project: str, item_id: str, spec: Mapping[str, Any]) -> AlertRule:
    """The rule of a project's record; InvalidRules names each bad field."""
    where = spec.get("where") or {}
    if not isinstance(where, Mapping):
        raise InvalidRules(
            f"rule {item_id}: where: must be a mapping of label to value", ("where",)
        )
    document = {
        **spec,
        "id": managed_rule_id(project, item_id),
        "where": {**where, "project": project},
    }
    try:
        return AlertRule.model_validate(document)
    except ValidationError as error:
        raise describe(error, f"rule {item_id}") from error


def managed_silence(project: str, item_id: str, spec: Mapping[str, Any]) -> Silence:
    """The silence of a project's record (matching the project's alerts only)."""
    matchers = spec.get("matchers") or {}
    if not isinstance(matchers, Mapping):
        raise InvalidRules(
            f"silence {item_id}: matchers: must be a mapping of label to value", ("matchers",)
        )
    rule = spec.get("rule")
    document = {
        **spec,
        "rule": managed_rule_id(project, str(rule)) if rule and ":" not in str(rule) else rule,
        "matchers": {**matchers, "project": project},
    }
    try:
        return Silence.model_validate(document)
    except ValidationError as error:
        raise describe(error, f"silence {item_id}") from error


@dataclass
class AlertBook:
    """The rules and silences in force: the rule file's, then the projects' own."""

    base: RuleFile
    managed_rules: dict[str, AlertRule] = field(default_factory=dict)
    managed_silences: dict[tuple[str, str], Silence] = field(default_factory=dict)

    def apply(self, record: Mapping[str, Any]) -> bool:
        """Take one `alert_config` record; True when the rules in force changed. A record
        that does not describe a valid item is logged and leaves the book as it was."""
        project, item_id = str(record["project"]), str(record["item_id"])
        deleted, spec = bool(record.get("deleted")), record.get("spec") or {}
        try:
            if record["item"] == "rule":
                rule_id = managed_rule_id(project, item_id)
                if deleted:
                    return self.managed_rules.pop(rule_id, None) is not None
                self.managed_rules[rule_id] = managed_rule(project, item_id, spec)
                return True
            if deleted:
                self.managed_silences.pop((project, item_id), None)
            else:
                self.managed_silences[(project, item_id)] = managed_silence(project, item_id, spec)
        except InvalidRules as error:
            log.warning("ignoring alert_config of %s: %s", project, error)
        return False

    @property
    def rules(self) -> list[AlertRule]:
        return [*self.base.rules, *self.managed_rules.values()]

    @property
    def silences(self) -> list[Silence]:
        return [*self.base.silences, *self.managed_silences.values()]
