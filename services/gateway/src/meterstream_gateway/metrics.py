"""The gateway's own health, for Prometheus."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "meterstream_gateway_events_accepted",
            "Events acknowledged by Kafka",
            ["route"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "meterstream_gateway_events_rejected",
            "Events or requests refused",
            ["reason"],
            registry=self.registry,
        )
        self.spans = Counter(
            "meterstream_gateway_otlp_spans",
            "OTLP spans by what became of them: call (a completion), other (not a model"
            " call: counted, dropped), rejected",
            ["outcome"],
            registry=self.registry,
        )
        self.kafka_seconds = Histogram(
            "meterstream_gateway_kafka_ack_seconds",
            "Time from produce to every ack",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
