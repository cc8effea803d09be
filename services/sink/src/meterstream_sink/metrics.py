"""The sink's own health, for Prometheus: rows, batches, dead letters, latency, freshness."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class SinkMetrics:
    """Metrics in a registry of their own (no process-wide globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rows_stored = Counter(
            "meterstream_sink_rows_stored", "Events stored", ["table"], registry=self.registry
        )
        self.dead_letters = Counter(
            "meterstream_sink_dead_letters",
            "Events sent to the DLQ",
            ["topic"],
            registry=self.registry,
        )
        self.batches = Counter(
            "meterstream_sink_batches", "Batches committed", registry=self.registry
        )
        self.retries = Counter(
            "meterstream_sink_store_retries",
            "Failed store attempts retried",
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "meterstream_sink_batch_rows",
            "Events per committed batch",
            buckets=(10, 100, 1000, 5000, 10_000, 50_000, 100_000),
            registry=self.registry,
        )
        self.insert_seconds = Histogram(
            "meterstream_sink_insert_seconds",
            "ClickHouse insert latency",
            ["table"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lag = Gauge(
            "meterstream_sink_lag_messages",
            "Messages behind the partition's high watermark after the last commit",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.freshness_seconds = Histogram(
            "meterstream_sink_freshness_seconds",
            "Producer timestamp of the oldest message in an insert to its being stored",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def serve(self, port: int) -> WSGIServer:
        """Serve /metrics on 127.0.0.1:`port` (0 picks a free port: see `server_port`)."""
        server, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        return server
