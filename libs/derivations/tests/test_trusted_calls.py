"""Reading rollup calls straight from a trusted envelope's JSON; no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson

from meterstream_contracts import Completion
from meterstream_derivations.inference import Call, trusted_calls

AT = datetime(2026, 11, 20, 10, 0, 0, 250_000, tzinfo=UTC)


def completion(**fields: object) -> Completion:
    values: dict[str, object] = {
        "project": "p",
        "model": "m",
        "provider": "openai",
        "time": AT,
        "started_at": AT,
        "latency_ms": 120.0,
        "ttft_ms": 30.0,
        "input_tokens": 100,
        "output_tokens": 20,
        "cached_tokens": 10,
        "status": "error",
        "labels": {"route": "/chat"},
    }
    values.update(fields)
    return Completion.model_validate(values)


def line(event: Completion) -> bytes:
    return event.model_dump_json().encode()


def test_every_field_rollups_use_is_read_and_the_others_skipped() -> None:
    events = [completion(), completion(provider=None, ttft_ms=None, status="ok")]
    calls = trusted_calls(b"\n".join(line(e) for e in events))
    assert calls == [Call.of(e) for e in events]
    assert calls is not None
    assert (calls[1].provider, calls[1].ttft_ms) == (None, None)


def test_fields_a_producer_left_out_take_the_contract_s_defaults() -> None:
    minimal = {"project": "p", "model": "m", "time": "2026-11-20T10:00:00Z", "latency_ms": 5}
    calls = trusted_calls(orjson.dumps(minimal))
    assert calls == [Call(project="p", model="m", time=AT - timedelta(microseconds=250_000),
                          latency_ms=5.0)]  # fmt: skip
    assert calls is not None
    assert (calls[0].status, calls[0].input_tokens, calls[0].provider) == ("ok", 0, None)


def test_an_offset_is_kept_so_the_epoch_second_is_right() -> None:
    plus_two = '{"project":"p","model":"m","time":"2026-11-20T12:00:00+02:00","latency_ms":1}'
    calls = trusted_calls(plus_two.encode())
    assert calls is not None
    assert calls[0].time.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)
    assert calls[0].time.timestamp() == datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()


def test_blank_lines_and_a_document_over_several_lines_are_read() -> None:
    one, two = line(completion()), line(completion(model="n"))
    assert [c.model for c in trusted_calls(one + b"\n\n" + two + b"\n") or []] == ["m", "n"]
    spread = one.replace(b',"', b',\n"')
    assert [c.model for c in trusted_calls(spread) or []] == ["m"]


def test_an_envelope_that_breaks_the_promise_gives_none() -> None:
    good = line(completion())
    assert trusted_calls(good + b'\n{"project":"p","model":"m","latency_ms":1}') is None
    assert trusted_calls(good.replace(b'"latency_ms":120.0', b'"latency_ms":"slow"')) is None
    assert trusted_calls(good + b"\n{not json") is None
