"""Quantiles from the signed sketch bins of `metric_points` and the metric rollups.

The bins are written by migration 0007 (one expression, repeated there):
v ≥ 1e-9 → ceil(log_g v); v ≤ -1e-9 → -1e6 - ceil(log_g -v); else the zero bin
-5e5; g = 1.01 / 0.99. Every value in a bin is within 1% of the bin's
representative, so a quantile read here is within 1% of the exact one.
"""

from __future__ import annotations

import math
from typing import Final

RELATIVE_ACCURACY: Final = 0.01
GAMMA: Final = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
ZERO_BIN: Final = -500_000
NEGATIVE_BASE: Final = -1_000_000
MIN_MAGNITUDE: Final = 1e-9


def bin_sql(value: str) -> str:
    """The bin of a Float64 SQL expression (as the rollup views compute it)."""
    log_g = f"log({GAMMA!r})"
    return (
        f"multiIf({value} >= {MIN_MAGNITUDE!r}, toInt32(ceil(log({value}) / {log_g})),"
        f" {value} <= -{MIN_MAGNITUDE!r},"
        f" toInt32({NEGATIVE_BASE} - ceil(log(-{value}) / {log_g})), toInt32({ZERO_BIN}))"
    )


def quantile_sql(bins: str, count: str, q: float) -> str:
    """The q-quantile of a `Map(Int32, UInt64)` column `bins` holding `count` values.

    `bins` and `count` are column names of the caller's query; q is a number
    checked here, never text from a request.
    """
    if not 0 <= q <= 1:
        raise ValueError("q must be within [0, 1]")
    return quantile_of_sql(bins, count, repr(q))


def quantile_of_sql(bins: str, count: str, q: str) -> str:
    """`quantile_sql` with q an SQL expression (a dashboard variable, say) the caller
    controls."""
    counts = f"arraySort((c, k) -> k, mapValues({bins}), mapKeys({bins}))"
    position = f"arrayFirstIndex(c -> c > {q} * ({count} - 1), arrayCumSum({counts}))"
    key = f"arraySort(mapKeys({bins}))[{position}]"
    g = repr(GAMMA)
    return (
        f"if({count} = 0, NULL, multiIf({key} = {ZERO_BIN}, 0.,"
        f" {key} < {ZERO_BIN}, -2 * pow({g}, {NEGATIVE_BASE} - {key}) / ({g} + 1),"
        f" 2 * pow({g}, {key}) / ({g} + 1)))"
    )


def representative(value: float) -> float:
    """What the sketch reports for a value (its bin's representative), for tests and docs."""
    if abs(value) < MIN_MAGNITUDE:
        return 0.0
    index = math.ceil(math.log(abs(value)) / math.log(GAMMA))
    return math.copysign(2 * GAMMA**index / (GAMMA + 1), value)
