"""The topics the workers' consumer group reads (what "drained" means for the workers)."""

from __future__ import annotations

from typing import Final

from meterstream_alerting.rules import SOURCE_TOPICS
from meterstream_contracts import TOPICS

_RAW_KINDS: Final = (
    "completion",
    "training_step",
    "api_cost",
    "gpu_cost",
    "metric_value",
    "grader_score",
    "preference",
)

CONSUMED_TOPICS: Final = tuple(
    sorted(
        {
            *(TOPICS.for_kind(kind).name for kind in _RAW_KINDS),
            "meterstream.derived.inference_rollups",
            "meterstream.derived.usage_totals",
            *SOURCE_TOPICS.values(),
            "meterstream.alerts",
        }
    )
)
"""Read by the agents in the workers' group (registries are followed outside it)."""
