"""Errors of the contracts package; every one derives from `ContractError`."""

from __future__ import annotations

from pydantic import ValidationError


class ContractError(Exception):
    """Root of the errors raised by meterstream_contracts."""


class InvalidEvent(ContractError):
    """An event failed its contract. Not retriable: it belongs in the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MixedEnvelope(ContractError):
    """Events of different kinds or keys were packed into one envelope."""


def describe_validation_error(error: ValidationError, *, limit: int = 5) -> str:
    """One line per problem, each naming the field path: `latency_ms: Input should be ...`."""
    parts: list[str] = []
    for item in error.errors(include_url=False)[:limit]:
        location = ".".join(_short(str(part)) for part in item["loc"]) or "<event>"
        parts.append(f"{location}: {item['msg']}")
    extra = error.error_count() - limit
    if extra > 0:
        parts.append(f"... and {extra} more")
    return "; ".join(parts)


def _short(part: str, chars: int = 80) -> str:
    """A location part as quoted in an error: a label key of any length is cut short."""
    return part if len(part) <= chars else part[: chars - 3] + "..."
