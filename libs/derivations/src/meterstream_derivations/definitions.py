"""Metric definitions evaluated on each event: predefined, judge and custom expressions.

Definitions arrive from the compacted registry topic; every result is a
`metric_value` record with category "custom" whose event id is derived from
(definition, source event), so re-evaluating an event after a crash writes
the same record again instead of a second one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from meterstream_derivations.expressions import Expression, InvalidExpression, compile_expression

log = logging.getLogger("meterstream_derivations")

RESULT_NAMESPACE = uuid.UUID("6f1c4f5e-0d7b-4c55-a6a1-3d1f0f6b9a10")


def _float(value: object) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    return None


def _decode_rate(record: Mapping[str, Any]) -> float | None:
    ttft, latency = record.get("ttft_ms"), record.get("latency_ms")
    if ttft is None or latency is None or latency <= ttft:
        return None
    return float(record.get("output_tokens") or 0) / ((float(latency) - float(ttft)) / 1000)


def _cache_hit_ratio(record: Mapping[str, Any]) -> float | None:
    inputs = record.get("input_tokens") or 0
    return (record.get("cached_tokens") or 0) / inputs if inputs else None


PREDEFINED: dict[str, Callable[[Mapping[str, Any]], float | None]] = {
    "latency_ms": lambda r: _float(r.get("latency_ms")),
    "ttft_ms": lambda r: _float(r.get("ttft_ms")),
    "output_tokens_per_s": _decode_rate,
    "total_tokens": lambda r: float((r.get("input_tokens") or 0) + (r.get("output_tokens") or 0)),
    "error": lambda r: 0.0 if r.get("status", "ok") == "ok" else 1.0,
    "cache_hit_ratio": _cache_hit_ratio,
}


class InvalidDefinition(ValueError):
    pass


@dataclass(frozen=True)
class Definition:
    definition_id: str
    project: str
    name: str
    applies_to: str
    compute: Callable[[Mapping[str, Any]], float | None]


def compile_definition(record: Mapping[str, Any]) -> Definition:
    """A definition ready to evaluate; InvalidDefinition names what is wrong."""
    kind = record.get("definition_type")
    applies_to = str(record.get("applies_to", "completion"))
    if kind == "predefined":
        name = str(record.get("predefined"))
        if name not in PREDEFINED:
            raise InvalidDefinition(
                f"predefined: unknown metric {name!r} (known: {', '.join(sorted(PREDEFINED))})"
            )
        if applies_to != "completion":
            raise InvalidDefinition("applies_to: predefined metrics apply to completions")
        compute = PREDEFINED[name]
    elif kind == "judge":
        grader_key = record.get("grader_key")
        if applies_to != "grader_score":
            applies_to = "grader_score"

        def compute(r: Mapping[str, Any]) -> float | None:
            return _float(r.get("value")) if r.get("key") == grader_key else None

    elif kind == "custom":
        try:
            expression: Expression = compile_expression(str(record.get("expression")), applies_to)
        except InvalidExpression as error:
            raise InvalidDefinition(str(error)) from error
        compute = expression.evaluate
    else:
        raise InvalidDefinition(f"definition_type: unknown type {kind!r}")
    return Definition(
        str(record["definition_id"]),
        str(record["project"]),
        str(record["name"]),
        applies_to,
        compute,
    )


class DefinitionSet:
    """The active definitions per (project, event kind), kept from registry records."""

    def __init__(self) -> None:
        self._by_id: dict[tuple[str, str], Definition] = {}
        self._active: dict[tuple[str, str], list[Definition]] = {}
        self.failures = 0

    def apply(self, record: Mapping[str, Any]) -> None:
        ident = (str(record["project"]), str(record["definition_id"]))
        self._by_id.pop(ident, None)
        if not record.get("deleted") and record.get("active", True):
            try:
                self._by_id[ident] = compile_definition(record)
            except InvalidDefinition as error:
                log.warning("metric definition %s/%s ignored: %s", *ident, error)
        self._active = {}
        for definition in self._by_id.values():
            key = (definition.project, definition.applies_to)
            self._active.setdefault(key, []).append(definition)

    def any_for(self, project: str) -> bool:
        """Whether the project has any active definition (cheap check per envelope)."""
        return any(p == project for p, _ in self._active)

    def for_event(self, project: str, kind: str) -> list[Definition]:
        return self._active.get((project, kind), [])

    def evaluate(self, kind: str, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`metric_value` records of the definitions that apply to this event."""
        results = []
        for definition in self.for_event(str(record.get("project")), kind):
            try:
                value = definition.compute(record)
            except Exception:  # a definition failing on one event must not stop the stream
                self.failures += 1
                continue
            if value is None or record.get("completion_id") is None:
                continue
            source_id = f"{definition.definition_id}:{record.get('event_id')}"
            results.append(
                {
                    "kind": "metric_value",
                    "project": definition.project,
                    "event_id": str(uuid.uuid5(RESULT_NAMESPACE, source_id)),
                    "time": record.get("time"),
                    "completion_id": record["completion_id"],
                    "key": definition.name,
                    "value": value,
                    "category": "custom",
                }
            )
        return results
