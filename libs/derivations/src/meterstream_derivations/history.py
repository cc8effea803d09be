"""The training-history join: logs, API spend and GPU time of one run → history rows. Pure.

Every log is a row of its own, as in ART's history: a train log and a val log at the
same step are two rows, ordered by `seq`. Spend belongs to a log:
- spend that names a log (`log_id`, which the SDK stamps from the metrics builder that
  was active) joins that log's row, whether it arrives before or after the log; after,
  the row and every later row whose totals it changes go out again, each with a higher
  revision (the last `KEEP_LOGS` logs can be corrected so);
- spend that names no log joins the next log of its scope (train; val and test share
  eval, as ART's builders do) whose step is at or past the spend's step;
- spend still waiting after `ORPHAN_AFTER` logs (its log never came: the process died
  first; or no log of its scope follows) joins the next log, so nothing is dropped.

Each input message is applied once: the state keeps the highest offset taken per input
partition, so a message replayed after a crash changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meterstream_contracts import ApiCost, GpuCost, TrainingStep
from meterstream_derivations.ledger import gpu_cost_usd
from meterstream_derivations.training import RunDerivation, StepInputs

KEEP_LOGS = 16
"""Logs whose rows can still be corrected by spend that arrives after them."""
ORPHAN_AFTER = 32
"""Logs after which spend waiting for a log that never came joins its scope's next one."""
EVAL_SPLITS = frozenset({"val", "test", "eval"})
METRIC_SPLITS = frozenset({"train", "val", "test"})


UNPREFIXED = frozenset({"training_step", "time/wall_clock_sec"})
"""Keys ART adds to every row after naming the others: never under a split."""


def split_row(metrics: dict[str, float], split: str) -> dict[str, float]:
    """ART puts a row of a split other than train, val and test wholly under `{split}/`,
    its costs, counts and totals too (the SDK already named the logged keys so)."""
    if split in METRIC_SPLITS:
        return metrics
    prefix = f"{split}/"
    return {
        k if k.startswith(prefix) or k in UNPREFIXED else prefix + k: v for k, v in metrics.items()
    }


def scope_of(split: str) -> str:
    """The builder a split's spend and step counts go through: val and test share eval."""
    return "eval" if split in EVAL_SPLITS else split


@dataclass(slots=True)
class Spend:
    scope: str
    split: str
    source: str | None
    """None for GPU time (`costs/gpu`)."""
    usd: float
    step: int
    log_id: str | None
    arrived: int
    """How many logs the run had when the spend arrived."""


@dataclass(slots=True)
class Log:
    """One log and the spend it took: enough to derive its row again."""

    seq: int
    step: int
    split: str
    log_id: str | None
    metrics: dict[str, float]
    builder_metrics: dict[str, float]
    scenario_ids: list[str]
    spend: list[Spend] = field(default_factory=list)
    revision: int = 1

    def row(self, totals: RunDerivation) -> dict[str, float]:
        """This log's row, with `training_step` as ART writes it; `totals` (the run's
        before it) advance past it."""
        row = split_row(totals.derive(self.inputs()), self.split)
        row["training_step"] = float(self.step)
        return row

    def inputs(self) -> StepInputs:
        return StepInputs(
            metrics=self.metrics,
            scenario_ids=self.scenario_ids,
            api_costs=[(s.split, s.source, s.usd) for s in self.spend if s.source is not None],
            gpu_costs_usd=[s.usd for s in self.spend if s.source is None],
            builder_metrics=self.builder_metrics,
        )


@dataclass(frozen=True, slots=True)
class HistoryRow:
    step: int
    split: str
    seq: int
    revision: int
    metrics: dict[str, float]


