"""The merge stage's working set: states by table key, what changed, what to emit.

The agent absorbs partials into states and writes each changed state to its
changelog-backed table (one write per (key, window) per envelope); a timer
emits the windows and totals that changed since the last emission, and marks
windows final once the event-time watermark passes their end plus the allowed
lateness. After a restart every recovered state is emitted once more: the
emissions are snapshots with revisions, so repeating one changes nothing
downstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meterstream_contracts.derived import InferenceWindow, UsageTotals
from meterstream_derivations.merge import MergedWindow, ModelTotals, Partial

WINDOW = "w"
TOTALS = "t"


def window_key(partial: Partial) -> str:
    start = int(partial.window_start.timestamp())
    return f"{WINDOW}|{partial.project}|{partial.model}|{partial.window_seconds}|{start}"


def totals_key(project: str, model: str) -> str:
    return f"{TOTALS}|{project}|{model}"


@dataclass
class MergeStage:
    allowed_lateness_s: int
    retention_s: int
    totals_window_s: int
    """Totals take the partials of this (the shortest) window length."""
    windows: dict[str, MergedWindow] = field(default_factory=dict)
    totals: dict[str, ModelTotals] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    open_windows: set[str] = field(default_factory=set)
    watermark: int = 0
    late_beyond_retention: int = 0
    stale: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """Table keys of forgotten windows, per (project, model), for the agent to delete."""

    def forget_all(self) -> None:
        """Drop the working set when partitions are revoked (a rebalance).

        The table is the truth and the working set only a cache of it: another worker
        may own a partition for a while and merge into its states. A window kept here
        from before would hide those merges when the partition comes back, and the next
        partials would be merged on top of it. After this, states come back from the
        table: on recovery and when a partial asks for them.
        """
        self.windows.clear()
        self.totals.clear()
        self.dirty.clear()
        self.open_windows.clear()
        self.stale.clear()

    def recover(self, key: str, state: dict[str, Any]) -> None:
        """A state read back from the table after a restart (emitted again once).

        faust may run this after the agent has already absorbed partials into a state
        it loaded from the table: that working state is newer and is kept.
        """
        if key.startswith(WINDOW):
            window = self.windows.get(key) or MergedWindow.from_state(state)
            self.windows[key] = window
            self.watermark = max(self.watermark, window.end)
            self.open_windows.add(key)
        else:
            self.totals[key] = self.totals.get(key) or ModelTotals.from_state(state)
        self.dirty.add(key)

    def absorb(
        self, partials: Iterable[Partial], stored: Any
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Merge partials; yields (table key, new state) for each state that changed.

        `stored(key)` returns the table's state for a key not in the working set.
        """
        changed: dict[str, MergedWindow | ModelTotals] = {}
        for partial in partials:
            key = window_key(partial)
            window = self.windows.get(key) or self._load_window(key, partial, stored)
            if (
                int(partial.window_start.timestamp()) + partial.window_seconds
                < (self.watermark - self.retention_s)
                and window.revision == 0
            ):
                self.late_beyond_retention += 1
            if window.absorb(partial):
                changed[key] = window
                self.watermark = max(self.watermark, window.end)
            if partial.window_seconds == self.totals_window_s:
                tkey = totals_key(partial.project, partial.model)
                totals = self.totals.get(tkey) or self._load_totals(tkey, partial, stored)
                if totals.absorb(partial):
                    changed[tkey] = totals
        for key, state in changed.items():
            self.dirty.add(key)
            if key.startswith(WINDOW):
                self.open_windows.add(key)
            yield key, state.state()

    def _load_window(self, key: str, partial: Partial, stored: Any) -> MergedWindow:
        state = stored(key)
        window = (
            MergedWindow.for_partial(partial) if state is None else MergedWindow.from_state(state)
        )
        self.windows[key] = window
        return window

    def _load_totals(self, key: str, partial: Partial, stored: Any) -> ModelTotals:
        state = stored(key)
        totals = (
            ModelTotals(partial.project, partial.model)
            if state is None
            else ModelTotals.from_state(state)
        )
        self.totals[key] = totals
        return totals

    def is_final(self, window: MergedWindow) -> bool:
        return self.watermark >= window.end + self.allowed_lateness_s

    def due(self) -> tuple[list[InferenceWindow], list[UsageTotals]]:
        """Windows and totals to emit now: changed ones, and windows that just became final."""
        now = datetime.now(UTC)
        keys = set(self.dirty)
        for key in list(self.open_windows):
            if self.is_final(self.windows[key]):
                keys.add(key)
                self.open_windows.discard(key)
        self.dirty.clear()
        windows = [
            self.windows[k].to_record(final=self.is_final(self.windows[k]), emitted_at=now)
            for k in sorted(keys)
            if k in self.windows
        ]
        totals = [self.totals[k].to_record(now) for k in sorted(keys) if k in self.totals]
        self._forget_old()
        return windows, totals

    def _forget_old(self) -> None:
        """Drop windows older than the retention from the working set (the table keeps them)."""
        horizon = self.watermark - self.retention_s
        for key in [k for k, w in self.windows.items() if w.end < horizon]:
            window = self.windows.pop(key)
            self.open_windows.discard(key)
            self.stale.setdefault((window.project, window.model), []).append(key)
