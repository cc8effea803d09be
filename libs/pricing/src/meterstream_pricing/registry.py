"""A versioned model-pricing registry: prices per million tokens, effective from a date."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from meterstream_pricing.usage import Usage


class UnknownModelPrice(LookupError):
    """No price is registered for this provider/model at that time."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    provider: str
    model: str
    effective_from: date
    prompt_per_million: float
    completion_per_million: float
    cached_prompt_per_million: float | None = None
    """Price of cache reads; the prompt price when unknown."""
    cache_write_per_million: float | None = None
    """Price of cache writes; the prompt price when unknown."""
    published_at: datetime | None = None
    """When the version was published to the shared registry; None: always known."""
    version: str = field(init=False, compare=False, repr=False)
    """`openai/gpt-4o@2025-01-01`, with `#<published>` for a published version (set once)."""

    def __post_init__(self) -> None:
        prices = (
            self.prompt_per_million,
            self.completion_per_million,
            self.cached_prompt_per_million or 0.0,
            self.cache_write_per_million or 0.0,
        )
        if any(price < 0 for price in prices):
            raise ValueError(f"prices of {self.provider}/{self.model} must not be negative")
        version = f"{self.provider}/{self.model}@{self.effective_from.isoformat()}"
        if self.published_at is not None:
            version = f"{version}#{self.published_at.strftime('%Y%m%dT%H%M%S')}"
        object.__setattr__(self, "version", version)  # frozen: computed once, here

    def known_at(self, as_of: datetime | None) -> bool:
        return as_of is None or self.published_at is None or self.published_at <= as_of

    def cost_usd(self, usage: Usage) -> float:
        cached = self.cached_prompt_per_million
        write = self.cache_write_per_million
        total = (
            usage.uncached_input_tokens * self.prompt_per_million
            + usage.cached_input_tokens * (self.prompt_per_million if cached is None else cached)
            + usage.cache_creation_input_tokens
            * (self.prompt_per_million if write is None else write)
            + usage.output_tokens * self.completion_per_million
        )
        return total / 1_000_000


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _version_order(price: ModelPrice) -> tuple[date, datetime]:
    return price.effective_from, price.published_at or datetime.min.replace(tzinfo=UTC)


def _split_name(provider: str, model: str) -> tuple[str, str]:
    """`openai/gpt-4.1` names carry their provider; a bare model takes `provider`."""
    if "/" in model:
        head, tail = model.split("/", 1)
        if head == provider or not provider:
            return head, tail
    return provider, model


@dataclass
class PricingRegistry:
    """Prices by (provider, model), each a timeline of versions ordered by effective date."""

    _timelines: dict[tuple[str, str], list[ModelPrice]] = field(default_factory=dict)
    _published: list[datetime] = field(default_factory=list)

    def register(self, price: ModelPrice) -> None:
        """Add a version. A version with the same effective date replaces an older one,
        except that published versions are all kept: `as_of` lookups need the
        history of what was known when."""
        key = _split_name(price.provider, price.model)
        timeline = self._timelines.setdefault(key, [])
        if price.published_at is None:
            timeline[:] = [
                p
                for p in timeline
                if p.effective_from != price.effective_from or p.published_at is not None
            ]
        else:
            timeline[:] = [
                p
                for p in timeline
                if (p.effective_from, p.published_at) != (price.effective_from, price.published_at)
            ]
        timeline.append(price)
        timeline.sort(key=_version_order)
        if price.published_at is not None:
            bisect.insort(self._published, price.published_at)

    def register_model_pricing(
        self,
        name: str,
        *,
        prompt_per_million: float,
        completion_per_million: float,
        cached_prompt_per_million: float | None = None,
        effective_from: date = date(1970, 1, 1),
    ) -> ModelPrice:
        """Register `provider/model` (e.g. `anthropic/my-custom-judge`)."""
        provider, model = name.split("/", 1) if "/" in name else ("custom", name)
        price = ModelPrice(
            provider,
            model,
            effective_from,
            prompt_per_million,
            completion_per_million,
            cached_prompt_per_million,
        )
        self.register(price)
        return price

    def known_versions(self, as_of: datetime | None) -> int:
        """How many published versions were known at `as_of`: equal counts, equal prices."""
        if as_of is None:
            return len(self._published)
        return bisect.bisect_right(self._published, as_of)

    def price_at(
        self,
        provider: str,
        model: str,
        at: datetime | None = None,
        *,
        as_of: datetime | None = None,
    ) -> ModelPrice:
        """The version in effect on `at`'s day, among those published by `as_of`
        (the latest effective date wins, then the latest publication)."""
        key = _split_name(provider, model)
        timeline = self._timelines.get(key)
        day = (at or datetime.now(UTC)).date()
        for price in reversed(timeline or ()):
            if price.effective_from <= day and price.known_at(as_of):
                return price
        raise UnknownModelPrice(
            f"no price for {key[0]}/{key[1]} on {day.isoformat()}; register it with"
            " register_model_pricing(...)"
        )

    def cost(
        self, usage: Usage, *, provider: str, model: str, at: datetime | None = None
    ) -> tuple[float, str]:
        """(cost in USD, price version used)."""
        price = self.price_at(provider, model, at)
        return price.cost_usd(usage), price.version

    def apply_record(self, record: Mapping[str, Any]) -> None:
        """Apply a `model_price` record of the shared registry (a tombstone withdraws it)."""
        price = ModelPrice(
            str(record["provider"]),
            str(record["model"]),
            date.fromisoformat(str(record["effective_from"])),
            float(record["prompt_per_million"]),
            float(record["completion_per_million"]),
            _optional_float(record.get("cached_prompt_per_million")),
            _optional_float(record.get("cache_write_per_million")),
            published_at=datetime.fromisoformat(str(record["time"])),
        )
        if record.get("deleted"):
            key = _split_name(price.provider, price.model)
            self._timelines[key] = [
                p for p in self._timelines.get(key, []) if p.effective_from != price.effective_from
            ]
        else:
            self.register(price)

    def prices(self) -> Iterable[ModelPrice]:
        for timeline in self._timelines.values():
            yield from timeline


def default_registry() -> PricingRegistry:
    """List prices of common models (USD per million tokens) as published in 2025.

    Deployments override or extend these with `register_model_pricing`.
    """
    registry = PricingRegistry()
    since = date(2025, 1, 1)
    for provider, model, prompt, completion, cached in (
        ("openai", "gpt-4o", 2.50, 10.00, 1.25),
        ("openai", "gpt-4o-mini", 0.15, 0.60, 0.075),
        ("openai", "gpt-4.1", 2.00, 8.00, 0.50),
        ("openai", "gpt-4.1-mini", 0.40, 1.60, 0.10),
        ("anthropic", "claude-sonnet-4", 3.00, 15.00, 0.30),
        ("anthropic", "claude-haiku-3.5", 0.80, 4.00, 0.08),
    ):
        write = prompt * 1.25 if provider == "anthropic" else None
        registry.register(ModelPrice(provider, model, since, prompt, completion, cached, write))
    return registry
