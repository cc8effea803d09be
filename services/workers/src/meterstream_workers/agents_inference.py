"""Inference agents: completions → partials and ledger lines; partials → windows and totals."""

from __future__ import annotations

from typing import Any

from meterstream_contracts import TOPICS, split_envelope
from meterstream_contracts.derived import CostEntry, InferenceRollup, UsageTotals
from meterstream_derivations.merge import ProjectTotals, decode_partials
from meterstream_workers.first_phase import completion_outputs
from meterstream_workers.merge_stage import MergeStage
from meterstream_workers.wiring import Wiring, is_validated, origin_of

PARTIALS = "meterstream.derived.inference_rollups"
TOTALS = "meterstream.derived.usage_totals"


def add_inference_agents(w: Wiring) -> MergeStage:
    registries = w.registries
    merged = w.table("merged-windows")
    projects = w.table("project-totals")
    stage = MergeStage(
        allowed_lateness_s=w.config.allowed_lateness_s,
        retention_s=w.config.merge_retention_s,
        totals_window_s=w.windows[0],
    )

    @w.app.agent(w.topic(TOPICS.for_kind("completion").name))
    async def completions(stream: Any) -> None:
        """Stateless: messages are taken in batches and their outputs sent together,
        one envelope per key and topic (partials keep their per-message ids and order)."""
        await w.feed.loaded.wait()
        async for events in stream.take_events(w.config.batch_messages, within=0.05):
            partials: list[InferenceRollup] = []
            ledger: list[CostEntry] = []
            results: list[dict[str, Any]] = []
            for event in events:
                outputs = completion_outputs(
                    event.value or b"",
                    origin=origin_of(event),
                    validated=is_validated(event.headers),
                    windows=w.windows,
                    pricing=registries.pricing,
                    definitions=registries.definitions,
                )
                partials.extend(outputs.partials)
                ledger.extend(outputs.ledger)
                results.extend(outputs.metric_values)
            await w.publish(PARTIALS, partials)
            await w.publish("meterstream.derived.cost_ledger", ledger)
            if results:
                await w.publish(TOPICS.for_kind("metric_value").name, results)

    @w.app.agent(w.topic(PARTIALS))
    async def merge(stream: Any) -> None:
        async for event in stream.events():
            partials = decode_partials(event.value or b"")
            for key, state in stage.absorb(partials, merged.get):
                merged[key] = state
            for project, model in {(p.project, p.model) for p in partials}:
                for key in stage.stale.pop((project, model), []):
                    merged.pop(key, None)

    @merged.on_recover  # type: ignore[untyped-decorator]
    async def merged_recovered() -> None:
        for key, state in merged.items():
            if state is not None:
                stage.recover(key, state)

    @w.app.timer(interval=w.config.emit_interval_s)  # type: ignore[untyped-decorator]
    async def emit_merged() -> None:
        due_windows, due_totals = stage.due()
        await w.publish("meterstream.derived.inference_windows", due_windows)
        await w.publish(TOTALS, due_totals)

    @w.app.agent(w.topic(TOTALS))
    async def project_totals(stream: Any) -> None:
        async for event in stream.events():
            changed: dict[str, ProjectTotals] = {}
            for line in split_envelope(event.value or b""):
                totals = UsageTotals.model_validate_json(line)
                if not totals.model:
                    continue  # a project total this agent emitted
                state = changed.get(totals.project)
                if state is None:
                    stored = projects.get(totals.project)
                    state = (
                        ProjectTotals(totals.project)
                        if stored is None
                        else ProjectTotals.from_state(stored)
                    )
                if state.absorb(totals):
                    changed[totals.project] = state
            for project, state in changed.items():
                projects[project] = state.state()
            await w.publish(TOTALS, [state.to_record() for state in changed.values()])

    w.forget_on_rebalance(stage.forget_all)
    del completions, merge, merged_recovered, emit_merged, project_totals
    return stage
