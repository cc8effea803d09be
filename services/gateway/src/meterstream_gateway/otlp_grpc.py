"""OTLP over gRPC (port 4317): the metrics and trace services, on the gateway's event loop.

Requests arrive as bytes (no stub classes; the same decoding as OTLP/HTTP), keys in the
`authorization` (`Bearer <key>`) or `x-api-key` metadata. Refusals follow OTLP's codes:
UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED (with a
RetryInfo when the exporter should try again: the rate limit), UNAVAILABLE (Kafka did not
acknowledge; exporters retry it). A request larger than the body cap is refused by gRPC
itself before it is read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc import aio
from grpc_status import rpc_status

from meterstream_gateway.refusals import GRPC_CODE, Refused

METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"

Export = Callable[[bytes, dict[str, str]], Awaitable[bytes]]
"""(request bytes, metadata) → response bytes, or raises Refused."""


def _status(refused: Refused) -> status_pb2.Status:
    code = GRPC_CODE[refused.reason]
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=refused.message)
    if refused.retry_after_s is not None:
        detail = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=refused.retry_after_s))
        status.details.add().Pack(detail)
    return status


def _handler(export: Export) -> grpc.RpcMethodHandler[bytes, bytes]:
    async def handle(request: bytes, context: aio.ServicerContext[Any, Any]) -> bytes:
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
        try:
            return await export(request, metadata)  # type: ignore[arg-type]
        except Refused as refused:
            await context.abort_with_status(rpc_status.to_status(_status(refused)))
            raise  # not reached: abort raises

    return grpc.unary_unary_rpc_method_handler(handle)


async def start_grpc(
    *, host: str, port: int, max_message_bytes: int, metrics: Export, traces: Export
) -> tuple[aio.Server, int]:
    """A started server and the port it listens on (`port` 0 picks a free one)."""
    server = aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ]
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(METRICS_SERVICE, {"Export": _handler(metrics)}),
            grpc.method_handlers_generic_handler(TRACE_SERVICE, {"Export": _handler(traces)}),
        )
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {host}:{port}")
    await server.start()
    return server, bound
