"""Canonical example payloads per event kind, valid and invalid, used by every consumer's tests.

Each `<kind>.json` holds `valid` events and `invalid` ones, each invalid one with
the `field` its error must name.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import orjson


@dataclass(frozen=True, slots=True)
class InvalidExample:
    field: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Examples:
    kind: str
    valid: tuple[bytes, ...]
    invalid: tuple[InvalidExample, ...]


def load_examples(kind: str) -> Examples:
    """The canonical examples of one event kind, each payload as encoded JSON bytes."""
    raw = resources.files(__package__).joinpath(f"{kind}.json").read_bytes()
    document = orjson.loads(raw)
    return Examples(
        kind=kind,
        valid=tuple(orjson.dumps(event) for event in document["valid"]),
        invalid=tuple(
            InvalidExample(field=item["field"], payload=orjson.dumps(item["event"]))
            for item in document["invalid"]
        ),
    )


def example_kinds() -> list[str]:
    """Every kind that has an examples file."""
    files = resources.files(__package__).iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))
