"""What a load generator knows of each event it sent, and the check made afterwards:
every acknowledged event stored exactly once, no failed one stored, an unknown one at
most once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError

from meterstream_contracts import Event
from meterstream_kafka import KafkaConfig, make_producer, publish_events
from meterstream_warehouse import Warehouse
from tests.reliability.sink_harness import stored_rows


@dataclass
class Outcomes:
    acked: list[Event] = field(default_factory=list)
    """The broker (or the gateway after it) acknowledged them."""
    failed: list[Event] = field(default_factory=list)
    """Refused for certain: never reached anything that could store them."""
    unknown: list[Event] = field(default_factory=list)
    """Sent, and no answer came back: stored at most once."""

    @property
    def total(self) -> int:
        return len(self.acked) + len(self.failed) + len(self.unknown)

    def check_stored(self, store: Warehouse, project: str) -> Counter[str]:
        """Compare with the raw completions the harness's sink stored (not merged: a double
        would show before any merge could hide it); returns the stored counts by event id."""
        rows = stored_rows(
            store,
            "SELECT toString(event_id) AS id, count() AS n FROM raw_completions"
            " WHERE project = {p:String} GROUP BY id",
            p=project,
        )
        stored = Counter({row["id"]: int(row["n"]) for row in rows})
        doubled = {event_id: n for event_id, n in stored.items() if n > 1}
        assert not doubled, f"{len(doubled)} events stored more than once"
        lost = [e.event_id for e in self.acked if str(e.event_id) not in stored]
        assert not lost, f"{len(lost)} acknowledged events not stored, e.g. {lost[:3]}"
        stored_failed = [e.event_id for e in self.failed if str(e.event_id) in stored]
        assert not stored_failed, f"{len(stored_failed)} failed events stored"
        sent = {str(e.event_id) for e in (*self.acked, *self.unknown)}
        assert set(stored) <= sent, "stored events nobody sent"
        return stored


async def publish_recorded(
    kafka: KafkaConfig, events: list[Event], outcomes: Outcomes, *, per_envelope: int = 100
) -> None:
    """Publish through a producer of its own and record the outcome: failed when the
    producer could not even start (nothing was sent), unknown when a send got no ack."""
    producer = make_producer(kafka)
    try:
        await producer.start()
    except KafkaError:
        await producer.stop()
        outcomes.failed.extend(events)
        return
    try:
        await publish_events(producer, events, max_events_per_envelope=per_envelope)
    except Exception:
        outcomes.unknown.extend(events)
    else:
        outcomes.acked.extend(events)
    finally:
        await producer.stop()
