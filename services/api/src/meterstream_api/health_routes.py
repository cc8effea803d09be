"""The pipeline health strip's answer: consumer lag per group (from Kafka, bounded in time),
freshness of the project's raw rows, its dead letters in the range and its last alert."""

from __future__ import annotations

import asyncio
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from meterstream_api.auth import Project
from meterstream_api.routes import LastDay, Store
from meterstream_kafka import KafkaConfig, every_group_lag
from meterstream_query import pipeline_health

router = APIRouter(prefix="/api/v1")
LAG_TIMEOUT_S: Final = 2.0
"""The strip answers without lag rather than wait on a broker that does not answer."""


async def _lag(kafka: KafkaConfig, groups: list[str] | None) -> dict[str, Any]:
    try:
        lag = await asyncio.wait_for(every_group_lag(kafka, groups), LAG_TIMEOUT_S)
    except TimeoutError:
        return {"groups": None, "error": f"Kafka did not answer within {LAG_TIMEOUT_S:g} s"}
    except Exception as error:  # any broker trouble: said in the strip, not a 500
        return {"groups": None, "error": f"{type(error).__name__}: {error}"}
    return {"groups": lag, "error": None}


@router.get("/health")
async def health(*, request: Request, store: Store, project: Project, time_range: LastDay) -> Any:
    """Consumer lag per group, freshness p50/p99 of the last five minutes, dead letters in
    the range, the last alert."""
    lag, answer = await asyncio.gather(
        _lag(request.app.state.kafka, request.app.state.lag_groups),
        run_in_threadpool(pipeline_health, store, project=project, time_range=time_range),
    )
    return {"lag": lag, **answer}
