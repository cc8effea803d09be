"""Smoothing of training curves and downsampling that keeps what matters.

Smoothing runs on every point of a run (full resolution); downsampling runs
after it and reports, per bucket, the smoothed value at the bucket's last
step plus the raw min and max. So the smoothed value at a step is the same
whether a chart asks for 1k or 100k points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from meterstream_query.errors import InvalidQuery

SmoothingKind = Literal["none", "ema", "sma", "gaussian"]
Floats = npt.NDArray[np.float64]
SPARSE_FACTOR: Final = 50
"""Gaussian smoothing on a dense step grid unless steps are sparser than this."""


@dataclass(frozen=True, slots=True)
class Smoothing:
    """`ema`: debiased exponential moving average, `amount` the weight of the past in
    [0, 1); `sma`: mean of the last `amount` points; `gaussian`: kernel with sigma = `amount`
    steps."""

    kind: SmoothingKind = "none"
    amount: float = 0.0

    def __post_init__(self) -> None:
        if self.kind == "ema" and not 0 <= self.amount < 1:
            raise InvalidQuery("smoothing", "an EMA weight must be in [0, 1)")
        if self.kind == "sma" and (self.amount < 1 or self.amount != int(self.amount)):
            raise InvalidQuery("smoothing", "an SMA window must be a whole number of points ≥ 1")
        if self.kind == "gaussian" and not 0 < self.amount <= 1e6:
            raise InvalidQuery("smoothing", "a Gaussian sigma must be in (0, 1e6] steps")


NO_SMOOTHING: Final = Smoothing()


def ema(values: Floats, weight: float) -> Floats:
    """Debiased EMA over the finite values; NaN stays NaN and does not move the average."""
    out = np.full(values.shape, np.nan)
    average = 0.0
    seen = 0
    for i, value in enumerate(values.tolist()):
        if math.isnan(value):
            continue
        seen += 1
        average = weight * average + (1 - weight) * value
        out[i] = average / (1 - weight**seen)
    return out


def sma(values: Floats, window: int) -> Floats:
    """Mean of the last `window` finite values at each finite point."""
    out = np.full(values.shape, np.nan)
    finite = ~np.isnan(values)
    present = values[finite]
    sums = np.concatenate(([0.0], np.cumsum(present)))
    idx = np.arange(1, present.size + 1)
    lo = np.maximum(idx - window, 0)
    out[finite] = (sums[idx] - sums[lo]) / (idx - lo)
    return out


def gaussian(steps: npt.NDArray[np.int64], values: Floats, sigma: float) -> Floats:
    """Kernel-weighted mean over neighbours by step distance (cut at 4sigma), normalised over
    the finite neighbours, so gaps and edges do not pull the curve to zero."""
    out = np.full(values.shape, np.nan)
    finite = ~np.isnan(values)
    if not finite.any():
        return out
    radius = max(1, math.ceil(4 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-(offsets.astype(np.float64) ** 2) / (2 * sigma * sigma))
    first, span = int(steps[0]), int(steps[-1] - steps[0]) + 1
    if span <= SPARSE_FACTOR * steps.size:
        grid = np.zeros(span)
        mask = np.zeros(span)
        positions = (steps[finite] - first).astype(np.int64)
        grid[positions] = values[finite]
        mask[positions] = 1.0
        weighted = np.convolve(grid, kernel, mode="same")
        weights = np.convolve(mask, kernel, mode="same")
        at = (steps - first).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[finite] = (weighted[at] / weights[at])[finite]
        return out
    present_steps, present = steps[finite].astype(np.float64), values[finite]
    for i in np.flatnonzero(finite):
        lo, hi = np.searchsorted(present_steps, [steps[i] - radius, steps[i] + radius + 1])
        w = np.exp(-((present_steps[lo:hi] - steps[i]) ** 2) / (2 * sigma * sigma))
        out[i] = float(np.dot(w, present[lo:hi]) / w.sum())
    return out


def smooth(steps: npt.NDArray[np.int64], values: Floats, smoothing: Smoothing) -> Floats:
    match smoothing.kind:
        case "ema":
            return ema(values, smoothing.amount)
        case "sma":
            return sma(values, int(smoothing.amount))
        case "gaussian":
            return gaussian(steps, values, smoothing.amount)
        case _:
            return values.copy()


@dataclass(frozen=True, slots=True)
class Downsampled:
    steps: list[int]
    values: list[float | None]
    smoothed: list[float | None]
    mins: list[float | None]
    maxs: list[float | None]


def _listed(array: Floats) -> list[float | None]:
    return [None if math.isnan(v) else v for v in array.tolist()]


def downsample(
    steps: npt.NDArray[np.int64], values: Floats, smoothed: Floats, *, max_points: int
) -> Downsampled:
    """At most `max_points` buckets of equal step width; each reports its last finite
    point (raw and smoothed) and the raw min and max inside it."""
    if max_points < 2:
        raise InvalidQuery("max_points", "must be at least 2")
    keep = ~np.isnan(values)
    steps, values, smoothed = steps[keep], values[keep], smoothed[keep]
    if steps.size <= max_points:
        return Downsampled(
            steps.tolist(), _listed(values), _listed(smoothed), _listed(values), _listed(values)
        )
    width = (int(steps[-1]) - int(steps[0])) / max_points
    buckets = np.minimum(((steps - steps[0]) / width).astype(np.int64), max_points - 1)
    starts = np.flatnonzero(np.diff(np.concatenate(([-1], buckets))))
    ends = np.concatenate((starts[1:], [steps.size])) - 1
    return Downsampled(
        steps[ends].tolist(),
        _listed(values[ends]),
        _listed(smoothed[ends]),
        _listed(np.minimum.reduceat(values, starts)),
        _listed(np.maximum.reduceat(values, starts)),
    )
