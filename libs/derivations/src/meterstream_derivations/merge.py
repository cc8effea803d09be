"""The merge stage (second phase): partials → merged windows and cumulative totals. Pure.

Partials arrive per (project, model) in the order their first phase produced
them, and each names its input slice (`partition:offset`, or
`reprice:<version>:partition:offset` for a re-pricing adjustment). A state
remembers the highest offset (and window) merged per slice namespace, so a partial replayed
after a crash (of either phase) is recognised and skipped: merging is
idempotent, and a state stored in a changelog together with its marks survives
a crash without double counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from meterstream_contracts import envelope_as_array, split_envelope
from meterstream_contracts.derived import InferenceRollup, InferenceWindow, UsageTotals
from meterstream_derivations.inference import add_sums
from meterstream_derivations.sketch import QuantileSketch

_Count = Annotated[int, msgspec.Meta(ge=0)]


class PartialSums(msgspec.Struct, frozen=True, gc=False):
    """The fields of a partial (an InferenceRollup) that merging uses, decoded straight
    from the partials topic's JSON: the merge stage reads every partial the first phase
    writes, and validating each again as a model cost more than merging it."""

    project: str
    model: str
    window_start: datetime
    window_seconds: Annotated[int, msgspec.Meta(gt=0)]
    partial_id: str
    count: _Count
    errors: dict[str, _Count] = {}
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cached_tokens: _Count = 0
    cost_usd: float = 0.0  # negative in a re-pricing adjustment
    unpriced: int = 0  # negative in a re-pricing adjustment
    latency_bins: dict[int, _Count] = {}
    ttft_bins: dict[int, _Count] = {}
    decode_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    decode_tokens: _Count = 0


Partial = InferenceRollup | PartialSums
"""A partial as merging reads it: the model, or its sums decoded from a trusted topic."""

_PARTIALS = msgspec.json.Decoder(list[PartialSums])


def decode_partials(value: bytes) -> list[Partial]:
    """The partials of one envelope of the partials topic (written by the first phase);
    line by line through the contract when they do not decode, so a bad line is refused
    with the contract's reasons."""
    try:
        return list(_PARTIALS.decode(envelope_as_array(value)))
    except msgspec.DecodeError:
        return [InferenceRollup.model_validate_json(line) for line in split_envelope(value)]


def slice_of(partial_id: str) -> tuple[str, int]:
    """`3:1200` → (`3`, 1200); `reprice:v:3:1200` → (`reprice:v:3`, 1200)."""
    namespace, _, offset = partial_id.rpartition(":")
    try:
        return namespace, int(offset)
    except ValueError:
        return partial_id, 0


def _copy_marks(marks: dict[str, list[int]]) -> dict[str, list[int]]:
    return {namespace: list(offsets) for namespace, offsets in marks.items()}


def _first_time(marks: dict[str, list[int]], partial_id: str, within: int = 0) -> bool:
    """Whether (offset, within) is past the namespace's mark; advances the mark if so.

    `within` orders the partials one slice yields for the same state (their
    window starts, emitted in ascending order).
    """
    namespace, offset = slice_of(partial_id)
    position = [offset, within]
    if position <= marks.get(namespace, [-1, 0]):
        return False
    marks[namespace] = position
    return True


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _bins(raw: Mapping[Any, Any]) -> dict[int, int]:
    return {int(key): int(value) for key, value in raw.items()}


