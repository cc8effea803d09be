"""ART itself as the oracle for training telemetry.

Each scenario is one training loop played twice: through ART's own `Model.log`,
`MetricsBuilder` and `track_api_cost` (openpipe-art, unmodified, writing its
history.jsonl), and through meterstream's SDK, whose events then go through the workers'
history join in several arrival orders (spend early, spend late, as sent). Every row ART
writes must equal meterstream's row of the same log: the same keys, every value within
1e-9. ART's `time/wall_clock_sec` (each side's own clock) is compared by presence only,
except through the mirror, which sends ART's.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm: no network at import

import art
from art.api_costs import track_api_cost as art_track_api_cost

from meterstream_contracts import ApiCost, Event, GpuCost, TrainingStep
from meterstream_derivations.history import RunHistory, latest_rows
from meterstream_sdk import AsyncClient, Run, SdkConfig, track_api_cost
from meterstream_sdk.art_mirror import mirror_art_model
from meterstream_sdk.testing import RecordingTransport
from meterstream_sdk.trajectories import Trajectory, TrajectoryGroup

LEFT_OUT = {"step", "recorded_at"}
"""The line's own step and write time (the row's step and time are columns)."""
WALL_CLOCK = "time/wall_clock_sec"
"""Compared by presence only when ART and the SDK each ran their own clock."""
JUDGE = "openai/gpt-4.1"
"""A model ART prices from its own table ($2 / $8 per million, cached input $0.50)."""
COMPARED: Counter[str] = Counter()
"""Values compared per key family, over the whole module (printed by the last test)."""


@dataclass(frozen=True)
class Group:
    scenario: str | None
    rewards: Sequence[float]
    exceptions: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    """Per trajectory (the same for each, plus its index under `turn`)."""
    group_metrics: dict[str, float] = field(default_factory=dict)
    on_group: bool = True
    """Whether the scenario id sits in the group's metadata or in each trajectory's."""


Action = tuple[Any, ...]


def art_groups(groups: Sequence[Group]) -> list[art.TrajectoryGroup]:
    made = []
    for g in groups:
        meta: dict[str, Any] = {"scenario_id": g.scenario} if g.scenario is not None else {}
        trajectories: list[Any] = [
            art.Trajectory(
                reward=r,
                messages_and_choices=[],
                metrics={**g.metrics, "turn": float(i)},
                metadata={} if g.on_group else meta,
            )
            for i, r in enumerate(g.rewards)
        ]
        trajectories += [RuntimeError(f"rollout {i} failed") for i in range(g.exceptions)]
        made.append(
            art.TrajectoryGroup(
                trajectories, metrics=g.group_metrics, metadata=meta if g.on_group else {}
            )
        )
    return made


def sdk_groups(groups: Sequence[Group]) -> list[TrajectoryGroup]:
    return [
        TrajectoryGroup(
            trajectories=[
                Trajectory(
                    reward=r,
                    metrics={**g.metrics, "turn": float(i)},
                    metadata={"scenario_id": g.scenario} if not g.on_group else {},
                )
                for i, r in enumerate(g.rewards)
            ],
            exceptions=["failed"] * g.exceptions,
            metrics=g.group_metrics,
            metadata={"scenario_id": g.scenario} if g.on_group else {},
        )
        for g in groups
    ]


def response(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
    }


class ArtSide:
    """The loop through ART: a `Model` writing history.jsonl under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.model = self._model()

    def _model(self) -> art.Model[Any]:
        return art.Model(name="oracle", project="p", base_path=str(self.folder), report_metrics=[])

    async def play(self, action: Action) -> None:
        kind, *args = action
        if kind == "spend":
            context, source, prompt, completion, cached = args

            @art_track_api_cost(source=source, provider="openai", model_name=JUDGE)
            def judge() -> dict[str, Any]:
                return response(prompt, completion, cached)

            with self.model.metrics_builder(context).activate_context():
                judge()
        elif kind == "gpu":
            seconds, per_hour = args
            self.model.metrics_builder("train").add_cost("gpu", seconds * per_hour / 3600)
        elif kind == "metric":
            context, key, value = args
            self.model.metrics_builder(context).add_metric(key, value)
        elif kind == "data":
            context, tokens, scenarios = args
            self.model.metrics_builder(context).add_data(
                step_actor_tokens=tokens, scenario_ids=scenarios
            )
        elif kind == "idle":
            trainer, actor = args
            self.model.metrics_builder("train").add_idle_times(
                step_trainer_idle_s=trainer, step_actor_idle_s=actor
            )
        elif kind == "log":
            split, step, groups, metrics = args
            await self.model.log(art_groups(groups), split=split, step=step, metrics=metrics)
        elif kind == "log_metrics":
            split, step, metrics = args
            await self.model.log(None, split=split, step=step, metrics=metrics)
        elif kind == "resume":
            self.model = self._model()  # a new process: ART reloads its state.json
        else:
            raise AssertionError(kind)

    def rows(self) -> list[dict[str, Any]]:
        history = self.folder / "p" / "models" / "oracle" / "history.jsonl"
        return [json.loads(line) for line in history.read_text().splitlines()]


