from collections.abc import Sequence

class SpanRules:
    def __init__(
        self,
        *,
        model: Sequence[str],
        provider: Sequence[str],
        input_tokens: Sequence[str],
        output_tokens: Sequence[str],
        cache_read_tokens: Sequence[str],
        cache_creation_tokens: Sequence[str],
        reasoning_tokens: Sequence[str],
        time_to_first_token_s: Sequence[str],
        labels: Sequence[tuple[str, str]],
        model_operations: Sequence[str],
        model_span_kinds: Sequence[str],
        evaluation_event: str,
        max_name_chars: int,
        max_label_value_chars: int,
        max_error_type_chars: int,
        max_project_chars: int,
        max_tokens: int,
        earliest_us: int,
        latest_us: int,
    ) -> None: ...

class TraceRequest:
    @staticmethod
    def parse(body: bytes) -> TraceRequest: ...
    @property
    def span_count(self) -> int: ...
    def map_calls(
        self, rules: SpanRules, project: str, oldest_us: int
    ) -> tuple[list[tuple[bytes, bytes]], int, list[tuple[int, int, int]]]: ...
