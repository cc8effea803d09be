"""Provider responses as SDKs and APIs return them, with the cost each should come to:
computed by hand from the provider's published prices, and checked against genai-prices'
own calculation (the oracle) by the tests that use them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import litellm
from anthropic.types import Message
from google.genai import types as gemini
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
M = 1_000_000


@dataclass(frozen=True)
class PriceCase:
    name: str
    provider: str
    """As a user passes it to the SDK (OpenTelemetry's spelling for Bedrock and Gemini)."""
    model: str
    response: Any
    oracle: tuple[str, str]
    """genai-prices (provider id, API flavour) that reads the same response."""
    hand_usd: float
    at: datetime = AT
    reported_usd: float | None = None
    tags: tuple[str, ...] = field(default=())

    def oracle_payload(self) -> Any:
        if isinstance(self.response, gemini.GenerateContentResponse):
            return self.response.model_dump(mode="json", by_alias=True, exclude_none=True)
        if hasattr(self.response, "model_dump"):
            return self.response.model_dump(mode="json", exclude_none=True, warnings=False)
        return self.response


def chat(
    model: str, prompt: int, completion: int, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "ok"},
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        },
    }


def responses(
    model: str, inputs: int, outputs: int, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_760_000_000,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": inputs,
            "output_tokens": outputs,
            "total_tokens": inputs + outputs,
            "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": reasoning},
        },
    }


def anthropic(
    model: str,
    inputs: int,
    outputs: int,
    *,
    read: int = 0,
    written: int = 0,
    durations: tuple[int, int] | None = None,
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
    }
    if durations is not None:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": durations[0],
            "ephemeral_1h_input_tokens": durations[1],
        }
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def gemini_rest(
    model: str, prompt: int, candidates: int, thoughts: int = 0, cached: int = 0
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
    }
    if thoughts:
        metadata["thoughtsTokenCount"] = thoughts
    if cached:
        metadata["cachedContentTokenCount"] = cached
    return {"modelVersion": model, "responseId": "r1", "usageMetadata": metadata}


def gemini_sdk(model: str, prompt: int, candidates: int, thoughts: int = 0, cached: int = 0) -> Any:
    return gemini.GenerateContentResponse.model_validate(
        gemini_rest(model, prompt, candidates, thoughts, cached)
    )


def converse(inputs: int, outputs: int, read: int = 0, written: int = 0) -> dict[str, Any]:
    """A Bedrock Converse response as boto3 returns it (a dict; it names no model)."""
    usage = {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": inputs + outputs}
    if read:
        usage["cacheReadInputTokens"] = read
    if written:
        usage["cacheWriteInputTokens"] = written
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 420},
    }


