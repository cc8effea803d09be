"""A client whose deliveries are recorded instead of sent (no I/O)."""

from __future__ import annotations

import pytest

from meterstream_sdk import AsyncClient, SdkConfig
from meterstream_sdk.testing import RecordingTransport


@pytest.fixture
def offline() -> tuple[AsyncClient, RecordingTransport]:
    recorder = RecordingTransport()
    return AsyncClient(project="unit", config=SdkConfig(), transport=recorder), recorder
