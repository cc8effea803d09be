"""The gateway's fast path for OTLP trace exports, in Rust: `TraceRequest.parse` decodes a
protobuf ExportTraceServiceRequest once, and `map_calls` turns its plain GenAI model-call
spans into the contract's completion lines, deferring every other case to the reference
mapping in Python (`meterstream_gateway.otlp_traces`)."""

from meterstream_otlp_native._native import SpanRules, TraceRequest

__all__ = ["SpanRules", "TraceRequest"]
