"""Shared helpers for the cross-member tests."""

from __future__ import annotations

import uuid

import orjson

from meterstream_contracts import EVENT_MODELS
from meterstream_contracts.examples import load_examples


def examples_for_project(kind: str, project: str) -> tuple[list[bytes], list[bytes]]:
    """The canonical examples of `kind`, moved to `project` with fresh event ids.

    Returns (valid, invalid) payloads; invalid ones keep their flaw.
    """
    examples = load_examples(kind)

    def move(payload: bytes) -> bytes:
        event = orjson.loads(payload)
        event["project"] = project if event.get("project") != "bad project!" else event["project"]
        event["event_id"] = str(uuid.uuid4())
        return orjson.dumps(event)

    return [move(p) for p in examples.valid], [move(e.payload) for e in examples.invalid]


ALL_KINDS = sorted(EVENT_MODELS)