@dataclass
class MergedWindow:
    """Every partial of one (project, model, window) merged so far."""

    project: str
    model: str
    window_start: int
    window_seconds: int
    revision: int = 0
    count: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_bins: dict[int, int] = field(default_factory=dict)
    ttft_bins: dict[int, int] = field(default_factory=dict)
    decode_seconds: float = 0.0
    decode_tokens: int = 0
    unpriced: int = 0
    marks: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def for_partial(cls, partial: Partial) -> MergedWindow:
        return cls(
            partial.project, partial.model, _epoch(partial.window_start), partial.window_seconds
        )

    @property
    def end(self) -> int:
        return self.window_start + self.window_seconds

    def absorb(self, partial: Partial) -> bool:
        """Merge a partial; False (and no change) when it was merged before."""
        if not _first_time(self.marks, partial.partial_id):
            return False
        self.revision += 1
        add_sums(self, partial)
        return True

    def to_record(self, *, final: bool, emitted_at: datetime | None = None) -> InferenceWindow:
        latency = QuantileSketch(bins=dict(self.latency_bins))
        ttft = QuantileSketch(bins=dict(self.ttft_bins))
        return InferenceWindow(
            project=self.project,
            model=self.model,
            window_start=datetime.fromtimestamp(self.window_start, UTC),
            window_seconds=self.window_seconds,
            revision=max(self.revision, 1),
            final=final,
            emitted_at=emitted_at or datetime.now(UTC),
            count=self.count,
            errors=dict(self.errors),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_tokens=self.cached_tokens,
            cost_usd=max(self.cost_usd, 0.0),
            unpriced=max(self.unpriced, 0),
            latency_bins=dict(self.latency_bins),
            ttft_bins=dict(self.ttft_bins),
            decode_seconds=self.decode_seconds,
            decode_tokens=self.decode_tokens,
            latency_p50_ms=latency.quantile(0.5),
            latency_p95_ms=latency.quantile(0.95),
            latency_p99_ms=latency.quantile(0.99),
            ttft_p50_ms=ttft.quantile(0.5),
            ttft_p99_ms=ttft.quantile(0.99),
            decode_tokens_per_s=(
                self.decode_tokens / self.decode_seconds if self.decode_seconds > 0 else None
            ),
        )

    def state(self) -> dict[str, Any]:
        """A copy for the table; its containers are flat, so a copy one level deep (asdict's
        recursive deepcopy cost more than the merge itself)."""
        state = self.__dict__.copy()
        state["errors"] = dict(self.errors)
        state["latency_bins"] = dict(self.latency_bins)
        state["ttft_bins"] = dict(self.ttft_bins)
        state["marks"] = _copy_marks(self.marks)
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> MergedWindow:
        values = dict(state)
        values["latency_bins"] = _bins(values.get("latency_bins", {}))
        values["ttft_bins"] = _bins(values.get("ttft_bins", {}))
        return cls(**values)


@dataclass
class ModelTotals:
    """Cumulative usage of one (project, model), from the partials of one window length."""

    project: str
    model: str
    revision: int = 0
    through: int = 0
    count: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    marks: dict[str, list[int]] = field(default_factory=dict)

    def absorb(self, partial: Partial) -> bool:
        """Merge a partial of the shortest window length (every event is in one)."""
        if not _first_time(self.marks, partial.partial_id, _epoch(partial.window_start)):
            return False
        self.revision += 1
        self.through = max(self.through, _epoch(partial.window_start) + partial.window_seconds)
        self.count += partial.count
        self.errors += sum(partial.errors.values())
        self.input_tokens += partial.input_tokens
        self.output_tokens += partial.output_tokens
        self.cached_tokens += partial.cached_tokens
        self.cost_usd += partial.cost_usd
        return True

    def to_record(self, emitted_at: datetime | None = None) -> UsageTotals:
        return UsageTotals(
            project=self.project,
            model=self.model,
            revision=max(self.revision, 1),
            through=datetime.fromtimestamp(self.through, UTC),
            emitted_at=emitted_at or datetime.now(UTC),
            count=self.count,
            errors=self.errors,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_tokens=self.cached_tokens,
            cost_usd=max(self.cost_usd, 0.0),
        )

    def state(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["marks"] = _copy_marks(self.marks)
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ModelTotals:
        return cls(**state)


_SUMMED = ("count", "errors", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")


@dataclass
class ProjectTotals:
    """A project's totals: the latest totals of each of its models, summed.

    Model totals are snapshots with growing revisions, so keeping the latest
    per model is idempotent whatever order or how often they arrive.
    """

    project: str
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    def absorb(self, totals: UsageTotals) -> bool:
        if not totals.model or totals.project != self.project:
            return False
        current = self.models.get(totals.model)
        if current is not None and current["revision"] >= totals.revision:
            return False
        snapshot = {name: getattr(totals, name) for name in _SUMMED}
        snapshot["revision"] = totals.revision
        snapshot["through"] = _epoch(totals.through)
        self.models[totals.model] = snapshot
        return True

    def to_record(self, emitted_at: datetime | None = None) -> UsageTotals:
        sums = {name: sum(m[name] for m in self.models.values()) for name in _SUMMED}
        return UsageTotals(
            project=self.project,
            model="",
            revision=max(sum(m["revision"] for m in self.models.values()), 1),
            through=datetime.fromtimestamp(
                max((m["through"] for m in self.models.values()), default=0), UTC
            ),
            emitted_at=emitted_at or datetime.now(UTC),
            **sums,
        )

    def state(self) -> dict[str, Any]:
        return {"project": self.project, "models": self.models}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ProjectTotals:
        return cls(state["project"], dict(state.get("models", {})))
