"""JSON Schema export, for producers that are not written in Python."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from meterstream_contracts.topics import TOPICS


def json_schemas() -> dict[str, dict[str, object]]:
    """Schema name → JSON Schema (validation mode) for every topic's value."""
    models: dict[str, type[BaseModel]] = {spec.kind: spec.value_schema for spec in TOPICS}
    return {kind: model.model_json_schema(mode="validation") for kind, model in models.items()}


def write_json_schemas(directory: Path) -> list[Path]:
    """Write `<kind>.schema.json` files into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind, schema in sorted(json_schemas().items()):
        path = directory / f"{kind}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        written.append(path)
    return written
