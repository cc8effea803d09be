"""OTLP/HTTP metrics (protobuf or JSON) → instrument points, normalised to delta temporality.

Monotonic sums become counters, gauges and non-monotonic sums become gauges
(their current level), histograms stay histograms; exponential histograms are
converted to explicit bounds. Cumulative series are turned into deltas against
the previous point of the same series, so downstream sums are never counted twice.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from pydantic import ValidationError

from meterstream_contracts import InstrumentPoint
from meterstream_contracts.errors import describe_validation_error

CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
MAX_BOUNDS = 256


def _text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind in ("array_value", "kvlist_value", "bytes_value"):
        return orjson.dumps(json_format.MessageToDict(value)).decode()
    return str(getattr(value, kind))


def _attributes(pairs: Any, extra: dict[str, str]) -> dict[str, str]:
    attributes = dict(extra)
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        attributes[pair.key] = _text(pair.value)
    return attributes


def _time(nanos: int) -> datetime | float:
    """Unix seconds (the contract checks the range: a point past it is rejected, not a 500),
    or now for a point without a time."""
    return nanos / 1e9 if nanos else datetime.now(UTC)


@dataclass(slots=True)
class _Previous:
    start: int
    value: float = 0.0
    counts: list[int] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)
    total: float = 0.0
    count: int = 0


class CumulativeToDelta:
    """Per-series memory of the last cumulative point (bounded, least recently used dropped)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._series: OrderedDict[tuple[Any, ...], _Previous] = OrderedDict()

    def _take(self, key: tuple[Any, ...], start: int) -> _Previous | None:
        previous = self._series.pop(key, None)
        if previous is not None and previous.start != start:
            previous = None  # the series restarted: its value counts from zero again
        return previous

    def _keep(self, key: tuple[Any, ...], state: _Previous) -> None:
        self._series[key] = state
        while len(self._series) > self._limit:
            self._series.popitem(last=False)

    def sum(self, key: tuple[Any, ...], start: int, value: float) -> float:
        previous = self._take(key, start)
        self._keep(key, _Previous(start, value=value))
        if previous is None or value < previous.value:
            return value
        return value - previous.value

    def level(self, key: tuple[Any, ...], delta: float) -> float:
        """A non-monotonic delta sum folded into its running level."""
        previous = self._series.pop(key, None)
        level = (previous.value if previous else 0.0) + delta
        self._keep(key, _Previous(0, value=level))
        return level

    def histogram(
        self, key: tuple[Any, ...], start: int, bounds: list[float], counts: list[int], total: float
    ) -> tuple[list[int], float, bool]:
        """(delta counts, delta sum, whether min/max still describe the delta)."""
        previous = self._take(key, start)
        self._keep(key, _Previous(start, counts=list(counts), bounds=list(bounds), total=total))
        if previous is None or previous.bounds != bounds or sum(counts) < sum(previous.counts):
            return list(counts), total, True
        delta = [now - before for now, before in zip(counts, previous.counts, strict=True)]
        return delta, total - previous.total, False


def exponential_to_explicit(point: Any) -> tuple[list[float], list[int]]:
    """Explicit bounds and counts for an exponential histogram point (at most MAX_BOUNDS bounds).

    Bucket j of a side covers magnitudes (base^j, base^(j+1)], base = 2^(2^-scale);
    too many buckets are merged pairwise (one scale down) until they fit.
    """
    scale = point.scale
    positive = list(point.positive.bucket_counts)
    negative = list(point.negative.bucket_counts)
    pos_offset, neg_offset = point.positive.offset, point.negative.offset
    while len(positive) + len(negative) + 3 > MAX_BOUNDS:
        positive, pos_offset = _halve(positive, pos_offset)
        negative, neg_offset = _halve(negative, neg_offset)
        scale -= 1
    base = 2.0 ** (2.0**-scale)
    bounds: list[float] = []
    counts: list[int] = []
    if negative:
        bounds.append(-(base ** (neg_offset + len(negative))))
        counts.append(0)
        for k in reversed(range(len(negative))):
            bounds.append(-(base ** (neg_offset + k)))
            counts.append(negative[k])
    bounds.append(0.0)
    counts.append(point.zero_count)
    if positive:
        bounds.append(base**pos_offset)
        counts.append(0)
        for k, count in enumerate(positive):
            bounds.append(base ** (pos_offset + k + 1))
            counts.append(count)
    counts.append(0)
    return bounds, counts


