"""Training and feedback agents: history rows and spend lines; feedback partials."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meterstream_contracts import TOPICS, ApiCost, GpuCost, TrainingStep, decode_envelope
from meterstream_contracts.derived import TrainingHistory
from meterstream_derivations.feedback import Source
from meterstream_derivations.history import HistoryRow, RunHistory, latest_rows
from meterstream_derivations.inference import Prices
from meterstream_derivations.ledger import api_cost_priced
from meterstream_workers.first_phase import appended_at, feedback_outputs, spend_ledger
from meterstream_workers.wiring import Wiring, is_validated, origin_of


def apply_to_run(
    run: RunHistory, events: Iterable[Any], *, prices: Prices
) -> list[TrainingHistory]:
    """Fold one message's events into the run; the history rows they make or correct."""
    made: list[HistoryRow] = []
    project = run_id = ""
    for event in events:
        if isinstance(event, ApiCost):
            made += run.add_api_cost(event, api_cost_priced(event, prices)[0])
        elif isinstance(event, GpuCost):
            made += run.add_gpu_cost(event)
        elif isinstance(event, TrainingStep):
            made.append(run.add_step(event))
        else:
            continue
        project, run_id = event.project, event.run_id or ""
    return [
        TrainingHistory(
            project=project,
            run_id=run_id,
            step=row.step,
            split=row.split,
            seq=row.seq,
            revision=row.revision,
            metrics=row.metrics,
        )
        for row in latest_rows(made)
    ]


def add_training_agent(w: Wiring) -> None:
    runs = w.table("training-runs")
    sources = [TOPICS.for_kind(kind).name for kind in ("training_step", "api_cost", "gpu_cost")]

    @w.app.agent(w.topic(*sources))
    async def training(stream: Any) -> None:
        await w.feed.loaded.wait()
        async for event in stream.events():
            origin = origin_of(event)
            kind = TOPICS.by_name(origin.topic).kind
            decoded = decode_envelope(event.value or b"", kind=kind, origin=origin)
            costs = [e for e in decoded.events if isinstance(e, ApiCost | GpuCost)]
            # one price lookup per (provider, model, day) for the ledger and the history both
            prices = Prices(w.registries.pricing, appended_at(origin))
            await w.publish(
                "meterstream.derived.cost_ledger",
                spend_ledger(costs, origin=origin, window_seconds=w.windows[0], prices=prices),
            )
            key = (event.key or b"").decode()
            if key.endswith("/"):
                continue  # spend of no run has no history
            stored = runs.get(key)
            run = RunHistory() if stored is None else RunHistory.from_state(stored)
            if not run.first_time(f"{origin.topic}:{origin.partition}", origin.offset):
                continue
            rows = apply_to_run(run, decoded.events, prices=prices)
            # Rows first, acknowledged, then the state that marks the message seen: a crash
            # in between replays the message and sends the same rows again (replaced by
            # (run, step) downstream) instead of losing them.
            await w.publish("meterstream.derived.training_history", rows)
            runs[key] = run.state()

    del training


FEEDBACK_SOURCES: dict[str, Source] = {
    TOPICS.for_kind(kind).name: kind for kind in ("metric_value", "grader_score", "preference")
}


def add_feedback_agent(w: Wiring) -> None:
    @w.app.agent(w.topic(*FEEDBACK_SOURCES))
    async def feedback(stream: Any) -> None:
        await w.feed.loaded.wait()
        async for event in stream.events():
            origin = origin_of(event)
            outputs = feedback_outputs(
                FEEDBACK_SOURCES[origin.topic],
                event.value or b"",
                origin=origin,
                validated=is_validated(event.headers),
                windows=w.windows,
                key_info=w.registries.key_info,
                definitions=w.registries.definitions,
            )
            await w.publish("meterstream.derived.feedback_rollups", outputs.partials)
            if outputs.metric_values:
                await w.publish(TOPICS.for_kind("metric_value").name, outputs.metric_values)

    del feedback
