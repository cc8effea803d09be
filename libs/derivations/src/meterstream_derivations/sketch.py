"""A mergeable quantile sketch with relative error <= a (DDSketch's logarithmic mapping).

A value x > 0 lands in bin ceil(log_g x), g = (1 + a) / (1 - a), whose
representative 2 g^i / (g + 1) is within a of every value in the bin; zero (and
anything below the smallest indexable value) has a bin of its own. The sketch
is its bins, a map index → count, so merging is adding counts:

- in the stream, `QuantileSketch.merge`;
- in ClickHouse, `sumMap` on a `Map(Int32, UInt64)` column of an
  AggregatingMergeTree (see `quantile_sql`).

Both see the same bins and apply the same rank rule, so a quantile merged in
the stream equals the one merged in ClickHouse.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import truediv
from typing import Final

RELATIVE_ACCURACY: Final = 0.01
ZERO_BIN: Final = -(2**31)
"""The bin of zero and of values too small to index (Int32 minimum, so it sorts first)."""
MIN_INDEXABLE: Final = 1e-9


def add_bins(into: dict[int, int], bins: Mapping[int, int]) -> None:
    """Merge sketch bins into others (counts of the same index add up)."""
    if not into:
        into.update(bins)
        return
    for key, count in bins.items():
        into[key] = into.get(key, 0) + count


@dataclass
class QuantileSketch:
    relative_accuracy: float = RELATIVE_ACCURACY
    bins: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.relative_accuracy < 1:
            raise ValueError("relative_accuracy must be in (0, 1)")
        self.gamma = (1 + self.relative_accuracy) / (1 - self.relative_accuracy)
        self._log_gamma = math.log(self.gamma)

    @property
    def log_gamma(self) -> float:
        """log(gamma): a value's bin is ceil(log(value) / log_gamma)."""
        return self._log_gamma

    @property
    def count(self) -> int:
        return sum(self.bins.values())

    def index(self, value: float) -> int:
        if MIN_INDEXABLE <= value < math.inf:  # the common case first: one comparison
            return math.ceil(math.log(value) / self._log_gamma)
        if 0 <= value < math.inf:
            return ZERO_BIN
        raise ValueError(f"the sketch takes finite values >= 0, got {value!r}")

    def add(self, value: float, count: int = 1) -> None:
        self.add_to_bin(self.index(value), count)

    def add_to_bin(self, key: int, count: int = 1) -> None:
        """Count into a bin whose index was computed already (once for several sketches)."""
        self.bins[key] = self.bins.get(key, 0) + count

    def extend(self, values: Iterable[float]) -> None:
        """Add many values. When every one is indexable their indexes come from C-level
        maps over the list (the expression of `index`, so the same bins), without a Python
        call per value; otherwise they are added one by one, which names a bad value."""
        values = list(values)
        if values and min(values) >= MIN_INDEXABLE and max(values) < math.inf:
            logs = map(truediv, map(math.log, values), repeat(self._log_gamma))
            try:
                add_bins(self.bins, Counter(map(math.ceil, logs)))
                return
            except ValueError:
                pass  # a NaN slipped past min and max
        for value in values:
            self.add(value)

    def merge(self, other: QuantileSketch | Mapping[int, int]) -> None:
        bins = other.bins if isinstance(other, QuantileSketch) else other
        for key, count in bins.items():
            self.bins[key] = self.bins.get(key, 0) + count

    def value_of(self, key: int) -> float:
        if key == ZERO_BIN:
            return 0.0
        return 2 * self.gamma**key / (self.gamma + 1)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 ≤ q ≤ 1), within the relative accuracy; None when empty."""
        if not 0 <= q <= 1:
            raise ValueError("q must be within [0, 1]")
        total = self.count
        if total == 0:
            return None
        rank = q * (total - 1)
        seen = 0
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen > rank:
                return self.value_of(key)
        return self.value_of(max(self.bins))


def quantile_sql(bins: str, q: float, *, relative_accuracy: float = RELATIVE_ACCURACY) -> str:
    """A ClickHouse expression for the q-quantile of a `Map(Int32, UInt64)` expression.

    `bins` is SQL (e.g. `sumMap(latency_bins)`); q and the accuracy are numbers
    formatted here, never user input. Same bins, same rank rule as `quantile()`.
    """
    if not 0 <= q <= 1 or not 0 < relative_accuracy < 1:
        raise ValueError("q must be in [0, 1] and relative_accuracy in (0, 1)")
    gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
    keys = f"arraySort(mapKeys({bins}))"
    counts = f"arrayMap(k -> ({bins})[k], {keys})"
    cumulative = f"arrayCumSum({counts})"
    rank = f"{q!r} * (arraySum({counts}) - 1)"
    position = f"arrayFirstIndex(c -> c > {rank}, {cumulative})"
    key = f"{keys}[{position}]"
    return (
        f"if(empty(mapKeys({bins})), NULL, if({key} = {ZERO_BIN}, 0.,"
        f" 2 * pow({gamma!r}, {key}) / ({gamma!r} + 1)))"
    )
