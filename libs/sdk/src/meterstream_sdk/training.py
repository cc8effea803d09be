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
from uuid import uuid4

from meterstream_contracts import Table
from meterstream_pricing import PricingRegistry, UnknownModelPrice, Usage, usage_from_response
from meterstream_sdk.errors import InvalidValue

if TYPE_CHECKING:
    from meterstream_sdk.emitter import Emitter

log = logging.getLogger("meterstream_sdk")
P = ParamSpec("P")
R = TypeVar("R")

_ACTIVE_BUILDER: ContextVar[MetricsBuilder | None] = ContextVar("meterstream_builder", default=None)

Loggable = int | float | Table


class MetricsBuilder:
    """Step-level metrics ART cannot infer, flushed into the run's next logged step."""

    def __init__(self, run: Run, split: str) -> None:
        self.run = run
        self.split = split
        self._metrics: dict[str, float] = {}
        self._scenario_ids: list[str] = []

    @contextmanager
    def measure(self, key: str) -> Iterator[None]:
        """Time a block into `key` (e.g. `time/step_actor_s`); repeated blocks add up."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._metrics[key] = self._metrics.get(key, 0.0) + time.perf_counter() - started

    def add_data(self, *, scenario_ids: Sequence[str] = (), **counts: float) -> None:
        """`step_actor_tokens=...` becomes `data/step_actor_tokens`; scenario ids are kept."""
        self._scenario_ids.extend(str(s) for s in scenario_ids)
        for name, value in counts.items():
            key = f"data/{name}"
            self._metrics[key] = self._metrics.get(key, 0.0) + float(value)

    def add_idle_times(self, **seconds: float) -> None:
        """`step_actor_idle_s=...` becomes `throughput/step_actor_idle_s`, as ART names it."""
        for name, value in seconds.items():
            key = f"throughput/{name}"
            self._metrics[key] = self._metrics.get(key, 0.0) + float(value)

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

    def take(self) -> tuple[dict[str, float], list[str]]:
        metrics, ids = self._metrics, self._scenario_ids
        self._metrics, self._scenario_ids = {}, []
        return metrics, ids


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

    def log(self, metrics: Mapping[str, Loggable], *, step: int | None = None) -> int:
        """Log one step (numbers and tables) with every builder's pending metrics; returns it."""
        if step is not None:
            if step < 0:
                raise InvalidValue(f"step must be >= 0, got {step}")
            self.step = step
        numbers: dict[str, float] = {}
        tables: dict[str, Any] = {}
        for key, value in metrics.items():
            if isinstance(value, Table):
                tables[key] = value.model_dump()
            elif isinstance(value, int | float) and not isinstance(value, bool):
                if not math.isfinite(value):
                    raise InvalidValue(f"metric {key!r} must be finite, got {value!r}")
                numbers[key] = float(value)
            else:
                raise InvalidValue(
                    f"metric {key!r} must be a number or a Table, got {type(value).__name__}"
                )
        scenario_ids: list[str] = []
        for builder in self._builders.values():
            pending, ids = builder.take()
            numbers.update(pending)
            scenario_ids.extend(ids)
        logged = self.step
        self._emitter.emit(
            "training_step",
            {
                "project": self.project,
                "run_id": self.run_id,
                "step": logged,
                "metrics": numbers,
                "tables": tables,
                "scenario_ids": scenario_ids,
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
        """Average per-trajectory metrics under `{split}/`, group metrics under `{split}/group_`."""
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
        builder = self._builders.get(split)
        if builder is None:
            builder = self._builders[split] = MetricsBuilder(self, split)
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
        """Price a provider response (or Usage) and log it as `costs/{split}/{source}` spend."""
        usage = response if isinstance(response, Usage) else usage_from_response(response)
        if usage is None:
            log.warning("track_api_cost(%s): the response has no usage; nothing logged", source)
            return None
        active = _ACTIVE_BUILDER.get()
        split = split or (active.split if active is not None and active.run is self else "train")
        try:
            cost, version = self.pricing.cost(usage, provider=provider, model=model_name)
        except UnknownModelPrice as error:
            log.warning("track_api_cost(%s): %s; usage logged unpriced", source, error)
            cost, version = None, None
        model = model_name.split("/", 1)[1] if model_name.startswith(f"{provider}/") else model_name
        self._emitter.emit(
            "api_cost",
            {
                "project": self.project,
                "run_id": self.run_id,
                "step": self.step,
                "split": split,
                "source": source,
                "provider": provider,
                "model": model,
                "usage": {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cached_input_tokens": usage.cached_input_tokens,
                    "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                },
                "cost_usd": cost,
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
        split: str = "train",
    ) -> None:
        """GPU time at a per-hour price (the run's default, else $3/hour, ART's H200 price)."""
        price = price_per_hour_usd if price_per_hour_usd is not None else self.gpu_cost_per_hour_usd
        if seconds < 0 or not math.isfinite(seconds):
            raise InvalidValue(f"seconds must be finite and >= 0, got {seconds!r}")
        self._emitter.emit(
            "gpu_cost",
            {
                "project": self.project,
                "run_id": self.run_id,
                "step": self.step,
                "split": split,
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
