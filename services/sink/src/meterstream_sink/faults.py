"""Deliberate crashes at named points of the commit order, for the reliability tests.

Off unless MS_SINK_CRASH_POINT is set. SIGKILL, not an exception: nothing gets
to clean up, exactly like a machine losing power.
"""

from __future__ import annotations

import os
import signal
from typing import Literal

CrashPoint = Literal["before_insert", "after_insert", "after_commit"]


class FaultPoints:
    def __init__(self, point: CrashPoint | None, *, after_batches: int) -> None:
        self._point = point
        self._after_batches = after_batches
        self._batches = 0

    def batch_started(self) -> None:
        self._batches += 1

    def reached(self, point: CrashPoint) -> None:
        if point == self._point and self._batches >= self._after_batches:
            os.kill(os.getpid(), signal.SIGKILL)
