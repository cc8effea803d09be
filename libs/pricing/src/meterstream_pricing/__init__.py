"""Model pricing: normalised usage and a versioned price registry."""

from meterstream_pricing.registry import (
    ModelPrice,
    PricingRegistry,
    UnknownModelPrice,
    default_registry,
)
from meterstream_pricing.usage import Usage, usage_from_response

__all__ = [
    "ModelPrice",
    "PricingRegistry",
    "UnknownModelPrice",
    "Usage",
    "default_registry",
    "usage_from_response",
]
