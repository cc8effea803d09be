"""Read the usage of a provider response, whatever its shape: SDK object or plain JSON.

Each shape is recognised by its fields and read with genai-prices' extractor for that
API (the maintained mapping of every provider's usage fields), so cached tokens, cache
writes per duration and reasoning tokens come out as the provider counted them:

- OpenAI Chat Completions, and everything OpenAI-compatible (Mistral, Groq, DeepSeek,
  OpenRouter, LiteLLM): `usage.prompt_tokens`, `prompt_tokens_details.cached_tokens`,
  `completion_tokens_details.reasoning_tokens`;
- OpenAI Responses: `usage.input_tokens`, `input_tokens_details.cached_tokens`;
- Anthropic Messages: `usage.input_tokens` (without cache), `cache_read_input_tokens`,
  `cache_creation_input_tokens` and `cache_creation.ephemeral_{5m,1h}_input_tokens`;
- Google Gemini: `usageMetadata` (REST) or `usage_metadata` (SDK), thoughts billed as output;
- AWS Bedrock Converse: `usage.inputTokens`, `cacheReadInputTokens`, `cacheWriteInputTokens`.

A cost the provider reports (OpenRouter's `usage.cost`, LiteLLM's `response_cost`) is
read beside the usage; it never replaces the price computed from the catalogue.

Spans are read too (`usage_from_span`): OpenTelemetry's GenAI `gen_ai.usage.*`
attributes, their older prompt/completion names, and OpenInference's `llm.token_count.*`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from genai_prices import data_snapshot
from genai_prices import types as catalogue

from meterstream_pricing.catalogue import catalogue_provider
from meterstream_pricing.usage import Usage

_CAMEL: Final = re.compile(r"_([a-z])")


@dataclass(frozen=True, slots=True)
class ReadUsage:
    usage: Usage
    model: str | None = None
    """The model the response names (a dated snapshot, often more exact than the request)."""
    reported_cost_usd: float | None = None


def _plain(value: Any) -> Any:
    """JSON-like data of an SDK object (pydantic models, dataclasses, namespaces)."""
    if isinstance(value, Mapping | list | str | int | float | bool) or value is None:
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True, warnings=False)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


def _camel(data: Any) -> Any:
    """Gemini's SDK spells the REST fields in snake case: back to the REST spelling."""
    if isinstance(data, Mapping):
        return {
            _CAMEL.sub(lambda m: m.group(1).upper(), str(k)): _camel(v) for k, v in data.items()
        }
    if isinstance(data, list):
        return [_camel(item) for item in data]
    return data


_CHAT_EXTRACTORS: Final = frozenset(
    {"deepseek", "openrouter", "moonshotai", "x-ai", "zai", "cerebras"}
)
"""OpenAI-compatible providers whose own chat extractor reads more than OpenAI's does."""


def _flavour(usage: Mapping[str, Any], provider_id: str | None) -> tuple[str, str] | None:
    """(genai-prices provider id, API flavour) of a `usage` object, by its fields."""
    if "inputTokens" in usage or "outputTokens" in usage:
        return "aws", "default"  # Bedrock Converse
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return (provider_id, "chat") if provider_id in _CHAT_EXTRACTORS else ("openai", "chat")
    if "input_tokens" not in usage and "output_tokens" not in usage:
        return None
    responses = "input_tokens_details" in usage or "output_tokens_details" in usage
    if responses or ("total_tokens" in usage and "cache_read_input_tokens" not in usage):
        return "openai", "responses"
    return "anthropic", "default"


def _shape(data: Mapping[str, Any], provider_id: str | None) -> tuple[str, str, Any] | None:
    """(genai-prices provider id, API flavour, the data to extract from)."""
    if "usageMetadata" in data or "usage_metadata" in data:
        return "google", "default", _camel(data)
    usage = data.get("usage")
    flavour = _flavour(usage, provider_id) if isinstance(usage, Mapping) else None
    return None if flavour is None else (*flavour, data)


def _extract(provider_id: str, flavor: str, data: Any) -> catalogue.Usage | None:
    provider = data_snapshot.find_provider_by_id(
        data_snapshot.get_snapshot().providers, provider_id
    )
    if provider is None:
        return None
    try:
        return provider.extract_usage(data, api_flavor=flavor)[1]
    except (ValueError, TypeError, KeyError):
        return None


def _count(usage: catalogue.Usage, key: str) -> int:
    value = usage.reported_value(key)
    return int(value) if value > 0 else 0


