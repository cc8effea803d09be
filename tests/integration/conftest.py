"""Fixtures of the integration suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.webhook_receiver import Receiver, receiving


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1, stopped after the test."""
    with receiving() as server:
        yield server
