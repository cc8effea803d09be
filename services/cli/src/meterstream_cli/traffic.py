"""Realistic synthetic traffic: completions, feedback, a training run, costs, instruments.

Deterministic for a seed, so tests can recompute what was sent.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from meterstream_contracts import (
    ApiCost,
    Completion,
    Event,
    GpuCost,
    GraderScore,
    HistogramValue,
    InstrumentPoint,
    MetricDefinition,
    MetricKey,
    MetricValue,
    ModelPrice,
    Preference,
    Table,
    TokenUsage,
    TrainingRun,
    TrainingStep,
)


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Latency is log-normal (long tail); TTFT is a fraction of it."""

    name: str
    provider: str
    median_latency_ms: float
    sigma: float
    error_rate: float


DEFAULT_MODELS = (
    ModelProfile("gpt-4o-mini", "openai", 650.0, 0.45, 0.01),
    ModelProfile("gpt-4o", "openai", 1400.0, 0.55, 0.02),
    ModelProfile("claude-sonnet-4", "anthropic", 1100.0, 0.5, 0.015),
)

TTFT_BOUNDS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


@dataclass(slots=True)
class SyntheticTraffic:
    project: str = "demo-chat"
    training_project: str = "demo-rl"
    models: tuple[ModelProfile, ...] = DEFAULT_MODELS
    seed: int = 7
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def completions(self, count: int, *, now: datetime) -> list[Completion]:
        made: list[Completion] = []
        for _ in range(count):
            profile = self.rng.choice(self.models)
            latency = profile.median_latency_ms * math.exp(self.rng.gauss(0.0, profile.sigma))
            failed = self.rng.random() < profile.error_rate
            input_tokens = int(self.rng.lognormvariate(6.0, 0.8))
            made.append(
                Completion(
                    project=self.project,
                    time=now,
                    model=profile.name,
                    provider=profile.provider,
                    started_at=now - timedelta(milliseconds=latency),
                    ttft_ms=None if failed else latency * self.rng.uniform(0.12, 0.35),
                    latency_ms=latency,
                    input_tokens=input_tokens,
                    output_tokens=0 if failed else int(self.rng.lognormvariate(5.0, 0.7)),
                    cached_tokens=int(input_tokens * self.rng.choice((0.0, 0.0, 0.5, 0.9))),
                    status="error" if failed else "ok",
                    error_type="rate_limited" if failed else None,
                    streamed=True,
                    labels={"route": self.rng.choice(("/chat", "/summarize", "/search"))},
                )
            )
        return made

    def feedback(self, completions: list[Completion], *, now: datetime) -> list[Event]:
        """Grader scores, user metrics and preferences for a share of the completions."""
        made: list[Event] = []
        for completion in completions:
            draw = self.rng.random()
            if draw < 0.3:
                made.append(
                    GraderScore(
                        project=self.project,
                        time=now,
                        completion_id=completion.completion_id,
                        grader_name="helpfulness-judge",
                        grader_type="judge",
                        key="helpfulness",
                        value=round(self.rng.betavariate(5, 2), 3),
                    )
                )
            if draw < 0.1:
                made.append(
                    MetricValue(
                        project=self.project,
                        time=now,
                        completion_id=completion.completion_id,
                        key="thumbs_up",
                        value=float(self.rng.random() < 0.8),
                    )
                )
        ok = [c for c in completions if c.status == "ok"]
        for first, second in zip(ok[::2], ok[1::2], strict=False):
            if self.rng.random() < 0.1:
                made.append(
                    Preference(
                        project=self.project,
                        time=now,
                        key="overall",
                        preferred_completion_id=first.completion_id,
                        other_completion_id=second.completion_id,
                    )
                )
        return made

    def registrations(self, *, now: datetime) -> list[Event]:
        return [
            MetricKey(project=self.project, time=now, key="thumbs_up", value_kind="bool"),
            MetricKey(
                project=self.project,
                time=now,
                key="helpfulness",
                category="grader",
                description="LLM judge score in [0, 1].",
            ),
            MetricDefinition(
                project=self.project,
                time=now,
                definition_id="long-answers",
                name="long_answer",
                definition_type="custom",
                expression="output_tokens > 400",
                scoring="lower_is_better",
            ),
            ModelPrice(  # a negotiated price, published to the shared registry
                project=self.project,
                time=now,
                provider="anthropic",
                model="claude-sonnet-4",
                effective_from=now.date(),
                prompt_per_million=2.4,
                completion_per_million=12.0,
                cached_prompt_per_million=0.24,
            ),
        ]

    def training_run(self, *, run_id: str, now: datetime) -> TrainingRun:
        return TrainingRun(
            project=self.training_project,
            time=now,
            run_id=run_id,
            name=f"grpo-demo-{run_id}",
            recipe="grpo",
            config={"learning_rate": 3e-6, "batch_size": 32, "model": "Qwen/Qwen2.5-7B"},
        )

    def training_step(self, *, run_id: str, step: int, now: datetime) -> list[Event]:
        """One step: metrics, a sample table, API costs (train and eval) and GPU time."""
        progress = 1.0 - math.exp(-step / 40)
        metrics = {
            "train/loss": round(1.2 - 0.8 * progress + self.rng.gauss(0, 0.02), 5),
            "train/reward": round(0.2 + 0.6 * progress + self.rng.gauss(0, 0.03), 5),
            "train/kl": round(0.01 + 0.02 * progress, 5),
            "train/gradient_norm": round(abs(self.rng.gauss(1.5, 0.3)), 5),
            "time/step_trainer_s": round(self.rng.uniform(8, 12), 3),
            "time/step_actor_s": round(self.rng.uniform(4, 6), 3),
            "data/step_trainer_tokens": float(32 * self.rng.randint(900, 1100)),
            "data/step_actor_tokens": float(32 * self.rng.randint(300, 400)),
        }
        sample = Table(
            columns=["prompt", "completion", "reward"],
            rows=[["What is 17 * 3?", "51", 1.0], ["Capital of Peru?", "Quito", 0.0]],
        )
        usage = TokenUsage(input_tokens=1500, output_tokens=120, cached_input_tokens=1024)
        return [
            TrainingStep(
                project=self.training_project,
                time=now,
                run_id=run_id,
                step=step,
                metrics=metrics,
                tables={"samples": sample} if step % 10 == 0 else {},
            ),
            *(
                ApiCost(
                    project=self.training_project,
                    time=now,
                    run_id=run_id,
                    step=step,
                    split=split,
                    source="judge",
                    provider="openai",
                    model="gpt-4o",
                    usage=usage,
                )
                for split in ("train", "eval")
            ),
            GpuCost(
                project=self.training_project,
                time=now,
                run_id=run_id,
                step=step,
                gpu_type="H100",
                gpu_count=8,
                seconds=metrics["time/step_trainer_s"],
                price_per_hour_usd=2.49,
            ),
        ]

    def instruments(self, completions: list[Completion], *, now: datetime) -> list[Event]:
        """Default LLM instruments as an OTel exporter would send them, per model."""
        points: list[Event] = []
        for profile in self.models:
            mine = [c for c in completions if c.model == profile.name and c.ttft_ms is not None]
            if not mine:
                continue
            ttfts = [c.ttft_ms / 1000 for c in mine if c.ttft_ms is not None]
            counts = [0] * (len(TTFT_BOUNDS_S) + 1)
            for value in ttfts:
                counts[sum(1 for bound in TTFT_BOUNDS_S if value > bound)] += 1
            attributes = {"gen_ai.request.model": profile.name}
            points.append(
                InstrumentPoint(
                    project=self.project,
                    time=now,
                    name="gen_ai.client.time_to_first_token",
                    instrument="histogram",
                    unit="s",
                    histogram=HistogramValue(
                        bounds=list(TTFT_BOUNDS_S),
                        counts=counts,
                        sum=sum(ttfts),
                        count=len(ttfts),
                        min=min(ttfts),
                        max=max(ttfts),
                    ),
                    attributes=attributes,
                )
            )
            points.append(
                InstrumentPoint(
                    project=self.project,
                    time=now,
                    name="gen_ai.client.token.usage",
                    instrument="counter",
                    unit="{token}",
                    value=float(sum(c.input_tokens for c in mine)),
                    attributes={**attributes, "gen_ai.token.type": "input"},
                )
            )
        return points


def invalid_completion_lines(count: int, *, project: str) -> list[bytes]:
    """Broken events a careless producer might send: they must land in the DLQ only."""
    template = (
        b'{"kind":"completion","project":"%s","model":"gpt-4o","started_at":"2026-01-01T00:00:00Z",'
        b'"latency_ms":-%d}'
    )
    return [template % (project.encode(), index + 1) for index in range(count)]