def _reported_cost(response: Any, data: Mapping[str, Any]) -> float | None:
    usage = data.get("usage")
    candidates = [usage.get("cost") if isinstance(usage, Mapping) else None]
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, Mapping):
        candidates.append(hidden.get("response_cost"))
    candidates.append(data.get("response_cost"))
    for value in candidates:
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value) and value >= 0:
            return float(value)
    return None


def read_usage(response: Any, *, provider: str | None = None) -> ReadUsage | None:
    """The usage of a response (or of its `usage` part, or a streamed chunk); None when
    it carries none."""
    if isinstance(response, Usage):
        return ReadUsage(response)
    data = _plain(response)
    if not isinstance(data, Mapping):
        return None
    wrapped = "usage" in data or "usageMetadata" in data or "usage_metadata" in data
    if not wrapped and any(key in data for key in ("prompt_tokens", "input_tokens", "inputTokens")):
        data = {"usage": data}  # the usage part alone
    if isinstance(data.get("usage"), Mapping) and "cached_input_tokens" in data["usage"]:
        return ReadUsage(_ours(data["usage"]), _model(data), _reported_cost(response, data))
    shape = _shape(data, catalogue_provider(provider))
    if shape is None:
        return None
    extracted = _extract(*shape)
    if extracted is None:
        return None
    usage = Usage(
        input_tokens=_count(extracted, "input_tokens"),
        output_tokens=_count(extracted, "output_tokens"),
        cached_input_tokens=_count(extracted, "cache_read_tokens"),
        cache_creation_input_tokens=_count(extracted, "cache_write_tokens"),
        cache_creation_1h_input_tokens=_count(extracted, "cache_write_1h_tokens"),
        reasoning_tokens=_count(extracted, "output_reasoning_tokens"),
    )
    return ReadUsage(usage, _model(shape[2]), _reported_cost(response, data))


def _ours(usage: Mapping[str, Any]) -> Usage:
    """Usage already in our shape (a TokenUsage of an api_cost, as JSON)."""
    names = (
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_creation_input_tokens",
        "cache_creation_1h_input_tokens",
        "reasoning_tokens",
    )
    return Usage(**{name: int(usage.get(name) or 0) for name in names})


def _model(data: Mapping[str, Any]) -> str | None:
    model = data.get("model") or data.get("modelVersion")
    return model if isinstance(model, str) and model else None


def usage_from_response(response: Any, *, provider: str | None = None) -> Usage | None:
    """The usage of a response; None when it has none."""
    read = read_usage(response, provider=provider)
    return None if read is None else read.usage


SPAN_INPUT_TOKENS: Final = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
SPAN_OUTPUT_TOKENS: Final = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
SPAN_CACHE_READ_TOKENS: Final = (
    "gen_ai.usage.cache_read.input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
SPAN_CACHE_CREATION_TOKENS: Final = (
    "gen_ai.usage.cache_creation.input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
SPAN_REASONING_TOKENS: Final = (
    "gen_ai.usage.reasoning.output_tokens",
    "llm.token_count.completion_details.reasoning",
)
SPAN_USAGE_ATTRIBUTES: Final = frozenset(
    {
        *SPAN_INPUT_TOKENS,
        *SPAN_OUTPUT_TOKENS,
        *SPAN_CACHE_READ_TOKENS,
        *SPAN_CACHE_CREATION_TOKENS,
        *SPAN_REASONING_TOKENS,
    }
)


def _span_count(attributes: Mapping[str, Any], names: tuple[str, ...]) -> int:
    for name in names:
        value = attributes.get(name)
        if value is None or value == "":
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"{names[0]} must be a non-negative number, got {value!r}")
        return int(value)
    return 0


def usage_from_span(attributes: Mapping[str, Any]) -> Usage:
    """The usage a model-call span's attributes state (ValueError names a bad count).

    The conventions count cache reads and writes inside the input tokens; an
    instrumentation that counts input without them (input below the cache reads) has
    them added back, as Anthropic's usage is read."""
    input_tokens = _span_count(attributes, SPAN_INPUT_TOKENS)
    cache_read = _span_count(attributes, SPAN_CACHE_READ_TOKENS)
    cache_write = _span_count(attributes, SPAN_CACHE_CREATION_TOKENS)
    if cache_read > input_tokens:
        input_tokens += cache_read + cache_write
    return Usage(
        input_tokens=input_tokens,
        output_tokens=_span_count(attributes, SPAN_OUTPUT_TOKENS),
        cached_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
        reasoning_tokens=_span_count(attributes, SPAN_REASONING_TOKENS),
    )
