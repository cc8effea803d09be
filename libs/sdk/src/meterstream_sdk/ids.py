"""Cheap unique event ids: a random 64-bit prefix per process and a counter."""

from __future__ import annotations

import itertools
import os


class EventIds:
    """UUID-shaped (version 4, variant 1) ids, unique per process without a syscall per id.

    A forked child reseeds (os.register_at_fork), so it never repeats its parent's ids.
    """

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        raw = os.urandom(10).hex()
        variant = "89ab"[int(raw[15], 16) % 4]
        self._prefix = f"{raw[:8]}-{raw[8:12]}-4{raw[12:15]}-{variant}{raw[16:19]}-"
        # From 1 << 48 (plus a random top nibble) on, hex() always has 13 digits: the
        # leading 1 is cut off and the last 12 complete the UUID (cheaper than a format).
        self._next_number = itertools.count((1 << 48) | int(raw[19:20], 16) << 44).__next__

    def next(self) -> str:
        return self._prefix + hex(self._next_number())[3:]
