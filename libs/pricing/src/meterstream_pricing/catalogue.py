"""The default prices: genai-prices' maintained database, as `ModelPrice`s.

genai-prices matches the model ids responses carry (dated snapshots, provider prefixes,
Bedrock's regional ids) and keeps each model's price history, cache read and write
prices and tiers. Each catalogue entry is turned into our per-million rates once, by
asking the library's own calculation the price of one kind of token at a time in each
tier, so what the workers charge is what the library computes, while a bucket of calls
is still priced from its token sums.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Final, NamedTuple

import genai_prices
from genai_prices import Usage as CatalogueUsage
from genai_prices import data_snapshot
from genai_prices import types as catalogue

from meterstream_pricing.registry import ModelPrice, PricingRegistry

CATALOGUE: Final = f"genai-prices {genai_prices.__version__}"

PROVIDER_IDS: Final[dict[str, str]] = {
    # OpenTelemetry's gen_ai.provider.name values and common spellings → genai-prices ids
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "amazon": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "vertex": "google",
    "google_genai": "google",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "azure_openai": "azure",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "deepseek_ai": "deepseek",
}


def catalogue_provider(provider: str | None) -> str | None:
    """The genai-prices id of a provider name as users and OpenTelemetry spell it."""
    if not provider:
        return None
    name = provider.strip().lower()
    return PROVIDER_IDS.get(name, name)


@dataclass(frozen=True, slots=True)
class _Entry:
    provider: catalogue.Provider
    model: catalogue.ModelInfo


def _per_million(cost: Decimal, tokens: int) -> float:
    return float(cost * 1_000_000 / tokens)


class _Rates(NamedTuple):
    prompt: float
    cached: float
    write: float
    write_1h: float
    completion: float
    reasoning: float
    per_call: float


def _rates(price: catalogue.ModelPrice, represent: int) -> _Rates:
    """Per-million rates of each kind of token, from the library's own calculation of
    `represent` tokens of that kind (a call of `represent` input tokens sets the tier)."""

    def cost(**tokens: int) -> Decimal:
        return price.calc_price(CatalogueUsage(**tokens))["total_price"]

    r = represent
    fee = cost()
    prompt = cost(input_tokens=r) - fee
    return _Rates(
        prompt=_per_million(prompt, r),
        cached=_per_million(cost(input_tokens=r, cache_read_tokens=r) - fee, r),
        write=_per_million(cost(input_tokens=r, cache_write_tokens=r) - fee, r),
        write_1h=_per_million(
            cost(input_tokens=r, cache_write_tokens=r, cache_write_1h_tokens=r) - fee, r
        ),
        completion=_per_million(cost(input_tokens=r, output_tokens=r) - fee - prompt, r),
        reasoning=_per_million(
            cost(input_tokens=r, output_tokens=r, output_reasoning_tokens=r) - fee - prompt, r
        ),
        per_call=float(fee),
    )


def _thresholds(price: catalogue.ModelPrice) -> list[int]:
    found: set[int] = set()
    for value in price.__dict__.values():
        if isinstance(value, catalogue.TieredPrices):
            found.update(tier.start for tier in value.tiers)
    return sorted(found)


def _effective_from(model: catalogue.ModelInfo, price: catalogue.ModelPrice) -> date:
    if isinstance(model.prices, list):
        for conditional in model.prices:
            constraint = conditional.constraint
            if conditional.prices is price and isinstance(
                constraint, catalogue.StartDateConstraint
            ):
                return constraint.start_date
    return date(1970, 1, 1)


def _varies_within_day(model: catalogue.ModelInfo) -> bool:
    return isinstance(model.prices, list) and any(
        isinstance(conditional.constraint, catalogue.TimeOfDateConstraint)
        for conditional in model.prices
    )


def compile_price(
    provider: catalogue.Provider, model: catalogue.ModelInfo, price: catalogue.ModelPrice
) -> ModelPrice:
    """Our `ModelPrice` of one catalogue price: its rates in every tier, named by the
    catalogue entry and a digest of the rates (a new catalogue release with the same
    prices keeps the version, so it re-prices nothing)."""
    effective = _effective_from(model, price)
    thresholds = _thresholds(price)
    regions = [1, *(threshold + 1 for threshold in thresholds)]
    rates = [_rates(price, represent) for represent in regions]
    digest = hashlib.blake2b(repr(rates).encode(), digest_size=4).hexdigest()
    dated = "" if effective == date(1970, 1, 1) else f"@{effective.isoformat()}"
    version = f"genai-prices:{provider.id}/{model.id}{dated}#{digest}"

    def make(tier: int, tiers: tuple[tuple[int, ModelPrice], ...]) -> ModelPrice:
        suffix = "" if tier == 0 else f">{thresholds[tier - 1]}"
        rate = rates[tier]
        return ModelPrice(
            provider.id,
            model.id,
            effective,
            rate.prompt,
            rate.completion,
            rate.cached,
            rate.write,
            cache_write_1h_per_million=rate.write_1h,
            reasoning_per_million=rate.reasoning,
            per_call_usd=rate.per_call,
            source=CATALOGUE,
            varies_within_day=_varies_within_day(model),
            version=version + suffix,
            tiers=tiers,
        )

    upper = tuple((threshold, make(i + 1, ())) for i, threshold in enumerate(thresholds))
    return make(0, upper)


@dataclass
class GenaiPricesCatalogue:
    """Prices from the genai-prices package installed (its bundled snapshot; no network).

    Lookups are cached per (provider, model) name and per catalogue price, so the
    library's matching and calculation run once per model, not once per call.
    """

    _entries: dict[tuple[str | None, str], _Entry | None] = field(default_factory=dict)
    _compiled: dict[int, tuple[catalogue.ModelPrice, ModelPrice]] = field(default_factory=dict)

    def entry(self, provider: str | None, model: str) -> _Entry | None:
        key = (catalogue_provider(provider), model)
        if key not in self._entries:
            self._entries[key] = _find(*key)
        return self._entries[key]

    def canonical_model(self, provider: str, model: str) -> str | None:
        found = self.entry(provider, model)
        return None if found is None else found.model.id

    def price_at(self, provider: str, model: str, at: datetime) -> ModelPrice | None:
        found = self.entry(provider, model)
        if found is None:
            return None
        price = found.model.get_prices(at)
        compiled = self._compiled.get(id(price))
        if compiled is None or compiled[0] is not price:
            compiled = (price, compile_price(found.provider, found.model, price))
            self._compiled[id(price)] = compiled
        return compiled[1]


def _find(provider_id: str | None, model: str) -> _Entry | None:
    snapshot = data_snapshot.get_snapshot()
    attempts: list[Callable[[], tuple[catalogue.Provider, catalogue.ModelInfo]]] = []
    if provider_id:
        attempts.append(lambda: snapshot.find_provider_model(model, None, provider_id, None))
    if "/" in model:
        head, tail = model.split("/", 1)
        attempts.append(lambda: snapshot.find_provider_model(tail, None, head, None))
    if not provider_id:
        attempts.append(lambda: snapshot.find_provider_model(model, None, None, None))
    for attempt in attempts:
        try:
            found_provider, found_model = attempt()
        except LookupError:
            continue
        return _Entry(found_provider, found_model)
    return None


def default_registry() -> PricingRegistry:
    """The registry over the maintained catalogue, with no overrides yet: deployments add
    theirs with `register_model_pricing` or by publishing them to the shared registry."""
    return PricingRegistry(catalogue=GenaiPricesCatalogue())
