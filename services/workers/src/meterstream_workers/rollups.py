"""Completions envelope -> inference rollup partials (the first, per-partition phase). Pure."""

from __future__ import annotations

import orjson

from meterstream_contracts import Completion, MessageOrigin, decode_envelope, split_envelope
from meterstream_contracts.derived import InferenceRollup
from meterstream_derivations.inference import Call, build_partials_from_calls
from meterstream_pricing import PricingRegistry


def calls_of(value: bytes, *, origin: MessageOrigin, validated: bool) -> list[Call]:
    """The completions of one message.

    Envelopes marked validated were checked by their producer against the
    contract, so their lines are read with orjson alone; anything else goes
    through the contract, and invalid events are skipped (the sink
    dead-letters them).
    """
    if validated:
        try:
            return [Call.from_record(orjson.loads(line)) for line in split_envelope(value)]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pass  # not what the header promised: take the careful path
    decoded = decode_envelope(value, kind="completion", origin=origin)
    return [Call.of(event) for event in decoded.events if isinstance(event, Completion)]


def partials_for_message(
    value: bytes,
    *,
    origin: MessageOrigin,
    validated: bool,
    windows: tuple[int, ...],
    pricing: PricingRegistry,
) -> list[InferenceRollup]:
    """Partials of one message's completions, for every window length.

    The partial id names the message (partition and offset), so reprocessing it
    after a crash yields the same partials, which replace themselves downstream.
    """
    calls = calls_of(value, origin=origin, validated=validated)
    partial_id = f"{origin.partition}:{origin.offset}"
    result = build_partials_from_calls(
        calls, window_seconds=windows, partial_id=partial_id, pricing=pricing
    )
    return result.partials