class SdkSide:
    """The same loop through meterstream's SDK, recorded instead of sent."""

    def __init__(self) -> None:
        self.transport = RecordingTransport()
        self.client = AsyncClient(project="p", config=SdkConfig(), transport=self.transport)
        self.run = self._run()

    def _run(self) -> Run:
        run = self.client.init_run(name="oracle", run_id="oracle-run")
        run.pricing.register_model_pricing(
            JUDGE, prompt_per_million=2.0, completion_per_million=8.0, cached_prompt_per_million=0.5
        )
        return run

    def play(self, action: Action) -> None:
        kind, *args = action
        run = self.run
        if kind == "spend":
            context, source, prompt, completion, cached = args

            @track_api_cost(source=source, provider="openai", model_name=JUDGE)
            def judge() -> dict[str, Any]:
                return response(prompt, completion, cached)

            with run.metrics_builder(context).activate_context():
                judge()
        elif kind == "gpu":
            seconds, per_hour = args
            run.track_gpu(seconds, price_per_hour_usd=per_hour)
        elif kind == "metric":
            context, key, value = args
            run.metrics_builder(context).add_metric(key, value)
        elif kind == "data":
            context, tokens, scenarios = args
            run.metrics_builder(context).add_data(step_actor_tokens=tokens, scenario_ids=scenarios)
        elif kind == "idle":
            trainer, actor = args
            run.metrics_builder("train").add_idle_times(
                step_trainer_idle_s=trainer, step_actor_idle_s=actor
            )
        elif kind == "log":
            split, step, groups, metrics = args
            run.log_groups(sdk_groups(groups), split=split, step=step, metrics=metrics)
        elif kind == "log_metrics":
            split, step, metrics = args
            run.log(metrics, split=split, step=step)
        elif kind == "resume":
            self.run = self._run()  # a new process: the pipeline keeps the run's totals
        else:
            raise AssertionError(kind)

    async def events(self) -> list[Event]:
        """Everything sent, in the order it was sent (per flush: steps, then spend)."""
        await self.client.flush()
        await self.client.close()
        return [
            e for e in self.transport.events() if isinstance(e, TrainingStep | ApiCost | GpuCost)
        ]


def joined(events: Sequence[Event]) -> list[dict[str, float]]:
    """The workers' history join over `events` in this order: each log's latest row."""
    run = RunHistory()
    rows = []
    for event in events:
        if isinstance(event, TrainingStep):
            rows.append(run.add_step(event))
        elif isinstance(event, ApiCost):
            assert event.cost_usd is not None
            rows += run.add_api_cost(event, event.cost_usd)
        elif isinstance(event, GpuCost):
            rows += run.add_gpu_cost(event)
    return [row.metrics for row in latest_rows(rows)]


def spend_first(events: Sequence[Event]) -> list[Event]:
    """Every cost before every log (the spend topic read ahead of the steps)."""
    return sorted(events, key=lambda e: isinstance(e, TrainingStep))


