"""Completions envelope → inference rollup partials (the first, per-partition phase). Pure."""

from __future__ import annotations

from meterstream_contracts import Completion, MessageOrigin, decode_envelope
from meterstream_contracts.derived import InferenceRollup
from meterstream_derivations.inference import build_partials
from meterstream_pricing import PricingRegistry


def partials_for_message(
    value: bytes,
    *,
    origin: MessageOrigin,
    windows: tuple[int, ...],
    pricing: PricingRegistry,
) -> list[InferenceRollup]:
    """Partials of one message's valid completions, for every window length.

    The partial id names the message (partition and offset), so reprocessing it
    after a crash yields the same partials, which replace themselves downstream.
    Invalid events are skipped here; the sink dead-letters them.
    """
    decoded = decode_envelope(value, kind="completion", origin=origin)
    completions = [event for event in decoded.events if isinstance(event, Completion)]
    partial_id = f"{origin.partition}:{origin.offset}"
    partials: list[InferenceRollup] = []
    for window_seconds in windows:
        result = build_partials(
            completions, window_seconds=window_seconds, partial_id=partial_id, pricing=pricing
        )
        partials.extend(result.partials)
    return partials
