"""The training-history join: steps, API spend and GPU time of one run → history rows. Pure.

Spend carries the step it was spent in. A step's row takes the spend that
arrived for it (or for no step) before the step itself; spend that arrives
after its step's row was written goes to the next row, as ART attributes
spend logged between two steps to the next one. Cumulative metrics are exact
either way.

Each input message is applied once: the state keeps the highest offset taken
per input partition, so a message replayed after a crash changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meterstream_contracts import ApiCost, GpuCost, TrainingStep
from meterstream_derivations.ledger import gpu_cost_usd
from meterstream_derivations.training import RunDerivation, StepInputs


@dataclass
class RunHistory:
    derivation: RunDerivation = field(default_factory=RunDerivation)
    last_step: int = -1
    api_costs: list[tuple[int, str, str, float]] = field(default_factory=list)
    """(step or -1, split, source, usd) not yet in a row."""
    gpu_costs: list[tuple[int, float]] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)

    def first_time(self, source: str, offset: int) -> bool:
        """Whether the message at `offset` of `source` (topic:partition) is new."""
        if offset <= self.marks.get(source, -1):
            return False
        self.marks[source] = offset
        return True

    def add_api_cost(self, cost: ApiCost, usd: float) -> None:
        step = -1 if cost.step is None else cost.step
        self.api_costs.append((step, cost.split, cost.source, usd))

    def add_gpu_cost(self, cost: GpuCost) -> None:
        self.gpu_costs.append((-1 if cost.step is None else cost.step, gpu_cost_usd(cost)))

    def add_step(self, step: TrainingStep) -> dict[str, float] | None:
        """The step's history row, or None for a step at or before the last one."""
        if step.step <= self.last_step:
            return None
        due_api = [c for c in self.api_costs if c[0] <= step.step]
        due_gpu = [c for c in self.gpu_costs if c[0] <= step.step]
        self.api_costs = [c for c in self.api_costs if c[0] > step.step]
        self.gpu_costs = [c for c in self.gpu_costs if c[0] > step.step]
        self.last_step = step.step
        return self.derivation.derive(
            StepInputs(
                metrics=step.metrics,
                scenario_ids=step.scenario_ids,
                api_costs=[(split, source, usd) for _, split, source, usd in due_api],
                gpu_costs_usd=[usd for _, usd in due_gpu],
            )
        )

    def state(self) -> dict[str, Any]:
        return {
            "derivation": self.derivation.state(),
            "last_step": self.last_step,
            "api_costs": self.api_costs,
            "gpu_costs": self.gpu_costs,
            "marks": self.marks,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RunHistory:
        return cls(
            derivation=RunDerivation.from_state(state.get("derivation", {})),
            last_step=int(state.get("last_step", -1)),
            api_costs=[(int(a), str(b), str(c), float(d)) for a, b, c, d in state["api_costs"]],
            gpu_costs=[(int(a), float(b)) for a, b in state["gpu_costs"]],
            marks={str(k): int(v) for k, v in state.get("marks", {}).items()},
        )


def replay_history(
    events: Iterable[TrainingStep | ApiCost | GpuCost], *, api_cost_usd: Mapping[str, float]
) -> list[tuple[int, dict[str, float]]]:
    """Rows of one run from its events in arrival order (`api_cost_usd`: event id → USD)."""
    run = RunHistory()
    rows = []
    for event in events:
        if isinstance(event, TrainingStep):
            row = run.add_step(event)
            if row is not None:
                rows.append((event.step, row))
        elif isinstance(event, ApiCost):
            run.add_api_cost(event, api_cost_usd[str(event.event_id)])
        else:
            run.add_gpu_cost(event)
    return rows
