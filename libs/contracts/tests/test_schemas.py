"""Exported JSON Schemas accept the valid examples and refuse the invalid ones."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import orjson
import pytest

from meterstream_contracts import EVENT_MODELS, TOPICS
from meterstream_contracts.examples import load_examples
from meterstream_contracts.schemas import json_schemas, write_json_schemas


def test_one_schema_file_per_topic_value(tmp_path: Path) -> None:
    written = write_json_schemas(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{s.kind}.schema.json" for s in TOPICS)


@pytest.mark.parametrize("kind", sorted(EVENT_MODELS))
def test_schema_agrees_with_the_models_on_the_examples(kind: str) -> None:
    validator = jsonschema.Draft202012Validator(json_schemas()[kind])
    examples = load_examples(kind)
    for payload in examples.valid:
        validator.validate(orjson.loads(payload))
    refused = [e for e in examples.invalid if not validator.is_valid(orjson.loads(e.payload))]
    # Cross-field rules (ttft <= latency, histogram shape) live in the models only,
    # so only some invalid examples are refused by the schema alone.
    assert refused, f"the {kind} schema accepts every invalid example"