def litellm_response(model: str, prompt: int, completion: int, cost: float) -> Any:
    response = litellm.ModelResponse(
        model=model,
        usage={
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    )
    response._hidden_params["response_cost"] = cost
    return response


OPENAI_CHAT = ("openai", "chat")
OPENAI_RESPONSES = ("openai", "responses")
ANTHROPIC = ("anthropic", "default")
GOOGLE = ("google", "default")
BEDROCK = ("aws", "default")

CASES: tuple[PriceCase, ...] = (
    # OpenAI Chat Completions: cached tokens are inside prompt_tokens
    PriceCase(
        "openai chat, dated snapshot, cache read",
        "openai",
        "gpt-4o-2024-08-06",
        ChatCompletion.model_validate(chat("gpt-4o-2024-08-06", 1000, 200, cached=600)),
        OPENAI_CHAT,
        (400 * 2.5 + 600 * 1.25 + 200 * 10) / M,
    ),
    PriceCase(
        "openai chat json, no cache",
        "openai",
        "gpt-4o-mini",
        chat("gpt-4o-mini", 1500, 300),
        OPENAI_CHAT,
        (1500 * 0.15 + 300 * 0.6) / M,
    ),
    PriceCase(
        "openai chat, o4-mini reasoning billed as output",
        "openai",
        "o4-mini",
        ChatCompletion.model_validate(chat("o4-mini-2025-04-16", 2000, 500, reasoning=300)),
        OPENAI_CHAT,
        (2000 * 1.1 + 500 * 4.4) / M,
    ),
    PriceCase(
        "openai chat, gpt-4.1-mini cached prefix",
        "openai",
        "gpt-4.1-mini",
        chat("gpt-4.1-mini-2025-04-14", 3000, 100, cached=1024),
        OPENAI_CHAT,
        (1976 * 0.4 + 1024 * 0.1 + 100 * 1.6) / M,
    ),
    # OpenAI Responses: input_tokens_details.cached_tokens (not Anthropic-shaped)
    PriceCase(
        "openai responses sdk, gpt-4.1 cache read",
        "openai",
        "gpt-4.1",
        Response.model_validate(
            responses("gpt-4.1-2025-04-14", 1000, 200, cached=600, reasoning=30)
        ),
        OPENAI_RESPONSES,
        (400 * 2.0 + 600 * 0.5 + 200 * 8) / M,
    ),
    PriceCase(
        "openai responses json, gpt-5 reasoning",
        "openai",
        "gpt-5",
        responses("gpt-5-2025-08-07", 5000, 1200, reasoning=1000),
        OPENAI_RESPONSES,
        (5000 * 1.25 + 1200 * 10) / M,
    ),
    PriceCase(
        "openai responses, gpt-5-mini mostly cached",
        "openai",
        "gpt-5-mini",
        responses("gpt-5-mini", 10_000, 300, cached=8000),
        OPENAI_RESPONSES,
        (2000 * 0.25 + 8000 * 0.025 + 300 * 2) / M,
    ),
    PriceCase(
        "o3 the day after its price cut",
        "openai",
        "o3",
        responses("o3-2025-04-16", 1000, 500),
        OPENAI_RESPONSES,
        (1000 * 2 + 500 * 8) / M,
        at=datetime(2025, 6, 10, 9, tzinfo=UTC),
        tags=("history",),
    ),
    PriceCase(
        "o3 the day before its price cut",
        "openai",
        "o3",
        responses("o3-2025-04-16", 1000, 500),
        OPENAI_RESPONSES,
        (1000 * 10 + 500 * 40) / M,
        at=datetime(2025, 6, 9, 9, tzinfo=UTC),
        tags=("history",),
    ),
    # Anthropic Messages: input_tokens excludes cache reads and writes
    PriceCase(
        "anthropic sdk, 5 min and 1 h cache writes and a read",
        "anthropic",
        "claude-sonnet-4-20250514",
        Message.model_validate(
            anthropic(
                "claude-sonnet-4-20250514", 100, 200, read=600, written=300, durations=(100, 200)
            )
        ),
        ANTHROPIC,
        (100 * 3 + 600 * 0.3 + 100 * 3.75 + 200 * 6 + 200 * 15) / M,
    ),
    PriceCase(
        "anthropic json, cache write of no stated duration",
        "anthropic",
        "claude-3-5-haiku-20241022",
        anthropic("claude-3-5-haiku-20241022", 2000, 100, written=1000),
        ANTHROPIC,
        (2000 * 0.8 + 1000 * 1.0 + 100 * 4) / M,
    ),
    PriceCase(
        "anthropic, 1 h writes only",
        "anthropic",
        "claude-opus-4-1-20250805",
        Message.model_validate(
            anthropic("claude-opus-4-1-20250805", 50, 400, written=5000, durations=(0, 5000))
        ),
        ANTHROPIC,
        (50 * 15 + 5000 * 30 + 400 * 75) / M,
    ),
    PriceCase(
        "anthropic, cache reads only",
        "anthropic",
        "claude-3-7-sonnet-20250219",
        anthropic("claude-3-7-sonnet-20250219", 10, 50, read=20_000),
        ANTHROPIC,
        (10 * 3 + 20_000 * 0.3 + 50 * 15) / M,
    ),
    PriceCase(
        "anthropic, 5 min writes stated",
        "anthropic",
        "claude-sonnet-4-20250514",
        anthropic("claude-sonnet-4-20250514", 500, 300, written=4000, durations=(4000, 0)),
        ANTHROPIC,
        (500 * 3 + 4000 * 3.75 + 300 * 15) / M,
    ),
    # Google Gemini: thoughts are billed beside the answer; 2.5 Pro has a 200k-token tier
    PriceCase(
        "gemini sdk, 2.5 pro below its tier, thoughts",
        "gcp.gemini",
        "gemini-2.5-pro",
        gemini_sdk("gemini-2.5-pro", 120_000, 800, thoughts=1200),
        GOOGLE,
        (120_000 * 1.25 + 2000 * 10) / M,
        tags=("tier",),
    ),
    PriceCase(
        "gemini rest, 2.5 pro above its tier, cached",
        "google",
        "gemini-2.5-pro",
        gemini_rest("gemini-2.5-pro", 250_000, 200, thoughts=300, cached=1000),
        GOOGLE,
        (249_000 * 2.5 + 1000 * 0.25 + 500 * 15) / M,
        tags=("tier",),
    ),
    PriceCase(
        "gemini, 2.5 pro exactly at its tier (not crossed)",
        "gemini",
        "gemini-2.5-pro",
        gemini_rest("gemini-2.5-pro", 200_000, 100),
        GOOGLE,
        (200_000 * 1.25 + 100 * 10) / M,
        tags=("tier",),
    ),
    PriceCase(
        "gemini rest, 2.5 flash thoughts",
        "gcp.gemini",
        "gemini-2.5-flash",
        gemini_rest("gemini-2.5-flash", 1000, 100, thoughts=400),
        GOOGLE,
        (1000 * 0.3 + 500 * 2.5) / M,
    ),
    PriceCase(
        "gemini sdk, 2.0 flash cached content",
        "gcp.vertex_ai",
        "gemini-2.0-flash",
        gemini_sdk("gemini-2.0-flash-001", 10_000, 100, cached=4000),
        GOOGLE,
        (6000 * 0.1 + 4000 * 0.025 + 100 * 0.4) / M,
    ),
    # AWS Bedrock Converse: inputTokens excludes cache reads and writes
    PriceCase(
        "bedrock converse, regional claude id, cache read and write",
        "aws.bedrock",
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        converse(1000, 300, read=2000, written=500),
        BEDROCK,
        (1000 * 3 + 2000 * 0.3 + 500 * 3.75 + 300 * 15) / M,
    ),
    PriceCase(
        "bedrock converse, nova pro",
        "aws.bedrock",
        "us.amazon.nova-pro-v1:0",
        converse(3000, 500),
        BEDROCK,
        (3000 * 0.8 + 500 * 3.2) / M,
    ),
    PriceCase(
        "bedrock converse, nova lite cache read",
        "bedrock",
        "amazon.nova-lite-v1:0",
        converse(1000, 200, read=1000),
        BEDROCK,
        (1000 * 0.06 + 1000 * 0.015 + 200 * 0.24) / M,
    ),
    # OpenAI-compatible providers
    PriceCase(
        "mistral chat",
        "mistral_ai",
        "mistral-large-latest",
        chat("mistral-large-latest", 2000, 500),
        ("mistral", "default"),
        (2000 * 2 + 500 * 6) / M,
    ),
    PriceCase(
        "mistral small before its price change",
        "mistral_ai",
        "mistral-small-latest",
        chat("mistral-small-latest", 1000, 1000),
        ("mistral", "default"),
        (1000 * 0.1 + 1000 * 0.3) / M,
        at=datetime(2026, 3, 15, 12, tzinfo=UTC),
        tags=("history",),
    ),
    PriceCase(
        "mistral small after its price change",
        "mistral_ai",
        "mistral-small-latest",
        chat("mistral-small-latest", 1000, 1000),
        ("mistral", "default"),
        (1000 * 0.15 + 1000 * 0.6) / M,
        at=datetime(2026, 3, 16, 12, tzinfo=UTC),
        tags=("history",),
    ),
    PriceCase(
        "groq llama",
        "groq",
        "llama-3.3-70b-versatile",
        chat("llama-3.3-70b-versatile", 1000, 1000),
        ("groq", "default"),
        (1000 * 0.59 + 1000 * 0.79) / M,
    ),
    PriceCase(
        "openrouter with its reported cost",
        "openrouter",
        "openai/gpt-4o-mini",
        {**chat("openai/gpt-4o-mini", 1000, 100, cached=200), "provider": "OpenAI"}
        | {"usage": {**chat("x", 1000, 100, cached=200)["usage"], "cost": 0.000195}},
        ("openrouter", "chat"),
        (800 * 0.15 + 200 * 0.075 + 100 * 0.6) / M,
        reported_usd=0.000195,
    ),
    PriceCase(
        "litellm response with its response_cost",
        "openai",
        "gpt-4o-mini",
        litellm_response("gpt-4o-mini", 1200, 300, 0.00036),
        OPENAI_CHAT,
        (1200 * 0.15 + 300 * 0.6) / M,
        reported_usd=0.00036,
    ),
    PriceCase(
        "deepseek at its standard hours",
        "deepseek",
        "deepseek-chat",
        chat("deepseek-chat", 1000, 200, cached=400),
        ("deepseek", "chat"),
        (600 * 0.27 + 400 * 0.07 + 200 * 1.1) / M,
        at=datetime(2026, 11, 2, 10, tzinfo=UTC),
    ),
    PriceCase(
        "deepseek off-peak",
        "deepseek",
        "deepseek-chat",
        chat("deepseek-chat", 1000, 200, cached=400),
        ("deepseek", "chat"),
        (600 * 0.135 + 400 * 0.035 + 200 * 0.55) / M,
        at=datetime(2026, 11, 2, 18, tzinfo=UTC),
    ),
    PriceCase(
        "xai grok",
        "x_ai",
        "grok-3",
        chat("grok-3", 1000, 100),
        ("x-ai", "chat"),
        (1000 * 3 + 100 * 15) / M,
    ),
)
