"""Validate each item of a batch on its own; a bad item never sinks its neighbours. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jiter
from pydantic import TypeAdapter, ValidationError

from meterstream_contracts import EVENT_MODELS, AnyEvent, Event
from meterstream_contracts.errors import describe_validation_error
from meterstream_contracts.fields import RetentionWindow


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


_ANY_EVENT: TypeAdapter[Event] = TypeAdapter(AnyEvent)
"""Every kind in one call."""


def parse_item(raw: bytes) -> Any:
    """One NDJSON line as JSON; a key given twice in any object is refused, naming it
    (a silent last-one-wins would store something the sender did not mean)."""
    return jiter.from_json(raw, catch_duplicate_keys=True, cache_mode="keys")


def check_items(
    items: list[Any], *, project: str, kept: RetentionWindow | None = None
) -> CheckedBatch:
    """Events of the key's project, validated one by one (and, with `kept`, refused when
    older than the raw tables keep).

    An item without `project` gets the key's; an item naming another project is
    collected in `foreign_projects` (the request is then refused as a whole).
    """
    checked = CheckedBatch()
    for index, raw in enumerate(items):
        # The common case, a valid event, is validated in one call (an object without a
        # project gets the key's first); any other item takes the path that names what is
        # wrong. The project is compared afterwards.
        try:
            item = parse_item(raw) if isinstance(raw, bytes) else raw
        except ValueError as error:
            checked.rejected.append(ItemRejection(index, f"<event>: {_json_error(error)}"))
            continue
        try:
            if not isinstance(item, dict):
                raise TypeError
            event = _ANY_EVENT.validate_python(
                item if "project" in item else {**item, "project": project}
            )
        except (ValidationError, TypeError):
            found = _check_item(checked, index, item, project)
            if found is None:
                continue
            event = found
        if event.project != project:
            checked.foreign_projects.add(event.project)
        elif kept is not None and (refusal := kept.refusal(event.time)) is not None:
            checked.rejected.append(ItemRejection(index, refusal))
        else:
            checked.events.append(event)
    return checked


def _json_error(error: ValueError) -> str:
    text = str(error)
    return text if text.startswith("Detected duplicate key") else f"not valid JSON ({text})"


def _check_item(checked: CheckedBatch, index: int, item: Any, project: str) -> Event | None:
    """The event an item is, judged by its own kind; None, with the reason recorded,
    when it is none."""
    if not isinstance(item, dict):
        checked.rejected.append(ItemRejection(index, "<event>: expected a JSON object"))
        return None
    kind = item.get("kind")
    if kind not in EVENT_MODELS:
        known = ", ".join(sorted(EVENT_MODELS))
        checked.rejected.append(ItemRejection(index, f"kind: {kind!r} is not one of {known}"))
        return None
    item.setdefault("project", project)
    try:
        return _adapter(kind).validate_python(item)
    except ValidationError as error:
        checked.rejected.append(ItemRejection(index, describe_validation_error(error)))
        return None
