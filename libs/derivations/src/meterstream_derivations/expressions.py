"""Custom metric expressions: a safe subset of Python expressions over an event's fields.

Evaluated with simpleeval (no attribute access to dunders, no imports, no
statements, bounded powers and string sizes): code from the wire is never
`eval`ed. An expression is checked when it is created: it must parse, name
only the fields of the kind it applies to (or the functions below), and
yield a number or a bool on that kind's canonical example.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import simpleeval

from meterstream_contracts import EVENT_MODELS
from meterstream_contracts.examples import load_examples

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "len": len,
    "float": float,
    "int": int,
    "log": math.log,
    "sqrt": math.sqrt,
}


class InvalidExpression(ValueError):
    """An expression that cannot be a metric; the message says why."""


def _derived_names(record: Mapping[str, Any]) -> dict[str, Any]:
    """Helpers every completion expression may use besides its fields."""
    names: dict[str, Any] = {}
    if record.get("kind") == "completion":
        input_tokens = record.get("input_tokens") or 0
        output_tokens = record.get("output_tokens") or 0
        names["total_tokens"] = input_tokens + output_tokens
        ttft = record.get("ttft_ms")
        decode_ms = (record.get("latency_ms") or 0.0) - (ttft or 0.0)
        names["output_tokens_per_s"] = output_tokens / (decode_ms / 1000) if decode_ms > 0 else 0.0
    return names


def names_for(kind: str) -> frozenset[str]:
    fields = set(EVENT_MODELS[kind].model_fields)
    if kind == "completion":
        fields |= {"total_tokens", "output_tokens_per_s"}
    return frozenset(fields)


@functools.cache
def _defaults(kind: str) -> dict[str, Any]:
    """The contract's defaults of a kind (worked out once per kind; callers copy it)."""
    values: dict[str, Any] = {}
    for name, info in EVENT_MODELS[kind].model_fields.items():
        if not info.is_required() and info.default_factory is None:
            values[name] = info.default
        elif info.default_factory is not None and name == "labels":
            values[name] = {}
    return values


@dataclass(frozen=True)
class Expression:
    text: str
    kind: str
    _parsed: ast.AST

    def evaluate(self, record: Mapping[str, Any]) -> float | None:
        """The value for one event record (None when it has no number)."""
        names = {**_defaults(self.kind), **record, **_derived_names(record)}
        evaluator = simpleeval.SimpleEval(functions=FUNCTIONS, names=names)
        value = evaluator.eval(self.text, previously_parsed=self._parsed)
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
        return None


def compile_expression(text: str, kind: str) -> Expression:
    """Check and prepare an expression over events of `kind`; InvalidExpression if bad."""
    if kind not in EVENT_MODELS:
        raise InvalidExpression(f"applies_to: unknown event kind {kind!r}")
    try:
        parsed = simpleeval.SimpleEval().parse(text)
    except SyntaxError as error:
        raise InvalidExpression(f"expression: not a valid expression ({error.msg})") from error
    allowed = names_for(kind)
    for node in ast.walk(parsed):
        if isinstance(node, ast.Name) and node.id not in allowed and node.id not in FUNCTIONS:
            listed = ", ".join(sorted(allowed))
            raise InvalidExpression(
                f"expression: unknown name {node.id!r} for {kind} events (fields: {listed})"
            )
    expression = Expression(text, kind, parsed)
    sample = orjson.loads(load_examples(kind).valid[0])
    try:
        value = expression.evaluate(sample)
    except simpleeval.InvalidExpression as error:
        raise InvalidExpression(f"expression: {error}") from error
    except Exception as error:  # any failure on the canonical example rejects it
        raise InvalidExpression(
            f"expression: fails on a {kind} example ({type(error).__name__}: {error})"
        ) from error
    if value is None:
        raise InvalidExpression(f"expression: must yield a number or a bool, got {text!r}")
    return expression
