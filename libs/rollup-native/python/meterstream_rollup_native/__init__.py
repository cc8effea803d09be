"""The workers' fast path for completions marked validated, in Rust: `completion_sums`
reads an envelope once and sums its calls per (project, model, provider, shortest window)
as the Python builder would, or answers None and leaves the envelope to it."""

from meterstream_rollup_native._native import completion_sums

__all__ = ["completion_sums"]
