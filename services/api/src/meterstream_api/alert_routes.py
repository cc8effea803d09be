"""The caller's own alert rules and silences over HTTP (the alert_config registry).

A rule is checked as the evaluator will read it and published only when valid (400
naming the field otherwise); running workers apply it within about a second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, Field

from meterstream_alerting import config_registry as registry
from meterstream_api.auth import Project
from meterstream_kafka import KafkaConfig

router = APIRouter(prefix="/api/v1")
MAX_SILENCE_S = 90 * 86_400


def _kafka(request: Request) -> KafkaConfig:
    kafka: KafkaConfig = request.app.state.kafka
    return kafka


Kafka = Annotated[KafkaConfig, Depends(_kafka)]


def _listed(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": ident, "spec": r["spec"], "author": r.get("author", ""), "changed_at": r["time"]}
        for ident, r in sorted(records.items())
    ]


@router.get("/alert-rules")
async def alert_rules(*, kafka: Kafka, project: Project) -> Any:
    """The project's own rules in force."""
    return {"rules": _listed(await registry.project_config(kafka, project, "rule"))}


@router.put("/alert-rules/{rule_id}")
async def put_alert_rule(
    *,
    kafka: Kafka,
    project: Project,
    rule_id: str,
    spec: Annotated[dict[str, Any], Body(description="The rule, as in a rule file")],
) -> Any:
    """Create or replace a rule; it reads the project's groups only."""
    rule = await registry.put_rule(kafka, project, rule_id, spec)
    return {"id": rule_id, "rule": rule.model_dump(mode="json")}


@router.delete("/alert-rules/{rule_id}", status_code=204)
async def delete_alert_rule(*, kafka: Kafka, project: Project, rule_id: str) -> Response:
    await registry.delete_item(kafka, project, "rule", rule_id)
    return Response(status_code=204)


class SilenceRequest(BaseModel):
    rule: str | None = Field(None, description="Only this rule of the project (all if unset).")
    matchers: dict[str, str] = Field(default_factory=dict, description="Labels to match.")
    for_s: float = Field(gt=0, le=MAX_SILENCE_S, description="How long it holds, seconds.")
    comment: str = Field("", max_length=1024)


@router.get("/silences")
async def silences(*, kafka: Kafka, project: Project) -> Any:
    records = await registry.project_config(kafka, project, "silence")
    return {"silences": _listed(records)}


@router.post("/silences", status_code=201)
async def add_silence(*, kafka: Kafka, project: Project, body: SilenceRequest) -> Any:
    until = datetime.now(UTC) + timedelta(seconds=body.for_s)
    spec = {
        "rule": body.rule,
        "matchers": body.matchers,
        "until": until.isoformat(),
        "comment": body.comment,
    }
    ident, _ = await registry.put_silence(kafka, project, spec)
    return {"id": ident, "until": until.isoformat()}


@router.delete("/silences/{silence_id}", status_code=204)
async def remove_silence(*, kafka: Kafka, project: Project, silence_id: str) -> Response:
    await registry.delete_item(kafka, project, "silence", silence_id)
    return Response(status_code=204)
