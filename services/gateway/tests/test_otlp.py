"""OTLP → instrument points, with cumulative series turned into deltas; no I/O."""

from __future__ import annotations

import itertools

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from meterstream_gateway.otlp import (
    CUMULATIVE,
    CumulativeToDelta,
    exponential_to_explicit,
    map_request,
)
from meterstream_gateway.otlp_ingest import decode

DELTA = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
T0 = 1_764_000_000_000_000_000
"""2025-11-24 in ns: points at time 0 (1970) are out of the range the store keeps."""


def request_with(metric: metrics_pb2.Metric) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="api"))
    )
    resource.scope_metrics.add().metrics.append(metric)
    return request


def counter(
    value: int,
    *,
    start: int = 1,
    temporality: metrics_pb2.AggregationTemporality.ValueType = CUMULATIVE,
) -> metrics_pb2.Metric:
    metric = metrics_pb2.Metric(name="requests", unit="1")
    metric.sum.aggregation_temporality = temporality
    metric.sum.is_monotonic = True
    point = metric.sum.data_points.add(
        as_int=value, start_time_unix_nano=T0 + start, time_unix_nano=T0 + start + 10
    )
    point.attributes.append(KeyValue(key="route", value=AnyValue(string_value="/chat")))
    return metric


def test_cumulative_counters_become_deltas_and_restarts_count_from_zero() -> None:
    state = CumulativeToDelta(100)
    values = []
    for value, start in ((5, 1), (8, 1), (20, 1), (3, 99)):
        (point,) = map_request(
            request_with(counter(value, start=start)), project="p", state=state
        ).points
        values.append(point.value)
        assert point.instrument == "counter"
        assert point.attributes == {"service.name": "api", "route": "/chat"}
    assert values == [5, 3, 12, 3]


def test_delta_counters_pass_through() -> None:
    state = CumulativeToDelta(100)
    points = [
        map_request(request_with(counter(v, temporality=DELTA)), project="p", state=state).points[0]
        for v in (5, 5)
    ]
    assert [p.value for p in points] == [5, 5]


def test_cumulative_histograms_subtract_bucket_by_bucket() -> None:
    state = CumulativeToDelta(100)
    observed = []
    for counts, total in (([1, 2, 0], 3.0), ([2, 5, 1], 12.0)):
        metric = metrics_pb2.Metric(name="latency", unit="s")
        metric.histogram.aggregation_temporality = CUMULATIVE
        metric.histogram.data_points.add(
            start_time_unix_nano=T0 + 1,
            time_unix_nano=T0 + 2,
            explicit_bounds=[0.1, 1.0],
            bucket_counts=counts,
            sum=total,
            count=sum(counts),
            min=0.05,
            max=2.0,
        )
        (point,) = map_request(request_with(metric), project="p", state=state).points
        assert point.histogram is not None
        observed.append((point.histogram.counts, point.histogram.sum, point.histogram.min))
    assert observed == [([1, 2, 0], 3.0, 0.05), ([1, 3, 1], 9.0, None)]


def test_exponential_histograms_keep_every_count_in_the_right_place() -> None:
    point = metrics_pb2.ExponentialHistogramDataPoint(scale=1, zero_count=2, count=9)
    point.positive.offset = 2
    point.positive.bucket_counts.extend([1, 3])
    point.negative.offset = 0
    point.negative.bucket_counts.extend([2, 1])
    bounds, counts = exponential_to_explicit(point)
    base = 2**0.5
    assert len(counts) == len(bounds) + 1
    assert sum(counts) == 9
    assert all(a < b for a, b in itertools.pairwise(bounds))
    # positive bucket 2 covers (base^2, base^3]: its count sits just below base^3
    assert counts[bounds.index(base**3)] == 1
    assert counts[bounds.index(0.0)] == 2


def test_huge_exponential_histograms_are_merged_down_to_the_bound_limit() -> None:
    point = metrics_pb2.ExponentialHistogramDataPoint(scale=8, count=1000)
    point.positive.offset = 0
    point.positive.bucket_counts.extend([1] * 1000)
    bounds, counts = exponential_to_explicit(point)
    assert len(bounds) <= 256
    assert sum(counts) == 1000


def test_json_encoding_is_accepted() -> None:
    body = (
        b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":'
        b'[{"name":"q","gauge":{"dataPoints":[{"asDouble":2.5}]}}]}]}]}'
    )
    request = ExportMetricsServiceRequest()
    decode(body, request, as_json=True, what="metrics")
    points = map_request(request, project="p", state=CumulativeToDelta(10)).points
    assert [(p.name, p.instrument, p.value) for p in points] == [("q", "gauge", 2.5)]


def test_a_point_at_a_time_the_store_cannot_keep_is_rejected_beside_a_good_one() -> None:
    far = counter(1, temporality=DELTA)
    far.sum.data_points[0].time_unix_nano = 2**64 - 1  # year 2554
    near = counter(2, temporality=DELTA)
    request = request_with(far)
    request.resource_metrics[0].scope_metrics[0].metrics.append(near)
    mapped = map_request(request, project="p", state=CumulativeToDelta(10))
    assert [p.value for p in mapped.points] == [2]
    (reason,) = mapped.rejected
    assert "time" in reason
    assert "2100-01-01" in reason


def test_an_exponential_histogram_beyond_a_double_is_rejected_beside_a_good_point() -> None:
    def exponential(scale: int, offset: int) -> metrics_pb2.Metric:
        metric = metrics_pb2.Metric(name="latency")
        metric.exponential_histogram.aggregation_temporality = DELTA
        point = metric.exponential_histogram.data_points.add(
            time_unix_nano=T0, scale=scale, count=3, sum=1.0
        )
        point.positive.offset = offset
        point.positive.bucket_counts.extend([1, 2])
        return metric

    request = request_with(counter(2, temporality=DELTA))
    metrics = request.resource_metrics[0].scope_metrics[0].metrics
    metrics.append(exponential(-11, 5))  # base 2^2048
    metrics.append(exponential(0, 2**31 - 1))  # 2^(2^31)
    mapped = map_request(request, project="p", state=CumulativeToDelta(10))
    assert [p.value for p in mapped.points] == [2]
    assert mapped.rejected == [
        "latency: exponential histogram: scale -11 with offsets 5/0 gives bucket bounds"
        " beyond the range of a double",
        "latency: exponential histogram: scale 0 with offsets 2147483647/0 gives bucket"
        " bounds beyond the range of a double",
    ]
