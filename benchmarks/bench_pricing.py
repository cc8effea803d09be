"""The workers' first phase with and without pricing: CPU µs per completion.

Envelopes of completions over five models (one with a 200k-token input tier, with calls
on both sides of it, and one no price is known for) go through `completion_outputs`, the
function a worker runs on each raw message, once with the default registry (the
genai-prices catalogue) and once with an empty registry (nothing priced): the difference
is what pricing costs per completion. Runs alternate to even out a noisy minute.

    uv run python -m benchmarks.bench_pricing [--envelopes 200] [--per-envelope 500]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from meterstream_contracts import Completion, MessageOrigin, pack_envelope
from meterstream_pricing import PricingRegistry, default_registry
from meterstream_workers.first_phase import completion_outputs

MODELS = (
    ("openai", "gpt-4o-2024-08-06"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-20250514"),
    ("google", "gemini-2.5-pro"),
    ("openai", "acme-finetune-7"),
)
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def envelopes(count: int, per_envelope: int) -> list[bytes]:
    made = []
    for e in range(count):
        calls = []
        for i in range(per_envelope):
            provider, model = MODELS[i % len(MODELS)]
            tokens = 150_000 + (i * 7919) % 100_000 if model == "gemini-2.5-pro" else 1000 + i
            calls.append(
                Completion(
                    project="bench",
                    model=model,
                    provider=provider,
                    time=T0 + timedelta(seconds=e * 2 + i / per_envelope),
                    started_at=T0,
                    latency_ms=800.0 + i % 300,
                    ttft_ms=120.0,
                    input_tokens=tokens,
                    output_tokens=200 + i % 50,
                    cached_tokens=tokens // 2 if i % 3 == 0 else 0,
                    cache_creation_tokens=100 if model.startswith("claude") else 0,
                    reasoning_tokens=50 if model == "gemini-2.5-pro" else 0,
                )
            )
        made.append(pack_envelope(calls))
    return made


def cpu_us_per_completion(
    values: list[bytes], per_envelope: int, pricing: PricingRegistry
) -> float:
    started = time.process_time()
    for offset, value in enumerate(values):
        origin = MessageOrigin("meterstream.raw.completions", 0, offset, 1_763_632_800_000)
        completion_outputs(value, origin=origin, validated=True, windows=(10, 60), pricing=pricing)
    return (time.process_time() - started) / (len(values) * per_envelope) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--envelopes", type=int, default=200)
    parser.add_argument("--per-envelope", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    values = envelopes(args.envelopes, args.per_envelope)
    priced, unpriced = default_registry(), PricingRegistry()
    runs: dict[str, list[float]] = {"priced": [], "nothing priced": []}
    measures: dict[str, Callable[[], float]] = {
        "priced": lambda: cpu_us_per_completion(values, args.per_envelope, priced),
        "nothing priced": lambda: cpu_us_per_completion(values, args.per_envelope, unpriced),
    }
    for measure in measures.values():
        measure()  # warm: the catalogue's lookups, imports
    for _ in range(args.rounds):
        for name, measure in measures.items():
            runs[name].append(measure())
    completions = args.envelopes * args.per_envelope
    print(f"first phase over {completions:,} completions x {args.rounds} rounds (alternated):")
    for name, values_us in runs.items():
        print(
            f"  {name:15} {statistics.median(values_us):6.2f} µs CPU per completion"
            f" (range {min(values_us):.2f}-{max(values_us):.2f})"
        )
    shares = [a - b for a, b in zip(runs["priced"], runs["nothing priced"], strict=True)]
    print(
        f"  pricing costs  {statistics.median(shares):6.2f} µs per completion"
        f" (range {min(shares):.2f}-{max(shares):.2f})"
    )


if __name__ == "__main__":
    main()
