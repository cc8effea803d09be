"""Training history rows, derived exactly as ART derives them. Pure; the state is explicit.

Per log (a step of one split), from its metrics and the spend attributed to it:
- builder-managed metrics (`costs/*`, `time/step_*`, `data/step_*`,
  `throughput/step_*` among the logged ones, and whatever a metrics builder summed,
  such as a `time/checkpoint_s` it measured) are the log's own values;
- API spend becomes `costs/{split}/{source}`, GPU spend `costs/gpu`;
- every parent path of a cost gets the sum of its children
  (`costs/train/llm_judge` and `costs/train` for `costs/train/llm_judge/x`),
  and `costs/all` sums the top-level children;
- each of those in the `costs`, `time` and `data` sections is accumulated
  under `{section}/cum/{name}`, `step_` dropped (`time/step_trainer_s` →
  `time/cum/trainer_s`, `costs/all` → `costs/cum/all`);
- `data/cum/num_unique_scenarios` counts distinct scenario ids so far, on steps
  that logged scenario ids;
- idle times accumulate under `throughput/cum/*_idle_s`;
- `throughput/avg_{trainer,actor}_tok_per_s` = cumulative tokens / cumulative
  seconds, only on steps that logged either input and only when both exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HIERARCHICAL_SECTIONS = frozenset({"costs", "time", "data"})
BUILDER_PREFIXES = ("costs/", "time/step_", "data/step_", "throughput/step_")
IDLE_TIMES = {
    "throughput/step_trainer_idle_s": "throughput/cum/trainer_idle_s",
    "throughput/step_actor_idle_s": "throughput/cum/actor_idle_s",
}
THROUGHPUTS = (
    ("trainer", "data/step_trainer_tokens", "time/step_trainer_s"),
    ("actor", "data/step_actor_tokens", "time/step_actor_s"),
)


def is_cumulative(key: str) -> bool:
    parts = key.split("/", 2)
    return len(parts) >= 2 and parts[1] == "cum"


def cumulative_key(key: str) -> str:
    """`time/step_trainer_s` → `time/cum/trainer_s`; `costs/train` → `costs/cum/train`."""
    section, rest = key.split("/", 1)
    return f"{section}/cum/{rest.removeprefix('step_')}"


def cost_rollups(costs: Mapping[str, float]) -> dict[str, float]:
    """Sums for every parent path of the cost keys, and `costs/all`."""
    if not costs:
        return {}
    parents = {
        "/".join(parts[:depth])
        for parts in (key.split("/") for key in costs)
        for depth in range(2, len(parts))
    }
    rollups = {
        parent: sum(value for key, value in costs.items() if key.startswith(parent + "/"))
        for parent in parents
    }
    top = {key.split("/")[1] for key in costs}
    rollups["costs/all"] = sum(
        rollups.get(f"costs/{name}", costs.get(f"costs/{name}", 0.0)) for name in top
    )
    return rollups


@dataclass(frozen=True, slots=True)
class StepInputs:
    """What one log of a run brings: its metrics, what its builder summed, scenario ids, and
    the spend attributed to it."""

    metrics: Mapping[str, float]
    scenario_ids: Sequence[str] = ()
    api_costs: Sequence[tuple[str, str, float]] = ()
    """(split, source, usd) for each priced API call of the step."""
    gpu_costs_usd: Sequence[float] = ()
    builder_metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass
class RunDerivation:
    """The running state of one run: cumulative sums and the scenarios seen.

    `state()` / `from_state()` make it storable in a changelog-backed table.
    """

    cumulative: dict[str, float] = field(default_factory=dict)
    scenarios: set[str] = field(default_factory=set)

    def derive(self, step: StepInputs) -> dict[str, float]:
        """The history row of the next step (state advances)."""
        row = dict(step.metrics)
        builder = {k: v for k, v in step.metrics.items() if k.startswith(BUILDER_PREFIXES)}
        for key, value in step.builder_metrics.items():
            builder[key] = builder.get(key, 0.0) + value
        for split, source, usd in step.api_costs:
            key = f"costs/{split.strip('/')}/{source.strip('/')}"
            builder[key] = builder.get(key, 0.0) + usd
        if step.gpu_costs_usd:
            builder["costs/gpu"] = builder.get("costs/gpu", 0.0) + sum(step.gpu_costs_usd)
        costs = {k: v for k, v in builder.items() if k.startswith("costs/")}
        builder.update(cost_rollups(costs))
        row.update(builder)
        for key, value in builder.items():
            if key.split("/", 1)[0] in HIERARCHICAL_SECTIONS and not is_cumulative(key):
                total = self.cumulative.get(cumulative_key(key), 0.0) + value
                self.cumulative[cumulative_key(key)] = total
                row[cumulative_key(key)] = total
        if step.scenario_ids:
            self.scenarios.update(step.scenario_ids)
            row["data/cum/num_unique_scenarios"] = float(len(self.scenarios))
        for step_key, cum_key in IDLE_TIMES.items():
            if step_key in row:
                self.cumulative[cum_key] = self.cumulative.get(cum_key, 0.0) + row[step_key]
                row[cum_key] = self.cumulative[cum_key]
        for name, tokens_key, seconds_key in THROUGHPUTS:
            if tokens_key in row or seconds_key in row:
                tokens = self.cumulative.get(cumulative_key(tokens_key))
                seconds = self.cumulative.get(cumulative_key(seconds_key))
                if tokens is not None and seconds is not None and seconds > 0:
                    row[f"throughput/avg_{name}_tok_per_s"] = tokens / seconds
        return row

    def state(self) -> dict[str, Any]:
        return {"cumulative": dict(self.cumulative), "scenarios": sorted(self.scenarios)}

    def copy(self) -> RunDerivation:
        return RunDerivation(dict(self.cumulative), set(self.scenarios))

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RunDerivation:
        return cls(
            cumulative={str(k): float(v) for k, v in state.get("cumulative", {}).items()},
            scenarios={str(s) for s in state.get("scenarios", [])},
        )


def derive_history(steps: Iterable[StepInputs]) -> list[dict[str, float]]:
    """Every history row of a run from its steps in order (a recomputation from scratch)."""
    run = RunDerivation()
    return [run.derive(step) for step in steps]
