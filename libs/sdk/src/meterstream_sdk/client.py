"""The SDK clients: `AsyncClient` for asyncio code, `Client` (a background loop) for the rest.

Log calls never block on the network: they encode on the caller's thread and
return; delivery happens in the background at least every 0.5 s, and on
`flush()`, `close()` and interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Literal, ParamSpec, TypeVar

from meterstream_contracts.fields import (
    MAX_LABEL_KEY_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    MAX_NAME_CHARS,
    MAX_PROJECT_CHARS,
)
from meterstream_kafka import KafkaConfig
from meterstream_pricing import PricingRegistry, default_registry
from meterstream_sdk.completions import CompletionTracker
from meterstream_sdk.config import SdkConfig
from meterstream_sdk.emitter import DeliveryErrorCallback, Emitter
from meterstream_sdk.errors import InvalidValue, ProtectedKey, check_time
from meterstream_sdk.instruments import Instrument, InstrumentRecorder, InstrumentType
from meterstream_sdk.keys import KeyCategory, KeyInfo, KeyRegistry, Scoring, ValueKind
from meterstream_sdk.registry_feed import KafkaKeyFeed
from meterstream_sdk.training import Run
from meterstream_sdk.transport import HttpTransport, KafkaTransport, Transport

P = ParamSpec("P")
R = TypeVar("R")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_STATUSES = frozenset({"ok", "error", "timeout", "cancelled"})
_INFINITY = math.inf


class _Api:
    """Every log call; shared by both clients. Raises only for mistakes in the call itself."""

    _emitter: Emitter
    keys: KeyRegistry
    instruments: InstrumentRecorder
    pricing: PricingRegistry
    default_project: str | None
    _projects: set[str]

    def _project(self, project: str | None) -> str:
        name = project or self.default_project
        if name is None:
            raise InvalidValue("project is required (pass project= or set it on the client)")
        if name not in self._projects:
            if len(name) > MAX_PROJECT_CHARS or not _PROJECT.match(name):
                raise InvalidValue(
                    f"project {name[:80]!r}: letters, digits, '_.-',"
                    f" at most {MAX_PROJECT_CHARS} characters"
                )
            self._projects.add(name)
        return name

    @staticmethod
    def _name(field: str, value: str) -> str:
        if not value or len(value) > MAX_NAME_CHARS:
            raise InvalidValue(f"{field} must be 1..{MAX_NAME_CHARS} characters, got {len(value)}")
        return value

    @staticmethod
    def _labels(labels: dict[str, str] | None) -> dict[str, str]:
        if not labels:
            return {}
        if len(labels) > MAX_LABELS:
            raise InvalidValue(f"labels: at most {MAX_LABELS}, got {len(labels)}")
        for key, value in labels.items():
            if not 0 < len(key) <= MAX_LABEL_KEY_CHARS or len(value) > MAX_LABEL_VALUE_CHARS:
                raise InvalidValue(
                    f"label {key[:80]!r}: key 1..{MAX_LABEL_KEY_CHARS} and value at most"
                    f" {MAX_LABEL_VALUE_CHARS} characters"
                )
        return labels

    # Completions -------------------------------------------------------------------------

    def log_completion(
        self,
        *,
        model: str,
        latency_ms: float,
        project: str | None = None,
        ttft_ms: float | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int = 0,
        status: Literal["ok", "error", "timeout", "cancelled"] = "ok",
        error_type: str | None = None,
        provider: str | None = None,
        started_at: datetime | None = None,
        streamed: bool = False,
        labels: dict[str, str] | None = None,
        completion_id: str | None = None,
    ) -> str:
        """Log a call measured elsewhere; returns its completion_id."""
        # Chained comparisons: NaN and infinities fail them too.
        if not 0 <= latency_ms < _INFINITY:
            raise InvalidValue(f"latency_ms must be finite and >= 0, got {latency_ms!r}")
        if ttft_ms is not None and not 0 <= ttft_ms <= latency_ms:
            raise InvalidValue(
                f"ttft_ms must be within [0, latency_ms={latency_ms}], got {ttft_ms!r}"
            )
        if not 0 <= cached_tokens <= input_tokens or output_tokens < 0:
            raise InvalidValue("token counts must be >= 0 and cached_tokens <= input_tokens")
        if status not in _STATUSES:
            raise InvalidValue(f"status must be one of {sorted(_STATUSES)}, got {status!r}")
        if started_at is not None:
            check_time("started_at", started_at)
        project = project or self.default_project
        if project not in self._projects:
            project = self._project(project)
        if not 0 < len(model) <= MAX_NAME_CHARS:
            self._name("model", model)
        emitter = self._emitter
        event_id = emitter.ids.next()
        completion_id = completion_id or event_id
        now = datetime.now(UTC)
        # Fields at their contract's default are left out: less to encode, send and store.
        record = {
            "kind": "completion",
            "schema_version": 1,
            "event_id": event_id,
            "project": project,
            "time": now,
            "completion_id": completion_id,
            "model": model,
            "provider": provider,
            "started_at": started_at or now,
            "ttft_ms": ttft_ms,
            "latency_ms": latency_ms,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_tokens": cached_tokens,
            "status": status,
        }
        if error_type is not None:
            record["error_type"] = error_type
        if streamed:
            record["streamed"] = True
        if labels:
            record["labels"] = self._labels(labels)
        emitter.emit_whole(record)
        return completion_id

    def completion(
        self,
        *,
        model: str,
        project: str | None = None,
        provider: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> CompletionTracker:
        """A context manager measuring one call (plain or streaming)."""
        return CompletionTracker(
            self._emitter.emit,
            self.instruments.record,
            project=self._project(project),
            model=self._name("model", model),
            provider=provider,
            labels=self._labels(labels),
        )

    def track_completion(
        self, *, model: str, project: str | None = None, provider: str | None = None
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorate a function that returns a completion response; each call is measured."""

        def decorate(function: Callable[P, R]) -> Callable[P, R]:
            if asyncio.iscoroutinefunction(function):

                @functools.wraps(function)
                async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                    async with self.completion(
                        model=model, project=project, provider=provider
                    ) as call:
                        return call.observe(await function(*args, **kwargs))

                return async_wrapper  # type: ignore[return-value]

            @functools.wraps(function)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                with self.completion(model=model, project=project, provider=provider) as call:
                    response: R = call.observe(function(*args, **kwargs))
                    return response

            return wrapper

        return decorate

    # Feedback ----------------------------------------------------------------------------

    def register_key(
        self,
        key: str,
        *,
        project: str | None = None,
        kind: ValueKind = "scalar",
        scoring_type: Scoring = "higher_is_better",
        description: str = "",
    ) -> KeyInfo:
        project = self._project(project)
        self._name("key", key)
        existing = self.keys.get(project, key)
        if existing is not None and existing.category != "user":
            raise ProtectedKey(f"{key!r} is a {existing.category} key and cannot be registered")
        return self._write_key(KeyInfo(project, key, kind, scoring_type, "user", description))

    def _write_key(self, info: KeyInfo, *, deleted: bool = False) -> KeyInfo:
        record = info.as_record(deleted=deleted)
        self._emitter.emit("metric_key", dict(record))
        self.keys.apply(record)
        return info

    def list_keys(
        self, *, project: str | None = None, category: KeyCategory | None = None
    ) -> list[KeyInfo]:
        return self.keys.list(self._project(project), category=category)

    def get_key(self, key: str, *, project: str | None = None) -> KeyInfo | None:
        return self.keys.get(self._project(project), key)

    def update_key(
        self,
        key: str,
        *,
        project: str | None = None,
        scoring_type: Scoring | None = None,
        description: str | None = None,
    ) -> KeyInfo:
        project = self._project(project)
        info = self.keys.require_editable(project, key)
        return self._write_key(
            KeyInfo(
                project,
                key,
                info.value_kind,
                scoring_type or info.scoring,
                "user",
                info.description if description is None else description,
            )
        )

    def delete_key(self, key: str, *, project: str | None = None) -> None:
        project = self._project(project)
        info = self.keys.require_editable(project, key)
        self._write_key(info, deleted=True)

    def log_metric(
        self,
        value: float | bool,
        completion_id: str,
        feedback_key: str,
        *,
        project: str | None = None,
    ) -> str:
        """Log a user metric value; the key must be registered and the value of its kind."""
        project = self._project(project)
        number = self.keys.check_value(project, feedback_key, value)
        return self._emitter.emit(
            "metric_value",
            {
                "project": project,
                "completion_id": completion_id,
                "key": feedback_key,
                "value": number,
                # Written out: the sink stores the SDK's lines as they are, and the column's
                # own default is '' where the contract's is "user".
                "category": "user",
            },
        )

    def log_preference(
        self,
        feedback_key: str,
        preferred_completion: str,
        other_completion: str,
        *,
        project: str | None = None,
    ) -> str:
        if preferred_completion == other_completion:
            raise InvalidValue("preferred_completion and other_completion must differ")
        return self._emitter.emit(
            "preference",
            {
                "project": self._project(project),
                "key": self._name("feedback_key", feedback_key),
                "preferred_completion_id": preferred_completion,
                "other_completion_id": other_completion,
            },
        )

    def log_grader_score(
        self,
        *,
        completion_id: str,
        grader_name: str,
        key: str,
        value: float,
        grader_type: Literal["judge", "prebuilt", "custom", "external"] = "judge",
        passed: bool | None = None,
        reason: str | None = None,
        project: str | None = None,
        scoring_type: Scoring = "higher_is_better",
    ) -> str:
        """A grader's score; its key is registered (as a protected grader key) on first use."""
        project = self._project(project)
        if not math.isfinite(value):
            raise InvalidValue(f"grader score {key!r} must be finite, got {value!r}")
        if self.keys.get(project, key) is None:
            grader_key = KeyInfo(
                project, key, "scalar", scoring_type, "grader", f"By {grader_name}."
            )
            self._write_key(grader_key)
        return self._emitter.emit(
            "grader_score",
            {
                "project": project,
                "completion_id": completion_id,
                "grader_name": self._name("grader_name", grader_name),
                "grader_type": grader_type,
                "key": key,
                "value": float(value),
                "passed": passed,
                "reason": None if reason is None else reason[:4096],
            },
        )

    # Training ----------------------------------------------------------------------------

    def init_run(
        self,
        *,
        name: str,
        project: str | None = None,
        recipe: str | None = None,
        config: dict[str, Any] | None = None,
        run_id: str | None = None,
        gpu_cost_per_hour_usd: float | None = None,
    ) -> Run:
        return Run(
            self._emitter,
            self.pricing,
            project=self._project(project),
            name=self._name("name", name),
            run_id=run_id,
            recipe=recipe,
            config=config,
            gpu_cost_per_hour_usd=gpu_cost_per_hour_usd,
        )

    def register_model_pricing(
        self,
        name: str,
        *,
        prompt_per_million: float,
        completion_per_million: float,
        cached_prompt_per_million: float | None = None,
        effective_from: date = date(1970, 1, 1),
    ) -> None:
        self.pricing.register_model_pricing(
            name,
            prompt_per_million=prompt_per_million,
            completion_per_million=completion_per_million,
            cached_prompt_per_million=cached_prompt_per_million,
            effective_from=effective_from,
        )

    # Instruments -------------------------------------------------------------------------

    def register_metric(
        self, name: str, *, description: str = "", unit: str = "", type: InstrumentType = "counter"
    ) -> None:
        self.instruments.register(Instrument(self._name("name", name), description, unit, type))

    def record_metric(
        self, name: str, value: float, *, project: str | None = None, **attributes: str
    ) -> None:
        self.instruments.record(
            self._project(project), name, float(value), self._labels(attributes)
        )

    def _collect_instrument_points(self) -> list[tuple[str, dict[str, Any]]]:
        return [("instrument_point", point) for point in self.instruments.collect()]

    @property
    def counters(self) -> dict[str, int]:
        """Accepted, dropped, refused, delivered, failed and retried events so far."""
        buffer, delivery = self._emitter.buffer.counters, self._emitter.delivery
        return {
            "accepted": self._emitter.buffer.accepted,
            "dropped": buffer.dropped,
            "refused": buffer.refused,
            "delivered": delivery.delivered,
            "failed": delivery.failed,
            "retries": delivery.retries,
            "buffered_bytes": self._emitter.buffer.size_bytes,
        }


