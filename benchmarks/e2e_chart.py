"""The end-to-end benchmark's chart: throughput and freshness over time (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def write_chart(report: dict[str, Any], path: Path) -> None:
    series = report["capacity"]["series"]
    fresh = report["freshness"]["series"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8))
    at = [row["at_s"] for row in series]
    for column, label in (
        ("produced_per_s", "produced (SDK transport)"),
        ("raw_stored_per_s", "raw stored (sink → ClickHouse)"),
        ("rolled_up_per_s", "completions rolled up (workers)"),
    ):
        top.plot(at, [row[column] / 1000 for row in series], label=label)
    top.set_title(
        f"capacity: {report['capacity']['events']:,} events, "
        f"{report['capacity']['end_to_end_per_s']:,.0f} events/s end to end"
    )
    top.set_xlabel("seconds")
    top.set_ylabel("thousand events/s")
    top.legend()
    seconds = [row["at_s"] for row in fresh]
    bottom.plot(seconds, [row["p50"] for row in fresh], label="p50")
    bottom.plot(seconds, [row["p99"] for row in fresh], label="p99")
    bottom.set_title(
        f"freshness, {report['freshness']['offered_per_s']:,.0f} events/s offered"
        f" ({report['freshness']['asked_per_s']:,.0f} asked): event time → raw row stored"
    )
    bottom.set_xlabel("seconds of event time")
    bottom.set_ylabel("ms")
    bottom.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
