"""What each dashboard chart must show, computed from the API's own answers (fetched by the
test, independently of the page), and the comparison with what the page plotted."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

Fetch = Callable[[str], Any]
Points = dict[str, dict[float, float]]
"""label → {x: value}."""


def _at(t: float, lo: float | None) -> float:
    """Where the page draws a bucket: a bucket that began before the range at its start."""
    return t if lo is None else max(t, lo)


Label = Callable[[dict[str, Any]], str]


def _series(answer: dict[str, Any], lo: float | None, label: Label) -> Points:
    return {
        label(s): {
            _at(t, lo): v for t, v in zip(s["times"], s["values"], strict=True) if v is not None
        }
        for s in answer["series"]
    }


def _per_bucket(counts: dict[str, Any]) -> dict[int, float]:
    total: dict[int, float] = {}
    for s in counts["series"]:
        for t, v in zip(s["times"], s["values"], strict=True):
            total[t] = total.get(t, 0.0) + (v or 0.0)
    return total


def _per_model(record: dict[str, Any], fetch: Fetch, lo: float | None) -> Points:
    return _series(fetch(record["source"]), lo, lambda s: s["group"]["model"])


def _feedback(record: dict[str, Any], fetch: Fetch, lo: float | None) -> Points:
    (label,) = record["labels"] or [""]
    return _series(fetch(record["source"]), lo, lambda s: label)


def _calls_per_second(record: dict[str, Any], fetch: Fetch, lo: float | None) -> Points:
    counts = fetch(record["source"])
    per_s = _series(counts, lo, lambda s: s["group"]["model"])
    return {m: {x: v / counts["interval_s"] for x, v in p.items()} for m, p in per_s.items()}


def _error_rates(record: dict[str, Any], fetch: Fetch, lo: float | None) -> Points:
    errors, counts = fetch(record["source"][0]), fetch(record["source"][1])
    made = _per_bucket(counts)
    return {
        s["group"].get("error_type") or "(no type)": {
            _at(t, lo): v / made[t]
            for t, v in zip(s["times"], s["values"], strict=True)
            if v is not None and made.get(t)
        }
        for s in errors["series"]
        if any(s["values"])
    }


def _tokens(record: dict[str, Any], fetch: Fetch, lo: float | None) -> Points:
    points: Points = {}
    for label, url in zip(("input", "output", "cached"), record["source"], strict=True):
        for s in fetch(url)["series"]:
            points[label] = _series({"series": [s]}, lo, lambda _: "one")["one"]
    return points


def _cost(record: dict[str, Any], fetch: Fetch, lo: float | None) -> Points:
    points: Points = {}
    for row in fetch(record["source"]):
        if record["model"] and row["model"] != record["model"]:
            continue  # the cost report is filtered on the page
        start = datetime.fromisoformat(row["period"]).replace(tzinfo=UTC).timestamp()
        points.setdefault(row["model"], {})[_at(start, lo)] = row["cost_usd"]
    return points


def _training(record: dict[str, Any], fetch: Fetch, lo: float | None) -> Points:
    source = record["source"]
    query = parse_qs(urlsplit(source).query)
    key, smoothing = query["key"][0], query["smoothing"][0]
    answer = fetch(source)
    runs = answer["runs"] if "runs" in answer else [{"run_id": _run_of(source), **answer}]
    points: Points = {}
    for run in runs:
        curve = run["curves"][key]
        points[f"{run['run_id']} raw"] = dict(zip(curve["steps"], curve["values"], strict=True))
        if smoothing != "none":
            points[f"{run['run_id']} {smoothing}"] = dict(
                zip(curve["steps"], curve["smoothed"], strict=True)
            )
    return points


EXPECTED: dict[str, Callable[[dict[str, Any], Fetch, float | None], Points]] = {
    "latency": _per_model,
    "ttft": _per_model,
    "throughput": _per_model,
    "feedback": _feedback,
    "calls": _calls_per_second,
    "errors": _error_rates,
    "tokens": _tokens,
    "cost": _cost,
    "training": _training,
}


def expected(name: str, record: dict[str, Any], fetch: Fetch, model: str) -> Points:
    """The chart `name` as the API's answers say it must be drawn (`model`: the page's
    model filter, "" for all)."""
    lo = record["range"][0] if record.get("range") else None
    return EXPECTED[name]({**record, "model": model}, fetch, lo)


def _run_of(url: str) -> str:
    return urlsplit(url).path.split("/runs/")[1].split("/")[0]


def plotted_points(record: dict[str, Any], plotted: dict[str, Any]) -> Points:
    """label → {x: value} as the page drew it (a stacked chart un-stacked)."""
    xs = plotted["xs"]
    points: Points = {}
    below: list[float | None] | None = None
    for label in record["labels"]:
        column = plotted["columns"][label]
        if record["stacked"]:
            own = [
                None if v is None else v - ((below[i] or 0.0) if below else 0.0)
                for i, v in enumerate(column)
            ]
            below = column
            column = own
        points[label] = {x: v for x, v in zip(xs, column, strict=True) if v is not None}
    return points


def differences(name: str, want: Points, drawn: Points) -> list[str]:
    """Every value the API answers that the chart does not show, or shows otherwise."""
    problems = []
    for label, values in want.items():
        if not values:
            continue
        if label not in drawn:
            problems.append(f"{name}: no series {label!r} (drawn: {sorted(drawn)})")
            continue
        for x, value in values.items():
            got = drawn[label].get(x)
            if record_zero(value) and got in (None, 0.0):
                continue  # a stacked chart draws a model's missing period as 0
            if got is None or not math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9):
                problems.append(f"{name}: {label} at {x}: API {value}, drawn {got}")
    for label, values in drawn.items():
        extra = [x for x, v in values.items() if x not in want.get(label, {}) and v != 0.0]
        if extra:
            problems.append(f"{name}: {label} drawn at {extra[:3]} where the API has no value")
    return problems


def record_zero(value: float) -> bool:
    return value == 0.0
