"""For tests of code that uses the SDK: a transport that records instead of sending.

client = AsyncClient(project="p")
recorder = use_recording_transport(client)
... run the code under test, then `await client.flush()` ...
assert recorder.events()  # every event validated against its contract
"""

from __future__ import annotations

from collections.abc import Sequence

from meterstream_contracts import TOPICS, Event, decode_envelope
from meterstream_sdk.transport import Message


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def start(self) -> None:
        return None

    async def send(self, topic: str, messages: Sequence[Message]) -> None:
        self.sent.extend((topic, key, value) for key, value in messages)

    async def close(self) -> None:
        return None

    def events(self) -> list[Event]:
        """Every sent event, validated against its contract; raises on any rejection."""
        decoded: list[Event] = []
        for topic, _, value in self.sent:
            envelope = decode_envelope(value, kind=TOPICS.by_name(topic).kind)
            if envelope.rejections:
                raise AssertionError(f"the SDK sent invalid events: {envelope.rejections}")
            decoded.extend(envelope.events)
        return decoded
