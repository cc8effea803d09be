"""OpenTelemetry-style instruments, aggregated in-process and exported as points each flush.

Recording costs a dict lookup and, for histograms, a bisect; points leave the
process once per flush interval per (instrument, attributes) with delta
temporality, as an OTel SDK would export them.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from meterstream_sdk.errors import InvalidValue

InstrumentType = Literal["counter", "gauge", "histogram"]

DEFAULT_BOUNDS: dict[str, tuple[float, ...]] = {
    "s": (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    "{token}": (16, 64, 256, 1024, 4096, 16384, 65536, 262144),
    "{token}/s": (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
}


@dataclass(frozen=True, slots=True)
class Instrument:
    name: str
    description: str
    unit: str
    type: InstrumentType
    bounds: tuple[float, ...] = ()


DEFAULT_LLM_INSTRUMENTS = (
    Instrument(
        "input_tokens", "Prompt tokens per call", "{token}", "histogram", DEFAULT_BOUNDS["{token}"]
    ),
    Instrument(
        "prompt_throughput",
        "Prompt tokens per second until the first token",
        "{token}/s",
        "histogram",
        DEFAULT_BOUNDS["{token}/s"],
    ),
    Instrument(
        "token_throughput",
        "Output tokens per second after the first token",
        "{token}/s",
        "histogram",
        DEFAULT_BOUNDS["{token}/s"],
    ),
    Instrument(
        "time_to_first_token",
        "Time to the first streamed token",
        "s",
        "histogram",
        DEFAULT_BOUNDS["s"],
    ),
)


@dataclass(slots=True)
class _Series:
    value: float = 0.0
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0
    low: float = math.inf
    high: float = -math.inf


class InstrumentRecorder:
    def __init__(self) -> None:
        self._instruments: dict[str, Instrument] = {i.name: i for i in DEFAULT_LLM_INSTRUMENTS}
        self._series: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Series] = {}
        self._lock = threading.Lock()

    def register(self, instrument: Instrument) -> None:
        if instrument.type == "histogram" and not instrument.bounds:
            bounds = DEFAULT_BOUNDS.get(instrument.unit, DEFAULT_BOUNDS["s"])
            instrument = Instrument(
                instrument.name, instrument.description, instrument.unit, "histogram", bounds
            )
        with self._lock:
            self._instruments[instrument.name] = instrument

    def record(self, project: str, name: str, value: float, attributes: dict[str, str]) -> None:
        instrument = self._instruments.get(name)
        if instrument is None:
            raise InvalidValue(
                f"instrument {name!r} is not registered; call register_metric() first"
            )
        if not math.isfinite(value):
            raise InvalidValue(f"instrument {name!r}: value must be finite, got {value!r}")
        if instrument.type == "counter" and value < 0:
            raise InvalidValue(f"instrument {name!r} is a counter; values must not be negative")
        ident = (project, name, tuple(sorted(attributes.items())))
        with self._lock:
            series = self._series.get(ident)
            if series is None:
                series = self._series[ident] = _Series(counts=[0] * (len(instrument.bounds) + 1))
            if instrument.type == "counter":
                series.value += value
            elif instrument.type == "gauge":
                series.value = value
            else:
                series.counts[bisect.bisect_left(instrument.bounds, value)] += 1
                series.total += value
                series.low = min(series.low, value)
                series.high = max(series.high, value)
            series.count += 1

    def collect(self) -> list[dict[str, Any]]:
        """Instrument points for everything recorded since the last collect (delta temporality)."""
        with self._lock:
            series, self._series = self._series, {}
        points: list[dict[str, Any]] = []
        for (project, name, attributes), data in series.items():
            instrument = self._instruments[name]
            point: dict[str, Any] = {
                "project": project,
                "name": name,
                "instrument": instrument.type,
                "unit": instrument.unit,
                "description": instrument.description,
                "temporality": "delta",
                "attributes": dict(attributes),
            }
            if instrument.type == "histogram":
                point["histogram"] = {
                    "bounds": list(instrument.bounds),
                    "counts": data.counts,
                    "sum": data.total,
                    "count": data.count,
                    "min": data.low,
                    "max": data.high,
                }
            else:
                point["value"] = data.value
            points.append(point)
        return points
