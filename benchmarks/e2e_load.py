"""The end-to-end benchmark's load generator: realistic mixed traffic from templates.

Completions (four models, long-tailed latency, 2% errors), a grader score for every
tenth call, and steps of a few training runs. Every template line is built once
through its contract model (so it is valid), with the event id and the times left as
slots; a generator only formats those slots, packs envelopes per message key and
hands them to the SDK's Kafka transport (idempotent, acks=all, explicit batches,
envelopes marked validated). Several generator processes outrun the pipeline.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from meterstream_contracts import TOPICS, Completion, Event, GraderScore, TrainingStep
from meterstream_kafka import KafkaConfig
from meterstream_sdk.transport import KafkaTransport

COMPLETIONS = TOPICS.for_kind("completion").name
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "in-house-7b")
PER_ENVELOPE = 200
SCORE_EVERY = 10
STEP_EVERY = 2_000
_ID = "00000000-0000-4000-8000-000000000000"
_TIME = datetime(2001, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
_TIME_TEXT = b"2001-02-03T04:05:06.789000Z"


@dataclass(frozen=True, slots=True)
class Template:
    topic: str
    key: bytes
    line: bytes
    """The encoded event with `%(id)s` and `%(time)s` slots."""


def provider_of(model: str) -> str:
    """The provider of each generated model (the peer's price table uses it too)."""
    return "anthropic" if model.startswith("claude") else "openai"


def _template(event: Event) -> Template:
    spec = TOPICS.for_kind(event.kind)
    line = event.model_dump_json().encode()
    line = line.replace(_ID.encode(), b"%(id)s").replace(_TIME_TEXT, b"%(time)s")
    return Template(spec.name, spec.key_of(event.model_dump(mode="json")), line)


def templates(project: str, count: int, *, seed: int = 7) -> list[Template]:
    """`count` completion templates with a grader score after every SCORE_EVERY-th and a
    training step after every STEP_EVERY-th (mixed traffic, in the order sent)."""
    rng = random.Random(seed)
    out: list[Template] = []
    for n in range(count):
        model = MODELS[n % len(MODELS)]
        latency = min(math.exp(rng.gauss(6.4, 0.9)), 120_000.0)  # median ~600 ms, long tail
        failed = rng.random() < 0.02
        prompt = int(rng.paretovariate(1.5) * 300)
        call = Completion(
            event_id=uuid.UUID(_ID), time=_TIME, started_at=_TIME, project=project,
            completion_id=f"c{n}", model=model,
            provider=provider_of(model),
            latency_ms=round(latency, 1), ttft_ms=round(latency * rng.uniform(0.05, 0.3), 1),
            input_tokens=prompt, output_tokens=rng.randint(1, 900),
            cached_tokens=min(prompt, rng.choice((0, 0, 128, 512))), streamed=True,
            status="error" if failed else "ok", error_type="rate_limit" if failed else None,
            labels={"route": rng.choice(("/chat", "/search", "/agent"))},
        )  # fmt: skip
        out.append(_template(call))
        if n % SCORE_EVERY == 0:
            out.append(_template(GraderScore(
                event_id=uuid.UUID(_ID), time=_TIME, project=project, completion_id=f"c{n}",
                key="helpful", grader_name="judge", grader_type="judge", value=rng.random(),
            )))  # fmt: skip
        if n % STEP_EVERY == 0:
            out.append(_template(TrainingStep(
                event_id=uuid.UUID(_ID), time=_TIME, project=project, run_id=f"run-{n % 3}",
                step=n // STEP_EVERY, metrics={"train/reward": rng.random(), "train/loss": 1.0},
            )))  # fmt: skip
    return out


def fill(chosen: list[Template], prefix: str, first: int, now: datetime) -> list[Template]:
    """The templates with unique event ids (`prefix` + counter) and the time `now`."""
    stamp = now.isoformat().replace("+00:00", "Z").encode()
    return [
        Template(
            t.topic,
            t.key,
            t.line % {b"id": f"{prefix}{first + i:012x}".encode(), b"time": stamp},
        )
        for i, t in enumerate(chosen)
    ]


def envelopes(filled: list[Template]) -> dict[str, list[tuple[bytes, bytes]]]:
    """Per topic: (key, envelope) messages of up to PER_ENVELOPE events of one key."""
    by_key: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
    for t in filled:
        by_key[(t.topic, t.key)].append(t.line)
    out: dict[str, list[tuple[bytes, bytes]]] = defaultdict(list)
    for (topic, key), lines in by_key.items():
        for start in range(0, len(lines), PER_ENVELOPE):
            out[topic].append((key, b"\n".join(lines[start : start + PER_ENVELOPE])))
    return out


def generate(
    bootstrap: str,
    project: str,
    events: int,
    rate: float | None,
    report: Callable[[int, int], None],
) -> None:
    """Child process: `events` events (completions with their scores and steps), as fast as the
    transport takes them or at `rate` events/s, stamped with the send time; `report` gets
    the events and the completions of every acknowledged batch."""
    pool = templates(project, 8_000)
    prefix = uuid.uuid4().hex[:8] + "-" + uuid.uuid4().hex[:4] + "-4" + uuid.uuid4().hex[:3]
    prefix += "-a" + uuid.uuid4().hex[:3] + "-"

    async def run() -> None:
        transport = KafkaTransport(KafkaConfig(bootstrap_servers=bootstrap))
        await transport.start()
        tick = 0.1
        per_tick = len(pool) if rate is None else max(1, int(rate * tick))
        started, sent, position = time.monotonic(), 0, 0
        try:
            while sent < events:
                chosen = [pool[(position + i) % len(pool)] for i in range(per_tick)]
                position += per_tick
                filled = fill(chosen, prefix, sent, datetime.now(UTC))
                await asyncio.gather(
                    *(transport.send(topic, msgs) for topic, msgs in envelopes(filled).items())
                )
                sent += len(filled)
                report(len(filled), sum(t.topic == COMPLETIONS for t in chosen))
                if rate is not None:
                    ticks = int((time.monotonic() - started) / tick) + 1
                    await asyncio.sleep(max(0.0, started + ticks * tick - time.monotonic()))
        finally:
            await transport.close()

    asyncio.run(run())
