"""Training telemetry, ART-style: a run logger called like a function, builders, costs.

Each call of a `Run` logs one step and advances it. Trajectory metrics are
averaged per step under the split namespace (`train/correct`), group metrics
under `{split}/group_*`. A metrics builder measures `time/step_*`, collects
`data/step_*` counts and scenario ids, and owns the context that attributes
API spend to a split.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar
from uuid import UUID, uuid4

from meterstream_contracts import Table
from meterstream_pricing import PricingRegistry, UnknownModelPrice, read_usage
from meterstream_sdk.errors import InvalidValue
from meterstream_sdk.trajectories import WALL_CLOCK, LogParts, group_log, name_key

if TYPE_CHECKING:
    from meterstream_sdk.emitter import Emitter

log = logging.getLogger("meterstream_sdk")
P = ParamSpec("P")
R = TypeVar("R")

_ACTIVE_BUILDER: ContextVar[MetricsBuilder | None] = ContextVar("meterstream_builder", default=None)

Loggable = int | float | Table


class MetricsBuilder:
    """Step values ART's builder keeps: summed until the next log of its scope takes them.

    A run has one builder per scope: `train`, `eval` (shared by the val and test splits,
    as in ART) or any other split's name. Spend tracked while a builder's context is
    active carries the id of the log that will take it, so the pipeline attributes it
    to that log whenever it arrives.
    """

    def __init__(self, run: Run, scope: str) -> None:
        self.run = run
        self.split = scope
        self._metrics: dict[str, float] = {}
        self._scenario_ids: list[str] = []
        self.log_id = uuid4()
        """The id of the log that will take what this builder holds now."""

    def add_metric(self, key: str, value: float) -> None:
        """Add to a step value (`time/step_...`, `data/step_...`, `costs/...`, or any
        `section/name`: each costs/, time/ and data/ value gets its cumulative key)."""
        if "/" not in key or key.split("/")[1] == "cum":
            raise InvalidValue(f"builder metric {key!r} must be 'section/name', not a cum key")
        if not math.isfinite(value):
            raise InvalidValue(f"builder metric {key!r} must be finite, got {value!r}")
        self._metrics[key] = self._metrics.get(key, 0.0) + float(value)

    def add_cost(self, path: str, usd: float) -> None:
        """Spend known in dollars: `add_cost("train/judge", 0.02)` → `costs/train/judge`."""
        self.add_metric(f"costs/{path.strip('/')}", usd)

    @contextmanager
    def measure(self, key: str) -> Iterator[None]:
        """Time a block into `key` (e.g. `time/step_actor_s`); repeated blocks add up."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.add_metric(key, time.monotonic() - started)

    def add_data(
        self,
        *,
        scenario_ids: Sequence[str] = (),
        step_num_scenarios: float | None = None,
        step_actor_tokens: float | None = None,
        **counts: float,
    ) -> None:
        """`step_actor_tokens=...` becomes `data/step_actor_tokens`; scenario ids are kept."""
        self._scenario_ids.extend(str(s) for s in scenario_ids)
        given = {"step_num_scenarios": step_num_scenarios, "step_actor_tokens": step_actor_tokens}
        for name, value in {**given, **counts}.items():
            if value is not None:
                self.add_metric(f"data/{name}", value)

    def add_user_timing(
        self,
        *,
        step_wall_s: float | None = None,
        step_actor_s: float | None = None,
        step_eval_s: float | None = None,
    ) -> None:
        """Timings measured elsewhere: `time/step_wall_s`, `time/step_actor_s`, ..."""
        for name, value in (
            ("step_wall_s", step_wall_s),
            ("step_actor_s", step_actor_s),
            ("step_eval_s", step_eval_s),
        ):
            if value is not None:
                self.add_metric(f"time/{name}", value)

    def add_idle_times(self, **seconds: float) -> None:
        """`step_actor_idle_s=...` becomes `throughput/step_actor_idle_s`, as ART names it."""
        for name, value in seconds.items():
            self.add_metric(f"throughput/{name}", value)

    def register_model_pricing(
        self,
        name: str,
        *,
        prompt_per_million: float,
        completion_per_million: float,
        cached_prompt_per_million: float | None = None,
        effective_from: date = date(1970, 1, 1),
    ) -> None:
        self.run.pricing.register_model_pricing(
            name,
            prompt_per_million=prompt_per_million,
            completion_per_million=completion_per_million,
            cached_prompt_per_million=cached_prompt_per_million,
            effective_from=effective_from,
        )

    @contextmanager
    def activate_context(self) -> Iterator[MetricsBuilder]:
        """Inside, `track_api_cost` spend is attributed to this builder's run and split."""
        token = _ACTIVE_BUILDER.set(self)
        try:
            yield self
        finally:
            _ACTIVE_BUILDER.reset(token)

    def take(self) -> tuple[dict[str, float], list[str], UUID]:
        """What the log now being made takes; the builder starts on the next one."""
        metrics, ids, log_id = self._metrics, self._scenario_ids, self.log_id
        self._metrics, self._scenario_ids, self.log_id = {}, [], uuid4()
        return metrics, ids, log_id


