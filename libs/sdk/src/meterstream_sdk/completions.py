"""Measure a model call where it happens: TTFT, latency, tokens and outcome, no setup required."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from uuid import uuid4

from meterstream_pricing import read_usage

Emit = Callable[[str, dict[str, Any]], str]
Record = Callable[[str, str, float, dict[str, str]], None]


_USAGE_FIELDS = ("usage", "usage_metadata", "usageMetadata")


def carries_usage(chunk: Any) -> bool:
    """Whether a streamed chunk holds usage (most do not): a look at its fields, not a
    read of the whole chunk."""
    if isinstance(chunk, dict):
        return any(chunk.get(name) for name in _USAGE_FIELDS)
    return any(getattr(chunk, name, None) for name in _USAGE_FIELDS)


class CompletionTracker:
    """Context manager around one call. Plain responses go to `observe`; streams to `stream`.

    >>> with client.completion(project="p", model="gpt-4o-mini") as call:
    ...     response = call.observe(openai.chat.completions.create(...))
    >>> call.completion_id
    """

    def __init__(
        self,
        emit: Emit,
        record: Record,
        *,
        project: str,
        model: str,
        provider: str | None = None,
        labels: dict[str, str] | None = None,
        completion_id: str | None = None,
    ) -> None:
        self._emit = emit
        self._record = record
        self.project = project
        self.model = model
        self.provider = provider
        self.labels = labels or {}
        self.completion_id = completion_id or uuid4().hex
        self._started = 0.0
        self._started_at: datetime | None = None
        self._first_token: float | None = None
        self._usage: Any = None
        self.streamed = False

    def __enter__(self) -> CompletionTracker:
        self._started_at = datetime.now(UTC)
        self._started = time.perf_counter()
        return self

    async def __aenter__(self) -> CompletionTracker:
        return self.__enter__()

    def first_token(self) -> None:
        """Mark the first token by hand (for streams the tracker does not see)."""
        if self._first_token is None:
            self._first_token = time.perf_counter()

    def observe(self, response: Any) -> Any:
        """Take usage from a finished (non-streamed) response; returns it unchanged."""
        self._usage = response
        return response

    def stream(self, chunks: Iterator[Any]) -> Iterator[Any]:
        """Pass a stream through, timing its first chunk and keeping the usage chunk."""
        self.streamed = True
        for chunk in chunks:
            self.first_token()
            if carries_usage(chunk):
                self._usage = chunk
            yield chunk

    async def astream(self, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        self.streamed = True
        async for chunk in chunks:
            self.first_token()
            if carries_usage(chunk):
                self._usage = chunk
            yield chunk

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        ended = time.perf_counter()
        latency_ms = (ended - self._started) * 1000
        ttft_ms = None if self._first_token is None else (self._first_token - self._started) * 1000
        read = None if self._usage is None else read_usage(self._usage, provider=self.provider)
        usage = None if read is None else read.usage
        status = "ok"
        if exc_type is not None:
            status = "timeout" if issubclass(exc_type, TimeoutError) else "error"
        record = {
            "project": self.project,
            "completion_id": self.completion_id,
            "model": self.model,
            "provider": self.provider,
            "started_at": self._started_at,
            "ttft_ms": ttft_ms,
            "latency_ms": latency_ms,
            "input_tokens": usage.input_tokens if usage else 0,
            "output_tokens": usage.output_tokens if usage else 0,
            "cached_tokens": usage.cached_input_tokens if usage else 0,
            "cache_creation_tokens": usage.cache_creation_input_tokens if usage else 0,
            "cache_creation_1h_tokens": usage.cache_creation_1h if usage else 0,
            "reasoning_tokens": usage.reasoning if usage else 0,
            "reported_cost_usd": None if read is None else read.reported_cost_usd,
            "status": status,
            "error_type": None if exc_type is None else exc_type.__name__[:128],
            "streamed": self.streamed,
            "labels": self.labels,
        }
        self._emit("completion", record)
        self._record_default_instruments(
            latency_ms,
            ttft_ms,
            usage.input_tokens if usage else 0,
            usage.output_tokens if usage else 0,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    def _record_default_instruments(
        self, latency_ms: float, ttft_ms: float | None, input_tokens: int, output_tokens: int
    ) -> None:
        attributes = {"gen_ai.request.model": self.model}
        if input_tokens:
            self._record(self.project, "input_tokens", float(input_tokens), attributes)
        if ttft_ms is not None and ttft_ms > 0:
            self._record(self.project, "time_to_first_token", ttft_ms / 1000, attributes)
            if input_tokens:
                self._record(
                    self.project, "prompt_throughput", input_tokens / (ttft_ms / 1000), attributes
                )
            decode_s = (latency_ms - ttft_ms) / 1000
            if output_tokens and decode_s > 0:
                self._record(self.project, "token_throughput", output_tokens / decode_s, attributes)
