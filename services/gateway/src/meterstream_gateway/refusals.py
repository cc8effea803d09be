"""Why the gateway refuses a request, once, for HTTP and gRPC alike.

Each reason has its HTTP status and its gRPC code, as OTLP maps them: retryable
refusals (rate limit, Kafka unavailable) tell the client when to try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import grpc

Reason = Literal[
    "unauthorized",
    "forbidden_project",
    "bad_body",
    "too_large",
    "too_many_items",
    "unsupported_media_type",
    "rate_limited",
    "kafka_unavailable",
]

HTTP_STATUS: Final[dict[Reason, int]] = {
    "unauthorized": 401,
    "forbidden_project": 403,
    "bad_body": 400,
    "too_large": 413,
    "too_many_items": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "kafka_unavailable": 503,
}
GRPC_CODE: Final[dict[Reason, grpc.StatusCode]] = {
    "unauthorized": grpc.StatusCode.UNAUTHENTICATED,
    "forbidden_project": grpc.StatusCode.PERMISSION_DENIED,
    "bad_body": grpc.StatusCode.INVALID_ARGUMENT,
    "too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "too_many_items": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "unsupported_media_type": grpc.StatusCode.INVALID_ARGUMENT,
    "rate_limited": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "kafka_unavailable": grpc.StatusCode.UNAVAILABLE,
}


@dataclass
class Refused(Exception):
    """A whole request refused: `reason` picks the status, `message` says what and the limit."""

    reason: Reason
    message: str
    retry_after_s: int | None = None

    def __str__(self) -> str:
        return self.message
