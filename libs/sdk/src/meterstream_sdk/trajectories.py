"""Trajectory groups and what one log of them computes, the way ART's `Model.log` does. Pure.

Per log of a split: the mean reward over every trajectory of every group, the share
of exceptions among trajectories and exceptions, the mean over groups of more than
one trajectory of their rewards' population standard deviation, each trajectory
metric's mean under `{split}/`, each group metric's mean under `{split}/group_`, and
the builder's step counts (`data/step_num_scenarios` is the number of groups, as in
ART). Keys are then named as ART names them (`name_key`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

METRIC_SECTIONS = frozenset(
    {"reward", "loss", "offpolicy", "pipeline", "throughput", "costs", "time", "data"}
)
METRIC_SPLITS = frozenset({"train", "val", "test"})
BUILDER_PREFIXES = ("costs/", "time/step_", "data/step_", "throughput/step_")


@dataclass(frozen=True)
class Trajectory:
    """One rollout: its reward, metrics (numbers or booleans) and metadata (`scenario_id`)."""

    reward: float
    metrics: Mapping[str, float | bool] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrajectoryGroup:
    """Rollouts of one scenario, the exceptions of those that failed, and group metrics."""

    trajectories: Sequence[Trajectory] = ()
    exceptions: Sequence[BaseException | str] = ()
    metrics: Mapping[str, float | bool] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class LogParts:
    """What a log sends: averaged metrics, builder-summed values, scenario ids."""

    metrics: dict[str, float] = field(default_factory=dict)
    builder: dict[str, float] = field(default_factory=dict)
    scenario_ids: list[str] = field(default_factory=list)

    def route(self, key: str, value: float | bool) -> bool:
        """Builder-managed keys (costs, step timings and counts) are summed; True if taken."""
        if key.startswith(BUILDER_PREFIXES):
            self.builder[key] = self.builder.get(key, 0.0) + float(value)
            return True
        return False


def is_builder_key(key: str) -> bool:
    return key.startswith(BUILDER_PREFIXES)


def name_key(key: str, split: str) -> str:
    """ART's naming: a key under a section or a split stays; others go under `{split}/`."""
    head, slash, _ = key.partition("/")
    if split in METRIC_SPLITS and slash and (head in METRIC_SECTIONS or head in METRIC_SPLITS):
        return key
    return f"{split}/{key}"


def scenario_id(group: Any) -> str | None:
    """The group's `scenario_id` metadata, else its first trajectory's that has one."""
    for metadata in (group.metadata, *(t.metadata for t in group.trajectories)):
        value = (metadata or {}).get("scenario_id")
        if value is not None:
            return str(value)
    return None


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _population_std(values: Sequence[float]) -> float:
    mean = _mean(values)
    return math.sqrt(_mean([(v - mean) ** 2 for v in values]))


def group_log(groups: Sequence[Any], split: str, metrics: Mapping[str, float]) -> LogParts:
    """The metrics of one log of `groups` (ART's or these classes) under `split`;
    `metrics` are the caller's own, routed the same way and overriding the averages."""
    parts = LogParts()
    rewards: list[float] = []
    exceptions = 0
    by_key: dict[str, list[float]] = {}
    by_group_key: dict[str, list[float]] = {}
    stds: list[float] = []
    for group in groups:
        trajectories = list(group.trajectories)
        exceptions += len(group.exceptions)
        for key, value in (group.metrics or {}).items():
            if not parts.route(key, value) and trajectories:
                by_group_key.setdefault(key, []).append(float(value))
        group_rewards = [float(t.reward) for t in trajectories]
        rewards += group_rewards
        if len(group_rewards) > 1:
            stds.append(_population_std(group_rewards))
        for trajectory in trajectories:
            for key, value in (trajectory.metrics or {}).items():
                if not parts.route(key, value):
                    by_key.setdefault(key, []).append(float(value))
    averaged: dict[str, float] = {}
    if rewards:
        averaged["reward"] = _mean(rewards)
    if rewards or exceptions:
        averaged["exception_rate"] = exceptions / (len(rewards) + exceptions)
    averaged.update({key: _mean(values) for key, values in by_key.items()})
    averaged.update({f"group_{key}": _mean(values) for key, values in by_group_key.items()})
    averaged["reward_std_dev"] = _mean(stds) if stds else 0.0
    _add_default_counts(parts, groups, split, given=metrics)
    for key, value in metrics.items():
        if not parts.route(key, value):
            averaged[key] = float(value)
    parts.metrics = {name_key(key, split): value for key, value in averaged.items()}
    return parts


def _add_default_counts(
    parts: LogParts, groups: Sequence[Any], split: str, *, given: Mapping[str, float]
) -> None:
    if split not in METRIC_SPLITS:
        return
    counts = {
        "data/step_num_scenarios": float(len(groups)),
        "data/step_num_trajectories": float(
            sum(len(g.trajectories) + len(g.exceptions) for g in groups)
        ),
        "data/step_num_groups_submitted": float(len(groups)),
    }
    if split == "train":
        counts["data/step_num_groups_trainable"] = float(
            sum(
                len(rewards) > 1 and len(set(rewards)) > 1
                for rewards in ([t.reward for t in g.trajectories] for g in groups)
            )
        )
    for key, value in counts.items():
        if key not in given:
            parts.route(key, value)
    ids = {sid for sid in (scenario_id(group) for group in groups) if sid is not None}
    parts.scenario_ids = sorted(ids)


ROW_ONLY = frozenset({"step", "recorded_at", "training_step"})
"""Keys of an ART history row that the pipeline makes itself (from the row's step)."""
WALL_CLOCK = "time/wall_clock_sec"
"""Seconds since the run's process began; never under a split."""


def art_row_parts(row: Mapping[str, Any], split: str) -> LogParts:
    """A row ART wrote, back into what its log sent: the builder's step values (leaf costs,
    step timings and counts) and the plain metrics. Totals, cost rollups and throughput
    averages are left out: the pipeline derives them again."""
    prefix = f"{split}/" if split not in METRIC_SPLITS else ""
    keys = {
        key.removeprefix(prefix) if prefix else key: value
        for key, value in row.items()
        if key not in ROW_ONLY and isinstance(value, int | float) and not isinstance(value, bool)
    }
    costs = [key for key in keys if key.startswith("costs/")]
    parts = LogParts()
    for key, value in keys.items():
        derived = (
            key.partition("/")[2].startswith("cum/")
            or key == "costs/all"
            or (key.startswith("costs/") and any(c.startswith(key + "/") for c in costs))
            or key.startswith("throughput/avg_")
        )
        if derived:
            continue
        if key == WALL_CLOCK:
            parts.metrics[key] = float(value)
            continue
        head, _, rest = key.partition("/")
        if f"{head}/cum/{rest.removeprefix('step_')}" in keys:  # its builder kept a total
            parts.builder[key] = float(value)
        elif not parts.route(key, value):
            parts.metrics[key if not prefix else f"{split}/{key}"] = float(value)
    return parts