def _make_transport(config: SdkConfig, kafka: KafkaConfig | None) -> Transport:
    if config.transport == "http":
        return HttpTransport(config.gateway_url, config.api_key)
    return KafkaTransport(kafka or KafkaConfig())


class AsyncClient(_Api):
    """`async with AsyncClient(project="acme") as ms: ms.log_completion(...)`"""

    def __init__(
        self,
        *,
        project: str | None = None,
        config: SdkConfig | None = None,
        kafka: KafkaConfig | None = None,
        on_delivery_error: DeliveryErrorCallback | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.config = config or SdkConfig()
        self._kafka = kafka or KafkaConfig()
        self.default_project = project
        self._projects = set()
        self.keys = KeyRegistry()
        self.instruments = InstrumentRecorder()
        self.pricing = default_registry()
        self._emitter = Emitter(
            self.config,
            transport or _make_transport(self.config, self._kafka),
            on_delivery_error=on_delivery_error,
        )
        self._emitter.collectors.append(self._collect_instrument_points)
        self._feed: KafkaKeyFeed | None = None

    async def start(self) -> None:
        await self._emitter.start()
        if isinstance(self._emitter.transport, KafkaTransport):
            self._feed = KafkaKeyFeed(self._kafka, self.keys)
            await self._feed.start()
        elif isinstance(self._emitter.transport, HttpTransport) and self.default_project:
            await self.refresh_keys(self.default_project)

    async def refresh_keys(self, project: str) -> None:
        """HTTP transport: load the project's keys from the gateway."""
        transport = self._emitter.transport
        if isinstance(transport, HttpTransport):
            records = await transport.get_json("/v1/keys", {"project": project})
            for record in records if isinstance(records, list) else []:
                self.keys.apply(record)

    async def flush(self) -> None:
        await self._emitter.flush()

    async def close(self) -> None:
        if self._feed is not None:
            await self._feed.close()
        await self._emitter.close()

    async def __aenter__(self) -> AsyncClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Client(_Api):
    """For synchronous code: the same API, delivered from a background event loop thread.

    Flushes at interpreter exit; `close()` flushes and stops it earlier.
    """

    def __init__(
        self,
        *,
        project: str | None = None,
        config: SdkConfig | None = None,
        kafka: KafkaConfig | None = None,
        on_delivery_error: DeliveryErrorCallback | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self._inner = AsyncClient(
            project=project, config=config, kafka=kafka, on_delivery_error=on_delivery_error
        )
        self.config = self._inner.config
        self.default_project = project
        self._projects = self._inner._projects
        self.keys = self._inner.keys
        self.instruments = self._inner.instruments
        self.pricing = self._inner.pricing
        self._emitter = self._inner._emitter
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="meterstream-sdk", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._call(self._inner.start(), start_timeout_s)
        atexit.register(self.close)

    def _call(self, coroutine: Any, timeout: float | None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def flush(self, timeout: float | None = 60.0) -> None:
        """Block until everything logged so far is acknowledged (or given up)."""
        self._call(self._inner.flush(), timeout)

    def close(self, timeout: float | None = 60.0) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._inner.close(), timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            atexit.unregister(self.close)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["AsyncClient", "Client"]
