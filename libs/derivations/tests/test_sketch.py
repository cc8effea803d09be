"""The mergeable sketch: relative error, merge, and agreement with ClickHouse's merge."""

from __future__ import annotations

import random

import pytest

from meterstream_derivations.sketch import MIN_INDEXABLE, ZERO_BIN, QuantileSketch


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 0.95, 0.99, 1.0])
def test_quantiles_are_within_the_relative_accuracy(q: float) -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(6.5, 0.9) for _ in range(50_000)]
    sketch = QuantileSketch()
    sketch.extend(values)
    estimate = sketch.quantile(q)
    assert estimate is not None
    assert abs(estimate - exact(values, q)) <= 0.01 * exact(values, q) + 1e-9


def test_merging_partials_equals_one_sketch_of_everything() -> None:
    rng = random.Random(4)
    values = [rng.expovariate(1 / 300) for _ in range(20_000)]
    whole = QuantileSketch()
    whole.extend(values)
    merged = QuantileSketch()
    for start in range(0, len(values), 3_000):
        part = QuantileSketch()
        part.extend(values[start : start + 3_000])
        merged.merge(part)
    assert merged.bins == whole.bins
    assert merged.quantile(0.99) == whole.quantile(0.99)


def test_zero_has_its_own_bin_and_negatives_are_refused() -> None:
    sketch = QuantileSketch()
    sketch.extend([0.0, 0.0, 5.0])
    assert sketch.quantile(0.5) == 0.0
    with pytest.raises(ValueError, match=">= 0"):
        sketch.add(-1.0)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), -1e-12])
def test_values_that_are_not_finite_and_non_negative_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        QuantileSketch().index(value)


def test_values_below_the_smallest_indexable_share_the_zero_bin() -> None:
    sketch = QuantileSketch()
    assert sketch.index(0.0) == sketch.index(1e-10) == ZERO_BIN
    assert sketch.index(MIN_INDEXABLE) != ZERO_BIN


def test_empty_sketch_has_no_quantile() -> None:
    assert QuantileSketch().quantile(0.5) is None


@pytest.mark.parametrize(
    "values",
    [
        [random.Random(5).lognormvariate(6.5, 1.2) for _ in range(2_000)],
        [0.0, 1e-10, MIN_INDEXABLE, 1.0, 1.0202, 812.5],  # the zero bin: one by one
        [],
    ],
)
def test_bins_counted_at_once_are_the_bins_added_one_by_one(values: list[float]) -> None:
    one_by_one = QuantileSketch()
    for value in values:
        one_by_one.add(value)
    at_once = QuantileSketch()
    at_once.extend(values)
    assert at_once.bins == one_by_one.bins


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_bins_counted_at_once_refuse_what_the_sketch_refuses(bad: float) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        QuantileSketch().extend([5.0, bad, 7.0])