def spend_late(events: Sequence[Event], seed: int) -> list[Event]:
    """Each cost held back by 1 to 3 logs (the steps topic read ahead)."""
    rng = random.Random(seed)
    out: list[Event] = []
    held: list[tuple[int, Event]] = []
    logs = 0
    for event in events:
        if isinstance(event, TrainingStep):
            out.append(event)
            logs += 1
            out += [e for due, e in held if due <= logs]
            held = [(due, e) for due, e in held if due > logs]
        else:
            held.append((logs + rng.randint(1, 3), event))
    return out + [e for _, e in held]


def family(key: str) -> str:
    head, _, rest = key.partition("/")
    if rest.startswith("cum/"):
        return f"{head}/cum/*"
    if head in {"train", "val", "test"}:
        return f"{{split}}/{rest}" if rest in AUTOMATIC else "{split}/<metric>"
    return f"{head}/*"


AUTOMATIC = {"reward", "exception_rate", "reward_std_dev"}


def assert_same_rows(
    art_rows: list[dict[str, Any]], ours: list[dict[str, float]], *, same_clock: bool = False
) -> None:
    assert len(ours) == len(art_rows), (len(ours), len(art_rows))
    for number, (want, got) in enumerate(zip(art_rows, ours, strict=True)):
        expected = {k: v for k, v in want.items() if k not in LEFT_OUT}
        assert set(got) == set(expected), (
            number,
            sorted(set(expected) - set(got)),
            sorted(set(got) - set(expected)),
        )
        for key, value in expected.items():
            if key == WALL_CLOCK and not same_clock:
                continue
            assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-12), (
                number,
                key,
                got[key],
                value,
            )
            COMPARED[family(key)] += 1


async def play_both(tmp_path: Path, actions: Sequence[Action]) -> None:
    """The loop through ART and through the SDK (in four arrival orders), and once more
    through ART with `mirror_art_model`: every way gives ART's rows."""
    oracle, sdk = ArtSide(tmp_path / "art"), SdkSide()
    mirrored, mirror = ArtSide(tmp_path / "mirrored"), SdkSide()
    mirror_art_model(mirrored.model, mirror.run)
    await sdk.client.start()
    await mirror.client.start()
    for action in actions:
        await oracle.play(action)
        sdk.play(action)
        await mirrored.play(action)
        if action[0] == "resume":
            mirror.play(action)
            mirror_art_model(mirrored.model, mirror.run)
        if action[0].startswith("log"):
            await sdk.client.flush()  # as its timer would between two steps
    art_rows = oracle.rows()
    events = await sdk.events()
    for order in (events, spend_first(events), spend_late(events, 1), spend_late(events, 2)):
        assert_same_rows(art_rows, joined(order))
    assert mirrored.rows() == [
        {**row, "recorded_at": ANY, "time/wall_clock_sec": ANY} for row in art_rows
    ]
    assert_same_rows(mirrored.rows(), joined(await mirror.events()), same_clock=True)


def step_actions(step: int, *, val: bool, spend_after: bool = True) -> list[Action]:
    """ART's usual step: rollouts with judge spend, train log, then (maybe) a val log."""
    train = [
        Group(f"s{step % 5}", [0.0, 1.0, 0.5], exceptions=step % 2, metrics={"correct": 1.0}),
        Group(f"s{(step + 2) % 5}", [1.0, 1.0], group_metrics={"difficulty": 0.1 * step}),
        Group(f"s{(step + 3) % 5}", [0.25 * step, 0.75], on_group=False),
    ]
    actions: list[Action] = [
        ("spend", "train", "judge", 1000 + step, 200, 100),
        ("spend", "train", "llm_judge/correctness", 500, 50 + step, 0),
        ("metric", "train", "time/step_trainer_s", 2.0 + step),
        ("metric", "train", "time/checkpoint_s", 0.5),
        ("data", "train", 1200 + step, [f"s{step % 5}"]),
        ("gpu", 30.0 + step, 3.0),
        ("idle", 0.25, 0.5),
        ("log", "train", step, train, {"loss": 0.1 * step, "loss/grad_norm": 1.5}),
    ]
    if spend_after:  # spent after the train log: ART gives it to the next train log
        actions.append(("spend", "train", "judge", 300, 30, 0))
    if val:
        actions += [
            ("spend", "eval", "judge", 800, 100 + step, 0),
            ("metric", "eval", "time/step_eval_s", 1.5),
            ("log", "val", step, [Group(f"v{step % 2}", [0.5, 0.7]), Group("v9", [0.2])], {}),
        ]
    return actions