def _halve(counts: list[int], offset: int) -> tuple[list[int], int]:
    if not counts:
        return counts, offset >> 1
    merged: dict[int, int] = {}
    for i, count in enumerate(counts):
        merged[(offset + i) >> 1] = merged.get((offset + i) >> 1, 0) + count
    start = min(merged)
    return [merged.get(start + i, 0) for i in range(max(merged) - start + 1)], start


@dataclass(slots=True)
class MappedPoints:
    points: list[InstrumentPoint] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def map_request(
    request: ExportMetricsServiceRequest, *, project: str, state: CumulativeToDelta
) -> MappedPoints:
    mapped = MappedPoints()
    for resource_metrics in request.resource_metrics:
        service = {
            pair.key: _text(pair.value)
            for pair in resource_metrics.resource.attributes
            if pair.key == "service.name"
        }
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                for record in _records(metric, project, service, state):
                    if isinstance(record, str):
                        mapped.rejected.append(f"{metric.name}: {record}")
                        continue
                    try:
                        mapped.points.append(InstrumentPoint.model_validate(record))
                    except ValidationError as error:
                        mapped.rejected.append(f"{metric.name}: {describe_validation_error(error)}")
    return mapped


def _records(
    metric: Any, project: str, service: dict[str, str], state: CumulativeToDelta
) -> list[dict[str, Any] | str]:
    """The metric's points as instrument-point records; a point that cannot be one is
    the reason why (a string), so its neighbours are kept."""
    kind = metric.WhichOneof("data")
    base = {
        "project": project,
        "name": metric.name,
        "unit": metric.unit,
        "description": metric.description[:4096],
        "temporality": "delta",
    }
    records: list[dict[str, Any] | str] = []
    if kind in ("sum", "gauge"):
        data = getattr(metric, kind)
        cumulative = kind == "sum" and data.aggregation_temporality == CUMULATIVE
        for point in data.data_points:
            attributes = _attributes(point.attributes, service)
            value = point.as_double if point.HasField("as_double") else float(point.as_int)
            series = (project, metric.name, tuple(sorted(attributes.items())))
            if kind == "sum" and data.is_monotonic:
                instrument = "counter"
                if cumulative:
                    value = state.sum(series, point.start_time_unix_nano, value)
            else:
                instrument = "gauge"
                if kind == "sum" and not cumulative:
                    value = state.level(series, value)
            records.append(
                {
                    **base,
                    "instrument": instrument,
                    "value": value,
                    "attributes": attributes,
                    "time": _time(point.time_unix_nano),
                }
            )
    elif kind in ("histogram", "exponential_histogram"):
        data = getattr(metric, kind)
        cumulative = data.aggregation_temporality == CUMULATIVE
        for point in data.data_points:
            attributes = _attributes(point.attributes, service)
            if kind == "histogram":
                bounds, counts = list(point.explicit_bounds), list(point.bucket_counts)
            else:
                try:
                    bounds, counts = exponential_to_explicit(point)
                except OverflowError:
                    records.append(
                        f"exponential histogram: scale {point.scale} with offsets"
                        f" {point.positive.offset}/{point.negative.offset} gives bucket bounds"
                        " beyond the range of a double"
                    )
                    continue
            total, exact_range = point.sum, True
            if cumulative:
                series = (project, metric.name, tuple(sorted(attributes.items())))
                counts, total, exact_range = state.histogram(
                    series, point.start_time_unix_nano, bounds, counts, point.sum
                )
            low = point.min if exact_range and point.HasField("min") else None
            high = point.max if exact_range and point.HasField("max") else None
            records.append(
                {
                    **base,
                    "instrument": "histogram",
                    "histogram": {
                        "bounds": bounds,
                        "counts": counts,
                        "sum": total if math.isfinite(total) else 0.0,
                        "count": sum(counts),
                        "min": low,
                        "max": high,
                    },
                    "attributes": attributes,
                    "time": _time(point.time_unix_nano),
                }
            )
    return records
