"""Validate each item of a batch on its own; a bad item never sinks its neighbours. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from meterstream_contracts import EVENT_MODELS, Event
from meterstream_contracts.errors import describe_validation_error


@dataclass(frozen=True, slots=True)
class ItemRejection:
    index: int
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"index": self.index, "reason": self.reason}


@dataclass(slots=True)
class CheckedBatch:
    events: list[Event] = field(default_factory=list)
    rejected: list[ItemRejection] = field(default_factory=list)
    foreign_projects: set[str] = field(default_factory=set)


@cache
def _adapter(kind: str) -> TypeAdapter[Event]:
    return TypeAdapter(EVENT_MODELS[kind])


def check_items(items: list[Any], *, project: str) -> CheckedBatch:
    """Events of the key's project, validated one by one.

    An item without `project` gets the key's; an item naming another project is
    collected in `foreign_projects` (the request is then refused as a whole).
    """
    checked = CheckedBatch()
    for index, raw in enumerate(items):
        try:
            item = orjson.loads(raw) if isinstance(raw, bytes) else raw
        except orjson.JSONDecodeError as error:
            checked.rejected.append(ItemRejection(index, f"<event>: not valid JSON ({error})"))
            continue
        if not isinstance(item, dict):
            checked.rejected.append(ItemRejection(index, "<event>: expected a JSON object"))
            continue
        kind = item.get("kind")
        if kind not in EVENT_MODELS:
            known = ", ".join(sorted(EVENT_MODELS))
            checked.rejected.append(ItemRejection(index, f"kind: {kind!r} is not one of {known}"))
            continue
        named = item.setdefault("project", project)
        if named != project:
            checked.foreign_projects.add(str(named))
            continue
        try:
            checked.events.append(_adapter(kind).validate_python(item))
        except ValidationError as error:
            checked.rejected.append(ItemRejection(index, describe_validation_error(error)))
    return checked