class Run:
    """One training run. Call it with a mapping of metrics to log a step."""

    def __init__(
        self,
        emitter: Emitter,
        pricing: PricingRegistry,
        *,
        project: str,
        name: str,
        run_id: str | None = None,
        recipe: str | None = None,
        config: Mapping[str, Any] | None = None,
        gpu_cost_per_hour_usd: float | None = None,
    ) -> None:
        self._emitter = emitter
        self.pricing = pricing
        self.project = project
        self.name = name
        self.run_id = run_id or uuid4().hex[:16]
        self.recipe = recipe
        self.config = dict(config or {})
        self.step = 0
        self.gpu_cost_per_hour_usd = gpu_cost_per_hour_usd
        self._builders: dict[str, MetricsBuilder] = {}
        self._started = time.monotonic()
        self._record_run("running")

    def _record_run(self, status: Literal["running", "finished", "failed", "deleted"]) -> None:
        self._emitter.emit(
            "training_run",
            {
                "project": self.project,
                "run_id": self.run_id,
                "name": self.name,
                "recipe": self.recipe,
                "config": self.config,
                "status": status,
            },
        )

    def __call__(self, metrics: Mapping[str, Loggable], *, step: int | None = None) -> int:
        return self.log(metrics, step=step)

    def log(
        self,
        metrics: Mapping[str, Loggable],
        *,
        step: int | None = None,
        split: str | None = None,
    ) -> int:
        """Log one step (numbers and tables) with what the split's builder holds; returns it.

        Without `split`, keys are logged as given, with the train builder. With one, keys
        are named as ART names them (`loss` → `val/loss`; `loss/grad_norm`, `data/...`
        stay) and builder-managed keys (`costs/`, `time/step_`, `data/step_`,
        `throughput/step_`) are summed into that split's builder first.
        """
        numbers, tables = _split_loggables(metrics)
        if split is None:
            return self._emit_log(numbers, tables, {}, [], step=step, split="train")
        parts = LogParts()
        plain = {k: v for k, v in numbers.items() if not parts.route(k, v)}
        parts.metrics = {name_key(k, split): v for k, v in plain.items()}
        return self._emit_log(parts.metrics, tables, parts.builder, [], step=step, split=split)

    def log_groups(
        self,
        groups: Sequence[Any],
        *,
        split: str = "train",
        step: int | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> int:
        """Log trajectory groups as ART's `Model.log` does: rewards, exception rate, reward
        spread, trajectory and group metric averages, step counts and scenario ids, with
        what the split's builder holds. Takes these SDK's groups or ART's own."""
        for key, value in (metrics or {}).items():
            _check_number(key, value)
        return self.log_parts(group_log(groups, split, metrics or {}), split=split, step=step)

    def log_parts(self, parts: LogParts, *, split: str, step: int | None = None) -> int:
        """Log metrics already named and routed (`meterstream_sdk.trajectories`)."""
        return self._emit_log(
            parts.metrics, {}, parts.builder, parts.scenario_ids, step=step, split=split
        )

    def _emit_log(
        self,
        numbers: dict[str, float],
        tables: dict[str, Any],
        builder_metrics: dict[str, float],
        scenario_ids: list[str],
        *,
        step: int | None,
        split: str,
    ) -> int:
        if step is not None:
            if step < 0:
                raise InvalidValue(f"step must be >= 0, got {step}")
            self.step = step
        pending, ids, log_id = self.metrics_builder(split).take()
        # as ART: seconds since this process's Run began (a resumed run starts again)
        numbers.setdefault(WALL_CLOCK, time.monotonic() - self._started)
        for key, value in builder_metrics.items():
            pending[key] = pending.get(key, 0.0) + value
        logged = self.step
        self._emitter.emit(
            "training_step",
            {
                "project": self.project,
                "run_id": self.run_id,
                "step": logged,
                "split": split,
                "metrics": numbers,
                "builder_metrics": pending,
                "tables": tables,
                "scenario_ids": sorted({*ids, *scenario_ids}),
                "log_id": str(log_id),
            },
        )
        self.step += 1
        return logged

    def log_trajectories(
        self,
        trajectories: Sequence[Mapping[str, float]],
        *,
        split: str = "train",
        groups: Sequence[Mapping[str, float]] = (),
        step: int | None = None,
    ) -> int:
        """Average per-trajectory metrics under `{split}/`, group metrics under `{split}/group_`
        (metric dicts only; `log_groups` takes rewards, exceptions and scenario ids too)."""
        metrics: dict[str, Loggable] = {}
        for prefix, rows in ((f"{split}/", trajectories), (f"{split}/group_", groups)):
            names = sorted({name for row in rows for name in row})
            for name in names:
                values = [float(row[name]) for row in rows if name in row]
                metrics[prefix + name] = sum(values) / len(values)
        metrics["data/step_num_trajectories"] = len(trajectories)
        if groups:
            metrics["data/step_num_groups_submitted"] = len(groups)
        return self.log(metrics, step=step)

    def metrics_builder(self, split: str = "train") -> MetricsBuilder:
        """The builder of `split`'s scope: val and test share `eval`, as in ART."""
        scope = scope_of(split)
        builder = self._builders.get(scope)
        if builder is None:
            builder = self._builders[scope] = MetricsBuilder(self, scope)
        return builder

    def track_api_cost(
        self,
        response: Any,
        *,
        source: str,
        provider: str,
        model_name: str,
        split: str | None = None,
    ) -> float | None:
        """Log a provider response's usage (or a Usage) as `costs/{split}/{source}` spend.

        The workers price it, as they price completions (the registry's overrides, then
        the catalogue); a cost the provider reported travels beside it. A price
        registered on this run (`register_model_pricing`) is applied here and sent with
        its version, since the workers do not know it. Returns the cost as priced here
        (the reported one when no price is known).
        """
        read = read_usage(response, provider=provider)
        if read is None:
            log.warning("track_api_cost(%s): the response has no usage; nothing logged", source)
            return None
        usage = read.usage
        active = _ACTIVE_BUILDER.get()
        split = split or (active.split if active is not None and active.run is self else "train")
        builder = self.metrics_builder(split)
        reported, version = read.reported_cost_usd, None
        try:
            price = self.pricing.price_at(provider, model_name)
        except UnknownModelPrice as error:
            log.warning("track_api_cost(%s): %s; usage logged unpriced", source, error)
            cost = reported
        else:
            cost, priced_at = self.pricing.cost(usage, provider=provider, model=model_name)
            if price.source == "registry":  # a price registered here: the workers lack it
                reported, version = cost, priced_at
        model = model_name.split("/", 1)[1] if model_name.startswith(f"{provider}/") else model_name
        self._emitter.emit(
            "api_cost",
            {
                "project": self.project,
                "run_id": self.run_id,
                "step": self.step,
                "split": builder.split,
                "log_id": str(builder.log_id),
                "source": source,
                "provider": provider,
                "model": model,
                "usage": {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cached_input_tokens": usage.cached_input_tokens,
                    "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                    "cache_creation_1h_input_tokens": usage.cache_creation_1h,
                    "reasoning_tokens": usage.reasoning,
                },
                "cost_usd": reported,
                "price_version": version,
            },
        )
        return cost

    def track_gpu(
        self,
        seconds: float,
        *,
        price_per_hour_usd: float | None = None,
        gpu_type: str = "H200",
        gpu_count: int = 1,
        split: str | None = None,
    ) -> None:
        """GPU time at a per-hour price (the run's default, else $3/hour, ART's H200 price),
        attributed like API spend: to `split`, else the active builder's, else train."""
        active = _ACTIVE_BUILDER.get()
        split = split or (active.split if active is not None and active.run is self else "train")
        price = price_per_hour_usd if price_per_hour_usd is not None else self.gpu_cost_per_hour_usd
        if seconds < 0 or not math.isfinite(seconds):
            raise InvalidValue(f"seconds must be finite and >= 0, got {seconds!r}")
        builder = self.metrics_builder(split)
        self._emitter.emit(
            "gpu_cost",
            {
                "project": self.project,
                "run_id": self.run_id,
                "step": self.step,
                "split": builder.split,
                "log_id": str(builder.log_id),
                "gpu_type": gpu_type,
                "gpu_count": gpu_count,
                "seconds": float(seconds),
                "price_per_hour_usd": 3.0 if price is None else float(price),
            },
        )

    def finish(self, status: Literal["finished", "failed"] = "finished") -> None:
        self._record_run(status)

    def delete(self) -> None:
        """Mark the run deleted; the sink then deletes its stored metrics, costs and history."""
        self._record_run("deleted")


def track_api_cost(
    *, source: str, provider: str, model_name: str
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function returning a provider response: its usage is priced and logged
    against the run and split of the active `metrics_builder(...).activate_context()`."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        def account(response: Any) -> None:
            builder = _ACTIVE_BUILDER.get()
            if builder is None:
                log.warning("track_api_cost(%s) outside activate_context(); not logged", source)
                return
            builder.run.track_api_cost(
                response,
                source=source,
                provider=provider,
                model_name=model_name,
                split=builder.split,
            )

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                response = await function(*args, **kwargs)
                account(response)
                return response

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            response = function(*args, **kwargs)
            account(response)
            return response

        return wrapper

    return decorate


def scope_of(split: str) -> str:
    """The builder a split logs through: val and test share `eval`, as in ART."""
    return "eval" if split in ("val", "test", "eval") else split


def _check_number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"metric {key!r} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidValue(f"metric {key!r} must be finite, got {value!r}")
    return float(value)


def _split_loggables(metrics: Mapping[str, Loggable]) -> tuple[dict[str, float], dict[str, Any]]:
    numbers: dict[str, float] = {}
    tables: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, Table):
            tables[key] = value.model_dump()
        elif isinstance(value, int | float) and not isinstance(value, bool):
            numbers[key] = _check_number(key, value)
        else:
            raise InvalidValue(
                f"metric {key!r} must be a number or a Table, got {type(value).__name__}"
            )
    return numbers, tables