async def test_train_and_val_at_every_step(tmp_path: Path) -> None:
    actions = [a for step in range(1, 13) for a in step_actions(step, val=True)]
    await play_both(tmp_path, actions)


async def test_val_only_every_third_step_and_spend_before_and_after_logs(tmp_path: Path) -> None:
    actions: list[Action] = [("spend", "eval", "judge", 400, 40, 0)]  # before any log
    for step in range(12):
        actions += step_actions(step, val=step % 3 == 2, spend_after=step % 2 == 0)
    await play_both(tmp_path, actions)


async def test_val_logged_before_train_at_the_same_step(tmp_path: Path) -> None:
    actions: list[Action] = []
    for step in range(6):
        val = [("log", "val", step, [Group("v1", [0.1, 0.9])], {"loss": 0.3})]
        actions += val + step_actions(step, val=False)
    await play_both(tmp_path, actions)


async def test_a_resumed_run_keeps_its_totals(tmp_path: Path) -> None:
    first = [a for step in range(5) for a in step_actions(step, val=True, spend_after=False)]
    second = [a for step in range(5, 9) for a in step_actions(step, val=True, spend_after=False)]
    await play_both(tmp_path, [*first, ("resume",), *second])


async def test_repeated_scenarios_and_groups_that_all_failed(tmp_path: Path) -> None:
    actions: list[Action] = []
    for step in range(8):
        groups = [
            Group("same", [1.0, 0.0]),
            Group("same", [0.5, 0.5]),  # not trainable: equal rewards
            Group("dead", [], exceptions=3),  # every rollout raised
            Group(None, [0.3]),  # no scenario id, one trajectory
        ]
        actions += [
            ("spend", "train", "judge", 100, 10, 0),
            ("log", "train", step, groups, {}),
            ("log", "val", step, [Group("v", [], exceptions=2)], {}),
        ]
    await play_both(tmp_path, actions)


async def test_a_run_where_every_rollout_failed(tmp_path: Path) -> None:
    actions: list[Action] = [
        ("log", "train", step, [Group(f"s{step}", [], exceptions=4)], {}) for step in range(4)
    ]
    await play_both(tmp_path, actions)


async def test_metrics_only_logs_and_another_split(tmp_path: Path) -> None:
    """A log of metrics alone (the backend's train metrics beside the groups' log, as ART's
    loop does), and a split ART puts wholly under its own name."""
    actions: list[Action] = []
    for step in range(4):
        actions += step_actions(step, val=False, spend_after=False)
        actions += [
            (
                "log_metrics",
                "train",
                step,
                {"loss/kl": 0.01 * step, "data/step_trainer_tokens": 900},
            ),
            ("spend", "discarded", "judge", 100, 10, 0),
            ("log", "discarded", step, [Group("x", [0.0, 1.0])], {}),
        ]
    await play_both(tmp_path, actions)


@pytest.fixture(autouse=True, scope="module")
def print_what_was_compared(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: the values compared per key family (for the closing note)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not COMPARED:
        return
    with capture.global_and_fixture_disabled():  # shown in the run's output, not captured
        reporter.write_line("")
        reporter.write_line("ART oracle, values compared per key family:")
        for name, count in sorted(COMPARED.items()):
            reporter.write_line(f"  {name:<28} {count:>6}")
        reporter.write_line(f"  {'total':<28} {sum(COMPARED.values()):>6}")
