"""Pure derivations the stream workers apply (no I/O): training history rows as ART defines them."""

from meterstream_derivations.training import RunDerivation, StepInputs, derive_history

__all__ = ["RunDerivation", "StepInputs", "derive_history"]
