"""Known rows for the query-layer tests: written straight into the tables the sink fills,
with every expected figure recomputed from the same Python lists."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from meterstream_warehouse import Warehouse

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MODELS = ("gpt-4o", "claude-sonnet")


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


@dataclass
class KnownData:
    project: str
    completions: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    preferences: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)

    def model_of(self, completion_id: str) -> str:
        return str(
            next(c["model"] for c in self.completions if c["completion_id"] == completion_id)
        )


def write_known_data(warehouse: Warehouse, *, project: str, seed: int = 7) -> KnownData:
    """Three hours of completions (long-tailed latency, some errors, two routes), grader
    scores of a lower-is-better key, preferences, and cost-ledger lines."""
    rng = random.Random(seed)
    data = KnownData(project)
    for i in range(6_000):
        moment = START + timedelta(seconds=i * 1.8)
        model = MODELS[i % 2]
        data.completions.append(
            {
                "schema_version": 1,
                "event_id": str(uuid.uuid4()),
                "time": _ts(moment),
                "project": project,
                "completion_id": f"c{i}",
                "model": model,
                "provider": "openai",
                "started_at": _ts(moment),
                "ttft_ms": None if i % 4 == 0 else rng.uniform(20, 200),
                "latency_ms": rng.lognormvariate(6 if model == "gpt-4o" else 5.5, 0.6),
                "input_tokens": rng.randint(10, 500),
                "output_tokens": rng.randint(1, 300),
                "cached_tokens": 0,
                "status": "error" if i % 37 == 0 else "ok",
                "error_type": "RateLimitError" if i % 74 == 0 else "Timeout" if i % 37 == 0 else "",
                "streamed": True,
                "labels": {"route": "chat" if i % 3 else "search"},
            }
        )
    for i in range(0, 6_000, 5):
        data.scores.append(
            {
                "schema_version": 1,
                "event_id": str(uuid.uuid4()),
                "time": _ts(START + timedelta(seconds=i * 1.8 + 1)),
                "project": project,
                "completion_id": f"c{i}",
                "grader_name": "judge",
                "grader_type": "llm",
                "key": "hallucination",
                "value": rng.uniform(0, 0.5) if i % 2 else rng.uniform(0.3, 1.0),
                "passed": None,
                "reason": "checked" if i % 10 else "made up a citation",
            }
        )
    for i in range(0, 2_000, 2):
        winner, loser = (i, i + 1) if i % 6 else (i + 1, i)
        data.preferences.append(
            {
                "schema_version": 1,
                "event_id": str(uuid.uuid4()),
                "time": _ts(START + timedelta(seconds=i * 1.8 + 2)),
                "project": project,
                "key": "pairwise",
                "preferred_completion_id": f"c{winner}",
                "other_completion_id": f"c{loser}",
            }
        )
    for minute in range(180):
        for model in MODELS:
            data.ledger.append(
                {
                    "entry_id": f"{model}-{minute}",
                    "project": project,
                    "cost_kind": "completion",
                    "provider": "openai",
                    "model": model,
                    "run_id": "",
                    "split": "",
                    "source": "",
                    "window_start": _ts(START + timedelta(minutes=minute))[:19],
                    "window_seconds": 60,
                    "price_version": f"openai/{model}@2026-01-01",
                    "count": 10,
                    "input_tokens": 1000,
                    "output_tokens": 500,
                    "cached_tokens": 0,
                    "cache_write_tokens": 0,
                    "gpu_seconds": 0.0,
                    "cost_usd": 0.001 * (minute % 7 + 1),
                }
            )
    warehouse.insert_json_rows("raw_completions", _ndjson(data.completions))
    warehouse.insert_json_rows("raw_grader_scores", _ndjson(data.scores))
    warehouse.insert_json_rows("raw_preferences", _ndjson(data.preferences))
    warehouse.insert_json_rows("cost_ledger", _ndjson(data.ledger))
    key = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "time": _ts(START),
        "project": project,
        "key": "hallucination",
        "value_kind": "scalar",
        "scoring": "lower_is_better",
        "category": "grader",
        "description": "share of unsupported claims",
        "deleted": False,
    }
    warehouse.insert_json_rows("metric_keys", _ndjson([key]))
    return data


def write_training_runs(warehouse: Warehouse, *, project: str, steps: int = 300) -> list[str]:
    """Two runs differing in learning rate, with a reward curve and a table every 10 steps."""
    runs = []
    for index, lr in enumerate((1e-5, 3e-5)):
        run_id = f"run-{index}"
        runs.append(run_id)
        record = {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "time": _ts(START + timedelta(minutes=index)),
            "project": project,
            "run_id": run_id,
            "name": f"grpo lr={lr}",
            "recipe": "grpo",
            "config": orjson.dumps({"lr": lr, "model": {"base": "qwen", "lora_rank": 8}}).decode(),
            "status": "running",
            "tags": ["baseline"] if index == 0 else [],
        }
        warehouse.insert_json_rows("training_runs", _ndjson([record]))
        history = [
            {
                "kind": "training_history",
                "schema_version": 1,
                "project": project,
                "run_id": run_id,
                "step": step,
                "metrics": {"train/reward": (step % 13) / 13 + index, "costs/all": 0.5 * step},
            }
            for step in range(steps)
        ]
        warehouse.insert_json_rows("training_history", _ndjson(history))
        logged = [
            {
                "schema_version": 1,
                "event_id": str(uuid.uuid4()),
                "time": _ts(START + timedelta(seconds=step)),
                "project": project,
                "run_id": run_id,
                "step": step,
                "metrics": {},
                "tables": orjson.dumps(
                    {
                        "samples": {
                            "columns": ["prompt", "reward"],
                            "rows": [[f"question {step}-{k}", k / 4] for k in range(4)],
                        }
                    }
                ).decode(),
                "scenario_ids": [],
            }
            for step in range(0, steps, 10)
        ]
        warehouse.insert_json_rows("raw_training_steps", _ndjson(logged))
    return runs
