"""Token usage of one call (or of a bucket of calls), in the counts that prices apply to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """`input_tokens` counts every input token, cache reads and writes included;
    `output_tokens` counts every output token, reasoning included. Cache writes of
    one hour (`cache_creation_1h_input_tokens`) are part of `cache_creation_input_tokens`,
    whose rest was written for five minutes or for a duration not reported."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    reasoning_tokens: int = 0
    calls: int = 1
    """How many calls these tokens were summed over (a per-request fee applies to each)."""

    @property
    def uncached_input_tokens(self) -> int:
        return max(
            0, self.input_tokens - self.cached_input_tokens - self.cache_creation_input_tokens
        )

    @property
    def cache_creation_1h(self) -> int:
        return min(self.cache_creation_1h_input_tokens, self.cache_creation_input_tokens)

    @property
    def reasoning(self) -> int:
        return min(self.reasoning_tokens, self.output_tokens)
