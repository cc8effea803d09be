"""How the demo's synthetic events reach Kafka: the SDK, the HTTP gateway and OTLP/HTTP.

Each sender takes the contract events the traffic generator made and sends
them the way a real service would: SDK calls, gzip'd NDJSON posts, and an
unmodified OpenTelemetry SDK exporting to the gateway.
"""

from __future__ import annotations

import gzip

import httpx
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from meterstream_contracts import (
    ApiCost,
    Completion,
    Event,
    GpuCost,
    GraderScore,
    MetricKey,
    MetricValue,
    Preference,
    TrainingRun,
    TrainingStep,
    encode_event,
)
from meterstream_pricing import Usage
from meterstream_sdk import AsyncClient, Run


class SdkSender:
    """Contract events → the SDK calls a service would have made."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.runs: dict[str, Run] = {}

    def send(self, event: Event) -> None:
        match event:
            case Completion():
                self.client.log_completion(
                    project=event.project,
                    model=event.model,
                    provider=event.provider,
                    latency_ms=event.latency_ms,
                    ttft_ms=event.ttft_ms,
                    input_tokens=event.input_tokens,
                    output_tokens=event.output_tokens,
                    cached_tokens=event.cached_tokens,
                    status=event.status,
                    error_type=event.error_type,
                    started_at=event.started_at,
                    streamed=event.streamed,
                    labels=event.labels,
                    completion_id=event.completion_id,
                )
            case GraderScore():
                self.client.log_grader_score(
                    project=event.project,
                    completion_id=event.completion_id,
                    grader_name=event.grader_name,
                    grader_type=event.grader_type,
                    key=event.key,
                    value=event.value,
                    passed=event.passed,
                    reason=event.reason,
                )
            case MetricValue():
                self.client.log_metric(
                    event.value == 1.0, event.completion_id, event.key, project=event.project
                )
            case Preference():
                self.client.log_preference(
                    event.key,
                    event.preferred_completion_id,
                    event.other_completion_id,
                    project=event.project,
                )
            case MetricKey() if event.category == "user":
                self.client.register_key(
                    event.key,
                    project=event.project,
                    kind=event.value_kind,
                    scoring_type=event.scoring,
                    description=event.description,
                )
            case MetricKey():
                pass  # grader keys register themselves with the grader's first score
            case TrainingRun() | TrainingStep() | ApiCost() | GpuCost():
                self._send_training(event)
            case _:
                raise TypeError(f"the demo does not send {event.kind} through the SDK")

    def _send_training(self, event: Event) -> None:
        match event:
            case TrainingRun():
                run = self.runs.get(event.run_id)
                if run is None:
                    self.runs[event.run_id] = self.client.init_run(
                        project=event.project,
                        name=event.name,
                        recipe=event.recipe,
                        config=dict(event.config),
                        run_id=event.run_id,
                    )
                elif event.status in ("finished", "failed"):
                    run.finish(event.status)
            case TrainingStep():
                metrics: dict[str, int | float | object] = dict(event.metrics)
                metrics.update(event.tables)
                self.runs[event.run_id].log(metrics, step=event.step)  # type: ignore[arg-type]
            case ApiCost():
                usage = Usage(
                    event.usage.input_tokens,
                    event.usage.output_tokens,
                    event.usage.cached_input_tokens,
                    event.usage.cache_creation_input_tokens,
                )
                self.runs[event.run_id or ""].track_api_cost(
                    usage,
                    source=event.source,
                    provider=event.provider,
                    model_name=event.model,
                    split=event.split,
                )
            case GpuCost():
                self.runs[event.run_id].track_gpu(
                    event.seconds,
                    price_per_hour_usd=event.price_per_hour_usd,
                    gpu_type=event.gpu_type,
                    gpu_count=event.gpu_count,
                    split=event.split,
                )
            case _:
                raise TypeError(f"not a training event: {event.kind}")


class GatewaySender:
    """Posts events as gzip'd NDJSON to /v1/events with the project's API key."""

    def __init__(self, url: str, api_key: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Content-Encoding": "gzip",
                "Content-Type": "application/x-ndjson",
            },
            timeout=30,
        )
        self.accepted = 0
        self.rejected = 0

    async def send(self, events: list[Event]) -> None:
        if not events:
            return
        body = gzip.compress(b"\n".join(encode_event(event) for event in events), compresslevel=1)
        response = await self._client.post("/v1/events", content=body)
        response.raise_for_status()
        answer = response.json()
        self.accepted += answer["accepted"]
        self.rejected += len(answer["rejected"])

    async def close(self) -> None:
        await self._client.aclose()


class OtlpSender:
    """The OpenTelemetry SDK, unmodified, exporting GenAI metrics to the gateway every second."""

    def __init__(self, url: str, api_key: str, *, service: str) -> None:
        exporter = OTLPMetricExporter(
            endpoint=f"{url}/v1/metrics", headers={"authorization": f"Bearer {api_key}"}
        )
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=1000)
        self.provider = MeterProvider(
            metric_readers=[reader], resource=Resource.create({"service.name": service})
        )
        meter = self.provider.get_meter("meterstream-demo")
        self._tokens = meter.create_counter("gen_ai.client.token.usage", unit="{token}")
        self._ttft = meter.create_histogram("gen_ai.client.time_to_first_token", unit="s")

    def record(self, completions: list[Completion]) -> None:
        for completion in completions:
            attributes = {"gen_ai.request.model": completion.model}
            self._tokens.add(completion.input_tokens, {**attributes, "gen_ai.token.type": "input"})
            if completion.ttft_ms is not None:
                self._ttft.record(completion.ttft_ms / 1000, attributes)

    def close(self) -> None:
        self.provider.force_flush()
        self.provider.shutdown()
