"""Hot-path building blocks, measured on this machine: codec and chDB insert.

Prints µs per event for envelope packing and validation, and rows/s for a
JSONEachRow insert into embedded ClickHouse. Ratios in one run are what to
compare; absolute figures move with the machine.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from meterstream_cli.traffic import SyntheticTraffic
from meterstream_contracts import TOPICS, decode_envelope, encode_event, pack_by_key
from meterstream_warehouse import migrate
from meterstream_warehouse.chdb_backend import ChdbWarehouse

EVENTS = 100_000


def timed(label: str, events: int, work: object) -> float:
    assert callable(work)
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds / events * 1e6:8.2f} µs/event {events / seconds:12,.0f} events/s")
    return seconds


def main() -> None:
    now = datetime.now(UTC)
    completions = SyntheticTraffic().completions(EVENTS, now=now)
    spec = TOPICS.for_kind("completion")
    print(f"{EVENTS:,} synthetic completions")
    timed("encode (pydantic → JSON)", EVENTS, lambda: [encode_event(e) for e in completions])
    messages = pack_by_key(completions, topic=spec)
    timed("pack into envelopes of ≤500", EVENTS, lambda: pack_by_key(completions, topic=spec))
    print(f"{'':<44} {len(messages):,} envelopes")
    timed(
        "decode + validate envelopes (pydantic)",
        EVENTS,
        lambda: [decode_envelope(value, kind="completion") for _, value in messages],
    )
    payload = b"\n".join(value for _, value in messages)
    folder = Path(tempfile.mkdtemp(prefix="ms-bench-"))
    try:
        warehouse = ChdbWarehouse(folder, database="bench")
        migrate(warehouse, raw_retention_days=3650)
        tracemalloc.start()
        seconds = timed(
            "chDB insert JSONEachRow (raw bytes, one batch)",
            EVENTS,
            lambda: warehouse.insert_json_rows("raw_completions", payload, dedup_token=None),
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{'':<44} {EVENTS / seconds:,.0f} rows/s, Python peak {peak / 1e6:.1f} MB")
        warehouse.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
