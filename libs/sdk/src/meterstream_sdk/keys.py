"""The metric key registry as every process sees it: the compacted registry topic, replayed."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Literal

from meterstream_sdk.errors import InvalidValue, ProtectedKey, UnknownKey, WrongKind

ValueKind = Literal["scalar", "bool"]
Scoring = Literal["higher_is_better", "lower_is_better"]
KeyCategory = Literal["system", "grader", "user"]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    project: str
    key: str
    value_kind: ValueKind
    scoring: Scoring
    category: KeyCategory
    description: str = ""

    def as_record(self, *, deleted: bool = False) -> dict[str, Any]:
        """The `metric_key` record (without the common event fields)."""
        return {
            "project": self.project,
            "key": self.key,
            "value_kind": self.value_kind,
            "scoring": self.scoring,
            "category": self.category,
            "description": self.description,
            "deleted": deleted,
        }


SYSTEM_KEYS: dict[str, tuple[ValueKind, Scoring, str]] = {
    "latency_ms": ("scalar", "lower_is_better", "End-to-end latency of the call."),
    "ttft_ms": ("scalar", "lower_is_better", "Time to first token."),
    "input_tokens": ("scalar", "lower_is_better", "Prompt tokens, cached included."),
    "output_tokens": ("scalar", "lower_is_better", "Completion tokens."),
    "cached_tokens": ("scalar", "higher_is_better", "Prompt tokens served from cache."),
    "cost_usd": ("scalar", "lower_is_better", "Price of the call."),
    "error": ("bool", "lower_is_better", "The call failed."),
}
"""Computed by the pipeline for every completion; protected from edits."""


class KeyRegistry:
    """Thread-safe view of registered keys; system keys are always present."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], KeyInfo] = {}
        self._lock = threading.Lock()

    def apply(self, record: dict[str, Any]) -> None:
        """Fold one `metric_key` record (registration, update or tombstone) into the view."""
        ident = (str(record["project"]), str(record["key"]))
        with self._lock:
            if record.get("deleted"):
                self._keys.pop(ident, None)
                return
            self._keys[ident] = KeyInfo(
                project=ident[0],
                key=ident[1],
                value_kind=record.get("value_kind", "scalar"),
                scoring=record.get("scoring", "higher_is_better"),
                category=record.get("category", "user"),
                description=record.get("description", ""),
            )

    def get(self, project: str, key: str) -> KeyInfo | None:
        system = SYSTEM_KEYS.get(key)
        if system is not None:
            return KeyInfo(project, key, system[0], system[1], "system", system[2])
        with self._lock:
            return self._keys.get((project, key))

    def list(self, project: str, *, category: KeyCategory | None = None) -> list[KeyInfo]:
        with self._lock:
            mine = [info for (p, _), info in self._keys.items() if p == project]
        system = [
            KeyInfo(project, key, kind, scoring, "system", text)
            for key, (kind, scoring, text) in SYSTEM_KEYS.items()
        ]
        everything = sorted(system + mine, key=lambda info: (info.category, info.key))
        return [info for info in everything if category is None or info.category == category]

    def require_editable(self, project: str, key: str) -> KeyInfo:
        info = self.get(project, key)
        if info is None:
            raise UnknownKey(f"metric key {key!r} is not registered for project {project!r}")
        if info.category != "user":
            raise ProtectedKey(
                f"metric key {key!r} is a {info.category} key;"
                " only user keys can be edited or deleted"
            )
        return info

    def check_value(self, project: str, key: str, value: object) -> float:
        """The value as stored (bools as 1.0/0.0), or an error naming the key."""
        info = self.get(project, key)
        if info is None:
            raise UnknownKey(
                f"metric key {key!r} is not registered for project {project!r};"
                " register it first with register_key()"
            )
        if info.value_kind == "bool":
            if not isinstance(value, bool):
                raise WrongKind(
                    f"metric key {key!r} is a bool key; got {type(value).__name__} {value!r}"
                )
            return 1.0 if value else 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WrongKind(
                f"metric key {key!r} is a scalar key; got {type(value).__name__} {value!r}"
            )
        number = float(value)
        if not math.isfinite(number):
            raise InvalidValue(f"metric key {key!r}: value must be finite, got {value!r}")
        return number
