"""A versioned model-pricing registry: prices per million tokens, effective from a date."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from meterstream_pricing.usage import Usage


class UnknownModelPrice(LookupError):
    """No price is registered for this provider/model at that time."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model from a date: USD per million tokens of each kind, a fee per
    call, and tiers that apply to a whole call once its input passes a threshold."""

    provider: str
    model: str
    effective_from: date
    prompt_per_million: float
    completion_per_million: float
    cached_prompt_per_million: float | None = None
    """Price of cache reads; the prompt price when unknown."""
    cache_write_per_million: float | None = None
    """Price of cache writes (of five minutes, or of no stated duration); the prompt price
    when unknown."""
    published_at: datetime | None = None
    """When the version was published to the shared registry; None: always known."""
    cache_write_1h_per_million: float | None = None
    """Price of one-hour cache writes; the cache-write price when unknown."""
    reasoning_per_million: float | None = None
    """Price of reasoning tokens; the completion price when unknown."""
    per_call_usd: float = 0.0
    tiers: tuple[tuple[int, ModelPrice], ...] = ()
    """(threshold, prices) ascending: a call with more input tokens than a threshold pays
    that tier's prices for all its tokens (the cliff model providers use)."""
    source: str = "registry"
    """`registry` (ours, overrides), or the catalogue that priced it."""
    varies_within_day: bool = False
    """The catalogue prices this model by time of day (off-peak rates)."""
    version: str = ""
    """`openai/gpt-4o@2025-01-01`, with `#<published>` for a published version; set
    from the fields unless given (a catalogue entry names itself)."""

    def __post_init__(self) -> None:
        prices = (
            self.prompt_per_million,
            self.completion_per_million,
            self.cached_prompt_per_million or 0.0,
            self.cache_write_per_million or 0.0,
            self.cache_write_1h_per_million or 0.0,
            self.reasoning_per_million or 0.0,
            self.per_call_usd,
        )
        if any(price < 0 for price in prices):
            raise ValueError(f"prices of {self.provider}/{self.model} must not be negative")
        if self.version:
            return
        version = f"{self.provider}/{self.model}@{self.effective_from.isoformat()}"
        if self.published_at is not None:
            version = f"{version}#{self.published_at.strftime('%Y%m%dT%H%M%S')}"
        object.__setattr__(self, "version", version)  # frozen: computed once, here

    def known_at(self, as_of: datetime | None) -> bool:
        return as_of is None or self.published_at is None or self.published_at <= as_of

    def tier_of(self, input_tokens: float) -> int:
        """0 below every threshold, else the number of thresholds the input passes."""
        tier = 0
        for threshold, _ in self.tiers:
            if input_tokens > threshold:
                tier += 1
        return tier

    def at_tier(self, tier: int) -> ModelPrice:
        return self if tier == 0 else self.tiers[tier - 1][1]

    def for_usage(self, usage: Usage) -> ModelPrice:
        """The prices of the tier `usage` falls in: of one call, or of calls that all fall
        in one tier (the tier of their mean input)."""
        if not self.tiers:
            return self
        return self.at_tier(self.tier_of(usage.input_tokens / max(usage.calls, 1)))

    def cost_usd(self, usage: Usage) -> float:
        """The cost of `usage`: of one call, or of calls that all fall in one tier (the
        tier is that of their mean input)."""
        price = self.for_usage(usage)
        if price is not self:
            return price.cost_usd(usage)
        prompt = self.prompt_per_million
        write = prompt if self.cache_write_per_million is None else self.cache_write_per_million
        write_1h = (
            write if self.cache_write_1h_per_million is None else self.cache_write_1h_per_million
        )
        cached = (
            prompt if self.cached_prompt_per_million is None else self.cached_prompt_per_million
        )
        completion = self.completion_per_million
        reasoning = completion if self.reasoning_per_million is None else self.reasoning_per_million
        written_1h = usage.cache_creation_1h
        thought = usage.reasoning
        total = (
            usage.uncached_input_tokens * prompt
            + usage.cached_input_tokens * cached
            + (usage.cache_creation_input_tokens - written_1h) * write
            + written_1h * write_1h
            + (usage.output_tokens - thought) * completion
            + thought * reasoning
        )
        return total / 1_000_000 + usage.calls * self.per_call_usd


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


class PriceCatalogue(Protocol):
    """A maintained price database: consulted for what the registry has no price of."""

    def price_at(self, provider: str, model: str, at: datetime) -> ModelPrice | None: ...

    def canonical_model(self, provider: str, model: str) -> str | None:
        """The catalogue's own id of a model name (`gpt-4o-2024-08-06` → `gpt-4o`)."""


@dataclass
class PricingRegistry:
    """Prices by (provider, model), each a timeline of versions ordered by effective date;
    then the catalogue, for every model the registry does not override."""

    catalogue: PriceCatalogue | None = None
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
        """The registry's version in effect on `at`'s day, among those published by
        `as_of` (the latest effective date wins, then the latest publication), for the
        model's name or, failing that, the catalogue's id of it; else the catalogue's
        price at `at`."""
        key = _split_name(provider, model)
        moment = at or datetime.now(UTC)
        day = moment.date()
        keys = [key]
        if self.catalogue is not None and self._timelines:
            canonical = self.catalogue.canonical_model(*key)
            if canonical is not None and canonical != key[1]:
                keys.append((key[0], canonical))  # an override of gpt-4o covers its snapshots
        for each in keys:
            for price in reversed(self._timelines.get(each, ())):
                if price.effective_from <= day and price.known_at(as_of):
                    return price
        found = None if self.catalogue is None else self.catalogue.price_at(provider, model, moment)
        if found is None:
            raise UnknownModelPrice(
                f"no price for {key[0]}/{key[1]} on {day.isoformat()}: neither the registry"
                " nor the catalogue knows it; set one with `meterstream costs set-price`"
                " or register_model_pricing(...)"
            )
        return found

    def cost(
        self, usage: Usage, *, provider: str, model: str, at: datetime | None = None
    ) -> tuple[float, str]:
        """(cost in USD, price version used: of the tier the usage's input falls in)."""
        price = self.price_at(provider, model, at)
        tier = price.for_usage(usage)
        return tier.cost_usd(usage), tier.version

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