@dataclass
class RunHistory:
    checkpoint: RunDerivation = field(default_factory=RunDerivation)
    """The run's totals before the oldest log in `recent`."""
    totals: RunDerivation = field(default_factory=RunDerivation)
    """The run's totals after its latest log (`checkpoint` folded over `recent`)."""
    recent: list[Log] = field(default_factory=list)
    pending: list[Spend] = field(default_factory=list)
    logs: int = 0
    marks: dict[str, int] = field(default_factory=dict)

    def first_time(self, source: str, offset: int) -> bool:
        """Whether the message at `offset` of `source` (topic:partition) is new."""
        if offset <= self.marks.get(source, -1):
            return False
        self.marks[source] = offset
        return True

    def add_api_cost(self, cost: ApiCost, usd: float) -> list[HistoryRow]:
        """Spend of an API call; the rows it corrects when its log already went out."""
        return self._add_spend(cost.split, cost.source, usd, cost.step, cost.log_id)

    def add_gpu_cost(self, cost: GpuCost) -> list[HistoryRow]:
        return self._add_spend(cost.split, None, gpu_cost_usd(cost), cost.step, cost.log_id)

    def _add_spend(
        self, split: str, source: str | None, usd: float, step: int | None, log_id: Any
    ) -> list[HistoryRow]:
        spend = Spend(
            scope_of(split),
            split,
            source,
            usd,
            -1 if step is None else step,
            None if log_id is None else str(log_id),
            self.logs,
        )
        for index, log in enumerate(self.recent):
            if spend.log_id is not None and log.log_id == spend.log_id:
                log.spend.append(spend)
                return self._rederive(index)
        self.pending.append(spend)
        return []

    def add_step(self, step: TrainingStep) -> HistoryRow:
        """The row of a new log (several logs may share a step)."""
        log_id = None if step.log_id is None else str(step.log_id)
        scope = scope_of(step.split)
        taken: list[Spend] = []
        waiting: list[Spend] = []
        for spend in self.pending:
            if spend.log_id is not None:
                joins = spend.log_id == log_id
            else:
                joins = spend.scope == scope and spend.step <= step.step
            if self.logs - spend.arrived >= ORPHAN_AFTER:
                joins = True  # its log never came, or no log of its scope follows
            (taken if joins else waiting).append(spend)
        self.pending = waiting
        log = Log(
            self.logs,
            step.step,
            step.split,
            log_id,
            dict(step.metrics),
            dict(step.builder_metrics),
            list(step.scenario_ids),
            taken,
        )
        self.logs += 1
        row = HistoryRow(log.step, log.split, log.seq, 1, log.row(self.totals))
        self.recent.append(log)
        while len(self.recent) > KEEP_LOGS:
            self.checkpoint.derive(self.recent.pop(0).inputs())
        return row

    def _totals_before(self, index: int) -> RunDerivation:
        totals = self.checkpoint.copy()
        for log in self.recent[:index]:
            totals.derive(log.inputs())
        return totals

    def _rederive(self, index: int) -> list[HistoryRow]:
        """The rows from `recent[index]` on, derived again, each a revision higher."""
        totals = self._totals_before(index)
        rows = []
        for log in self.recent[index:]:
            log.revision += 1
            rows.append(HistoryRow(log.step, log.split, log.seq, log.revision, log.row(totals)))
        self.totals = totals
        return rows

    def state(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.state(),
            "totals": self.totals.state(),
            "recent": [_log_state(log) for log in self.recent],
            "pending": [_spend_state(spend) for spend in self.pending],
            "logs": self.logs,
            "marks": self.marks,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RunHistory:
        run = cls(
            checkpoint=RunDerivation.from_state(state.get("checkpoint", {})),
            recent=[_log_from(item) for item in state.get("recent", [])],
            pending=[_spend_from(item) for item in state.get("pending", [])],
            logs=int(state.get("logs", 0)),
            marks={str(k): int(v) for k, v in state.get("marks", {}).items()},
        )
        run.totals = (
            RunDerivation.from_state(state["totals"])
            if "totals" in state
            else run._totals_before(len(run.recent))
        )
        return run


def _spend_state(spend: Spend) -> list[Any]:
    return [
        spend.scope,
        spend.split,
        spend.source,
        spend.usd,
        spend.step,
        spend.log_id,
        spend.arrived,
    ]


def _spend_from(item: list[Any]) -> Spend:
    scope, split, source, usd, step, log_id, arrived = item
    return Spend(scope, split, source, float(usd), int(step), log_id, int(arrived))


def _log_state(log: Log) -> dict[str, Any]:
    return {
        "seq": log.seq,
        "step": log.step,
        "split": log.split,
        "log_id": log.log_id,
        "metrics": log.metrics,
        "builder_metrics": log.builder_metrics,
        "scenario_ids": log.scenario_ids,
        "spend": [_spend_state(spend) for spend in log.spend],
        "revision": log.revision,
    }


def _log_from(item: Mapping[str, Any]) -> Log:
    return Log(
        seq=int(item["seq"]),
        step=int(item["step"]),
        split=str(item["split"]),
        log_id=item["log_id"],
        metrics={str(k): float(v) for k, v in item["metrics"].items()},
        builder_metrics={str(k): float(v) for k, v in item["builder_metrics"].items()},
        scenario_ids=[str(s) for s in item["scenario_ids"]],
        spend=[_spend_from(spend) for spend in item["spend"]],
        revision=int(item["revision"]),
    )


def latest_rows(rows: Iterable[HistoryRow]) -> list[HistoryRow]:
    """The highest revision of each log, in log order (what the store keeps)."""
    latest: dict[int, HistoryRow] = {}
    for row in rows:
        if row.seq not in latest or row.revision > latest[row.seq].revision:
            latest[row.seq] = row
    return [latest[seq] for seq in sorted(latest)]


def replay_history(
    events: Iterable[TrainingStep | ApiCost | GpuCost], *, api_cost_usd: Mapping[str, float]
) -> list[HistoryRow]:
    """Rows of one run from its events in arrival order (`api_cost_usd`: event id → USD),
    each log at its latest revision."""
    run = RunHistory()
    rows: list[HistoryRow] = []
    for event in events:
        if isinstance(event, TrainingStep):
            rows.append(run.add_step(event))
        elif isinstance(event, ApiCost):
            rows += run.add_api_cost(event, api_cost_usd[str(event.event_id)])
        else:
            rows += run.add_gpu_cost(event)
    return latest_rows(rows)
