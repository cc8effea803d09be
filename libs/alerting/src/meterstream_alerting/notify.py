"""Notifiers: a webhook (retries with backoff, an idempotency key, a timeout) and the log."""

from __future__ import annotations

import logging
from typing import Protocol

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from meterstream_contracts.derived import AlertEvent

log = logging.getLogger("meterstream_alerting")


class Notifier(Protocol):
    async def notify(self, alert: AlertEvent) -> None: ...


class LogNotifier:
    async def notify(self, alert: AlertEvent) -> None:
        log.warning(
            "alert %s %s [%s] %s value=%s",
            alert.rule_id,
            alert.state,
            alert.severity,
            alert.group,
            alert.value,
        )


class WebhookFailed(RuntimeError):
    pass


class WebhookNotifier:
    """POSTs the alert as JSON with `Idempotency-Key: <dedup key>:<state>`; retries
    connection errors and 5xx/429 answers with exponential backoff."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, attempts: int = 5) -> None:
        self.url = url
        self._attempts = attempts
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def notify(self, alert: AlertEvent) -> None:
        headers = {"Idempotency-Key": f"{alert.dedup_key}:{alert.state}"}
        body = alert.model_dump_json().encode()
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((httpx.TransportError, WebhookFailed)),
            wait=wait_exponential(multiplier=0.2, max=5),
            stop=stop_after_attempt(self._attempts),
            reraise=True,
        ):
            with attempt:
                response = await self._client.post(
                    self.url,
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                if response.status_code >= 500 or response.status_code == 429:
                    raise WebhookFailed(f"webhook answered {response.status_code}")
                response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()
