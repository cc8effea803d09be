"""Shared helpers for the cross-member tests."""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from meterstream_contracts import EVENT_MODELS
from meterstream_contracts.examples import load_examples
from meterstream_warehouse import LocalClickHouse, Warehouse, find_clickhouse_script


def examples_for_project(kind: str, project: str) -> tuple[list[bytes], list[bytes]]:
    """The canonical examples of `kind`, moved to `project` with fresh event ids.

    Returns (valid, invalid) payloads; invalid ones keep their flaw.
    """
    examples = load_examples(kind)

    def move(payload: bytes) -> bytes:
        event = orjson.loads(payload)
        event["project"] = project if event.get("project") != "bad project!" else event["project"]
        event["event_id"] = str(uuid.uuid4())
        return orjson.dumps(event)

    return [move(p) for p in examples.valid], [move(e.payload) for e in examples.invalid]


ALL_KINDS = sorted(EVENT_MODELS)


@dataclass(frozen=True)
class ServerStore:
    """A migrated database of the test's own on the session's ClickHouse server, and the
    environment that points a service process (sink, workers, API) at it."""

    warehouse: Warehouse
    env: dict[str, str]
    logs: Path
    """The test's own folder, for the service processes' logs."""


def local_clickhouse_at(folder: Path, *, http_port: int, tcp_port: int) -> LocalClickHouse:
    """A local ClickHouse server of a test's own: its own ports and data folder."""
    return LocalClickHouse(
        find_clickhouse_script(Path(__file__).resolve().parents[1]),
        settings=(
            ("MS_CLICKHOUSE_HTTP_PORT", str(http_port)),
            ("MS_CLICKHOUSE_TCP_PORT", str(tcp_port)),
            ("MS_CLICKHOUSE_DATA", str(folder)),
        ),
    )


def wait_for_output(
    path: Path, marker: str, process: subprocess.Popen[bytes], within_s: float
) -> str:
    """The text of `path` (a process's output) once it holds `marker`; fails when the
    process ends first or `within_s` passes."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if marker in text:
            return text
        assert process.poll() is None, text[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no {marker!r} in {within_s}s:\n{path.read_text()[-3000:]}")
