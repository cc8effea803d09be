"""Token usage from provider responses, normalised: OpenAI- or Anthropic-shaped, object or dict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """`input_tokens` counts every input token, cached ones included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        return max(
            0, self.input_tokens - self.cached_input_tokens - self.cache_creation_input_tokens
        )


def _get(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and value > 0 else 0


def usage_from_response(response: Any) -> Usage | None:
    """The usage of a completion response (or of its `usage` part); None when it has none.

    OpenAI: `prompt_tokens` includes `prompt_tokens_details.cached_tokens`.
    Anthropic: `input_tokens` excludes `cache_read_input_tokens` and
    `cache_creation_input_tokens`, so they are added back.
    """
    usage = _get(response, "usage") or response
    if _get(usage, "prompt_tokens") is not None or _get(usage, "completion_tokens") is not None:
        details = _get(usage, "prompt_tokens_details")
        return Usage(
            input_tokens=_int(_get(usage, "prompt_tokens")),
            output_tokens=_int(_get(usage, "completion_tokens")),
            cached_input_tokens=_int(_get(details, "cached_tokens")),
        )
    if _get(usage, "input_tokens") is not None or _get(usage, "output_tokens") is not None:
        cache_read = _int(_get(usage, "cache_read_input_tokens"))
        cache_write = _int(_get(usage, "cache_creation_input_tokens"))
        return Usage(
            input_tokens=_int(_get(usage, "input_tokens")) + cache_read + cache_write,
            output_tokens=_int(_get(usage, "output_tokens")),
            cached_input_tokens=cache_read,
            cache_creation_input_tokens=cache_write,
        )
    return None
