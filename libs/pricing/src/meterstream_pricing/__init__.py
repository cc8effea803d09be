"""Model pricing: usage read from any provider's response, the maintained price catalogue
(genai-prices) and our versioned registry of overrides."""

from meterstream_pricing.catalogue import CATALOGUE, GenaiPricesCatalogue, default_registry
from meterstream_pricing.readers import ReadUsage, read_usage, usage_from_response
from meterstream_pricing.registry import (
    ModelPrice,
    PriceCatalogue,
    PricingRegistry,
    UnknownModelPrice,
)
from meterstream_pricing.usage import Usage

__all__ = [
    "CATALOGUE",
    "GenaiPricesCatalogue",
    "ModelPrice",
    "PriceCatalogue",
    "PricingRegistry",
    "ReadUsage",
    "UnknownModelPrice",
    "Usage",
    "default_registry",
    "read_usage",
    "usage_from_response",
]
